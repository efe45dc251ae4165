//! The two zae-limiter records a deploy writes into the table (wire-format §9.6 steps 4–5):
//! the version record and the `default` namespace. Written on create, read for drift, and
//! written again by an update when either went missing. They go with the table.

use super::model::{NAMES, StackConfig, StackModel};
use super::outcome;
use crate::aws::AwsClients;
use crate::framework::{AttributePath, Diagnostics, Known, Outcome, Plan};
use crate::resources::common::OrDiagnostic;

/// Who the version record says wrote it.
pub const UPDATED_BY: &str = concat!("terraform-provider-zae:", env!("CARGO_PKG_VERSION"));

/// The namespace every deploy registers.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The records' part of the plan: a record deleted outside Terraform is planned as unknown
/// (written again by the update), with a warning.
pub(super) fn plan(plan: &mut Plan<'_, AwsClients, StackModel>) {
    let (Some(prior), Some(planned)) = (plan.prior.as_ref(), plan.planned.as_mut()) else {
        return;
    };
    plan_restorations(prior, planned, &mut plan.diagnostics);
}

/// Plans each record missing in `prior` as unknown, with a warning.
fn plan_restorations(prior: &StackModel, planned: &mut StackConfig, diags: &mut Diagnostics) {
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
}

/// Writes the version record and registers the `default` namespace, recording each in
/// `state`.
pub(super) async fn create(clients: &AwsClients, mut state: StackModel) -> Outcome<StackModel> {
    let result = write_records(clients, &mut state).await;
    outcome(state, result)
}

/// The writes of [`create`]; each success is recorded in `state`.
async fn write_records(clients: &AwsClients, state: &mut StackModel) -> Result<(), Diagnostics> {
    let data = zae_limiter::admin::Table::new(clients.dynamodb.clone(), state.name.as_str());
    // The built-in aggregator is core profile, not a zae-limiter release: its truthful
    // lambda version is "none" (NULL), which every client treats as compatible. A user
    // package records the version it declares.
    data.write_version_record(state.lambda_version.as_str(), UPDATED_BY)
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

/// Reads the schema version and the `default` namespace's id into `state` (null when the
/// record is missing).
pub(super) async fn read(clients: &AwsClients, state: &mut StackModel) -> Result<(), Diagnostics> {
    let data = zae_limiter::admin::Table::new(clients.dynamodb.clone(), state.name.as_str());
    let record = data
        .get_version_record(false)
        .await
        .or_error("Cannot read the version record")?;
    // lambda_version too: a client that auto-updates the aggregator rewrites it.
    state.lambda_version = record.as_ref().and_then(|r| r.lambda_version.clone()).into();
    state.schema_version = record.and_then(|r| r.schema_version).into();
    let default_ns = data
        .get_namespace(DEFAULT_NAMESPACE)
        .await
        .or_error("Cannot read the default namespace")?;
    state.default_namespace_id = default_ns.map(|ns| ns.id).into();
    Ok(())
}

/// Writes both records again when either is missing from `state` (deleted outside
/// Terraform) or the planned lambda version differs from the recorded one; otherwise
/// leaves them alone.
pub(super) async fn update(
    clients: &AwsClients,
    lambda_version: &Known<String>,
    mut state: StackModel,
) -> Outcome<StackModel> {
    let version_changed = state.lambda_version.as_str() != lambda_version.as_str();
    if state.schema_version.is_null() || state.default_namespace_id.is_null() || version_changed {
        state.lambda_version = lambda_version.clone();
        return create(clients, state).await;
    }
    Ok(state)
}
