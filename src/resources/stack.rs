//! `zae_limiter_stack`: the zae-limiter DynamoDB table, its six IAM managed policies, and
//! the two data-plane records a zae-limiter deploy writes (the version record and the
//! `default` namespace), created directly through the AWS SDK.
//!
//! Create order: table → ACTIVE → TTL → PITR → version record → `default` namespace →
//! policies → deletion protection. A failure part-way returns the state of what exists, so
//! Terraform keeps it (tainted) and the next apply or destroy finishes the job.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use crate::aws::policy_document::PolicyKind;
use crate::aws::{iam_policy, table};
use crate::framework::validator::{IntBetween, StringCheck};
use crate::framework::{
    Attribute, AttributePath, Block, CreateRequest, DeleteRequest, DeleteResponse, Diagnostics, IdentityAttribute,
    ImportRequest, ImportState, ModifyPlanRequest, ModifyPlanResponse, Private, ReadRequest, RequiresReplace, Resource,
    ResourceIdentity, Schema, StateResponse, Type, UpdateRequest, UseStateForUnknown, Value, timeouts,
};
use crate::aws::AwsClients;
use crate::provider::schema::tag_check;

/// Resource type name.
pub const TYPE_NAME: &str = "zae_limiter_stack";

/// Who the version record says wrote it.
pub const UPDATED_BY: &str = concat!("terraform-provider-zae:", env!("CARGO_PKG_VERSION"));

/// The namespace every deploy registers.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Private-state key listing policies whose document drifted from the expected one.
const DRIFTED_POLICIES: &str = "drifted_policies";

/// Each managed policy and the state attribute holding its ARN.
pub const POLICY_ATTRIBUTES: [(PolicyKind, &str); 6] = [
    (PolicyKind::AcquireOnly, "acquire_only_policy_arn"),
    (PolicyKind::FullAccess, "full_access_policy_arn"),
    (PolicyKind::ReadOnly, "read_only_policy_arn"),
    (PolicyKind::NamespaceAcquire, "namespace_acquire_policy_arn"),
    (PolicyKind::NamespaceFullAccess, "namespace_full_access_policy_arn"),
    (PolicyKind::NamespaceReadOnly, "namespace_read_only_policy_arn"),
];

/// The `zae_limiter_stack` resource.
#[derive(Debug, Default)]
pub struct StackResource;

/// The schema validator for stack names (zae-limiter's naming rules).
pub(crate) fn stack_name_check() -> StringCheck {
    StringCheck::new("Invalid stack name", "a zae-limiter stack name", |s| {
        zae_limiter::naming::validate_stack_name(s)
            .map_err(|e| format!("{:?} is not a valid stack name: {}", s, e.reason))
    })
}

fn computed_string(name: &str, description: &str) -> Attribute {
    Attribute::string(name)
        .computed()
        .description(description)
        .plan_modifier(UseStateForUnknown)
}

/// The resource schema.
pub fn schema() -> Schema {
    let mut block = Block::new(
        "A zae-limiter stack: the DynamoDB table (streams, TTL, indexes), its six IAM managed policies, \
         the version record and the `default` namespace, compatible with zae-limiter 0.17.0.",
    )
    .attribute(computed_string("id", "The stack name."))
    .attribute(
        Attribute::string("name")
            .required()
            .description("Stack name; also the DynamoDB table name. Letters, digits and hyphens, starting with a letter, 3 to 55 characters. Changing it replaces the stack.")
            .validator(stack_name_check())
            .plan_modifier(RequiresReplace),
    )
    .attribute(
        Attribute::number("pitr_recovery_days")
            .default_value(i64::from(table::pitr::DEFAULT_PITR_DAYS))
            .description("Point-in-time recovery period in days: 0 turns it off, 1 to 35 keeps that many days (default 35, as a zae-limiter deploy does).")
            .validator(IntBetween { min: 0, max: 35 }),
    )
    .attribute(
        Attribute::bool("deletion_protection")
            .default_value(false)
            .description("Protects the table from deletion. While on, `terraform destroy` is refused at plan time."),
    )
    .attribute(Attribute::string_map("tags").optional().description("Tags for the table and policies.").validator(tag_check("Invalid tag")))
    .attribute(
        Attribute::string_map("tags_all")
            .computed()
            .description("All tags: `Application = zae-limiter`, the provider's `default_tags`, then `tags`."),
    )
    .attribute(computed_string("table_name", "DynamoDB table name (the stack name)."))
    .attribute(computed_string("table_arn", "DynamoDB table ARN."))
    .attribute(computed_string("stream_arn", "ARN of the table's stream (NEW_AND_OLD_IMAGES), for the aggregator."))
    .attribute(computed_string("schema_version", "zae-limiter schema version recorded in the table."))
    .attribute(computed_string("default_namespace_id", "Opaque id of the `default` namespace."));
    for (kind, attr) in POLICY_ATTRIBUTES {
        block = block.attribute(computed_string(
            attr,
            &format!(
                "ARN of the `{{name}}{}` managed policy: {}",
                kind.name_suffix(),
                kind.description()
            ),
        ));
    }
    block = block.block(timeouts::block(&["create", "update", "delete"]));
    Schema::new(block)
}

