//! `zae_limiter_namespace`: a tenant of a zae-limiter stack (wire-format §3.2), and the TBAC tag
//! (`zael_namespace_id = <id>`, wire-format §9.4) on the IAM roles and users that act in it.
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

use std::collections::BTreeSet;

use async_trait::async_trait;
use zae_limiter::admin::{Registration, Table};
use zae_limiter::schema::namespace::{NamespaceRecord, NamespaceStatus};

use super::common::{OrDiagnostic, computed_string, data_error, error_diag, identity_string, known, unless_stopped};
use crate::aws::AwsClients;
use crate::aws::iam_principal::{self, Principal, PrincipalKind};
use crate::aws::policy_document::NAMESPACE_TAG_KEY;
use crate::framework::validator::{Each, OneOf, StringCheck};
use crate::framework::{
    Attribute, AttributePath, Block, Diagnostics, IdentityAttribute, ImportId, Known, ModelResource, Nesting, Outcome,
    Partial, Plan, Private, RequiresReplace, ResourceModel, Schema,
};
use crate::model;

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

/// Checks every name of a principal set with [`check_principal_name`].
fn principal_names() -> Each<StringCheck> {
    Each(StringCheck::new(
        "Invalid IAM principal name",
        "IAM role or user names",
        check_principal_name,
    ))
}

