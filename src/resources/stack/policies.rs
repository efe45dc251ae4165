//! The stack's six IAM managed policies: created after the table and its records, checked
//! for drift (missing, edited, or another table's policy of the same name), restored and
//! retagged by an update, deleted before the table.

use std::collections::BTreeMap;

use super::iam;
use super::model::{NAMES, StackConfig, StackModel};
use super::outcome;
use crate::aws::policy_document::{
    PolicyCompatibility, PolicyKind, documents_equivalent, grants_only_table, named_resources,
};
use crate::aws::{AwsClients, iam_policy};
use crate::framework::{AttributePath, Diagnostics, Known, Outcome, Plan, Private};
use crate::resources::common::{OrDiagnostic, error_diag, known};

/// Each managed policy and the state attribute holding its ARN.
pub const POLICY_ATTRIBUTES: [(PolicyKind, &str); 6] = [
    (PolicyKind::AcquireOnly, "acquire_only_policy_arn"),
    (PolicyKind::FullAccess, "full_access_policy_arn"),
    (PolicyKind::ReadOnly, "read_only_policy_arn"),
    (PolicyKind::NamespaceAcquire, "namespace_acquire_policy_arn"),
    (PolicyKind::NamespaceFullAccess, "namespace_full_access_policy_arn"),
    (PolicyKind::NamespaceReadOnly, "namespace_read_only_policy_arn"),
];

/// Private-state key listing policies whose document drifted from the expected one.
const DRIFTED_POLICIES: &str = "drifted_policies";

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

impl StackModel {
    /// The policy documents this stack asks for (validated at plan time).
    fn compatibility(&self) -> PolicyCompatibility {
        PolicyCompatibility::parse(&self.policy_compatibility).unwrap_or_default()
    }
}

/// The state attribute holding policy `kind`'s ARN.
fn policy_attribute(kind: PolicyKind) -> &'static str {
    POLICY_ATTRIBUTES
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("", |(_, attr)| *attr)
}

/// The policies' part of the plan: a policy deleted or edited outside Terraform (as the
/// last refresh found) is planned as unknown, restored by the update, with a warning.
pub(super) fn plan(plan: &mut Plan<'_, AwsClients, StackModel>) {
    let drifted = plan.prior_private.names(DRIFTED_POLICIES);
    plan.planned_private.remove(DRIFTED_POLICIES);
    let Some(planned) = plan.planned.as_mut() else { return };
    let (creates, format, path) = iam::planned_policy_settings(planned);
    if creates == Known::Value(false) {
        for (kind, _) in POLICY_ATTRIBUTES {
            *policy_arn!(&mut planned, kind) = Known::Null;
        }
        return;
    }
    let Some(prior) = plan.prior.as_ref() else { return };
    let prior_iam = iam::settings(prior);
    if !prior_iam.create_policies
        || format != Known::from(prior_iam.policy_name_format.clone())
        || path != Known::Value(prior_iam.path.clone())
    {
        // Created, or renamed: new ARNs.
        for (kind, _) in POLICY_ATTRIBUTES {
            *policy_arn!(&mut planned, kind) = Known::Unknown;
        }
        return;
    }
    plan_restorations(prior, &drifted, planned, &mut plan.diagnostics);
}