fn tags_of(value: &Value) -> Option<BTreeMap<String, String>> {
    value.as_string_map()
}

/// `tags_all` from known values: the managed `Application` tag, then default tags, then
/// the resource's tags (later wins); `None` while anything is unknown.
fn merged_tags(default_tags: &BTreeMap<String, String>, tags: &Value) -> Option<BTreeMap<String, String>> {
    let mut all = BTreeMap::new();
    all.extend(default_tags.clone());
    all.extend(tags_of(tags)?);
    Some(table::definition::effective_tags(&all))
}

fn string_map_value(map: &BTreeMap<String, String>) -> Value {
    Value::string_map(map.iter().map(|(k, v)| (k.clone(), v.clone())))
}

fn name_of(state: &Value) -> String {
    state.get("name").as_str().unwrap_or_default().to_string()
}

fn pitr_days(state: &Value) -> u16 {
    state
        .get("pitr_recovery_days")
        .as_i64()
        .and_then(|d| u16::try_from(d).ok())
        .unwrap_or(table::pitr::DEFAULT_PITR_DAYS)
}

fn error_detail(err: &dyn std::fmt::Display) -> String {
    err.to_string()
}

#[async_trait]
impl Resource<AwsClients> for StackResource {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn modify_plan(&self, req: &ModifyPlanRequest<'_, AwsClients>, resp: &mut ModifyPlanResponse) {
        let destroying = resp.planned_state.is_null();
        let replacing = !resp.requires_replace.is_empty();
        if (destroying || replacing) && req.prior_state.get("deletion_protection").as_bool() == Some(true) {
            let name = name_of(req.prior_state);
            resp.diagnostics.attribute_error(
                AttributePath::root("deletion_protection"),
                "Stack is protected from deletion",
                format!(
                    "Stack {name:?} has deletion_protection = true, so it cannot be {}. Set deletion_protection = false and apply first.",
                    if destroying { "destroyed" } else { "replaced" }
                ),
            );
        }
        if destroying {
            return;
        }
        let planned = &mut resp.planned_state;
        if let Some(name) = req.config.get("name").as_str() {
            planned.set("id", name.into());
            planned.set("table_name", name.into());
        }
        let defaults = req.provider.map(|p| p.default_tags.clone()).unwrap_or_default();
        let tags_all = match merged_tags(&defaults, req.config.get("tags")) {
            Some(all) => string_map_value(&all),
            None => Value::unknown(),
        };
        planned.set("tags_all", tags_all);
        // Data-plane records deleted outside Terraform are written again by an update.
        if !req.prior_state.is_null() {
            for (attr, record) in [
                ("schema_version", "version record"),
                ("default_namespace_id", "default namespace"),
            ] {
                if req.prior_state.get(attr).is_null() {
                    planned.set(attr, Value::unknown());
                    resp.diagnostics.attribute_warning(
                        AttributePath::root(attr),
                        "zae-limiter record missing",
                        format!("The table has no {record}; zae-limiter clients cannot connect without it. This apply writes it again."),
                    );
                }
            }
        }
        // Policies deleted or edited outside Terraform are restored by an update.
        let drifted: Vec<String> = req
            .prior_private
            .get(DRIFTED_POLICIES)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        if !req.prior_state.is_null() {
            for (kind, attr) in POLICY_ATTRIBUTES {
                let missing = req.prior_state.get(attr).is_null();
                let edited = drifted.iter().any(|d| d == attr);
                if missing || edited {
                    planned.set(attr, Value::unknown());
                    resp.diagnostics.attribute_warning(
                        AttributePath::root(attr),
                        "Managed policy changed outside Terraform",
                        format!(
                            "The {} policy {}; this apply restores it.",
                            kind.name_suffix().trim_start_matches('-'),
                            if missing { "is missing" } else { "document was edited" }
                        ),
                    );
                }
            }
        }
        resp.planned_private = req.prior_private.clone();
        resp.planned_private.remove(DRIFTED_POLICIES);
    }

