//! `zae_limiter_namespace`: a tenant of a zae-limiter stack (spec §3.2), and the TBAC tag
//! (`zael_namespace_id = <id>`, spec §9.4) on the IAM roles and users that act in it.
//!
//! Create: choose the id (a fresh one as zae-limiter generates it, or the soft-deleted
//! namespace's id when `recover = true`), tag the principals with it, then register (or
//! recover) the namespace. A failure before registration removes the tags it added and
//! leaves nothing in state, so the next apply starts over; a failure while retagging during
//! an update leaves the state listing exactly the principals that carry the tag, so the
//! next plan shows (and the next apply makes) the rest.
//!
//! Read: one `GetItem` of the forward record, plus one tag read per listed principal; a
//! principal whose tag was removed or changed by hand drops out of `principal_tags` so the
//! next plan retags it.
//!
//! Delete: untag the principals (only where the tag still names this namespace), then
//! soft-delete, or with `on_destroy = "purge"` soft-delete and purge every item of the
//! namespace (GSI4). Planning a purge warns that it is permanent.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use zae_limiter::admin::{Registration, Table};
use zae_limiter::schema::namespace::{NamespaceRecord, NamespaceStatus};

use crate::aws::iam_principal::{self, Principal, PrincipalKind};
use crate::aws::policy_document::NAMESPACE_TAG_KEY;
use crate::framework::planning::empty_object;
use crate::framework::validator::{OneOf, StringCheck, Validator};
use crate::framework::{
    Attribute, AttributePath, Block, CreateRequest, DeleteRequest, DeleteResponse, Diagnostics, IdentityAttribute,
    ImportRequest, ImportState, ModifyPlanRequest, ModifyPlanResponse, Nesting, ReadRequest, RequiresReplace, Resource,
    ResourceIdentity, Schema, StateResponse, Type, UpdateRequest, UseStateForUnknown, Value,
};
use crate::aws::AwsClients;

/// Resource type name.
pub const TYPE_NAME: &str = "zae_limiter_namespace";

/// `on_destroy` values.
pub const ON_DESTROY: [&str; 2] = ["soft_delete", "purge"];

/// DynamoDB's sort-key limit (1024 bytes) minus the `#NAMESPACE#` prefix.
const MAX_NAME_BYTES: usize = 1024 - "#NAMESPACE#".len();

/// The `zae_limiter_namespace` resource.
#[derive(Debug, Default)]
pub struct NamespaceResource;

/// Checks a namespace name: zae-limiter rejects only the reserved `_`; empty names, names
/// with control characters and names too long for a DynamoDB sort key cannot be stored
/// either.
pub(crate) fn check_namespace_name(name: &str) -> Result<(), String> {
    if let Err(e) = zae_limiter::validate::validate_namespace_name(name) {
        return Err(format!(
            "{name:?} is reserved for zae-limiter's table-level records ({e})."
        ));
    }
    if name.is_empty() {
        return Err("A namespace name cannot be empty.".into());
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{name:?} contains control characters."));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "A namespace name is at most {MAX_NAME_BYTES} bytes (it is part of a DynamoDB sort key); this one has {}.",
            name.len()
        ));
    }
    Ok(())
}

/// The schema validator for namespace names.
pub(crate) fn namespace_name_validator() -> StringCheck {
    StringCheck::new(
        "Invalid namespace name",
        "a zae-limiter namespace name",
        check_namespace_name,
    )
}

/// IAM role and user names: 1–64 characters of `[A-Za-z0-9+=,.@_-]`.
fn check_principal_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not an IAM role or user name (1 to 64 letters, digits and +=,.@_-; a name, not an ARN)."
        ))
    }
}

/// Checks every string of a set with [`check_principal_name`].
struct PrincipalNames;

impl Validator for PrincipalNames {
    fn description(&self) -> String {
        "IAM role or user names".into()
    }

    fn validate(&self, value: &Value, path: &AttributePath, diags: &mut Diagnostics) {
        for element in value.as_list().unwrap_or_default() {
            if let Some(name) = element.as_str()
                && let Err(message) = check_principal_name(name)
            {
                diags.attribute_error(path.clone(), "Invalid IAM principal name", message);
            }
        }
    }
}

fn computed_string(name: &str, description: &str) -> Attribute {
    Attribute::string(name)
        .computed()
        .description(description)
        .plan_modifier(UseStateForUnknown)
}

