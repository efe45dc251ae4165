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

use super::common::{OrDiagnostic, computed_string, error_diag, identity_string, known, unless_stopped};
use crate::aws::policy_document::{
    PolicyCompatibility, PolicyKind, documents_equivalent, grants_only_table, named_resources,
};
use crate::aws::{AwsClients, iam_policy, table};
use crate::framework::timeouts::{self, Timeouts};
use crate::framework::validator::{IntBetween, MapEntries, OneOf, StringCheck};
use crate::framework::{
    Attribute, AttributePath, Block, Diagnostics, IdentityAttribute, ImportId, Known, ModelResource, Outcome, Partial,
    Plan, Private, RequiresReplace, ResourceModel, Schema,
};
use crate::model;

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
            .description(
                "Stack name; also the DynamoDB table name. Letters, digits and hyphens, starting \
                with a letter, 3 to 55 characters. Changing it replaces the stack.",
            )
            .validator(stack_name_check())
            .plan_modifier(RequiresReplace),
    )
    .attribute(
        Attribute::number("pitr_recovery_days")
            .default_value(i64::from(table::pitr::DEFAULT_PITR_DAYS))
            .description(
                "Point-in-time recovery period in days: 0 turns it off, 1 to 35 keeps that many days \
                (default 35, as a zae-limiter deploy does).",
            )
            .validator(IntBetween { min: 0, max: 35 }),
    )
    .attribute(
        Attribute::bool("deletion_protection")
            .default_value(false)
            .description("Protects the table from deletion. While on, `terraform destroy` is refused at plan time."),
    )
    .attribute(
        Attribute::string("policy_compatibility")
            .default_value(PolicyCompatibility::Hardened.as_str())
            .description(
                "`hardened` (default): the `-ns-full` policy may only read the shared `_/*` items (version record, \
                 namespace registry), so a tenant administrator cannot lock clients out or repoint another tenant's \
                 namespace. `0.17.0`: the six documents byte-identical to zae-limiter 0.17.0, whose `-ns-full` may \
                 also write them. Updated in place.",
            )
            .validator(OneOf(&PolicyCompatibility::VALUES)),
    )
    .attribute(
        Attribute::string_map("tags")
            .optional()
            .description("Tags for the table and policies.")
            .validator(MapEntries::new("Invalid tag", crate::aws::tags::check_tag)),
    )
    .attribute(
        Attribute::string_map("tags_all")
            .computed()
            .description("All tags: `Application = zae-limiter`, the provider's `default_tags`, then `tags`."),
    )
    .attribute(computed_string("table_name", "DynamoDB table name (the stack name)."))
    .attribute(computed_string("table_arn", "DynamoDB table ARN."))
    .attribute(computed_string(
        "stream_arn",
        "ARN of the table's stream (NEW_AND_OLD_IMAGES), for the aggregator.",
    ))
    .attribute(computed_string(
        "schema_version",
        "zae-limiter schema version recorded in the table.",
    ))
    .attribute(computed_string(
        "default_namespace_id",
        "Opaque id of the `default` namespace.",
    ));
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

