//! The aggregator's execution role `{stack}-aggr` (wire-format §9.3/§9.4): created unless
//! `aggregator.role_arn` names one of the user's, with the least-privilege inline policies
//! of [`crate::aws::role_policy`]. Read checks that it still exists and that its inline
//! policies are the ones this stack wants; an update puts them back.

use super::model::{NAMES, StackModel};
use crate::aws::iam_role::{self, RoleSettings};
use crate::aws::policy_document::documents_equivalent;
use crate::aws::role_policy::{ALL_POLICY_NAMES, AggregatorGrants, CodeKind, log_group_arn};
use crate::aws::{AwsClients, logs, s3};
use crate::framework::Diagnostics;
use crate::resources::common::{OrDiagnostic, known};

/// The role's description.
const DESCRIPTION: &str = "zae-limiter aggregator: usage snapshots, refill, shard growth, audit archival";

/// The name of the role this stack creates: `{stack}-aggr` through `iam.role_name_format`.
pub(super) fn role_name(state: &StackModel) -> String {
    super::iam::role_name(state, "aggr")
}

/// Whether the stack runs its aggregator under a role it created (no `role_arn`, IAM on).
pub(super) fn creates_role(state: &StackModel) -> bool {
    state.aggregator.as_ref().is_some_and(|a| a.role_arn.is_none()) && super::iam::creates_policies(state)
}

/// Sets the created role's permission boundary to `wanted`'s when it differs from `prior`'s.
pub(super) async fn sync_boundary(
    clients: &AwsClients,
    prior: &StackModel,
    wanted: &StackModel,
) -> Result<(), Diagnostics> {
    if super::iam::settings(prior).permission_boundary == super::iam::settings(wanted).permission_boundary {
        return Ok(());
    }
    let identity = clients
        .caller_identity()
        .await
        .or_error("Cannot look up the account for the permission boundary")?;
    let boundary = super::iam::boundary_arn(wanted, &identity.partition, &identity.account_id);
    iam_role::set_permissions_boundary(&clients.iam, &role_name(wanted), boundary.as_deref())
        .await
        .or_error_at(
            NAMES.aggregator_role_arn,
            "Cannot set the aggregator role's permission boundary",
        )?;
    Ok(())
}

/// The grants `state` asks for (its table, stream, DLQ, log group, archive and tracing),
/// for code of `kind`.
pub(super) async fn grants(
    clients: &AwsClients,
    state: &StackModel,
    kind: CodeKind,
) -> Result<AggregatorGrants, Diagnostics> {
    let identity = clients
        .caller_identity()
        .await
        .or_error("Cannot look up the account for the aggregator role's policies")?;
    let function = crate::aws::lambda::aggregator_function_name(&state.name);
    Ok(AggregatorGrants {
        table_arn: known(&state.table_arn, NAMES.table_arn)?.clone(),
        stream_arn: known(&state.stream_arn, NAMES.stream_arn)?.clone(),
        dlq_arn: known(&state.dlq_arn, NAMES.dlq_arn)?.clone(),
        log_group_arn: log_group_arn(
            &identity.partition,
            &clients.region,
            &identity.account_id,
            &logs::lambda_log_group_name(&function),
        ),
        archive_bucket_arn: state
            .archive_bucket_name
            .as_str()
            .map(|b| s3::bucket_arn(&identity.partition, b)),
        tracing: state.aggregator.as_ref().is_some_and(|a| a.tracing),
        code: kind,
    })
}

/// Creates the role (tagged like the stack); returns its ARN.
pub(super) async fn create(clients: &AwsClients, state: &StackModel) -> Result<String, Diagnostics> {
    let mut settings = RoleSettings::for_lambda(role_name(state));
    settings.description = Some(DESCRIPTION.to_owned());
    settings.path = Some(super::iam::path(state));
    let identity = clients
        .caller_identity()
        .await
        .or_error("Cannot look up the account for the permission boundary")?;
    settings.permissions_boundary = super::iam::boundary_arn(state, &identity.partition, &identity.account_id);
    settings.tags = known(&state.tags_all, NAMES.tags_all)?.clone();
    let role = iam_role::create_or_adopt_role(&clients.iam, &settings)
        .await
        .or_error_at(NAMES.aggregator_role_arn, "Cannot create the aggregator role")?;
    Ok(role.arn)
}

/// Puts every wanted inline policy and deletes the ones no longer wanted.
pub(super) async fn put_policies(
    clients: &AwsClients,
    name: &str,
    grants: &AggregatorGrants,
) -> Result<(), Diagnostics> {
    let wanted = grants.inline_policies();
    for (policy, document) in &wanted {
        iam_role::put_inline_policy(&clients.iam, name, policy, document)
            .await
            .or_error_at(NAMES.aggregator_role_arn, "Cannot write the aggregator role's policy")?;
    }
    for stale in ALL_POLICY_NAMES.iter().filter(|n| !wanted.iter().any(|(w, _)| w == *n)) {
        iam_role::delete_inline_policy(&clients.iam, name, stale)
            .await
            .or_error_at(NAMES.aggregator_role_arn, "Cannot remove the aggregator role's policy")?;
    }
    Ok(())
}

/// What a refresh found of the role.
pub(super) enum Found {
    /// Gone.
    Missing,
    /// Present; `true` when its inline policies are the wanted ones.
    Present(String, bool),
}

/// Reads the role and compares its inline policies with `grants`.
pub(super) async fn read(
    clients: &AwsClients,
    name: &str,
    grants: Option<&AggregatorGrants>,
) -> Result<Found, Diagnostics> {
    let Some(role) = iam_role::find_role(&clients.iam, name)
        .await
        .or_error_at(NAMES.aggregator_role_arn, "Cannot read the aggregator role")?
    else {
        return Ok(Found::Missing);
    };
    let Some(grants) = grants else {
        return Ok(Found::Present(role.arn, true));
    };
    let wanted = grants.inline_policies();
    let mut matches = role.inline_policies.len() == wanted.len();
    for (policy, document) in &wanted {
        if !matches {
            break;
        }
        let stored = iam_role::find_inline_policy(&clients.iam, name, policy)
            .await
            .or_error_at(NAMES.aggregator_role_arn, "Cannot read the aggregator role's policy")?;
        matches = stored.is_some_and(|s| documents_equivalent(&s, document));
    }
    Ok(Found::Present(role.arn, matches))
}

/// Brings the created role's tags to `tags`.
pub(super) async fn retag(clients: &AwsClients, name: &str, tags: &crate::aws::tags::Tags) -> Result<(), Diagnostics> {
    let attr = NAMES.aggregator_role_arn;
    let Some(role) = iam_role::find_role(&clients.iam, name)
        .await
        .or_error_at(attr, "Cannot read the aggregator role")?
    else {
        return Ok(());
    };
    iam_role::sync_role_tags(&clients.iam, name, &role.tags, tags)
        .await
        .or_error_at(attr, "Cannot tag the aggregator role")?;
    Ok(())
}

/// Deletes the role this stack created (its policies first); absent is fine.
pub(super) async fn delete(clients: &AwsClients, name: &str) -> Result<(), Diagnostics> {
    iam_role::delete_role(&clients.iam, name)
        .await
        .or_error_at(NAMES.aggregator_role_arn, "Cannot delete the aggregator role")?;
    Ok(())
}

/// The role ARN the function must run under: the user's, or the one this stack created.
pub(super) fn user_role(state: &StackModel) -> Option<String> {
    state.aggregator.as_ref().and_then(|a| a.role_arn.clone())
}