/// The resource schema.
pub fn schema() -> Schema {
    let block = Block::new(
        "A zae-limiter namespace (tenant) in a stack, and the `zael_namespace_id` principal tag on the IAM roles \
         and users that act in it, for the stack's namespace-scoped (TBAC) policies.",
    )
    .attribute(computed_string(
        "id",
        "The namespace's opaque id (11 characters, generated like zae-limiter's). Keys of the namespace's items start with `<id>/`; principals are tagged with it.",
    ))
    .attribute(
        Attribute::string("stack")
            .required()
            .description("Name of the zae-limiter stack (its DynamoDB table). Changing it replaces the namespace.")
            .validator(super::stack::stack_name_check())
            .plan_modifier(RequiresReplace),
    )
    .attribute(
        Attribute::string("name")
            .required()
            .description("Namespace name. `_` is reserved. Changing it replaces the namespace.")
            .validator(namespace_name_validator())
            .plan_modifier(RequiresReplace),
    )
    .attribute(
        Attribute::nested(
            "principal_tags",
            Nesting::Single,
            vec![
                Attribute::string_set("roles")
                    .optional()
                    .description("IAM role names to tag `zael_namespace_id = <id>`.")
                    .validator(PrincipalNames),
                Attribute::string_set("users")
                    .optional()
                    .description("IAM user names to tag `zael_namespace_id = <id>`.")
                    .validator(PrincipalNames),
            ],
        )
        .optional()
        .description(
            "IAM principals that act in this namespace. Each is tagged `zael_namespace_id = <id>` on create, retagged \
             when the list changes, and untagged on destroy; a tag removed by hand shows as a change in the next plan.",
        ),
    )
    .attribute(
        Attribute::string("on_destroy")
            .default_value("soft_delete")
            .description(
                "What destroy does: `soft_delete` (default; the data stays and the namespace can be recovered) or \
                 `purge` (every item of the namespace is deleted permanently).",
            )
            .validator(OneOf(&ON_DESTROY)),
    )
    .attribute(
        Attribute::bool("recover")
            .default_value(false)
            .description(
                "When creating a namespace whose name was soft-deleted, recover it (same id, limits kept). Without it \
                 such a create fails and names the deleted namespace's id.",
            ),
    )
    .attribute(computed_string("status", "Namespace status: `active` once registered."))
    .attribute(computed_string("created_at", "When the namespace was first registered (UTC)."));
    Schema::new(block)
}

fn str_attr<'a>(state: &'a Value, name: &str) -> &'a str {
    state.get(name).as_str().unwrap_or_default()
}

/// The principals listed in a `principal_tags` value.
fn principals_of(value: &Value) -> BTreeSet<Principal> {
    let mut out = BTreeSet::new();
    for (attr, kind) in [("roles", PrincipalKind::Role), ("users", PrincipalKind::User)] {
        for name in value.get(attr).as_string_list().unwrap_or_default() {
            out.insert(Principal { kind, name });
        }
    }
    out
}

/// The path of the set listing principals of `kind`.
fn principal_path(kind: PrincipalKind) -> AttributePath {
    AttributePath::root("principal_tags").attribute(match kind {
        PrincipalKind::Role => "roles",
        PrincipalKind::User => "users",
    })
}

/// A `principal_tags` value listing `principals`, shaped like `like` (a null set stays
/// null when it would be empty).
fn principal_tags_value(principals: &BTreeSet<Principal>, like: &Value) -> Value {
    if like.is_null() && principals.is_empty() {
        return Value::Null;
    }
    let mut object = Value::Object(BTreeMap::new());
    for (attr, kind) in [("roles", PrincipalKind::Role), ("users", PrincipalKind::User)] {
        let names: Vec<Value> = principals
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| Value::string(p.name.clone()))
            .collect();
        let value = if names.is_empty() && like.get(attr).is_null() {
            Value::Null
        } else {
            Value::Set(names)
        };
        object.set(attr, value);
    }
    object
}

fn table(clients: &AwsClients, state: &Value) -> Table {
    Table::new(clients.dynamodb.clone(), str_attr(state, "stack"))
}

/// A diagnostic for a client-crate failure, at `stack` when the table is missing.
fn data_error(diags: &mut Diagnostics, summary: &str, err: &zae_limiter::Error, stack: &str) {
    match err {
        zae_limiter::Error::TableNotFound { .. } => diags.attribute_error(
            AttributePath::root("stack"),
            "Unknown stack",
            format!("There is no zae-limiter stack {stack:?}: its DynamoDB table does not exist in this region."),
        ),
        other => diags.error(summary, other.to_string()),
    }
}

