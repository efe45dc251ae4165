//! The application, admin and read-only roles (`iam.create_roles`, wire-format §9.3):
//! `{name}-app`, `{name}-admin` and `{name}-read` (through `iam.role_name_format`),
//! assumable by principals of the account, holding the `-acq`, `-full` and `-read`
//! policies, tagged `Role = app | admin | readonly`, with the permission boundary.
//!
//! A role renamed by a new format is created under the new name before the old one goes;
//! a role whose policy was renamed is moved to the new policy.

use super::iam;
use super::model::{NAMES, StackModel};
use crate::aws::AwsClients;
use crate::aws::iam_role::{self, RoleSettings};
use crate::aws::policy_document::PolicyKind;
use crate::framework::{Diagnostics, Known};
use crate::resources::common::{OrDiagnostic, known};

/// One of the three roles.
#[derive(Clone, Copy)]
struct RoleKind {
    component: &'static str,
    tag: &'static str,
    policy: PolicyKind,
    attribute: &'static str,
}

const ROLES: [RoleKind; 3] = [
    RoleKind {
        component: "app",
        tag: "app",
        policy: PolicyKind::AcquireOnly,
        attribute: NAMES.app_role_arn,
    },
    RoleKind {
        component: "admin",
        tag: "admin",
        policy: PolicyKind::FullAccess,
        attribute: NAMES.admin_role_arn,
    },
    RoleKind {
        component: "read",
        tag: "readonly",
        policy: PolicyKind::ReadOnly,
        attribute: NAMES.readonly_role_arn,
    },
];

/// The ARN field of `role` in a stack model or configuration view (both hold these fields
/// as `Known<String>`), borrowed as asked: `role_arn!(&state, role)` or
/// `role_arn!(&mut state, role)`.
macro_rules! role_arn {
    (&mut $stack:expr, $role:expr) => {
        role_arn!(@borrow [&mut] $stack, $role)
    };
    (& $stack:expr, $role:expr) => {
        role_arn!(@borrow [&] $stack, $role)
    };
    (@borrow [$($borrow:tt)+] $stack:expr, $role:expr) => {
        match $role.component {
            "app" => $($borrow)+ $stack.app_role_arn,
            "admin" => $($borrow)+ $stack.admin_role_arn,
            _ => $($borrow)+ $stack.readonly_role_arn,
        }
    };
}

fn policy_of(state: &StackModel, kind: PolicyKind) -> Option<String> {
    let arn = match kind {
        PolicyKind::AcquireOnly => &state.acquire_only_policy_arn,
        PolicyKind::FullAccess => &state.full_access_policy_arn,
        _ => &state.read_only_policy_arn,
    };
    arn.value().cloned()
}

/// Whether `state` asks for the three roles.
fn wanted(state: &StackModel) -> bool {
    let settings = iam::settings(state);
    settings.create_policies && settings.create_roles
}

/// Private-state key: the roles a refresh found changed outside Terraform (policy detached,
/// boundary changed).
const DRIFTED: &str = "roles_drift";

/// The roles' part of the plan: null without them; unknown when created, renamed, or
/// changed outside Terraform (with a warning: the apply restores them).
pub(super) fn plan(plan: &mut crate::framework::Plan<'_, AwsClients, StackModel>) {
    let drifted = plan.prior_private.names(DRIFTED);
    plan.planned_private.remove(DRIFTED);
    let Some(planned) = plan.planned.as_mut() else { return };
    plan_outputs(plan.prior.as_ref(), planned);
    for role in ROLES.iter().filter(|r| drifted.iter().any(|d| d == r.component)) {
        let output = role_arn!(&mut planned, role);
        if output.value().is_some() {
            *output = Known::Unknown;
            plan.diagnostics.attribute_warning(
                crate::framework::AttributePath::root(role.attribute),
                "Role changed outside Terraform",
                format!(
                    "The {} role lost its policy or boundary; this apply restores them.",
                    role.tag
                ),
            );
        }
    }
}

fn plan_outputs(prior: Option<&StackModel>, planned: &mut super::model::StackConfig) {
    let wants = match &planned.iam {
        Known::Value(i) => match (&i.create_policies, &i.create_roles) {
            (Known::Value(p), Known::Value(r)) => Known::Value(*p && *r),
            _ => Known::Unknown,
        },
        Known::Unknown => Known::Unknown,
        Known::Null => Known::Value(false),
    };
    let same_names = prior.is_some_and(|p| iam::roles_stay(p, planned));
    for output in [
        &mut planned.app_role_arn,
        &mut planned.admin_role_arn,
        &mut planned.readonly_role_arn,
    ] {
        *output = match (&wants, same_names) {
            (Known::Value(false), _) => Known::Null,
            (Known::Value(true), true) if output.value().is_some() => output.clone(),
            _ => Known::Unknown,
        };
    }
}

