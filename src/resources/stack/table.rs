//! The stack's DynamoDB table: creation (ACTIVE, TTL, point-in-time recovery), tags,
//! deletion protection, drift, import checks and deletion.

use std::collections::BTreeMap;
use std::time::Duration;

use super::model::{NAMES, StackModel};
use super::outcome;
use crate::aws::AwsClients;
use crate::aws::table as aws_table;
use crate::framework::{Diagnostics, Known, Outcome, Plan};
use crate::resources::common::{OrDiagnostic, error_diag, known, unless_stopped};

impl StackModel {
    /// The table definition this model asks for; protection is turned on separately, last.
    fn table_settings(&self) -> Result<aws_table::TableSettings, Diagnostics> {
        Ok(aws_table::TableSettings {
            name: self.name.clone(),
            pitr_recovery_days: pitr_days(self.pitr_recovery_days),
            deletion_protection: false,
            tags: known(&self.tags_all, NAMES.tags_all)?.clone(),
        })
    }
}

/// The point-in-time recovery period as AWS takes it (validated at plan time).
fn pitr_days(days: i64) -> u16 {
    u16::try_from(days).unwrap_or(aws_table::pitr::DEFAULT_PITR_DAYS)
}

/// `tags_all` from known values: the managed `Application` tag, then default tags, then
/// the resource's tags (later wins).
fn merged_tags(
    default_tags: &BTreeMap<String, String>,
    tags: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut all = default_tags.clone();
    all.extend(tags.cloned().unwrap_or_default());
    aws_table::definition::effective_tags(&all)
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

/// The table's part of the plan: refuses to lose a protected stack, and plans the computed
/// names and `tags_all`.
pub(super) fn plan(plan: &mut Plan<'_, AwsClients, StackModel>) {
    refuse_unprotected_loss(plan);
    let defaults = plan.provider.map(|p| p.default_tags.clone()).unwrap_or_default();
    let Some(planned) = plan.planned.as_mut() else { return };
    if let Some(name) = plan.config.name.value() {
        planned.id = Known::Value(name.clone());
        planned.table_name = Known::Value(name.clone());
    }
    planned.tags_all = planned_tags_all(&defaults, &plan.config.tags);
}

/// Creates the table (a failure there leaves no state), then waits for it to be ACTIVE and
/// enables TTL and point-in-time recovery, recording the ARNs on the way. Deletion
/// protection comes last, from [`protect`].
pub(super) async fn create(clients: &AwsClients, plan: StackModel, timeout: Duration) -> Outcome<StackModel> {
    let settings = plan.table_settings()?;
    aws_table::create_table(&clients.dynamodb, &settings)
        .await
        .or_error_at(NAMES.name, "Cannot create the DynamoDB table")?;
    let mut state = plan;
    state.id = Known::Value(state.name.clone());
    state.table_name = Known::Value(state.name.clone());
    let result = finish_create(clients, &settings, timeout, &mut state).await;
    outcome(state, result)
}

/// The steps of [`create`] after the table exists; each success is recorded in `state`.
async fn finish_create(
    clients: &AwsClients,
    settings: &aws_table::TableSettings,
    timeout: Duration,
    state: &mut StackModel,
) -> Result<(), Diagnostics> {
    let name = settings.name.as_str();
    let info = unless_stopped(aws_table::wait_table_active(&clients.dynamodb, name, timeout))
        .await?
        .or_error("The table did not become ACTIVE")?;
    state.table_arn = Known::Value(info.arn.clone());
    state.stream_arn = info.stream_arn.clone().into();
    aws_table::ttl::enable_ttl(&clients.dynamodb, name)
        .await
        .or_error("Cannot enable TTL on the table")?;
    aws_table::pitr::set_pitr(&clients.dynamodb, name, settings.pitr_recovery_days)
        .await
        .or_error_at(NAMES.pitr_recovery_days, "Cannot configure point-in-time recovery")?;
    Ok(())
}

/// Reads the table into `state` (names, ARNs, protection, recovery period, tags); `None`
/// when the table is gone or being deleted.
pub(super) async fn read(clients: &AwsClients, mut state: StackModel) -> Result<Option<StackModel>, Diagnostics> {
    let name = state.name.clone();
    let Some(info) = aws_table::find_table(&clients.dynamodb, &name)
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
    let pitr = aws_table::pitr::describe_pitr(&clients.dynamodb, &name)
        .await
        .or_error("Cannot read point-in-time recovery")?;
    state.pitr_recovery_days = i64::from(pitr.effective_days());
    let remote_tags = aws_table::tagging::list_tags(&clients.dynamodb, &info.arn)
        .await
        .or_error("Cannot read the table's tags")?;
    state.tags = own_tags(state.tags.as_ref(), &remote_tags, &clients.default_tags);
    state.tags_all = Known::Value(remote_tags);
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

/// Turns deletion protection on or off and records it in `state`.
async fn set_protection(clients: &AwsClients, name: &str, on: bool, state: &mut StackModel) -> Result<(), Diagnostics> {
    let summary = if on {
        "Cannot enable deletion protection"
    } else {
        "Cannot turn off deletion protection"
    };
    aws_table::set_deletion_protection(&clients.dynamodb, name, on)
        .await
        .or_error_at(NAMES.deletion_protection, summary)?;
    state.deletion_protection = on;
    Ok(())
}

/// Brings the table to the plan: turns protection off first when asked (so a later failure
/// cannot strand a protected table the user asked to unprotect), waits for ACTIVE, then
/// sets the recovery period and the tags. Turning protection on is left to [`protect`].
pub(super) async fn update(
    clients: &AwsClients,
    (prior, plan): (&StackModel, &StackModel),
    timeout: Duration,
    mut state: StackModel,
) -> Outcome<StackModel> {
    let result = apply_update(clients, (prior, plan), timeout, &mut state).await;
    outcome(state, result)
}

/// The steps of [`update`]; each success is recorded in `state`.
async fn apply_update(
    clients: &AwsClients,
    (prior, plan): (&StackModel, &StackModel),
    timeout: Duration,
    state: &mut StackModel,
) -> Result<(), Diagnostics> {
    let name = prior.name.as_str();
    let dynamodb = &clients.dynamodb;
    if !plan.deletion_protection && prior.deletion_protection {
        set_protection(clients, name, false, state).await?;
    }
    unless_stopped(aws_table::wait_table_active(dynamodb, name, timeout))
        .await?
        .or_error("The table is not ACTIVE")?;
    if plan.pitr_recovery_days != prior.pitr_recovery_days {
        aws_table::pitr::set_pitr(dynamodb, name, pitr_days(plan.pitr_recovery_days))
            .await
            .or_error_at(NAMES.pitr_recovery_days, "Cannot configure point-in-time recovery")?;
        state.pitr_recovery_days = plan.pitr_recovery_days;
    }
    if plan.tags_all != prior.tags_all {
        let table_arn = known(&prior.table_arn, NAMES.table_arn)?;
        let tags_all = known(&plan.tags_all, NAMES.tags_all)?;
        aws_table::tagging::sync_tags(dynamodb, table_arn, tags_all)
            .await
            .or_error_at(NAMES.tags, "Cannot update the table's tags")?;
    }
    state.tags = plan.tags.clone();
    state.tags_all = plan.tags_all.clone();
    Ok(())
}

/// The last step of a create or update: turns deletion protection on when `wanted` and the
/// table does not have it `already`.
pub(super) async fn protect(
    clients: &AwsClients,
    wanted: bool,
    already: bool,
    mut state: StackModel,
) -> Outcome<StackModel> {
    if !wanted || already {
        return Ok(state);
    }
    let name = state.name.clone();
    let result = set_protection(clients, &name, true, &mut state).await;
    outcome(state, result)
}

/// Refuses to delete a stack whose table AWS protects (the state may not know it yet).
pub(super) async fn refuse_if_protected(clients: &AwsClients, name: &str) -> Result<(), Diagnostics> {
    let found = aws_table::find_table(&clients.dynamodb, name)
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
    Ok(())
}

/// Deletes the table and waits until it is gone.
pub(super) async fn delete(clients: &AwsClients, name: &str, timeout: Duration) -> Result<(), Diagnostics> {
    aws_table::delete_table(&clients.dynamodb, name)
        .await
        .or_error("Cannot delete the DynamoDB table")?;
    unless_stopped(aws_table::wait_table_deleted(&clients.dynamodb, name, timeout))
        .await?
        .or_error("The table was not deleted in time")?;
    Ok(())
}

/// Checks that table `name` exists and matches zae-limiter's table definition, so it can be
/// imported as a stack.
pub(super) async fn check_importable(clients: &AwsClients, name: &str) -> Result<(), Diagnostics> {
    let Some(info) = aws_table::find_table(&clients.dynamodb, name)
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
}