/// Sets the registry fields of `state` from the namespace record.
fn set_record(state: &mut Value, record: &NamespaceRecord) {
    state.set("id", record.id.clone().into());
    state.set("status", record.status.as_str().into());
    state.set("created_at", record.created_at.clone().into());
}

#[async_trait]
impl Resource<AwsClients> for NamespaceResource {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn modify_plan(&self, req: &ModifyPlanRequest<'_, AwsClients>, resp: &mut ModifyPlanResponse) {
        let destroying = resp.planned_state.is_null();
        let replacing = !resp.requires_replace.is_empty();
        if (destroying || replacing) && str_attr(req.prior_state, "on_destroy") == "purge" {
            let name = str_attr(req.prior_state, "name");
            let id = str_attr(req.prior_state, "id");
            resp.diagnostics.attribute_warning(
                AttributePath::root("on_destroy"),
                "Namespace will be purged",
                format!(
                    "{} namespace {name:?} (id {id}) with on_destroy = \"purge\" PERMANENTLY DELETES every item of the \
                     namespace: its limits, entities, buckets, usage and audit events. This cannot be undone.",
                    if destroying { "Destroying" } else { "Replacing" }
                ),
            );
        }
    }

    async fn create(&self, req: &CreateRequest<'_, AwsClients>, resp: &mut StateResponse) {
        let mut state = req.planned_state.clone();
        match create_namespace(req.provider, &state).await {
            Ok(record) => {
                set_record(&mut state, &record);
                resp.new_state = state;
            }
            Err(diags) => resp.diagnostics.extend(diags),
        }
    }

    async fn read(&self, req: &ReadRequest<'_, AwsClients>, resp: &mut StateResponse) {
        let mut state = req.current_state.clone();
        match refresh(req.provider, &mut state).await {
            Ok(true) => resp.new_state = state,
            Ok(false) => resp.new_state = Value::Null,
            Err(diags) => {
                resp.new_state = req.current_state.clone();
                resp.diagnostics.extend(diags);
            }
        }
    }

    async fn update(&self, req: &UpdateRequest<'_, AwsClients>, resp: &mut StateResponse) {
        let id = str_attr(req.prior_state, "id").to_string();
        let desired = principals_of(req.planned_state.get("principal_tags"));
        let mut current = principals_of(req.prior_state.get("principal_tags"));
        let outcome = retag(req.provider, req.planned_state, &id, &mut current, &desired).await;
        let mut state = req.planned_state.clone();
        for attr in ["id", "status", "created_at"] {
            state.set(attr, req.prior_state.get(attr).clone());
        }
        if let Err(diags) = outcome {
            state.set(
                "principal_tags",
                principal_tags_value(&current, req.planned_state.get("principal_tags")),
            );
            resp.diagnostics.extend(diags);
        }
        resp.new_state = state;
    }