/// The resource schema.
pub fn schema() -> Schema {
    let block = Block::new(
        "A zae-limiter namespace (tenant) in a stack, and the `zael_namespace_id` principal tag on the IAM roles \
         and users that act in it, for the stack's namespace-scoped (TBAC) policies.",
    )
    .attribute(computed_string(
        "id",
        "The namespace's opaque id (11 characters, generated like zae-limiter's). Keys of the namespace's \
            items start with `<id>/`; principals are tagged with it.",
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
                    .validator(principal_names()),
                Attribute::string_set("users")
                    .optional()
                    .description("IAM user names to tag `zael_namespace_id = <id>`.")
                    .validator(principal_names()),
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
    .attribute(Attribute::bool("recover").default_value(false).description(
        "When creating a namespace whose name was soft-deleted, recover it (same id, limits kept). Without it \
                 such a create fails and names the deleted namespace's id.",
    ))
    .attribute(computed_string("status", "Namespace status: `active` once registered."))
    .attribute(computed_string(
        "created_at",
        "When the namespace was first registered (UTC).",
    ));
    Schema::new(block)
}

model! {
    /// The state of a `zae_limiter_namespace` (see [`schema`]).
    pub struct NamespaceModel, config NamespaceConfig, names NamespaceNames {
        /// The namespace's opaque id.
        pub id: Known<String>,
        /// Stack name.
        pub stack: String,
        /// Namespace name.
        pub name: String,
        /// IAM principals tagged with the id.
        pub principal_tags: Option<PrincipalTags>,
        /// `soft_delete` or `purge`.
        pub on_destroy: String,
        /// Recover a soft-deleted namespace of the same name on create.
        pub recover: bool,
        /// `active` once registered.
        pub status: Known<String>,
        /// When the namespace was registered.
        pub created_at: Known<String>,
    }
}

model! {
    /// The `principal_tags` attribute: IAM roles and users tagged with the namespace id.
    pub struct PrincipalTags, config PrincipalTagsConfig, names PrincipalTagsNames {
        /// Role names.
        pub roles: Option<BTreeSet<String>>,
        /// User names.
        pub users: Option<BTreeSet<String>>,
    }
}

model! {
    /// The identity of a `zae_limiter_namespace`.
    pub struct NamespaceIdentity, config NamespaceIdentityConfig, names NamespaceIdentityNames {
        /// Stack name.
        pub stack: String,
        /// Namespace name.
        pub name: String,
    }
}

const NAMES: NamespaceNames = NamespaceModel::NAMES;

/// `on_destroy` value that purges the namespace's data.
const PURGE: &str = "purge";

impl PrincipalTags {
    /// The principals listed in a `principal_tags` value.
    fn principals(tags: Option<&PrincipalTags>) -> BTreeSet<Principal> {
        let Some(tags) = tags else { return BTreeSet::new() };
        let roles = tags.roles.iter().flatten().map(Principal::role);
        let users = tags.users.iter().flatten().map(Principal::user);
        roles.chain(users).collect()
    }

    /// A `principal_tags` value listing `principals`, shaped like `like`: a set (or the
    /// whole value) that was null stays null when it would be empty.
    fn listing(principals: &BTreeSet<Principal>, like: Option<&PrincipalTags>) -> Option<PrincipalTags> {
        if like.is_none() && principals.is_empty() {
            return None;
        }
        let names = |kind: PrincipalKind, was: Option<&BTreeSet<String>>| {
            let names: BTreeSet<String> = principals
                .iter()
                .filter(|p| p.kind == kind)
                .map(|p| p.name.clone())
                .collect();
            (!names.is_empty() || was.is_some()).then_some(names)
        };
        Some(PrincipalTags {
            roles: names(PrincipalKind::Role, like.and_then(|l| l.roles.as_ref())),
            users: names(PrincipalKind::User, like.and_then(|l| l.users.as_ref())),
        })
    }
}

/// The path of the set listing principals of `kind`.
fn principal_path(kind: PrincipalKind) -> AttributePath {
    let names = PrincipalTags::NAMES;
    AttributePath::root(NAMES.principal_tags).attribute(match kind {
        PrincipalKind::Role => names.roles,
        PrincipalKind::User => names.users,
    })
}

impl NamespaceModel {
    fn table(&self, clients: &AwsClients) -> Table {
        Table::new(clients.dynamodb.clone(), self.stack.as_str())
    }

    fn principals(&self) -> BTreeSet<Principal> {
        PrincipalTags::principals(self.principal_tags.as_ref())
    }

    /// The registry fields, from the namespace record.
    fn with_record(mut self, record: &NamespaceRecord) -> NamespaceModel {
        self.id = Known::Value(record.id.clone());
        self.status = Known::Value(record.status.as_str().to_string());
        self.created_at = Known::Value(record.created_at.clone());
        self
    }

    fn data_error<'a>(&'a self, summary: &'a str) -> impl Fn(zae_limiter::Error) -> Diagnostics + 'a {
        move |e| data_error(&e, summary, NAMES.stack, &self.stack)
    }
}

/// A soft-deleted namespace with the planned name: recovered with `recover = true`, else
/// a diagnostic naming its id.
fn id_to_recover(plan: &NamespaceModel, deleted: &[NamespaceRecord]) -> Result<Option<String>, Diagnostics> {
    match deleted.first() {
        Some(previous) if plan.recover => Ok(Some(previous.id.clone())),
        Some(previous) => Err(error_diag(
            Some(NAMES.name),
            "Namespace was soft-deleted",
            format!(
                "Namespace {:?} of stack {:?} was soft-deleted{} and still holds its data under id {}. \
                 Set recover = true to restore it (same id and limits), or purge id {} before creating a new one.",
                plan.name,
                plan.stack,
                previous
                    .deleted_at
                    .as_deref()
                    .map(|t| format!(" at {t}"))
                    .unwrap_or_default(),
                previous.id,
                previous.id
            ),
        )),
        None => Ok(None),
    }
}

/// The id a new namespace gets: the soft-deleted one's when recovering, else a fresh one.
async fn choose_id(data: &Table, plan: &NamespaceModel) -> Result<(String, bool), Diagnostics> {
    if let Some(existing) = data
        .get_namespace(&plan.name)
        .await
        .map_err(plan.data_error("Cannot read the namespace registry"))?
    {
        return Err(error_diag(
            Some(NAMES.name),
            "Namespace already exists",
            format!(
                "Stack {:?} already has a namespace {:?} (id {}). Import it instead: terraform import <address> {}/{}",
                plan.stack, plan.name, existing.id, plan.stack, plan.name
            ),
        ));
    }
    let deleted = data
        .find_deleted_namespaces(&plan.name)
        .await
        .map_err(plan.data_error("Cannot read the namespace registry"))?;
    Ok(match id_to_recover(plan, &deleted)? {
        Some(id) => {
            // The id comes from a reverse record anyone with write access to `_/SYSTEM#`
            // could forge: check the registry agrees before tagging anything with it.
            data.verified_namespace_id(&id)
                .await
                .map_err(|e| registry_error(plan, e))?;
            (id, true)
        }
        None => (zae_limiter::clock::new_namespace_id(), false),
    })
}

/// A registry error at `name`: a registry that contradicts itself names both records.
fn registry_error(plan: &NamespaceModel, e: zae_limiter::Error) -> Diagnostics {
    match e {
        zae_limiter::Error::RegistryMismatch { .. } => {
            error_diag(Some(NAMES.name), "Namespace registry records disagree", e)
        }
        other => plan.data_error("Cannot read the namespace registry")(other),
    }
}

/// Registers the namespace under `id` (or recovers it).
async fn register(data: &Table, plan: &NamespaceModel, id: &str, recovering: bool) -> Result<(), Diagnostics> {
    let registered = if recovering {
        data.recover_namespace(id).await.map(|_| None)
    } else {
        data.register_namespace_with_id(&plan.name, id).await.map(Some)
    };
    match registered.map_err(plan.data_error("Cannot register the namespace"))? {
        Some(Registration::NameTaken(existing)) => Err(error_diag(
            Some(NAMES.name),
            "Namespace already exists",
            format!(
                "Namespace {:?} was registered by someone else meanwhile (id {}).",
                plan.name, existing.id
            ),
        )),
        _ => Ok(()),
    }
}

/// Best-effort removal of the tags a failed create added.
async fn untag_all(clients: &AwsClients, id: &str, tagged: &BTreeSet<Principal>) {
    for principal in tagged {
        if let Err(e) = untag_if_ours(clients, id, principal).await {
            tracing::warn!(%principal, error = %e, "cannot remove the namespace tag after a failed create");
        }
    }
}

/// Untags `principal` when its tag still names namespace `id`.
async fn untag_if_ours(clients: &AwsClients, id: &str, principal: &Principal) -> crate::aws::Result<()> {
    match iam_principal::principal_tags(&clients.iam, principal).await? {
        Some(tags) if tags.get(NAMESPACE_TAG_KEY).map(String::as_str) == Some(id) => {
            iam_principal::untag_principal(&clients.iam, principal, NAMESPACE_TAG_KEY).await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Untags one principal, as a diagnostic on its set.
async fn untag_listed(clients: &AwsClients, id: &str, principal: &Principal) -> Result<(), Diagnostics> {
    untag_if_ours(clients, id, principal).await.map_err(|e| {
        let mut d = Diagnostics::new();
        d.attribute_error(
            principal_path(principal.kind),
            "Cannot remove the namespace tag",
            format!("Removing tag {NAMESPACE_TAG_KEY} from {principal} failed: {e}"),
        );
        d
    })
}

/// Moves the tagged set `current` towards `desired`: untags principals no longer listed,
/// tags new ones with `id`. `current` always reflects what is done, also on failure.
async fn retag(
    clients: &AwsClients,
    data: &Table,
    id: &str,
    current: &mut BTreeSet<Principal>,
    desired: &BTreeSet<Principal>,
) -> Result<(), Diagnostics> {
    let removed: Vec<Principal> = current.difference(desired).cloned().collect();
    for principal in removed {
        untag_listed(clients, id, &principal).await?;
        current.remove(&principal);
    }
    let added: Vec<Principal> = desired.difference(current).cloned().collect();
    for principal in added {
        tag_principal(clients, data, id, &principal).await?;
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
                    "{principal} does not exist, so it cannot be tagged {NAMESPACE_TAG_KEY} = {id}. \
                     Create it first or remove it from the list."
                ),
            ));
        }
        Err(e) => return Err(fail("Cannot read the principal's tags", e.to_string())),
    };
    match current.as_deref() {
        Some(value) if value == id => return Ok(()),
        Some(other) => match data.verified_namespace_id(other).await {
            Ok(Some(record)) if record.status == NamespaceStatus::Active => {
                return Err(fail(
                    "Principal belongs to another namespace",
                    format!(
                        "{principal} is tagged {NAMESPACE_TAG_KEY} = {other}, the id of active namespace {:?}. \
                         A principal acts in one namespace only: remove it from that namespace first.",
                        record.name
                    ),
                ));
            }
            // A deleted namespace's id, or a value that is no namespace id at all.
            Ok(_) | Err(zae_limiter::Error::Validation(_)) => {
                tracing::info!(%principal, stale = other, "replacing a stale namespace tag")
            }
            Err(e @ zae_limiter::Error::RegistryMismatch { .. }) => {
                return Err(fail(
                    "Namespace registry records disagree",
                    format!(
                        "{principal} is tagged {NAMESPACE_TAG_KEY} = {other}, and the registry cannot say \
                         whether that namespace is still active, so the tag is left alone. {e}"
                    ),
                ));
            }
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

/// The listed principals that still carry this namespace's tag.
async fn still_tagged(
    clients: &AwsClients,
    id: &str,
    listed: BTreeSet<Principal>,
) -> Result<BTreeSet<Principal>, Diagnostics> {
    let mut tagged = BTreeSet::new();
    for principal in listed {
        let tags = iam_principal::principal_tags(&clients.iam, &principal)
            .await
            .map_err(|e| {
                let mut d = Diagnostics::new();
                d.attribute_error(
                    principal_path(principal.kind),
                    "Cannot read the principal's tags",
                    e.to_string(),
                );
                d
            })?;
        if tags.is_some_and(|tags| tags.get(NAMESPACE_TAG_KEY).map(String::as_str) == Some(id)) {
            tagged.insert(principal);
        } else {
            tracing::info!(%principal, "principal lost its namespace tag");
        }
    }
    Ok(tagged)
}

/// Destroying or replacing a namespace with `on_destroy = "purge"` warns in the plan.
fn warn_of_purge(plan: &mut Plan<'_, AwsClients, NamespaceModel>) {
    let Some(prior) = plan.prior.as_ref().filter(|p| p.on_destroy == PURGE) else {
        return;
    };
    if !(plan.destroying() || plan.replacing) {
        return;
    }
    plan.diagnostics.attribute_warning(
        AttributePath::root(NAMES.on_destroy),
        "Namespace will be purged",
        format!(
            "{} namespace {:?} (id {}) with on_destroy = \"purge\" PERMANENTLY DELETES every item of the \
             namespace: its limits, entities, buckets, usage and audit events. This cannot be undone.",
            if plan.destroying() { "Destroying" } else { "Replacing" },
            prior.name,
            prior.id.as_str().unwrap_or("unknown"),
        ),
    );
}

impl ResourceModel for NamespaceResource {
    type Model = NamespaceModel;
    type Identity = NamespaceIdentity;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn identity_attributes(&self) -> Vec<IdentityAttribute> {
        vec![
            identity_string("stack", true, "Stack name."),
            identity_string("name", true, "Namespace name."),
        ]
    }

    fn identity(&self, state: &NamespaceModel) -> NamespaceIdentity {
        NamespaceIdentity {
            stack: state.stack.clone(),
            name: state.name.clone(),
        }
    }
}

#[async_trait]
impl ModelResource<AwsClients> for NamespaceResource {
    async fn plan(&self, plan: &mut Plan<'_, AwsClients, NamespaceModel>) {
        warn_of_purge(plan);
    }

    /// Create: the id, the tags, then the registration. A failure untags what it tagged and
    /// leaves nothing in state.
    async fn create(&self, clients: &AwsClients, plan: NamespaceModel) -> Outcome<NamespaceModel> {
        let data = plan.table(clients);
        let (id, recovering) = choose_id(&data, &plan).await?;
        let mut tagged = BTreeSet::new();
        let registered = match retag(clients, &data, &id, &mut tagged, &plan.principals()).await {
            Ok(()) => register(&data, &plan, &id, recovering).await,
            Err(d) => Err(d),
        };
        if let Err(d) = registered {
            untag_all(clients, &id, &tagged).await;
            return Err(d.into());
        }
        let principals = tagged.len();
        tracing::info!(
            stack = %plan.stack, namespace = %plan.name, namespace_id = %id, principals,
            "namespace created"
        );
        let record = match data.get_namespace(&plan.name).await {
            Ok(Some(record)) => record,
            read_back => {
                // Registered, but not readable yet: record what was written.
                tracing::warn!(namespace = %plan.name, ?read_back, "cannot read back the new namespace record");
                NamespaceRecord::new_active(&id, &plan.name, &zae_limiter::clock::utc_now_string())
            }
        };
        Ok(plan.with_record(&record))
    }

    /// Read: `None` when the namespace is gone (soft-deleted, purged, re-registered under
    /// another id, or the stack itself is gone); principals whose tag was removed drop out.
    async fn read(
        &self,
        clients: &AwsClients,
        state: NamespaceModel,
        _private: &mut Private,
        _warnings: &mut Diagnostics,
    ) -> Result<Option<NamespaceModel>, Diagnostics> {
        let id = known(&state.id, NAMES.id)?.clone();
        let record = match state.table(clients).get_namespace(&state.name).await {
            Ok(record) => record,
            Err(zae_limiter::Error::TableNotFound { .. }) => return Ok(None),
            Err(e) => return Err(state.data_error("Cannot read the namespace")(e)),
        };
        let Some(record) = record.filter(|r| r.id == id && r.status.resolves()) else {
            return Ok(None);
        };
        let tagged = still_tagged(clients, &id, state.principals()).await?;
        let mut state = state.with_record(&record);
        state.principal_tags = PrincipalTags::listing(&tagged, state.principal_tags.as_ref());
        Ok(Some(state))
    }

    /// Update: only the tags change in place. On failure the state lists exactly the
    /// principals that carry the tag, so the next plan shows the rest.
    async fn update(
        &self,
        clients: &AwsClients,
        prior: NamespaceModel,
        plan: NamespaceModel,
    ) -> Outcome<NamespaceModel> {
        let id = known(&prior.id, NAMES.id)?.clone();
        let mut current = prior.principals();
        let outcome = retag(clients, &prior.table(clients), &id, &mut current, &plan.principals()).await;
        let mut state = NamespaceModel {
            id: prior.id,
            status: prior.status,
            created_at: prior.created_at,
            ..plan
        };
        match outcome {
            Ok(()) => Ok(state),
            Err(d) => {
                state.principal_tags = PrincipalTags::listing(&current, state.principal_tags.as_ref());
                Err(Partial::keeping(state, d))
            }
        }
    }

    /// Delete: untag the principals, then soft-delete (and purge with `on_destroy = "purge"`).
    async fn delete(&self, clients: &AwsClients, prior: NamespaceModel) -> Result<(), Diagnostics> {
        let id = known(&prior.id, NAMES.id)?.as_str();
        for principal in prior.principals() {
            untag_listed(clients, id, &principal).await?;
        }
        let data = prior.table(clients);
        let soft_delete = async {
            data.delete_namespace_with_id(&prior.name, id).await?;
            if prior.on_destroy == PURGE {
                let report = data.purge_namespace(id).await?;
                let items = report.items_deleted;
                tracing::info!(stack = %prior.stack, namespace = %prior.name, items, "namespace purged");
            }
            Ok::<(), zae_limiter::Error>(())
        };
        // A purge pages through the whole namespace; stopped part-way, the namespace stays
        // `purging` in the registry and in state, and the next destroy resumes it.
        match unless_stopped(soft_delete).await? {
            Ok(()) | Err(zae_limiter::Error::TableNotFound { .. }) => Ok(()),
            Err(e) => Err(prior.data_error("Cannot delete the namespace")(e)),
        }
    }

    /// Import by `STACK/NAME` or by identity: an active namespace only.
    async fn import(
        &self,
        clients: &AwsClients,
        id: ImportId<'_, NamespaceIdentity>,
    ) -> Result<NamespaceModel, Diagnostics> {
        let identity = match id {
            ImportId::Identity(identity) => identity,
            ImportId::Text(text) => match text.split_once('/') {
                Some((stack, name)) => NamespaceIdentity {
                    stack: stack.to_string(),
                    name: name.to_string(),
                },
                None => {
                    return Err(error_diag(
                        None,
                        "Invalid import id",
                        format!("Import a namespace as STACK/NAME (e.g. zae-demo/tenant-alpha); got {text:?}."),
                    ));
                }
            },
        };
        check_namespace_name(&identity.name).or_error("Invalid import id")?;
        let imported = NamespaceModel {
            stack: identity.stack,
            name: identity.name,
            on_destroy: ON_DESTROY[0].to_string(),
            recover: false,
            ..NamespaceModel::default()
        };
        let Some(record) = imported
            .table(clients)
            .verified_namespace(&imported.name)
            .await
            .map_err(|e| registry_error(&imported, e))?
        else {
            return Err(error_diag(
                None,
                "Namespace not found",
                format!(
                    "Stack {:?} has no active namespace named {:?}.",
                    imported.stack, imported.name
                ),
            ));
        };
        Ok(imported.with_record(&record))
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
        let tags = PrincipalTags {
            roles: Some(["a".to_string(), "b".to_string()].into()),
            users: None,
        };
        let principals = PrincipalTags::principals(Some(&tags));
        assert_eq!(principals.len(), 2);
        assert_eq!(PrincipalTags::listing(&principals, Some(&tags)), Some(tags.clone()));
        let only_a: BTreeSet<Principal> = [Principal::role("a")].into();
        let shrunk = PrincipalTags::listing(&only_a, Some(&tags)).unwrap();
        assert_eq!(shrunk.roles, Some(["a".to_string()].into()));
        assert_eq!(shrunk.users, None);
        let none_left = PrincipalTags::listing(&BTreeSet::new(), Some(&tags)).unwrap();
        assert_eq!(none_left.roles, Some(BTreeSet::new()));
        assert_eq!(PrincipalTags::listing(&BTreeSet::new(), None), None);
    }

    #[test]
    fn the_models_agree_with_the_schemas() {
        crate::framework::typed::check_agreement(&NamespaceResource).unwrap();
    }

    #[test]
    fn schema_replaces_on_stack_or_name_change() {
        let s = schema();
        for attr in ["stack", "name"] {
            let a = s.block.find_attribute(attr).unwrap();
            assert!(a.required && !a.plan_modifiers.is_empty(), "{attr}");
        }
        let on_destroy = s.block.find_attribute("on_destroy").unwrap();
        assert_eq!(on_destroy.default, Some(crate::framework::Value::string("soft_delete")));
    }
}