    async fn create(&self, req: &CreateRequest<'_, AwsClients>, resp: &mut StateResponse) {
        let timeout = timeouts::get(req.planned_state, "create", table::DEFAULT_CREATE_TIMEOUT);
        let mut state = req.planned_state.clone();
        let name = name_of(&state);
        let clients = req.provider;
        let tags_all = tags_of(state.get("tags_all")).unwrap_or_default();
        let settings = table::TableSettings {
            name: name.clone(),
            pitr_recovery_days: pitr_days(&state),
            deletion_protection: false,
            tags: tags_all.clone(),
        };
        // Nothing exists yet: a failure here leaves no state.
        if let Err(e) = table::create_table(&clients.dynamodb, &settings).await {
            resp.diagnostics.attribute_error(
                AttributePath::root("name"),
                "Cannot create the DynamoDB table",
                error_detail(&e),
            );
            return;
        }
        state.set("id", name.clone().into());
        state.set("table_name", name.clone().into());
        // From here on the table exists: always hand Terraform a state naming it.
        let outcome = finish_create(clients, &name, &settings, &tags_all, timeout, &mut state).await;
        settle_unknowns(&mut state);
        resp.new_state = state;
        if let Err(diag) = outcome {
            resp.diagnostics.extend(diag);
        }
    }

    async fn read(&self, req: &ReadRequest<'_, AwsClients>, resp: &mut StateResponse) {
        let mut state = req.current_state.clone();
        let mut private = req.private.clone();
        match refresh(req.provider, &mut state, &mut private).await {
            Ok(true) => {
                resp.new_state = state;
                resp.private = private;
            }
            Ok(false) => resp.new_state = Value::Null,
            Err(diags) => {
                resp.new_state = req.current_state.clone();
                resp.private = req.private.clone();
                resp.diagnostics.extend(diags);
            }
        }
    }

    async fn update(&self, req: &UpdateRequest<'_, AwsClients>, resp: &mut StateResponse) {
        let timeout = timeouts::get(req.planned_state, "update", table::DEFAULT_UPDATE_TIMEOUT);
        let mut state = req.prior_state.clone();
        let outcome = apply_update(req.provider, req.prior_state, req.planned_state, timeout, &mut state).await;
        settle_unknowns(&mut state);
        resp.new_state = state;
        if let Err(diags) = outcome {
            resp.diagnostics.extend(diags);
        }
    }

    async fn delete(&self, req: &DeleteRequest<'_, AwsClients>, resp: &mut DeleteResponse) {
        let timeout = timeouts::get(req.prior_state, "delete", table::DEFAULT_DELETE_TIMEOUT);
        if let Err(diags) = delete_stack(req.provider, req.prior_state, timeout).await {
            resp.diagnostics.extend(diags);
        }
    }

    fn importer(&self) -> Option<&dyn ImportState<AwsClients>> {
        Some(self)
    }

    fn identity(&self) -> Option<&dyn ResourceIdentity> {
        Some(self)
    }
}

impl ResourceIdentity for StackResource {
    fn attributes(&self) -> Vec<IdentityAttribute> {
        vec![IdentityAttribute {
            name: "name",
            ty: Type::String,
            required_for_import: true,
            optional_for_import: false,
            description: "Stack name.",
        }]
    }