/// Brings the three roles to `plan`: creates, renames, moves to renamed policies, sets the
/// boundary; deletes them when the plan has none.
pub(super) async fn ensure(
    clients: &AwsClients,
    prior: Option<&StackModel>,
    plan: &StackModel,
    state: &mut StackModel,
) -> Result<(), Diagnostics> {
    if !wanted(plan) {
        let named = prior.cloned().unwrap_or_else(|| state.clone());
        return delete(clients, &named, state).await;
    }
    let identity = clients
        .caller_identity()
        .await
        .or_error("Cannot look up the account for the stack's roles")?;
    let boundary = iam::boundary_arn(plan, &identity.partition, &identity.account_id);
    let before_boundary = prior.and_then(|p| iam::boundary_arn(p, &identity.partition, &identity.account_id));
    for role in ROLES {
        let name = iam::role_name(plan, role.component);
        let old_name = prior.map(|p| iam::role_name(p, role.component));
        let moved = prior.is_some_and(|p| iam::role_moved(p, plan, role.component));
        let recorded = role_arn!(&state, role).value().is_some();
        let policy = policy_of(state, role.policy).ok_or_else(|| {
            crate::resources::common::error_diag(
                Some(role.attribute),
                "Missing policy",
                "the role's managed policy is not known",
            )
        })?;
        if !recorded || moved {
            let mut settings = RoleSettings {
                name: name.clone(),
                trust_policy: iam_role::account_trust_policy(&identity.partition, &identity.account_id),
                permissions_boundary: boundary.clone(),
                description: Some(format!("zae-limiter {} role for stack {}", role.tag, plan.name)),
                tags: known(&plan.tags_all, NAMES.tags_all)?.clone(),
                path: Some(iam::path(plan)),
            };
            settings.tags.insert("Role".to_owned(), role.tag.to_owned());
            let created = iam_role::create_or_adopt_role(&clients.iam, &settings)
                .await
                .or_error_at(role.attribute, "Cannot create the role")?;
            *role_arn!(&mut state, role) = Known::Value(created.arn);
            iam_role::attach_managed_policy(&clients.iam, &name, &policy)
                .await
                .or_error_at(role.attribute, "Cannot attach the role's policy")?;
            if recorded && let Some(old) = old_name {
                iam_role::delete_role(&clients.iam, &old)
                    .await
                    .or_error_at(role.attribute, "Cannot delete the role under its old name")?;
            }
            continue;
        }
        let old_policy = prior.and_then(|p| policy_of(p, role.policy));
        // Unknown in the plan while the name stays: a refresh found it changed outside Terraform.
        let drifted = role_arn!(&plan, role).is_unknown();
        if drifted {
            iam_role::attach_managed_policy(&clients.iam, &name, &policy)
                .await
                .or_error_at(role.attribute, "Cannot attach the role's policy")?;
            match iam_role::set_permissions_boundary(&clients.iam, &name, boundary.as_deref()).await {
                // No boundary wanted and none there: nothing to remove.
                Err(err) if boundary.is_none() && err.is_not_found() => {}
                other => other.or_error_at(role.attribute, "Cannot set the role's permission boundary")?,
            }
            continue;
        }
        if old_policy.as_deref() != Some(policy.as_str()) {
            iam_role::attach_managed_policy(&clients.iam, &name, &policy)
                .await
                .or_error_at(role.attribute, "Cannot attach the role's policy")?;
            if let Some(old) = old_policy {
                iam_role::detach_managed_policy(&clients.iam, &name, &old)
                    .await
                    .or_error_at(role.attribute, "Cannot detach the role's old policy")?;
            }
        }
        if before_boundary != boundary {
            iam_role::set_permissions_boundary(&clients.iam, &name, boundary.as_deref())
                .await
                .or_error_at(role.attribute, "Cannot set the role's permission boundary")?;
        }
    }
    Ok(())
}

/// Deletes the roles recorded in `state` (named as `named` names them).
pub(super) async fn delete(
    clients: &AwsClients,
    named: &StackModel,
    state: &mut StackModel,
) -> Result<(), Diagnostics> {
    for role in ROLES {
        if role_arn!(&state, role).value().is_some() {
            iam_role::delete_role(&clients.iam, &iam::role_name(named, role.component))
                .await
                .or_error_at(role.attribute, "Cannot delete the role")?;
        }
        *role_arn!(&mut state, role) = Known::Null;
    }
    Ok(())
}

/// Refreshes the roles: a deleted one becomes null (the next plan creates it again). On
/// import, the roles are found by name.
pub(super) async fn read(
    clients: &AwsClients,
    state: &mut StackModel,
    private: &mut crate::framework::Private,
    importing: bool,
) -> Result<(), Diagnostics> {
    let mut found_any = false;
    let mut drifted = Vec::new();
    let boundary = match iam::settings(state).permission_boundary {
        Some(_) => {
            let identity = clients
                .caller_identity()
                .await
                .or_error("Cannot look up the account for the roles' permission boundary")?;
            iam::boundary_arn(state, &identity.partition, &identity.account_id)
        }
        None => None,
    };
    for role in ROLES {
        if !importing && role_arn!(&state, role).value().is_none() {
            continue;
        }
        let name = iam::role_name(state, role.component);
        let found = iam_role::find_role(&clients.iam, &name)
            .await
            .or_error_at(role.attribute, "Cannot read the role")?;
        found_any |= found.is_some();
        if let (Some(found), Some(policy)) = (&found, policy_of(state, role.policy))
            && (!found.managed_policies.contains(&policy) || found.permissions_boundary != boundary)
            && !importing
        {
            drifted.push(role.component.to_string());
        }
        *role_arn!(&mut state, role) = found.map(|r| r.arn).into();
    }
    private.set_names(DRIFTED, &drifted);
    if importing && found_any && iam::creates_policies(state) {
        let mut settings = iam::settings(state);
        settings.create_roles = true;
        state.iam = Some(settings);
    }
    Ok(())
}