/// Plans each policy missing in `prior` or listed in `drifted` as unknown, with a warning.
fn plan_restorations(prior: &StackModel, drifted: &[String], planned: &mut StackConfig, diags: &mut Diagnostics) {
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

/// Creates policy `kind` of stack `stack` with `document`; returns its ARN.
async fn create_policy(
    clients: &AwsClients,
    stack: &StackModel,
    kind: PolicyKind,
    document: &serde_json::Value,
    tags: &BTreeMap<String, String>,
) -> crate::aws::Result<String> {
    let name = iam::policy_name(stack, kind);
    let path = iam::path(stack);
    let policy =
        iam_policy::create_or_adopt_policy(&clients.iam, &path, &name, kind.description(), document, tags).await?;
    Ok(policy.arn)
}

/// Creates the six policies for the (existing) table, recording each ARN in `state`;
/// none without IAM (`iam.create_policies = false`).
pub(super) async fn create(clients: &AwsClients, mut state: StackModel) -> Outcome<StackModel> {
    if !iam::creates_policies(&state) {
        for (kind, _) in POLICY_ATTRIBUTES {
            *policy_arn!(&mut state, kind) = Known::Null;
        }
        return Ok(state);
    }
    let result = create_all(clients, &mut state).await;
    outcome(state, result)
}

/// The creations of [`create`]; each success is recorded in `state`.
async fn create_all(clients: &AwsClients, state: &mut StackModel) -> Result<(), Diagnostics> {
    let table_arn = known(&state.table_arn, NAMES.table_arn)?.clone();
    let tags = known(&state.tags_all, NAMES.tags_all)?.clone();
    for (kind, attr) in POLICY_ATTRIBUTES {
        let document = kind.document_with(&table_arn, state.compatibility());
        let arn = create_policy(clients, state, kind, &document, &tags)
            .await
            .or_error_at(attr, "Cannot create the managed policy")?;
        *policy_arn!(&mut state, kind) = Known::Value(arn);
    }
    Ok(())
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
        Some(&iam::path(state)),
        &iam::policy_name(state, kind),
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

/// Refreshes the six policy ARNs and `policy_compatibility` of the table `state` was read
/// from, and lists in `private` the policies whose document drifted (for the next plan).
pub(super) async fn read(
    clients: &AwsClients,
    state: &mut StackModel,
    private: &mut Private,
) -> Result<(), Diagnostics> {
    if !iam::creates_policies(state) {
        // No IAM: nothing to read, and same-named policies are another stack's.
        private.remove(DRIFTED_POLICIES);
        return Ok(());
    }
    let table_arn = known(&state.table_arn, NAMES.table_arn)?.clone();
    let drifted = refresh_policies(clients, state, &table_arn).await?;
    private.set_names(DRIFTED_POLICIES, &drifted);
    Ok(())
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

/// Brings the six policies to the plan (see [`update_policy`]), then records the plan's
/// `policy_compatibility`. A policy whose name changed (`iam.policy_name_format`) is
/// created under the new name here; [`retire`] deletes the old one once the stack's roles
/// hold the new one. Without IAM nothing is created; [`retire`] deletes what was.
pub(super) async fn update(
    clients: &AwsClients,
    (prior, plan): (&StackModel, &StackModel),
    mut state: StackModel,
) -> Outcome<StackModel> {
    state.policy_compatibility = plan.policy_compatibility.clone();
    if !iam::creates_policies(plan) {
        return Ok(state);
    }
    let tags_changed = plan.tags_all != prior.tags_all;
    for (kind, attr) in POLICY_ATTRIBUTES {
        let renamed = iam::policy_moved(prior, plan, kind);
        let step = if renamed || !iam::creates_policies(prior) {
            create_renamed(clients, kind, attr, plan, &mut state).await
        } else {
            update_policy(clients, kind, (prior, plan), tags_changed, &mut state).await
        };
        if let Err(diags) = step {
            state.policy_compatibility = prior.policy_compatibility.clone();
            return outcome(state, Err(diags));
        }
    }
    Ok(state)
}

/// Creates policy `kind` under the plan's name, recording its ARN.
async fn create_renamed(
    clients: &AwsClients,
    kind: PolicyKind,
    attr: &str,
    plan: &StackModel,
    state: &mut StackModel,
) -> Result<(), Diagnostics> {
    let table_arn = known(&state.table_arn, NAMES.table_arn)?.clone();
    let tags = known(&plan.tags_all, NAMES.tags_all)?;
    let document = kind.document_with(&table_arn, plan.compatibility());
    let arn = create_policy(clients, plan, kind, &document, tags)
        .await
        .or_error_at(attr, "Cannot create the managed policy")?;
    *policy_arn!(&mut state, kind) = Known::Value(arn);
    Ok(())
}

/// Deletes the policies `prior` recorded that the plan no longer has under that name
/// (renamed, or no IAM any more), after the roles moved off them.
pub(super) async fn retire(
    clients: &AwsClients,
    prior: &StackModel,
    plan: &StackModel,
    state: &mut StackModel,
) -> Result<(), Diagnostics> {
    let keep_all = iam::creates_policies(plan);
    for (kind, attr) in POLICY_ATTRIBUTES {
        if let Some(old) = policy_arn!(&prior, kind).as_str() {
            let renamed = iam::policy_moved(prior, plan, kind);
            let moved = policy_arn!(&state, kind).as_str() != Some(old);
            if !keep_all || (renamed && moved) {
                iam_policy::delete_policy(&clients.iam, old)
                    .await
                    .or_error_at(attr, "Cannot delete the managed policy under its old name")?;
            }
        }
        if !keep_all {
            *policy_arn!(&mut state, kind) = Known::Null;
        }
    }
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
            let arn = create_policy(clients, plan, kind, &document, tags_all)
                .await
                .or_error_at(attr, "Cannot create the managed policy")?;
            *policy_arn!(&mut state, kind) = Known::Value(arn);
        }
    }
    Ok(())
}

/// Deletes the policies recorded in `prior` (before the table goes).
pub(super) async fn delete(clients: &AwsClients, prior: &StackModel) -> Result<(), Diagnostics> {
    for (kind, attr) in POLICY_ATTRIBUTES {
        if let Some(arn) = policy_arn!(&prior, kind).as_str() {
            iam_policy::delete_policy(&clients.iam, arn)
                .await
                .or_error_at(attr, "Cannot delete the managed policy")?;
        }
    }
    Ok(())
}