    fn identity_of(&self, state: &Value) -> Value {
        let mut identity = Value::Object(BTreeMap::new());
        identity.set("name", state.get("name").clone());
        identity
    }
}

#[async_trait]
impl ImportState<AwsClients> for StackResource {
    async fn import(&self, req: &ImportRequest<'_, AwsClients>, resp: &mut StateResponse) {
        let name = match req.identity {
            Some(identity) => identity.get("name").as_str().unwrap_or_default().to_string(),
            None => req.id.trim().to_string(),
        };
        if let Err(e) = zae_limiter::naming::validate_stack_name(&name) {
            resp.diagnostics.error(
                "Invalid import id",
                format!(
                    "Import a stack by its name; {:?} is not a stack name: {}",
                    name, e.reason
                ),
            );
            return;
        }
        let found = match table::find_table(&req.provider.dynamodb, &name).await {
            Ok(found) => found,
            Err(e) => {
                resp.diagnostics
                    .error("Cannot read the DynamoDB table", error_detail(&e));
                return;
            }
        };
        let Some(info) = found else {
            resp.diagnostics.error(
                "Stack not found",
                format!(
                    "There is no DynamoDB table named {name:?} in region {}.",
                    req.provider.region
                ),
            );
            return;
        };
        let problems = info.definition_problems();
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(|p| format!("- {p}")).collect();
            resp.diagnostics.error(
                "Not a zae-limiter table",
                format!(
                    "Table {name:?} does not match the zae-limiter 0.17.0 table definition:\n{}",
                    list.join("\n")
                ),
            );
            return;
        }
        let mut state = crate::framework::planning::empty_object(&schema().block);
        state.set("id", name.clone().into());
        state.set("name", name.into());
        state.set("pitr_recovery_days", Value::int(0));
        state.set("deletion_protection", false.into());
        resp.new_state = state;
    }
}

/// Replaces unknowns left in a state (after a partial failure) with null.
fn settle_unknowns(state: &mut Value) {
    if let Value::Object(attrs) = state {
        for value in attrs.values_mut() {
            if value.is_unknown() {
                *value = Value::Null;
            }
        }
    }
}

/// Steps of create after the table exists; each success is recorded in `state`.
async fn finish_create(
    clients: &AwsClients,
    name: &str,
    settings: &table::TableSettings,
    tags_all: &BTreeMap<String, String>,
    timeout: Duration,
    state: &mut Value,
) -> Result<(), Diagnostics> {
    let info = unless_stopped(table::wait_table_active(&clients.dynamodb, name, timeout))
        .await?
        .map_err(|e| error("The table did not become ACTIVE", &e))?;
    state.set("table_arn", info.arn.clone().into());
    state.set("stream_arn", info.stream_arn.clone().into());
    table::ttl::enable_ttl(&clients.dynamodb, name)
        .await
        .map_err(|e| error("Cannot enable TTL on the table", &e))?;
    table::pitr::set_pitr(&clients.dynamodb, name, settings.pitr_recovery_days)
        .await
        .map_err(|e| attr_error("pitr_recovery_days", "Cannot configure point-in-time recovery", &e))?;
    bootstrap_data_plane(clients, name, state).await?;
    for (kind, attr) in POLICY_ATTRIBUTES {
        let arn = create_policy(clients, name, kind, &info.arn, tags_all)
            .await
            .map_err(|e| attr_error(attr, "Cannot create the managed policy", &e))?;
        state.set(attr, arn.into());
    }
    if state.get("deletion_protection").as_bool() == Some(true) {
        table::set_deletion_protection(&clients.dynamodb, name, true)
            .await
            .map_err(|e| attr_error("deletion_protection", "Cannot enable deletion protection", &e))?;
    }
    Ok(())
}

/// Runs a long wait unless Terraform asks the provider to stop (Ctrl-C), in which case the
/// operation ends with an error and the state keeps what exists.
async fn unless_stopped<T>(wait: impl std::future::Future<Output = T>) -> Result<T, Diagnostics> {
    tokio::select! {
        out = wait => Ok(out),
        () = crate::framework::stop::wait() => {
            let mut d = Diagnostics::new();
            d.error("Stopped", "Terraform asked the provider to stop; the stack was left as it is and is recorded in state.");
            Err(d)
        }
    }
}