model! {
    /// The state of a `zae_limiter_stack` (see [`schema`]).
    pub struct StackModel, config StackConfig, names StackNames {
        /// The stack name.
        pub id: Known<String>,
        /// Stack name (= table name).
        pub name: String,
        /// Point-in-time recovery period in days (0 = off).
        pub pitr_recovery_days: i64,
        /// Deletion protection of the table.
        pub deletion_protection: bool,
        /// `hardened` or `0.17.0`: which policy documents the stack gets.
        pub policy_compatibility: String,
        /// The resource's own tags.
        pub tags: Option<BTreeMap<String, String>>,
        /// Every tag: managed, default and own.
        pub tags_all: Known<BTreeMap<String, String>>,
        /// Table name.
        pub table_name: Known<String>,
        /// Table ARN.
        pub table_arn: Known<String>,
        /// Stream ARN.
        pub stream_arn: Known<String>,
        /// Schema version in the version record.
        pub schema_version: Known<String>,
        /// Id of the `default` namespace.
        pub default_namespace_id: Known<String>,
        /// ARN of the `-acq` policy.
        pub acquire_only_policy_arn: Known<String>,
        /// ARN of the `-full` policy.
        pub full_access_policy_arn: Known<String>,
        /// ARN of the `-read` policy.
        pub read_only_policy_arn: Known<String>,
        /// ARN of the `-ns-acq` policy.
        pub namespace_acquire_policy_arn: Known<String>,
        /// ARN of the `-ns-full` policy.
        pub namespace_full_access_policy_arn: Known<String>,
        /// ARN of the `-ns-read` policy.
        pub namespace_read_only_policy_arn: Known<String>,
        /// Time limits.
        pub timeouts: Option<Timeouts>,
    }
}

model! {
    /// The identity of a `zae_limiter_stack`.
    pub struct StackIdentity, config StackIdentityConfig, names StackIdentityNames {
        /// Stack name.
        pub name: String,
    }
}

const NAMES: StackNames = StackModel::NAMES;

/// The ARN field of policy `kind` in a stack model or configuration view (both hold these
/// fields as `Known<String>`), borrowed as asked: `policy_arn!(&state, kind)` or
/// `policy_arn!(&mut state, kind)`.
macro_rules! policy_arn {
    (&mut $stack:expr, $kind:expr) => {
        policy_arn!(@borrow [&mut] $stack, $kind)
    };
    (& $stack:expr, $kind:expr) => {
        policy_arn!(@borrow [&] $stack, $kind)
    };
    (@borrow [$($borrow:tt)+] $stack:expr, $kind:expr) => {
        match $kind {
            PolicyKind::AcquireOnly => $($borrow)+ $stack.acquire_only_policy_arn,
            PolicyKind::FullAccess => $($borrow)+ $stack.full_access_policy_arn,
            PolicyKind::ReadOnly => $($borrow)+ $stack.read_only_policy_arn,
            PolicyKind::NamespaceAcquire => $($borrow)+ $stack.namespace_acquire_policy_arn,
            PolicyKind::NamespaceFullAccess => $($borrow)+ $stack.namespace_full_access_policy_arn,
            PolicyKind::NamespaceReadOnly => $($borrow)+ $stack.namespace_read_only_policy_arn,
        }
    };
}

/// The state attribute holding policy `kind`'s ARN.
fn policy_attribute(kind: PolicyKind) -> &'static str {
    POLICY_ATTRIBUTES
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("", |(_, attr)| *attr)
}

/// `tags_all` from known values: the managed `Application` tag, then default tags, then
/// the resource's tags (later wins).
fn merged_tags(
    default_tags: &BTreeMap<String, String>,
    tags: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut all = default_tags.clone();
    all.extend(tags.cloned().unwrap_or_default());
    table::definition::effective_tags(&all)
}

/// The planned `tags_all`: unknown while `tags` is.
fn planned_tags_all(
    default_tags: &BTreeMap<String, String>,
    tags: &Known<BTreeMap<String, String>>,
) -> Known<BTreeMap<String, String>> {
    match tags {
        Known::Unknown => Known::Unknown,
        tags => Known::Value(merged_tags(default_tags, tags.value())),
    }
}

fn pitr_days(days: i64) -> u16 {
    u16::try_from(days).unwrap_or(table::pitr::DEFAULT_PITR_DAYS)
}

impl StackModel {
    fn table_settings(&self) -> Result<table::TableSettings, Diagnostics> {
        Ok(table::TableSettings {
            name: self.name.clone(),
            pitr_recovery_days: pitr_days(self.pitr_recovery_days),
            deletion_protection: false,
            tags: known(&self.tags_all, NAMES.tags_all)?.clone(),
        })
    }