    async fn delete(&self, req: &DeleteRequest<'_, AwsClients>, resp: &mut DeleteResponse) {
        if let Err(diags) = delete_namespace(req.provider, req.prior_state).await {
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

impl ResourceIdentity for NamespaceResource {
    fn attributes(&self) -> Vec<IdentityAttribute> {
        vec![
            IdentityAttribute {
                name: "stack",
                ty: Type::String,
                required_for_import: true,
                optional_for_import: false,
                description: "Stack name.",
            },
            IdentityAttribute {
                name: "name",
                ty: Type::String,
                required_for_import: true,
                optional_for_import: false,
                description: "Namespace name.",
            },
        ]
    }

    fn identity_of(&self, state: &Value) -> Value {
        let mut identity = Value::Object(BTreeMap::new());
        identity.set("stack", state.get("stack").clone());
        identity.set("name", state.get("name").clone());
        identity
    }
}

#[async_trait]
impl ImportState<AwsClients> for NamespaceResource {
    async fn import(&self, req: &ImportRequest<'_, AwsClients>, resp: &mut StateResponse) {
        let (stack, name) = match req.identity {
            Some(identity) => (
                str_attr(identity, "stack").to_string(),
                str_attr(identity, "name").to_string(),
            ),
            None => match req.id.split_once('/') {
                Some((stack, name)) => (stack.to_string(), name.to_string()),
                None => {
                    resp.diagnostics.error(
                        "Invalid import id",
                        format!(
                            "Import a namespace as STACK/NAME (e.g. zae-demo/tenant-alpha); got {:?}.",
                            req.id
                        ),
                    );
                    return;
                }
            },
        };
        if let Err(message) = check_namespace_name(&name) {
            resp.diagnostics.error("Invalid import id", message);
            return;
        }
        let data = Table::new(req.provider.dynamodb.clone(), stack.as_str());
        let record = match data.get_namespace(&name).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                resp.diagnostics.error(
                    "Namespace not found",
                    format!("Stack {stack:?} has no active namespace named {name:?}."),
                );
                return;
            }
            Err(e) => {
                data_error(&mut resp.diagnostics, "Cannot read the namespace", &e, &stack);
                return;
            }
        };
        let mut state = empty_object(&schema().block);
        state.set("stack", stack.into());
        state.set("name", name.into());
        state.set("on_destroy", "soft_delete".into());
        state.set("recover", false.into());
        set_record(&mut state, &record);
        resp.new_state = state;
    }
}

/// Create: the id, the tags, then the registration.
async fn create_namespace(clients: &AwsClients, planned: &Value) -> Result<NamespaceRecord, Diagnostics> {
    let stack = str_attr(planned, "stack");
    let name = str_attr(planned, "name");
    let data = table(clients, planned);
    let mut diags = Diagnostics::new();
    match data.get_namespace(name).await {
        Ok(None) => {}
        Ok(Some(existing)) => {
            diags.attribute_error(
                AttributePath::root("name"),
                "Namespace already exists",
                format!(
                    "Stack {stack:?} already has a namespace {name:?} (id {}). Import it instead: terraform import <address> {stack}/{name}",
                    existing.id
                ),
            );
            return Err(diags);
        }
        Err(e) => {
            data_error(&mut diags, "Cannot read the namespace registry", &e, stack);
            return Err(diags);
        }
    }
    let deleted = data.find_deleted_namespaces(name).await.map_err(|e| {
        let mut d = Diagnostics::new();
        data_error(&mut d, "Cannot read the namespace registry", &e, stack);
        d
    })?;
    let recover = planned.get("recover").as_bool() == Some(true);
    let recovering =
        match deleted.first() {
            Some(previous) if recover => Some(previous.id.clone()),
            Some(previous) => {
                diags.attribute_error(
                AttributePath::root("name"),
                "Namespace was soft-deleted",
                format!(
                    "Namespace {name:?} of stack {stack:?} was soft-deleted{} and still holds its data under id {}. \
                     Set recover = true to restore it (same id and limits), or purge id {} before creating a new one.",
                    previous.deleted_at.as_deref().map(|t| format!(" at {t}")).unwrap_or_default(),
                    previous.id,
                    previous.id
                ),
            );
                return Err(diags);
            }
            None => None,
        };
    let id = recovering.clone().unwrap_or_else(zae_limiter::clock::new_namespace_id);
    let desired = principals_of(planned.get("principal_tags"));
    let mut tagged = BTreeSet::new();
    if let Err(d) = retag(clients, planned, &id, &mut tagged, &desired).await {
        untag_all(clients, &data, &id, &tagged).await;
        return Err(d);
    }
    let registered = match &recovering {
        Some(id) => data.recover_namespace(id).await.map(|_| None),
        None => data.register_namespace_with_id(name, &id).await.map(Some),
    };
    let failure = match registered {
        Ok(Some(Registration::NameTaken(existing))) => {
            let mut d = Diagnostics::new();
            d.attribute_error(
                AttributePath::root("name"),
                "Namespace already exists",
                format!(
                    "Namespace {name:?} was registered by someone else meanwhile (id {}).",
                    existing.id
                ),
            );
            Some(d)
        }
        Ok(_) => None,
        Err(e) => {
            let mut d = Diagnostics::new();
            data_error(&mut d, "Cannot register the namespace", &e, stack);
            Some(d)
        }
    };
    if let Some(d) = failure {
        untag_all(clients, &data, &id, &tagged).await;
        return Err(d);
    }
    tracing::info!(stack, namespace = name, namespace_id = %id, principals = tagged.len(), "namespace created");
    match data.get_namespace(name).await {
        Ok(Some(record)) => Ok(record),
        _ => Ok(NamespaceRecord::new_active(
            &id,
            name,
            &zae_limiter::clock::utc_now_string(),
        )),
    }
}

/// Best-effort removal of the tags a failed create added.
async fn untag_all(clients: &AwsClients, data: &Table, id: &str, tagged: &BTreeSet<Principal>) {
    for principal in tagged {
        if let Err(e) = untag_if_ours(clients, data, id, principal).await {
            tracing::warn!(%principal, error = %e, "cannot remove the namespace tag after a failed create");
        }
    }
}

/// Untags `principal` when its tag still names namespace `id`.
async fn untag_if_ours(clients: &AwsClients, _data: &Table, id: &str, principal: &Principal) -> crate::aws::Result<()> {
    match iam_principal::principal_tags(&clients.iam, principal).await? {
        Some(tags) if tags.get(NAMESPACE_TAG_KEY).map(String::as_str) == Some(id) => {
            iam_principal::untag_principal(&clients.iam, principal, NAMESPACE_TAG_KEY).await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Moves the tagged set `current` towards `desired`: untags principals no longer listed,
/// tags new ones with `id`. `current` always reflects what is done, also on failure.
async fn retag(
    clients: &AwsClients,
    planned: &Value,
    id: &str,
    current: &mut BTreeSet<Principal>,
    desired: &BTreeSet<Principal>,
) -> Result<(), Diagnostics> {
    let data = table(clients, planned);
    let mut diags = Diagnostics::new();
    let removed: Vec<Principal> = current.difference(desired).cloned().collect();
    for principal in removed {
        match untag_if_ours(clients, &data, id, &principal).await {
            Ok(()) => {
                current.remove(&principal);
            }
            Err(e) => {
                diags.attribute_error(
                    principal_path(principal.kind),
                    "Cannot remove the namespace tag",
                    format!("Removing tag {NAMESPACE_TAG_KEY} from {principal} failed: {e}"),
                );
                return Err(diags);
            }
        }
    }
    let added: Vec<Principal> = desired.difference(current).cloned().collect();
    for principal in added {
        tag_principal(clients, &data, id, &principal).await?;
        current.insert(principal);
    }
    Ok(())
}

/// Tags one principal with `id`, refusing one that belongs to another active namespace.
async fn tag_principal(clients: &AwsClients, data: &Table, id: &str, principal: &Principal) -> Result<(), Diagnostics> {
    let path = principal_path(principal.kind);
    let fail = |summary: &str, detail: String| {
        let mut d = Diagnostics::new();
        d.attribute_error(path.clone(), summary, detail);
        d
    };
    let current = match iam_principal::principal_tag(&clients.iam, principal, NAMESPACE_TAG_KEY).await {
        Ok(Some(value)) => value,
        Ok(None) => {
            return Err(fail(
                "IAM principal not found",
                format!(
                    "{principal} does not exist, so it cannot be tagged {NAMESPACE_TAG_KEY} = {id}. Create it first or remove it from the list."
                ),
            ));
        }
        Err(e) => return Err(fail("Cannot read the principal's tags", e.to_string())),
    };
    match current.as_deref() {
        Some(value) if value == id => return Ok(()),
        Some(other) => match data.get_namespace_by_id(other).await {
            Ok(Some(record)) if record.status == NamespaceStatus::Active => {
                return Err(fail(
                    "Principal belongs to another namespace",
                    format!(
                        "{principal} is tagged {NAMESPACE_TAG_KEY} = {other}, the id of active namespace {:?}. A principal acts in one namespace only: remove it from that namespace first.",
                        record.name
                    ),
                ));
            }
            Ok(_) => tracing::info!(%principal, stale = other, "replacing a stale namespace tag"),
            Err(e) => return Err(fail("Cannot check the principal's current namespace", e.to_string())),
        },
        None => {}
    }
    iam_principal::tag_principal(&clients.iam, principal, NAMESPACE_TAG_KEY, id)
        .await
        .map_err(|e| {
            if e.is_not_found() {
                fail("IAM principal not found", format!("{principal} does not exist: {e}"))
            } else {
                fail("Cannot tag the principal", e.to_string())
            }
        })
}

/// Refreshes `state`; `Ok(false)` when the namespace is gone (soft-deleted, purged,
/// re-registered under another id, or the stack itself is gone).
async fn refresh(clients: &AwsClients, state: &mut Value) -> Result<bool, Diagnostics> {
    let data = table(clients, state);
    let id = str_attr(state, "id").to_string();
    let record = match data.get_namespace(str_attr(state, "name")).await {
        Ok(record) => record,
        Err(zae_limiter::Error::TableNotFound { .. }) => return Ok(false),
        Err(e) => {
            let mut d = Diagnostics::new();
            data_error(&mut d, "Cannot read the namespace", &e, str_attr(state, "stack"));
            return Err(d);
        }
    };
    let Some(record) = record.filter(|r| r.id == id && r.status.resolves()) else {
        return Ok(false);
    };
    set_record(state, &record);
    let listed = principals_of(state.get("principal_tags"));
    let mut tagged = BTreeSet::new();
    for principal in listed {
        match iam_principal::principal_tags(&clients.iam, &principal).await {
            Ok(Some(tags)) if tags.get(NAMESPACE_TAG_KEY) == Some(&id) => {
                tagged.insert(principal);
            }
            Ok(_) => tracing::info!(%principal, "principal lost its namespace tag"),
            Err(e) => {
                let mut d = Diagnostics::new();
                d.attribute_error(
                    principal_path(principal.kind),
                    "Cannot read the principal's tags",
                    e.to_string(),
                );
                return Err(d);
            }
        }
    }
    let like = state.get("principal_tags").clone();
    state.set("principal_tags", principal_tags_value(&tagged, &like));
    Ok(true)
}

async fn delete_namespace(clients: &AwsClients, prior: &Value) -> Result<(), Diagnostics> {
    let data = table(clients, prior);
    let stack = str_attr(prior, "stack");
    let name = str_attr(prior, "name");
    let id = str_attr(prior, "id");
    let mut diags = Diagnostics::new();
    for principal in principals_of(prior.get("principal_tags")) {
        if let Err(e) = untag_if_ours(clients, &data, id, &principal).await {
            diags.attribute_error(
                principal_path(principal.kind),
                "Cannot remove the namespace tag",
                format!("Removing tag {NAMESPACE_TAG_KEY} from {principal} failed: {e}"),
            );
            return Err(diags);
        }
    }
    let soft_delete = async {
        if let Some(record) = data.get_namespace(name).await?
            && record.id == id
        {
            data.delete_namespace(name).await?;
        }
        if str_attr(prior, "on_destroy") == "purge" {
            let report = data.purge_namespace(id).await?;
            tracing::info!(
                stack,
                namespace = name,
                items = report.items_deleted,
                "namespace purged"
            );
        }
        Ok::<(), zae_limiter::Error>(())
    };
    match soft_delete.await {
        Ok(()) | Err(zae_limiter::Error::TableNotFound { .. }) => Ok(()),
        Err(e) => {
            data_error(&mut diags, "Cannot delete the namespace", &e, stack);
            Err(diags)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_zae_limiter_and_dynamodb_limits() {
        assert!(check_namespace_name("tenant-alpha").is_ok());
        assert!(check_namespace_name("with spaces/and#hash").is_ok());
        assert!(check_namespace_name("_").unwrap_err().contains("reserved"));
        assert!(check_namespace_name("").is_err());
        assert!(check_namespace_name("a\nb").is_err());
        assert!(check_namespace_name(&"x".repeat(MAX_NAME_BYTES)).is_ok());
        assert!(check_namespace_name(&"x".repeat(MAX_NAME_BYTES + 1)).is_err());
    }

    #[test]
    fn principal_names_are_names_not_arns() {
        assert!(check_principal_name("app-role_1+=,.@").is_ok());
        assert!(check_principal_name("arn:aws:iam::1:role/x").is_err());
        assert!(check_principal_name("").is_err());
        assert!(check_principal_name(&"r".repeat(65)).is_err());
    }

    #[test]
    fn principal_tags_round_trip_and_keep_nulls() {
        let mut value = Value::Object(BTreeMap::new());
        value.set("roles", Value::Set(vec!["a".into(), "b".into()]));
        value.set("users", Value::Null);
        let principals = principals_of(&value);
        assert_eq!(principals.len(), 2);
        assert_eq!(principal_tags_value(&principals, &value), value);
        let only_a: BTreeSet<Principal> = [Principal::role("a")].into();
        let shrunk = principal_tags_value(&only_a, &value);
        assert_eq!(shrunk.get("roles"), &Value::Set(vec!["a".into()]));
        assert!(shrunk.get("users").is_null());
        assert_eq!(principal_tags_value(&BTreeSet::new(), &Value::Null), Value::Null);
    }

    #[test]
    fn schema_replaces_on_stack_or_name_change() {
        let s = schema();
        for attr in ["stack", "name"] {
            let a = s.block.find_attribute(attr).unwrap();
            assert!(a.required && !a.plan_modifiers.is_empty(), "{attr}");
        }
        let on_destroy = s.block.find_attribute("on_destroy").unwrap();
        assert_eq!(on_destroy.default, Some(Value::string("soft_delete")));
    }
}