/// The two data-plane writes of a zae-limiter deploy (spec §9.6 steps 4–5): the version
/// record and the `default` namespace.
async fn bootstrap_data_plane(clients: &AwsClients, name: &str, state: &mut Value) -> Result<(), Diagnostics> {
    let data = zae_limiter::admin::Table::new(clients.dynamodb.clone(), name);
    // No aggregator Lambda is deployed by this resource yet, so the truthful lambda
    // version is "none" (NULL), which every client treats as compatible.
    data.write_version_record(None, UPDATED_BY)
        .await
        .map_err(|e| error("Cannot write the version record", &e))?;
    state.set("schema_version", zae_limiter::version::CURRENT_SCHEMA_VERSION.into());
    let id = data
        .register_namespace(DEFAULT_NAMESPACE)
        .await
        .map_err(|e| error("Cannot register the default namespace", &e))?;
    state.set("default_namespace_id", id.into());
    Ok(())
}

async fn create_policy(
    clients: &AwsClients,
    stack: &str,
    kind: PolicyKind,
    table_arn: &str,
    tags: &BTreeMap<String, String>,
) -> crate::aws::Result<String> {
    let name = kind.policy_name(stack);
    let document = kind.document(table_arn);
    let policy = iam_policy::create_policy(&clients.iam, &name, kind.description(), &document, tags).await?;
    Ok(policy.arn)
}

fn error(summary: &str, err: &dyn std::fmt::Display) -> Diagnostics {
    let mut d = Diagnostics::new();
    d.error(summary, error_detail(err));
    d
}

fn attr_error(attr: &str, summary: &str, err: &dyn std::fmt::Display) -> Diagnostics {
    let mut d = Diagnostics::new();
    d.attribute_error(AttributePath::root(attr), summary, error_detail(err));
    d
}

/// Refreshes `state` (a value of [`schema`]) from AWS. `Ok(false)` when the table is gone.
/// Also the lookup of the `zae_limiter_stack` data source.
pub(crate) async fn refresh(
    clients: &AwsClients,
    state: &mut Value,
    private: &mut Private,
) -> Result<bool, Diagnostics> {
    let name = name_of(state);
    let Some(info) = table::find_table(&clients.dynamodb, &name)
        .await
        .map_err(|e| error("Cannot read the DynamoDB table", &e))?
    else {
        return Ok(false);
    };
    if info.status == "DELETING" {
        return Ok(false);
    }
    state.set("id", name.clone().into());
    state.set("table_name", name.clone().into());
    state.set("table_arn", info.arn.clone().into());
    state.set("stream_arn", info.stream_arn.clone().into());
    state.set("deletion_protection", info.deletion_protection.into());
    let pitr = table::pitr::describe_pitr(&clients.dynamodb, &name)
        .await
        .map_err(|e| error("Cannot read point-in-time recovery", &e))?;
    state.set("pitr_recovery_days", Value::int(i64::from(pitr.effective_days())));
    let remote_tags = table::tagging::list_tags(&clients.dynamodb, &info.arn)
        .await
        .map_err(|e| error("Cannot read the table's tags", &e))?;
    state.set("tags", own_tags(state.get("tags"), &remote_tags, &clients.default_tags));
    state.set("tags_all", string_map_value(&remote_tags));

    let data = zae_limiter::admin::Table::new(clients.dynamodb.clone(), name.as_str());
    let record = data
        .get_version_record(false)
        .await
        .map_err(|e| error("Cannot read the version record", &e))?;
    state.set("schema_version", record.map(|r| r.schema_version).into());
    let default_ns = data
        .get_namespace(DEFAULT_NAMESPACE)
        .await
        .map_err(|e| error("Cannot read the default namespace", &e))?;
    state.set("default_namespace_id", default_ns.map(|ns| ns.id).into());

    let mut drifted = Vec::new();
    for (kind, attr) in POLICY_ATTRIBUTES {
        let arn = match state.get(attr).as_str() {
            Some(arn) => Some(arn.to_string()),
            None => clients.identity.as_ref().map(|identity| {
                iam_policy::policy_arn(
                    &identity.account_id,
                    &identity.partition,
                    None,
                    &kind.policy_name(&name),
                )
            }),
        };
        let found = match arn {
            Some(arn) => iam_policy::find_policy(&clients.iam, &arn)
                .await
                .map_err(|e| attr_error(attr, "Cannot read the managed policy", &e))?,
            None => None,
        };
        match found {
            None => state.set(attr, Value::Null),
            Some(policy) => {
                if !crate::aws::policy_document::documents_equivalent(&policy.document, &kind.document(&info.arn)) {
                    drifted.push(attr.to_string());
                }
                state.set(attr, policy.arn.into());
            }
        }
    }
    if drifted.is_empty() {
        private.remove(DRIFTED_POLICIES);
    } else {
        private.set(DRIFTED_POLICIES, json!(drifted));
    }
    Ok(true)
}