    /// The policy documents this stack asks for (validated at plan time).
    fn compatibility(&self) -> PolicyCompatibility {
        PolicyCompatibility::parse(&self.policy_compatibility).unwrap_or_default()
    }

    fn timeout(&self, pick: fn(&Timeouts) -> &Option<String>, default: Duration) -> Duration {
        timeouts::configured(self.timeouts.as_ref(), pick, default)
    }
}

/// Refuses to plan the destruction or replacement of a protected stack.
fn refuse_unprotected_loss(plan: &mut Plan<'_, AwsClients, StackModel>) {
    let Some(prior) = plan.prior.as_ref().filter(|p| p.deletion_protection) else {
        return;
    };
    if !(plan.destroying() || plan.replacing) {
        return;
    }
    plan.diagnostics.extend(error_diag(
        Some(NAMES.deletion_protection),
        "Stack is protected from deletion",
        format!(
            "Stack {:?} has deletion_protection = true, so it cannot be {}. Set deletion_protection = false \
                and apply first.",
            prior.name,
            if plan.destroying() { "destroyed" } else { "replaced" }
        ),
    ));
}

/// Data-plane records and policies that were deleted or edited outside Terraform are
/// planned as unknown (restored by the update), with a warning each.
fn plan_restorations(prior: &StackModel, drifted: &[String], planned: &mut StackConfig, diags: &mut Diagnostics) {
    let records = [
        (
            prior.schema_version.is_null(),
            &mut planned.schema_version,
            NAMES.schema_version,
            "version record",
        ),
        (
            prior.default_namespace_id.is_null(),
            &mut planned.default_namespace_id,
            NAMES.default_namespace_id,
            "default namespace",
        ),
    ];
    for (missing, planned_value, attr, record) in records {
        if missing {
            *planned_value = Known::Unknown;
            diags.attribute_warning(
                AttributePath::root(attr),
                "zae-limiter record missing",
                format!(
                    "The table has no {record}; zae-limiter clients cannot connect without it. This apply \
                    writes it again."
                ),
            );
        }
    }
    for (kind, attr) in POLICY_ATTRIBUTES {
        let missing = policy_arn!(&prior, kind).is_null();
        let edited = drifted.iter().any(|d| d == attr);
        if missing || edited {
            *policy_arn!(&mut planned, kind) = Known::Unknown;
            diags.attribute_warning(
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

/// The plan: protection against loss, computed names and tags, and restorations.
fn plan_stack(plan: &mut Plan<'_, AwsClients, StackModel>) {
    refuse_unprotected_loss(plan);
    let defaults = plan.provider.map(|p| p.default_tags.clone()).unwrap_or_default();
    let drifted: Vec<String> = plan
        .prior_private
        .get(DRIFTED_POLICIES)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    plan.planned_private.remove(DRIFTED_POLICIES);
    let Some(planned) = plan.planned.as_mut() else { return };
    if let Some(name) = plan.config.name.value() {
        planned.id = Known::Value(name.clone());
        planned.table_name = Known::Value(name.clone());
    }
    planned.tags_all = planned_tags_all(&defaults, &plan.config.tags);
    if let Some(prior) = &plan.prior {
        plan_restorations(prior, &drifted, planned, &mut plan.diagnostics);
    }
}

/// Steps of create after the table exists; each success is recorded in `state`.
async fn finish_create(
    clients: &AwsClients,
    settings: &table::TableSettings,
    timeout: Duration,
    state: &mut StackModel,
) -> Result<(), Diagnostics> {
    let name = settings.name.as_str();
    let info = unless_stopped(table::wait_table_active(&clients.dynamodb, name, timeout))
        .await?
        .or_error("The table did not become ACTIVE")?;
    state.table_arn = Known::Value(info.arn.clone());
    state.stream_arn = info.stream_arn.clone().into();
    table::ttl::enable_ttl(&clients.dynamodb, name)
        .await
        .or_error("Cannot enable TTL on the table")?;
    table::pitr::set_pitr(&clients.dynamodb, name, settings.pitr_recovery_days)
        .await
        .or_error_at(NAMES.pitr_recovery_days, "Cannot configure point-in-time recovery")?;
    bootstrap_data_plane(clients, name, state).await?;
    for (kind, attr) in POLICY_ATTRIBUTES {
        let document = kind.document_with(&info.arn, state.compatibility());
        let arn = create_policy(clients, name, kind, &document, &settings.tags)
            .await
            .or_error_at(attr, "Cannot create the managed policy")?;
        *policy_arn!(&mut state, kind) = Known::Value(arn);
    }
    if state.deletion_protection {
        table::set_deletion_protection(&clients.dynamodb, name, true)
            .await
            .or_error_at(NAMES.deletion_protection, "Cannot enable deletion protection")?;
    }
    Ok(())
}

/// The two data-plane writes of a zae-limiter deploy (wire-format §9.6 steps 4–5): the version
/// record and the `default` namespace.
async fn bootstrap_data_plane(clients: &AwsClients, name: &str, state: &mut StackModel) -> Result<(), Diagnostics> {
    let data = zae_limiter::admin::Table::new(clients.dynamodb.clone(), name);
    // No aggregator Lambda is deployed by this resource yet, so the truthful lambda
    // version is "none" (NULL), which every client treats as compatible.
    data.write_version_record(None, UPDATED_BY)
        .await
        .or_error("Cannot write the version record")?;
    state.schema_version = Known::Value(zae_limiter::version::CURRENT_SCHEMA_VERSION.to_string());
    let id = data
        .register_namespace(DEFAULT_NAMESPACE)
        .await
        .or_error("Cannot register the default namespace")?;
    state.default_namespace_id = Known::Value(id);
    Ok(())
}

async fn create_policy(
    clients: &AwsClients,
    stack: &str,
    kind: PolicyKind,
    document: &serde_json::Value,
    tags: &BTreeMap<String, String>,
) -> crate::aws::Result<String> {
    let name = kind.policy_name(stack);
    let policy = iam_policy::create_policy(&clients.iam, &name, kind.description(), document, tags).await?;
    Ok(policy.arn)
}

/// Where the ARN of a policy to refresh came from.
enum PolicyLookup {
    /// Recorded in state: the policy is this stack's.
    Recorded(String),
    /// Derived from the stack's name (state lost it, e.g. after an import). IAM names are
    /// account-global, so the policy found there is adopted only when it is this table's.
    ByName(String),
}

/// The ARN policy `kind` has (from state), or would have under the stack's name (when
/// state lost it and the caller's account is known).
fn policy_lookup(clients: &AwsClients, state: &StackModel, kind: PolicyKind) -> Option<PolicyLookup> {
    if let Some(arn) = policy_arn!(&state, kind).as_str() {
        return Some(PolicyLookup::Recorded(arn.to_string()));
    }
    let identity = clients.identity.as_ref()?;
    Some(PolicyLookup::ByName(iam_policy::policy_arn(
        &identity.account_id,
        &identity.partition,
        None,
        &kind.policy_name(&state.name),
    )))
}

/// Refuses to adopt a policy found by name that grants access to another table.
fn refuse_foreign_policy(policy: &iam_policy::ManagedPolicy, attr: &str, table_arn: &str) -> Diagnostics {
    let names = named_resources(&policy.document).join(", ");
    error_diag(
        Some(attr),
        "Managed policy belongs to another table",
        format!(
            "IAM policy {} ({}) has this stack's policy name, but it grants access to {names}, not to \
             {table_arn}. IAM policy names are global to the account: it is probably the policy of a stack of \
             the same name in another region. Rename one of the stacks, or delete that policy if it is stale.",
            policy.name, policy.arn
        ),
    )
}

/// Which documents a policy has: the stack's setting when its document is that one (so a
/// policy identical under both keeps it), the other setting when it is that one, `None`
/// when it is neither (edited outside Terraform).
fn compatibility_of(
    document: &serde_json::Value,
    kind: PolicyKind,
    table_arn: &str,
    expected: PolicyCompatibility,
) -> Option<PolicyCompatibility> {
    let other = match expected {
        PolicyCompatibility::Hardened => PolicyCompatibility::ZaeLimiter0170,
        PolicyCompatibility::ZaeLimiter0170 => PolicyCompatibility::Hardened,
    };
    [expected, other]
        .into_iter()
        .find(|compat| documents_equivalent(document, &kind.document_with(table_arn, *compat)))
}

/// Refreshes the six policy ARNs; returns the attributes whose document drifted.
async fn refresh_policies(
    clients: &AwsClients,
    state: &mut StackModel,
    table_arn: &str,
) -> Result<Vec<String>, Diagnostics> {
    let mut drifted = Vec::new();
    for (kind, attr) in POLICY_ATTRIBUTES {
        let lookup = policy_lookup(clients, state, kind);
        let found = match &lookup {
            Some(PolicyLookup::Recorded(arn) | PolicyLookup::ByName(arn)) => iam_policy::find_policy(&clients.iam, arn)
                .await
                .or_error_at(attr, "Cannot read the managed policy")?,
            None => None,
        };
        if let (Some(PolicyLookup::ByName(_)), Some(policy)) = (&lookup, &found)
            && !grants_only_table(&policy.document, table_arn)
        {
            return Err(refuse_foreign_policy(policy, attr, table_arn));
        }
        *policy_arn!(&mut state, kind) = match found {
            None => Known::Null,
            Some(policy) => {
                match compatibility_of(&policy.document, kind, table_arn, state.compatibility()) {
                    Some(seen) => state.policy_compatibility = seen.as_str().to_string(),
                    None => drifted.push(attr.to_string()),
                }
                Known::Value(policy.arn)
            }
        };
    }
    Ok(drifted)
}

/// Refreshes the stack from AWS; `None` when the table is gone. Also the lookup of the
/// `zae_limiter_stack` data source.
pub(crate) async fn refresh(
    clients: &AwsClients,
    mut state: StackModel,
    private: &mut Private,
) -> Result<Option<StackModel>, Diagnostics> {
    let name = state.name.clone();
    let Some(info) = table::find_table(&clients.dynamodb, &name)
        .await
        .or_error("Cannot read the DynamoDB table")?
        .filter(|info| info.status != "DELETING")
    else {
        return Ok(None);
    };
    state.id = Known::Value(name.clone());
    state.table_name = Known::Value(name.clone());
    state.table_arn = Known::Value(info.arn.clone());
    state.stream_arn = info.stream_arn.clone().into();
    state.deletion_protection = info.deletion_protection;
    let pitr = table::pitr::describe_pitr(&clients.dynamodb, &name)
        .await
        .or_error("Cannot read point-in-time recovery")?;
    state.pitr_recovery_days = i64::from(pitr.effective_days());
    let remote_tags = table::tagging::list_tags(&clients.dynamodb, &info.arn)
        .await
        .or_error("Cannot read the table's tags")?;
    state.tags = own_tags(state.tags.as_ref(), &remote_tags, &clients.default_tags);
    state.tags_all = Known::Value(remote_tags);

    let data = zae_limiter::admin::Table::new(clients.dynamodb.clone(), name.as_str());
    let record = data
        .get_version_record(false)
        .await
        .or_error("Cannot read the version record")?;
    state.schema_version = record.and_then(|r| r.schema_version).into();
    let default_ns = data
        .get_namespace(DEFAULT_NAMESPACE)
        .await
        .or_error("Cannot read the default namespace")?;
    state.default_namespace_id = default_ns.map(|ns| ns.id).into();

    let drifted = refresh_policies(clients, &mut state, &info.arn).await?;
    if drifted.is_empty() {
        private.remove(DRIFTED_POLICIES);
    } else {
        private.set(DRIFTED_POLICIES, json!(drifted));
    }
    Ok(Some(state))
}

/// The resource's own `tags` as seen in AWS: everything except the managed tag and default
/// tags with their default value. A null `tags` stays null when nothing of the user's is
/// left.
fn own_tags(
    prior: Option<&BTreeMap<String, String>>,
    remote: &BTreeMap<String, String>,
    defaults: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    let (app_key, app_value) = zae_limiter::schema::table::APPLICATION_TAG;
    let own: BTreeMap<String, String> = remote
        .iter()
        .filter(|(k, v)| {
            if prior.is_some_and(|p| p.contains_key(*k)) {
                return true;
            }
            let managed = k.as_str() == app_key && v.as_str() == app_value;
            let defaulted = defaults.get(*k) == Some(*v);
            !managed && !defaulted
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if own.is_empty() && prior.is_none() {
        None
    } else {
        Some(own)
    }
}

async fn set_protection(clients: &AwsClients, name: &str, on: bool, state: &mut StackModel) -> Result<(), Diagnostics> {
    let summary = if on {
        "Cannot enable deletion protection"
    } else {
        "Cannot turn off deletion protection"
    };
    table::set_deletion_protection(&clients.dynamodb, name, on)
        .await
        .or_error_at(NAMES.deletion_protection, summary)?;
    state.deletion_protection = on;
    Ok(())
}

/// Brings one managed policy to the plan: recreate it when missing, restore its document
/// when edited, retag it when the tags changed.
async fn update_policy(
    clients: &AwsClients,
    kind: PolicyKind,
    (prior, plan): (&StackModel, &StackModel),
    tags_changed: bool,
    state: &mut StackModel,
) -> Result<(), Diagnostics> {
    let attr = policy_attribute(kind);
    let table_arn = known(&prior.table_arn, NAMES.table_arn)?;
    let tags_all = known(&plan.tags_all, NAMES.tags_all)?;
    let document = kind.document_with(table_arn, plan.compatibility());
    let rewrite = kind.document_with(table_arn, prior.compatibility()) != document;
    let restore = policy_arn!(&plan, kind).is_unknown() || rewrite;
    match policy_arn!(&prior, kind).as_str() {
        Some(arn) => {
            if restore {
                iam_policy::update_policy_document(&clients.iam, arn, &document)
                    .await
                    .or_error_at(attr, "Cannot restore the managed policy document")?;
            }
            if restore || tags_changed {
                iam_policy::sync_policy_tags(&clients.iam, arn, tags_all)
                    .await
                    .or_error_at(attr, "Cannot update the policy's tags")?;
            }
        }
        None => {
            let arn = create_policy(clients, &prior.name, kind, &document, tags_all)
                .await
                .or_error_at(attr, "Cannot create the managed policy")?;
            *policy_arn!(&mut state, kind) = Known::Value(arn);
        }
    }
    Ok(())
}

async fn apply_update(
    clients: &AwsClients,
    prior: &StackModel,
    plan: &StackModel,
    timeout: Duration,
    state: &mut StackModel,
) -> Result<(), Diagnostics> {
    let name = prior.name.as_str();
    let dynamodb = &clients.dynamodb;
    // Turning protection off comes first so later failures cannot strand a protected table
    // the user asked to unprotect; turning it on comes last.
    if !plan.deletion_protection && prior.deletion_protection {
        set_protection(clients, name, false, state).await?;
    }
    unless_stopped(table::wait_table_active(dynamodb, name, timeout))
        .await?
        .or_error("The table is not ACTIVE")?;
    if plan.pitr_recovery_days != prior.pitr_recovery_days {
        table::pitr::set_pitr(dynamodb, name, pitr_days(plan.pitr_recovery_days))
            .await
            .or_error_at(NAMES.pitr_recovery_days, "Cannot configure point-in-time recovery")?;
        state.pitr_recovery_days = plan.pitr_recovery_days;
    }
    let tags_changed = plan.tags_all != prior.tags_all;
    if tags_changed {
        let table_arn = known(&prior.table_arn, NAMES.table_arn)?;
        let tags_all = known(&plan.tags_all, NAMES.tags_all)?;
        table::tagging::sync_tags(dynamodb, table_arn, tags_all)
            .await
            .or_error_at(NAMES.tags, "Cannot update the table's tags")?;
    }
    state.tags = plan.tags.clone();
    state.tags_all = plan.tags_all.clone();
    if state.schema_version.is_null() || state.default_namespace_id.is_null() {
        bootstrap_data_plane(clients, name, state).await?;
    }
    for (kind, _) in POLICY_ATTRIBUTES {
        update_policy(clients, kind, (prior, plan), tags_changed, state).await?;
    }
    state.policy_compatibility = plan.policy_compatibility.clone();
    if plan.deletion_protection && !prior.deletion_protection {
        set_protection(clients, name, true, state).await?;
    }
    Ok(())
}

impl ResourceModel for StackResource {
    type Model = StackModel;
    type Identity = StackIdentity;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn identity_attributes(&self) -> Vec<IdentityAttribute> {
        vec![identity_string("name", true, "Stack name.")]
    }

    fn identity(&self, state: &StackModel) -> StackIdentity {
        StackIdentity {
            name: state.name.clone(),
        }
    }
}

#[async_trait]
impl ModelResource<AwsClients> for StackResource {
    async fn plan(&self, plan: &mut Plan<'_, AwsClients, StackModel>) {
        plan_stack(plan);
    }

    /// Create: the table first (nothing exists before it, so a failure leaves no state), then
    /// the rest; from then on every failure returns the state of what exists.
    async fn create(&self, clients: &AwsClients, plan: StackModel) -> Outcome<StackModel> {
        let timeout = plan.timeout(|t| &t.create, table::DEFAULT_CREATE_TIMEOUT);
        let settings = plan.table_settings()?;
        table::create_table(&clients.dynamodb, &settings)
            .await
            .or_error_at(NAMES.name, "Cannot create the DynamoDB table")?;
        let mut state = plan;
        state.id = Known::Value(state.name.clone());
        state.table_name = Known::Value(state.name.clone());
        match finish_create(clients, &settings, timeout, &mut state).await {
            Ok(()) => Ok(state),
            Err(d) => Err(Partial::keeping(state, d)),
        }
    }

    async fn read(
        &self,
        clients: &AwsClients,
        state: StackModel,
        private: &mut Private,
        _warnings: &mut Diagnostics,
    ) -> Result<Option<StackModel>, Diagnostics> {
        refresh(clients, state, private).await
    }

    /// Update: each setting that changed, recorded in `state` as it succeeds.
    async fn update(&self, clients: &AwsClients, prior: StackModel, plan: StackModel) -> Outcome<StackModel> {
        let timeout = plan.timeout(|t| &t.update, table::DEFAULT_UPDATE_TIMEOUT);
        let mut state = StackModel {
            timeouts: plan.timeouts.clone(),
            ..prior.clone()
        };
        match apply_update(clients, &prior, &plan, timeout, &mut state).await {
            Ok(()) => Ok(state),
            Err(d) => Err(Partial::keeping(state, d)),
        }
    }

    /// Delete: refused while AWS protects the table; policies first, then the table.
    async fn delete(&self, clients: &AwsClients, prior: StackModel) -> Result<(), Diagnostics> {
        let timeout = prior.timeout(|t| &t.delete, table::DEFAULT_DELETE_TIMEOUT);
        let name = prior.name.clone();
        let found = table::find_table(&clients.dynamodb, &name)
            .await
            .or_error("Cannot read the DynamoDB table")?;
        if found.is_some_and(|info| info.deletion_protection) {
            return Err(error_diag(
                Some(NAMES.deletion_protection),
                "Stack is protected from deletion",
                format!(
                    "Table {name:?} has deletion protection enabled in AWS. Set deletion_protection = false \
                        and apply, then destroy."
                ),
            ));
        }
        for (kind, attr) in POLICY_ATTRIBUTES {
            if let Some(arn) = policy_arn!(&prior, kind).as_str() {
                iam_policy::delete_policy(&clients.iam, arn)
                    .await
                    .or_error_at(attr, "Cannot delete the managed policy")?;
            }
        }
        table::delete_table(&clients.dynamodb, &name)
            .await
            .or_error("Cannot delete the DynamoDB table")?;
        unless_stopped(table::wait_table_deleted(&clients.dynamodb, &name, timeout))
            .await?
            .or_error("The table was not deleted in time")?;
        Ok(())
    }

    /// Import by name or identity: only a table that matches zae-limiter's definition.
    async fn import(&self, clients: &AwsClients, id: ImportId<'_, StackIdentity>) -> Result<StackModel, Diagnostics> {
        let name = match id {
            ImportId::Identity(identity) => identity.name,
            ImportId::Text(text) => text.to_string(),
        };
        zae_limiter::naming::validate_stack_name(&name).map_err(|e| {
            error_diag(
                None,
                "Invalid import id",
                format!("Import a stack by its name; {name:?} is not a stack name: {}", e.reason),
            )
        })?;
        let Some(info) = table::find_table(&clients.dynamodb, &name)
            .await
            .or_error("Cannot read the DynamoDB table")?
        else {
            return Err(error_diag(
                None,
                "Stack not found",
                format!(
                    "There is no DynamoDB table named {name:?} in region {}.",
                    clients.region
                ),
            ));
        };
        let problems = info.definition_problems();
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(|p| format!("- {p}")).collect();
            return Err(error_diag(
                None,
                "Not a zae-limiter table",
                format!(
                    "Table {name:?} does not match the zae-limiter 0.17.0 table definition:\n{}",
                    list.join("\n")
                ),
            ));
        }
        Ok(StackModel {
            id: Known::Value(name.clone()),
            name,
            ..StackModel::default()
        })
    }
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
        let tags = BTreeMap::from([("team".to_string(), "b".to_string())]);
        let all = merged_tags(&defaults, Some(&tags));
        assert_eq!(all.get("team").map(String::as_str), Some("b"));
        assert_eq!(all.get("env").map(String::as_str), Some("dev"));
        assert_eq!(all.get("Application").map(String::as_str), Some("zae-limiter"));
        assert!(planned_tags_all(&defaults, &Known::Unknown).is_unknown());
    }

    #[test]
    fn own_tags_exclude_managed_and_default_tags() {
        let remote = BTreeMap::from([
            ("Application".to_string(), "zae-limiter".to_string()),
            ("env".to_string(), "dev".to_string()),
            ("team".to_string(), "b".to_string()),
        ]);
        let defaults = BTreeMap::from([("env".to_string(), "dev".to_string())]);
        let prior = BTreeMap::from([("team".to_string(), "a".to_string())]);
        let own = own_tags(Some(&prior), &remote, &defaults);
        assert_eq!(own, Some(BTreeMap::from([("team".to_string(), "b".to_string())])));
        let none = own_tags(
            None,
            &BTreeMap::from([("Application".to_string(), "zae-limiter".to_string())]),
            &defaults,
        );
        assert_eq!(none, None);
    }

    #[test]
    fn the_models_agree_with_the_schemas() {
        crate::framework::typed::check_agreement(&StackResource).unwrap();
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