/// The resource's own `tags` as seen in AWS: everything except the managed tag and default
/// tags with their default value. Keeps a null `tags` null when nothing of the user's is
/// left.
fn own_tags(prior: &Value, remote: &BTreeMap<String, String>, defaults: &BTreeMap<String, String>) -> Value {
    let (app_key, app_value) = zae_limiter::schema::table::APPLICATION_TAG;
    let prior_tags = tags_of(prior).unwrap_or_default();
    let own: BTreeMap<String, String> = remote
        .iter()
        .filter(|(k, v)| {
            if prior_tags.contains_key(*k) {
                return true;
            }
            let managed = k.as_str() == app_key && v.as_str() == app_value;
            let defaulted = defaults.get(*k) == Some(*v);
            !managed && !defaulted
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if own.is_empty() && prior.is_null() {
        Value::Null
    } else {
        string_map_value(&own)
    }
}

async fn apply_update(
    clients: &AwsClients,
    prior: &Value,
    planned: &Value,
    timeout: Duration,
    state: &mut Value,
) -> Result<(), Diagnostics> {
    let name = name_of(prior);
    let dynamodb = &clients.dynamodb;
    let table_arn = prior.get("table_arn").as_str().unwrap_or_default().to_string();
    let protect = planned.get("deletion_protection").as_bool().unwrap_or(false);
    // Turning protection off comes first so later failures cannot strand a protected table
    // the user asked to unprotect; turning it on comes last.
    if !protect && prior.get("deletion_protection").as_bool() == Some(true) {
        table::set_deletion_protection(dynamodb, &name, false)
            .await
            .map_err(|e| attr_error("deletion_protection", "Cannot turn off deletion protection", &e))?;
        state.set("deletion_protection", false.into());
    }
    unless_stopped(table::wait_table_active(dynamodb, &name, timeout))
        .await?
        .map_err(|e| error("The table is not ACTIVE", &e))?;
    let days = pitr_days(planned);
    if days != pitr_days(prior) {
        table::pitr::set_pitr(dynamodb, &name, days)
            .await
            .map_err(|e| attr_error("pitr_recovery_days", "Cannot configure point-in-time recovery", &e))?;
        state.set("pitr_recovery_days", Value::int(i64::from(days)));
    }
    let tags_all = tags_of(planned.get("tags_all")).unwrap_or_default();
    if !planned.get("tags_all").equivalent(prior.get("tags_all")) {
        table::tagging::sync_tags(dynamodb, &table_arn, &tags_all)
            .await
            .map_err(|e| attr_error("tags", "Cannot update the table's tags", &e))?;
    }
    state.set("tags", planned.get("tags").clone());
    state.set("tags_all", planned.get("tags_all").clone());
    if state.get("schema_version").is_null() || state.get("default_namespace_id").is_null() {
        bootstrap_data_plane(clients, &name, state).await?;
    }
    for (kind, attr) in POLICY_ATTRIBUTES {
        let document = kind.document(&table_arn);
        match prior.get(attr).as_str() {
            Some(arn) if !planned.get(attr).is_unknown() => {
                if !planned.get("tags_all").equivalent(prior.get("tags_all")) {
                    iam_policy::sync_policy_tags(&clients.iam, arn, &tags_all)
                        .await
                        .map_err(|e| attr_error(attr, "Cannot update the policy's tags", &e))?;
                }
            }
            Some(arn) => {
                // Edited outside Terraform: restore the document.
                iam_policy::update_policy_document(&clients.iam, arn, &document)
                    .await
                    .map_err(|e| attr_error(attr, "Cannot restore the managed policy document", &e))?;
                iam_policy::sync_policy_tags(&clients.iam, arn, &tags_all)
                    .await
                    .map_err(|e| attr_error(attr, "Cannot update the policy's tags", &e))?;
            }
            None => {
                let arn = create_policy(clients, &name, kind, &table_arn, &tags_all)
                    .await
                    .map_err(|e| attr_error(attr, "Cannot create the managed policy", &e))?;
                state.set(attr, arn.into());
            }
        }
    }
    if protect && prior.get("deletion_protection").as_bool() != Some(true) {
        table::set_deletion_protection(dynamodb, &name, true)
            .await
            .map_err(|e| attr_error("deletion_protection", "Cannot enable deletion protection", &e))?;
        state.set("deletion_protection", true.into());
    }
    state.set("pitr_recovery_days", planned.get("pitr_recovery_days").clone());
    Ok(())
}

async fn delete_stack(clients: &AwsClients, prior: &Value, timeout: Duration) -> Result<(), Diagnostics> {
    let name = name_of(prior);
    if let Some(info) = table::find_table(&clients.dynamodb, &name)
        .await
        .map_err(|e| error("Cannot read the DynamoDB table", &e))?
        && info.deletion_protection
    {
        let mut d = Diagnostics::new();
        d.attribute_error(
            AttributePath::root("deletion_protection"),
            "Stack is protected from deletion",
            format!("Table {name:?} has deletion protection enabled in AWS. Set deletion_protection = false and apply, then destroy."),
        );
        return Err(d);
    }
    for (_, attr) in POLICY_ATTRIBUTES {
        if let Some(arn) = prior.get(attr).as_str() {
            iam_policy::delete_policy(&clients.iam, arn)
                .await
                .map_err(|e| attr_error(attr, "Cannot delete the managed policy", &e))?;
        }
    }
    table::delete_table(&clients.dynamodb, &name)
        .await
        .map_err(|e| error("Cannot delete the DynamoDB table", &e))?;
    unless_stopped(table::wait_table_deleted(&clients.dynamodb, &name, timeout))
        .await?
        .map_err(|e| error("The table was not deleted in time", &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_all_layers_managed_default_and_own_tags() {
        let defaults = BTreeMap::from([
            ("team".to_string(), "a".to_string()),
            ("env".to_string(), "dev".to_string()),
        ]);
        let tags = Value::string_map([("team", "b")]);
        let all = merged_tags(&defaults, &tags).unwrap();
        assert_eq!(all.get("team").map(String::as_str), Some("b"));
        assert_eq!(all.get("env").map(String::as_str), Some("dev"));
        assert_eq!(all.get("Application").map(String::as_str), Some("zae-limiter"));
        assert_eq!(merged_tags(&defaults, &Value::unknown()), None);
    }

    #[test]
    fn own_tags_exclude_managed_and_default_tags() {
        let remote = BTreeMap::from([
            ("Application".to_string(), "zae-limiter".to_string()),
            ("env".to_string(), "dev".to_string()),
            ("team".to_string(), "b".to_string()),
        ]);
        let defaults = BTreeMap::from([("env".to_string(), "dev".to_string())]);
        let own = own_tags(&Value::string_map([("team", "a")]), &remote, &defaults);
        assert_eq!(own, Value::string_map([("team", "b")]));
        let none = own_tags(
            &Value::Null,
            &BTreeMap::from([("Application".to_string(), "zae-limiter".to_string())]),
            &defaults,
        );
        assert_eq!(none, Value::Null);
    }

    #[test]
    fn schema_marks_outputs_computed_and_name_replacing() {
        let s = schema();
        let name = s.block.find_attribute("name").unwrap();
        assert!(name.required && !name.plan_modifiers.is_empty());
        for (_, attr) in POLICY_ATTRIBUTES {
            let a = s.block.find_attribute(attr).unwrap();
            assert!(a.computed && !a.optional, "{attr}");
        }
        assert!(s.block.find_block("timeouts").is_some());
    }
}
