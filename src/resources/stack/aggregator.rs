//! The aggregator (wire-format §7.1, §9.3): the log group `/aws/lambda/{stack}-aggregator`,
//! the dead-letter queue `{stack}-aggregator-dlq`, the execution role (`role.rs`), the
//! function `{stack}-aggregator` and the event source mapping from the table's stream.
//!
//! Create and update share one path, [`ensure`]: each piece missing from state is created
//! (or adopted, for a mapping whose id was lost), each present one is brought to the plan,
//! and each success is recorded in state before the next step, so a failure part-way leaves
//! state that the next apply finishes. Removing the block deletes the pieces in reverse.
//! Read records what AWS has: a deleted piece becomes null (the next plan restores it),
//! changed settings come back into the `aggregator` block (the next plan shows the
//! difference), and changes to what the block does not show (environment, handler,
//! runtime, role policies, mapping settings) are kept in private state so the next plan
//! restores them with a warning.

use std::time::Duration;

use zae_limiter::schema::usage::SnapshotWindow;
use zae_limiter_aggregator::env::Deployment;

use super::model::{AGGREGATOR_NAMES, AggregatorConfig, AggregatorModel, NAMES, StackConfig, StackModel};
use super::package::{self, Package};
use super::role;
use crate::aws::lambda::{self, EventSourceMappingSettings, FunctionInfo, FunctionSettings};
use crate::aws::role_policy::CodeKind;
use crate::aws::{AwsClients, logs, sqs};
use crate::framework::validator::{Each, IntBetween, IntIn, OneOf, StringCheck};
use crate::framework::{Attribute, AttributePath, Block, Diagnostics, Known, NestedBlock, Plan, Private, Value};
use crate::resources::common::{OrDiagnostic, error_diag, known, unless_stopped};

/// The block name.
pub(super) const BLOCK: &str = "aggregator";

/// Private-state key listing the pieces whose hidden settings drifted.
const DRIFTED: &str = "aggregator_drift";
/// Drift of the function's environment, runtime, handler or role.
const FUNCTION_DRIFT: &str = "function";
/// Drift of the mapping's batch settings, filters or destination.
const MAPPING_DRIFT: &str = "event_source_mapping";
/// Drift of the created role's inline policies.
const ROLE_DRIFT: &str = "role";

/// The snapshot windows a block may list.
const WINDOWS: [&str; 3] = ["hourly", "daily", "monthly"];

/// The `aggregator` block.
pub(super) fn block() -> NestedBlock {
    let n = AGGREGATOR_NAMES;
    NestedBlock::single(
        BLOCK,
        Block::new(
            "The aggregator Lambda (a Rust build of zae-limiter's aggregator, runtime provided.al2023): usage \
             snapshots, proactive refill and shard growth, audit archival. Omit the block for no aggregator.",
        )
        .attribute(
            Attribute::number(n.memory_size)
                .default_value(i64::from(lambda::DEFAULT_MEMORY_MB))
                .description("Memory, MB (128 to 10240, default 256).")
                .validator(IntBetween { min: 128, max: 10240 }),
        )
        .attribute(
            Attribute::number(n.timeout)
                .default_value(i64::from(lambda::DEFAULT_TIMEOUT_SECONDS))
                .description("Timeout, seconds (1 to 900, default 60).")
                .validator(IntBetween { min: 1, max: 900 }),
        )
        .attribute(
            Attribute::string_list(n.snapshot_windows)
                .default_value(Value::List(vec![Value::from("hourly"), Value::from("daily")]))
                .description("Usage snapshot windows: a non-empty subset of `hourly`, `daily`, `monthly`.")
                .validator(Each(OneOf(&WINDOWS))),
        )
        .attribute(
            Attribute::number(n.usage_retention_days)
                .default_value(90i64)
                .description("Days a usage snapshot is kept (1 to 3650, default 90).")
                .validator(IntBetween { min: 1, max: 3650 }),
        )
        .attribute(
            Attribute::number(n.log_retention_days)
                .default_value(i64::from(logs::DEFAULT_RETENTION_DAYS))
                .description(
                    "Retention of the aggregator's log group, days: one of CloudWatch Logs' periods (default 30).",
                )
                .validator(IntIn(&logs::VALID_RETENTION_DAYS)),
        )
        .attribute(
            Attribute::bool(n.tracing)
                .default_value(false)
                .description("X-Ray active tracing."),
        )
        .attribute(
            Attribute::string(n.role_arn)
                .optional()
                .description(
                    "An existing execution role for the aggregator (`--aggregator-role-arn`). Without it the stack \
                     creates `{name}-aggr` with least-privilege inline policies.",
                )
                .validator(StringCheck::new("Invalid role ARN", "an IAM role ARN", |s| {
                    let parts: Vec<&str> = s.splitn(6, ':').collect();
                    match parts.as_slice() {
                        ["arn", _, "iam", "", _, resource] if resource.starts_with("role/") => Ok(()),
                        _ => Err(format!("{s:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")),
                    }
                })),
        )
        .attribute(Attribute::string(n.package_path).optional().description(
            "A zip to deploy instead of the built-in aggregator: a custom runtime holding `bootstrap`, or \
                     zae-limiter's Python aggregator (`zae-limiter lambda-export`). Needs `package_version`.",
        ))
        .attribute(
            Attribute::string(n.package_version)
                .optional()
                .description(
                    "The zae-limiter version that `package_path` implements; written to the version record as \
                     `lambda_version`. Only with `package_path`.",
                )
                .validator(StringCheck::new("Invalid version", "a version such as 0.17.0", |s| {
                    let parts: Vec<&str> = s.split('.').collect();
                    if parts.len() == 3
                        && parts
                            .iter()
                            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
                    {
                        Ok(())
                    } else {
                        Err(format!("{s:?} is not a version MAJOR.MINOR.PATCH"))
                    }
                })),
        ),
    )
}

fn path(attribute: &str) -> AttributePath {
    AttributePath::root(BLOCK).attribute(attribute)
}

fn error_at(diags: &mut Diagnostics, attribute: &str, summary: &str, detail: impl Into<String>) {
    diags.attribute_error(path(attribute), summary, detail.into());
}

/// Checks of the block that need more than one attribute.
pub(super) fn validate(config: &StackConfig, diags: &mut Diagnostics) {
    let Known::Value(aggregator) = &config.aggregator else {
        return;
    };
    let n = AGGREGATOR_NAMES;
    if let Known::Value(windows) = &aggregator.snapshot_windows {
        if windows.is_empty() {
            error_at(
                diags,
                n.snapshot_windows,
                "No snapshot window",
                "List at least one of hourly, daily, monthly.",
            );
        }
        let mut seen = Vec::new();
        for w in windows {
            if seen.contains(&w) {
                error_at(
                    diags,
                    n.snapshot_windows,
                    "Duplicate snapshot window",
                    format!("{w:?} is listed twice."),
                );
            }
            seen.push(w);
        }
    }
    match (aggregator.package_path.is_set(), aggregator.package_version.is_set()) {
        (true, false) => error_at(
            diags,
            n.package_version,
            "Missing package version",
            "package_path needs package_version: the zae-limiter version the package implements, which the \
             version record tells clients.",
        ),
        (false, true) => error_at(
            diags,
            n.package_version,
            "Package version without a package",
            "package_version describes package_path; the built-in aggregator records no lambda_version.",
        ),
        _ => {}
    }
}

impl AggregatorModel {
    fn windows(&self) -> Vec<SnapshotWindow> {
        self.snapshot_windows
            .iter()
            .filter_map(|w| SnapshotWindow::parse(w))
            .collect()
    }
}

/// The package a block asks for.
fn load_package(package_path: Option<&str>) -> Result<Package, Diagnostics> {
    match package_path {
        Some(p) => package::user(std::path::Path::new(p)).map_err(|e| {
            let mut d = Diagnostics::new();
            d.attribute_error(
                path(AGGREGATOR_NAMES.package_path),
                "Unusable aggregator package",
                e.to_string(),
            );
            d
        }),
        None => package::built_in().or_error_at(BLOCK, "Aggregator package not found"),
    }
}

/// The aggregator's part of the plan: null outputs without the block; with it, the
/// package's hash, the lambda version, the log group, the role, and the pieces to restore.
pub(super) fn plan(plan: &mut Plan<'_, AwsClients, StackModel>) {
    let drifted = plan.prior_private.names(DRIFTED);
    plan.planned_private.remove(DRIFTED);
    let Some(planned) = plan.planned.as_mut() else { return };
    let Known::Value(aggregator) = planned.aggregator.clone() else {
        if planned.aggregator.is_null() {
            clear_outputs(planned);
        }
        return;
    };
    let name = planned.name.value().cloned().unwrap_or_default();
    planned.log_group_name = Known::Value(logs::lambda_log_group_name(&lambda::aggregator_function_name(&name)));
    planned.lambda_version = aggregator.package_version.clone();
    planned.aggregator_code_sha256 = match &aggregator.package_path {
        Known::Unknown => Known::Unknown,
        package_path => match load_package(package_path.as_str()) {
            Ok(package) => Known::Value(package.code_sha256),
            Err(diags) => {
                plan.diagnostics.extend(diags);
                return;
            }
        },
    };
    let renamed = plan.prior.as_ref().is_none_or(|p| !super::iam::roles_stay(p, planned));
    planned.aggregator_role_arn = if renamed && aggregator.role_arn.is_null() {
        Known::Unknown
    } else {
        planned_role(plan.prior.as_ref(), &aggregator, &planned.aggregator_role_arn)
    };
    if let Some(prior) = plan.prior.as_ref().filter(|p| p.aggregator.is_some()) {
        plan_restorations(prior, &drifted, planned, &mut plan.diagnostics);
    }
}

/// Every output of the aggregator, null (no block).
fn clear_outputs(planned: &mut StackConfig) {
    for output in [
        &mut planned.aggregator_function_arn,
        &mut planned.aggregator_role_arn,
        &mut planned.aggregator_code_sha256,
        &mut planned.dlq_url,
        &mut planned.dlq_arn,
        &mut planned.log_group_name,
        &mut planned.event_source_mapping_id,
        &mut planned.lambda_version,
    ] {
        *output = Known::Null;
    }
}

/// The planned role ARN: the user's; else the created role's (kept from state), or unknown
/// when the role is still to be created.
fn planned_role(prior: Option<&StackModel>, aggregator: &AggregatorConfig, planned: &Known<String>) -> Known<String> {
    match &aggregator.role_arn {
        Known::Value(arn) => Known::Value(arn.clone()),
        Known::Unknown => Known::Unknown,
        Known::Null => match prior {
            Some(p) if role::creates_role(p) && p.aggregator_role_arn.value().is_some() => planned.clone(),
            _ => Known::Unknown,
        },
    }
}

/// Plans each piece that a refresh found missing or drifted as unknown, with a warning.
fn plan_restorations(prior: &StackModel, drifted: &[String], planned: &mut StackConfig, diags: &mut Diagnostics) {
    let created_role = role::creates_role(prior);
    let pieces = [
        (
            &mut planned.aggregator_function_arn,
            prior.aggregator_function_arn.is_null(),
            FUNCTION_DRIFT,
            "function",
        ),
        (&mut planned.dlq_url, prior.dlq_url.is_null(), "", "dead-letter queue"),
        (
            &mut planned.event_source_mapping_id,
            prior.event_source_mapping_id.is_null(),
            MAPPING_DRIFT,
            "event source mapping",
        ),
        (
            &mut planned.aggregator_role_arn,
            created_role && prior.aggregator_role_arn.is_null(),
            if created_role { ROLE_DRIFT } else { "" },
            "execution role",
        ),
    ];
    for (attribute, missing, drift_key, piece) in pieces {
        let edited = !drift_key.is_empty() && drifted.iter().any(|d| d == drift_key);
        if missing || edited {
            *attribute = Known::Unknown;
            diags.attribute_warning(
                AttributePath::root(BLOCK),
                "Aggregator changed outside Terraform",
                format!(
                    "The aggregator's {piece} {}; this apply restores it.",
                    if missing { "is missing" } else { "settings were changed" }
                ),
            );
        }
    }
    if prior.dlq_url.is_null() {
        planned.dlq_arn = Known::Unknown;
    }
    if prior.log_group_name.is_null() {
        diags.attribute_warning(
            AttributePath::root(BLOCK),
            "Aggregator changed outside Terraform",
            "The aggregator's log group is missing; this apply restores it.",
        );
    }
}

/// The function's settings for `state` (whose DLQ and role are known) and `package`.
fn function_settings(
    state: &StackModel,
    aggregator: &AggregatorModel,
    package: &Package,
    role_arn: &str,
) -> Result<FunctionSettings, Diagnostics> {
    let deployment = Deployment {
        table_name: state.name.clone(),
        windows: aggregator.windows(),
        ttl_days: aggregator.usage_retention_days,
        schema_version: zae_limiter::version::CURRENT_SCHEMA_VERSION.to_owned(),
        archive_bucket: state.archive_bucket_name.value().cloned(),
    };
    let mut settings = FunctionSettings::new(lambda::aggregator_function_name(&state.name), role_arn);
    settings.runtime = package.runtime.to_owned();
    settings.handler = package.handler.to_owned();
    settings.memory_mb = i32::try_from(aggregator.memory_size).unwrap_or(lambda::DEFAULT_MEMORY_MB);
    settings.timeout_seconds = i32::try_from(aggregator.timeout).unwrap_or(lambda::DEFAULT_TIMEOUT_SECONDS);
    settings.environment = deployment.environment();
    settings.tracing_active = aggregator.tracing;
    settings.description = Some(format!("zae-limiter aggregator for stack {}", state.name));
    settings.tags = known(&state.tags_all, NAMES.tags_all)?.clone();
    Ok(settings)
}

/// The mapping's settings: 0.17.0's, with the audit filter that matches.
fn mapping_settings(state: &StackModel) -> Result<EventSourceMappingSettings, Diagnostics> {
    Ok(EventSourceMappingSettings::aggregator(
        lambda::aggregator_function_name(&state.name),
        known(&state.stream_arn, NAMES.stream_arn)?.clone(),
        Some(known(&state.dlq_arn, NAMES.dlq_arn)?.clone()),
    ))
}

fn code_kind(package: &Package) -> CodeKind {
    if package.is_python() {
        CodeKind::Python
    } else {
        CodeKind::BuiltIn
    }
}

/// Brings the aggregator to `plan` (see the module docs): creates what `state` lacks,
/// updates what changed from `prior`, removes everything when the plan has no block.
pub(super) async fn ensure(
    clients: &AwsClients,
    prior: Option<&StackModel>,
    plan: &StackModel,
    state: &mut StackModel,
    timeout: Duration,
) -> Result<(), Diagnostics> {
    let Some(aggregator) = &plan.aggregator else {
        return remove(clients, state, timeout).await;
    };
    let package = load_package(aggregator.package_path.as_deref())?;
    if let Some(planned) = plan.aggregator_code_sha256.as_str()
        && planned != package.code_sha256
    {
        return Err(error_diag(
            Some(BLOCK),
            "Aggregator package changed since the plan",
            format!(
                "{} changed after this plan was made; plan again.",
                package.origin.display()
            ),
        ));
    }
    let before = prior.and_then(|p| p.aggregator.as_ref());
    ensure_log_group(clients, before, aggregator, state).await?;
    ensure_dlq(clients, state).await?;
    let wanted = StackModel {
        aggregator: Some(aggregator.clone()),
        // An archive the plan drops is deleted after this, but no longer named.
        archive_bucket_name: match plan.audit_archive {
            Some(_) => state.archive_bucket_name.clone(),
            None => Known::Null,
        },
        iam: plan.iam.clone(),
        tags_all: plan.tags_all.clone(),
        ..state.clone()
    };
    let role_arn = ensure_role(clients, prior, plan, &wanted, code_kind(&package), state).await?;
    let settings = function_settings(&wanted, aggregator, &package, &role_arn)?;
    ensure_function(clients, prior, plan, &settings, &package, state, timeout).await?;
    ensure_mapping(clients, plan, state, timeout).await?;
    if let Some(prior) = prior.filter(|p| p.tags_all != plan.tags_all) {
        retag(clients, prior, state, known(&plan.tags_all, NAMES.tags_all)?).await?;
    }
    // The created role goes once the function runs under another: the user's, or the
    // created role's new name.
    if let Some(prior) = prior.filter(|p| role::creates_role(p) && p.aggregator_role_arn.value().is_some())
        && (!role::creates_role(&wanted) || super::iam::role_moved(prior, &wanted, "aggr"))
    {
        role::delete(clients, &role::role_name(prior)).await?;
    }
    state.aggregator = Some(aggregator.clone());
    state.lambda_version = aggregator.package_version.clone().into();
    Ok(())
}

async fn ensure_log_group(
    clients: &AwsClients,
    before: Option<&AggregatorModel>,
    aggregator: &AggregatorModel,
    state: &mut StackModel,
) -> Result<(), Diagnostics> {
    let name = logs::lambda_log_group_name(&lambda::aggregator_function_name(&state.name));
    let days = i32::try_from(aggregator.log_retention_days).unwrap_or(logs::DEFAULT_RETENTION_DAYS);
    let created = state.log_group_name.is_null();
    if created {
        let tags = known(&state.tags_all, NAMES.tags_all)?.clone();
        logs::create_log_group(&clients.logs, &name, &tags)
            .await
            .or_error_at(BLOCK, "Cannot create the aggregator's log group")?;
        // Recorded before its retention is set, so a failure there leaves it in state.
        state.log_group_name = Known::Value(name.clone());
    }
    if created || before.map(|b| b.log_retention_days) != Some(aggregator.log_retention_days) {
        logs::put_retention(&clients.logs, &name, Some(days))
            .await
            .or_error_at(BLOCK, "Cannot set the log group's retention")?;
    }
    state.log_group_name = Known::Value(name);
    Ok(())
}

async fn ensure_dlq(clients: &AwsClients, state: &mut StackModel) -> Result<(), Diagnostics> {
    if state.dlq_url.value().is_some() && state.dlq_arn.value().is_some() {
        return Ok(());
    }
    let mut settings = sqs::QueueSettings::dlq(&state.name);
    settings.tags = known(&state.tags_all, NAMES.tags_all)?.clone();
    let queue = sqs::create_queue(&clients.sqs, &settings)
        .await
        .or_error_at(NAMES.dlq_url, "Cannot create the aggregator's dead-letter queue")?;
    state.dlq_url = Known::Value(queue.url);
    state.dlq_arn = Known::Value(queue.arn);
    Ok(())
}

/// The role the function runs under: the user's, or the created one (created when
/// missing, its policies put when new, changed or drifted).
async fn ensure_role(
    clients: &AwsClients,
    prior: Option<&StackModel>,
    plan: &StackModel,
    wanted: &StackModel,
    kind: CodeKind,
    state: &mut StackModel,
) -> Result<String, Diagnostics> {
    if let Some(arn) = role::user_role(wanted) {
        state.aggregator_role_arn = Known::Value(arn.clone());
        return Ok(arn);
    }
    let renamed = prior.is_some_and(|p| super::iam::role_moved(p, wanted, "aggr"));
    let ours = prior.is_some_and(role::creates_role) && state.aggregator_role_arn.value().is_some() && !renamed;
    let grants = role::grants(clients, wanted, kind).await?;
    let arn = if ours {
        if let Some(prior) = prior {
            role::sync_boundary(clients, prior, wanted).await?;
        }
        known(&state.aggregator_role_arn, NAMES.aggregator_role_arn)?.clone()
    } else {
        role::create(clients, wanted).await?
    };
    state.aggregator_role_arn = Known::Value(arn.clone());
    let before = match prior.filter(|p| ours && p.aggregator.is_some()) {
        Some(p) => Some(role::grants(clients, p, kind).await?),
        None => None,
    };
    if before.as_ref() != Some(&grants) || plan.aggregator_role_arn.is_unknown() {
        role::put_policies(clients, &role::role_name(wanted), &grants).await?;
    }
    Ok(arn)
}

async fn ensure_function(
    clients: &AwsClients,
    prior: Option<&StackModel>,
    plan: &StackModel,
    settings: &FunctionSettings,
    package: &Package,
    state: &mut StackModel,
    timeout: Duration,
) -> Result<(), Diagnostics> {
    let name = settings.name.as_str();
    let attr = NAMES.aggregator_function_arn;
    if state.aggregator_function_arn.is_null() {
        let created = match lambda::create_function(&clients.lambda, settings, &package.zip).await {
            Ok(function) => function,
            Err(err) if err.has_code("ResourceConflictException") => adopt_function(clients, name, package).await?,
            Err(err) => return Err(error_diag(Some(attr), "Cannot create the aggregator function", err)),
        };
        state.aggregator_function_arn = Known::Value(created.arn);
        let active = unless_stopped(lambda::wait_function_active(&clients.lambda, name, timeout))
            .await?
            .or_error_at(attr, "The aggregator function did not become active")?;
        state.aggregator_code_sha256 = active.code_sha256.into();
        return Ok(());
    }
    let before = match prior.and_then(|p| p.aggregator.as_ref().map(|a| (p, a))) {
        Some((p, a)) => function_settings(p, a, package, settings.role_arn.as_str()).ok(),
        None => None,
    };
    let role_changed = prior.map(|p| &p.aggregator_role_arn) != Some(&state.aggregator_role_arn);
    if before.as_ref() != Some(settings) || role_changed || plan.aggregator_function_arn.is_unknown() {
        lambda::update_function_configuration(&clients.lambda, settings)
            .await
            .or_error_at(attr, "Cannot update the aggregator function")?;
        unless_stopped(lambda::wait_function_updated(&clients.lambda, name, timeout))
            .await?
            .or_error_at(attr, "The aggregator function's update did not finish")?;
    }
    if state.aggregator_code_sha256.as_str() != Some(package.code_sha256.as_str()) {
        lambda::update_function_code(&clients.lambda, name, &package.zip, None)
            .await
            .or_error_at(attr, "Cannot deploy the aggregator's code")?;
        let updated = unless_stopped(lambda::wait_function_updated(&clients.lambda, name, timeout))
            .await?
            .or_error_at(attr, "The aggregator's code update did not finish")?;
        state.aggregator_code_sha256 = updated.code_sha256.into();
    }
    Ok(())
}

/// Brings the tags of the pieces that existed before this apply to the plan's `tags_all`
/// (new pieces got them at creation).
async fn retag(
    clients: &AwsClients,
    prior: &StackModel,
    state: &StackModel,
    tags: &crate::aws::tags::Tags,
) -> Result<(), Diagnostics> {
    if let (Some(arn), Some(_)) = (
        state.aggregator_function_arn.as_str(),
        prior.aggregator_function_arn.as_str(),
    ) {
        let attr = NAMES.aggregator_function_arn;
        let current = lambda::find_function(&clients.lambda, &lambda::aggregator_function_name(&state.name))
            .await
            .or_error_at(attr, "Cannot read the aggregator function")?
            .map(|f| f.tags)
            .unwrap_or_default();
        lambda::sync_function_tags(&clients.lambda, arn, &current, tags)
            .await
            .or_error_at(attr, "Cannot tag the aggregator function")?;
    }
    if let (Some(url), Some(_)) = (state.dlq_url.as_str(), prior.dlq_url.as_str()) {
        sqs::sync_queue_tags(&clients.sqs, url, tags)
            .await
            .or_error_at(NAMES.dlq_url, "Cannot tag the dead-letter queue")?;
    }
    if let (Some(name), Some(_)) = (state.log_group_name.as_str(), prior.log_group_name.as_str()) {
        let group = logs::find_log_group(&clients.logs, name)
            .await
            .or_error_at(BLOCK, "Cannot read the aggregator's log group")?;
        if let Some(arn) = group.and_then(|g| g.arn) {
            logs::sync_log_group_tags(&clients.logs, &arn, tags)
                .await
                .or_error_at(BLOCK, "Cannot tag the aggregator's log group")?;
        }
    }
    if role::creates_role(state) && prior.aggregator_role_arn.value().is_some() {
        role::retag(clients, &role::role_name(state), tags).await?;
    }
    Ok(())
}

/// A CreateFunction that found the function already there: this apply's own (its
/// response was lost and the retry conflicted) when it runs this package; else refused.
async fn adopt_function(clients: &AwsClients, name: &str, package: &Package) -> Result<FunctionInfo, Diagnostics> {
    let attr = NAMES.aggregator_function_arn;
    let found = lambda::find_function(&clients.lambda, name)
        .await
        .or_error_at(attr, "Cannot read the aggregator function")?;
    match found {
        Some(f) if f.code_sha256.as_deref() == Some(package.code_sha256.as_str()) => Ok(f),
        _ => Err(error_diag(
            Some(attr),
            "Aggregator function exists already",
            format!(
                "A Lambda function named {name} exists and is not this stack's. If it is this stack's from an \
                 earlier deploy, import the stack (terraform import); otherwise delete or rename it."
            ),
        )),
    }
}

async fn ensure_mapping(
    clients: &AwsClients,
    plan: &StackModel,
    state: &mut StackModel,
    timeout: Duration,
) -> Result<(), Diagnostics> {
    let settings = mapping_settings(state)?;
    let attr = NAMES.event_source_mapping_id;
    let uuid = match state.event_source_mapping_id.value().cloned() {
        Some(uuid) => {
            if plan.event_source_mapping_id.is_unknown() || plan.dlq_arn != state.dlq_arn {
                lambda::update_event_source_mapping(&clients.lambda, &uuid, &settings)
                    .await
                    .or_error_at(attr, "Cannot update the event source mapping")?;
            }
            uuid
        }
        None => {
            let existing = lambda::find_event_source_mapping_for(
                &clients.lambda,
                &settings.function_name,
                &settings.event_source_arn,
            )
            .await
            .or_error_at(attr, "Cannot list the aggregator's event source mappings")?;
            let uuid = match existing {
                Some(found) => {
                    lambda::update_event_source_mapping(&clients.lambda, &found.uuid, &settings)
                        .await
                        .or_error_at(attr, "Cannot update the event source mapping")?;
                    found.uuid
                }
                None => {
                    lambda::create_event_source_mapping(&clients.lambda, &settings)
                        .await
                        .or_error_at(attr, "Cannot create the event source mapping")?
                        .uuid
                }
            };
            state.event_source_mapping_id = Known::Value(uuid.clone());
            uuid
        }
    };
    unless_stopped(lambda::wait_event_source_mapping(&clients.lambda, &uuid, true, timeout))
        .await?
        .or_error_at(attr, "The event source mapping did not become enabled")?;
    Ok(())
}

/// Deletes every piece recorded in `state`, mapping first, nulling each as it goes.
pub(super) async fn remove(clients: &AwsClients, state: &mut StackModel, timeout: Duration) -> Result<(), Diagnostics> {
    if let Some(uuid) = state.event_source_mapping_id.value().cloned() {
        let attr = NAMES.event_source_mapping_id;
        lambda::delete_event_source_mapping(&clients.lambda, &uuid)
            .await
            .or_error_at(attr, "Cannot delete the event source mapping")?;
        unless_stopped(lambda::wait_event_source_mapping_deleted(
            &clients.lambda,
            &uuid,
            timeout,
        ))
        .await?
        .or_error_at(attr, "The event source mapping was not deleted")?;
    }
    state.event_source_mapping_id = Known::Null;
    if state.aggregator_function_arn.value().is_some() {
        lambda::delete_function(&clients.lambda, &lambda::aggregator_function_name(&state.name))
            .await
            .or_error_at(NAMES.aggregator_function_arn, "Cannot delete the aggregator function")?;
    }
    state.aggregator_function_arn = Known::Null;
    state.aggregator_code_sha256 = Known::Null;
    if role::creates_role(state) && state.aggregator_role_arn.value().is_some() {
        role::delete(clients, &role::role_name(state)).await?;
    }
    state.aggregator_role_arn = Known::Null;
    if let Some(url) = state.dlq_url.value().cloned() {
        sqs::delete_queue(&clients.sqs, &url)
            .await
            .or_error_at(NAMES.dlq_url, "Cannot delete the aggregator's dead-letter queue")?;
    }
    state.dlq_url = Known::Null;
    state.dlq_arn = Known::Null;
    if let Some(name) = state.log_group_name.value().cloned() {
        logs::delete_log_group(&clients.logs, &name)
            .await
            .or_error_at(BLOCK, "Cannot delete the aggregator's log group")?;
    }
    state.log_group_name = Known::Null;
    state.aggregator = None;
    state.lambda_version = Known::Null;
    Ok(())
}

/// Refreshes the aggregator (see the module docs). `importing`: find the pieces by their
/// names and fill the block from AWS.
pub(super) async fn read(
    clients: &AwsClients,
    state: &mut StackModel,
    private: &mut Private,
    importing: bool,
) -> Result<(), Diagnostics> {
    let mut drifted = Vec::new();
    let function_name = lambda::aggregator_function_name(&state.name);
    let looked_for = importing || state.aggregator.is_some() || state.aggregator_function_arn.value().is_some();
    if !looked_for {
        private.remove(DRIFTED);
        return Ok(());
    }
    let function = lambda::find_function(&clients.lambda, &function_name)
        .await
        .or_error_at(NAMES.aggregator_function_arn, "Cannot read the aggregator function")?;
    if importing && function.is_none() {
        return Ok(());
    }
    read_queue(clients, state).await?;
    match &function {
        None => {
            state.aggregator_function_arn = Known::Null;
            state.aggregator_code_sha256 = Known::Null;
        }
        Some(f) => {
            state.aggregator_function_arn = Known::Value(f.arn.clone());
            state.aggregator_code_sha256 = f.code_sha256.clone().into();
            if importing {
                state.aggregator = Some(imported_block(f, state));
            }
            if !function_matches(state, f) {
                drifted.push(FUNCTION_DRIFT.to_string());
            }
        }
    }
    read_log_group(clients, state).await?;
    read_role(clients, state, function.as_ref(), importing, &mut drifted).await?;
    read_mapping(clients, state, &function_name, importing, &mut drifted).await?;
    private.set_names(DRIFTED, &drifted);
    Ok(())
}

async fn read_queue(clients: &AwsClients, state: &mut StackModel) -> Result<(), Diagnostics> {
    let queue = sqs::find_queue(&clients.sqs, &sqs::dlq_name(&state.name))
        .await
        .or_error_at(NAMES.dlq_url, "Cannot read the aggregator's dead-letter queue")?;
    state.dlq_url = queue.as_ref().map(|q| q.url.clone()).into();
    state.dlq_arn = queue.map(|q| q.arn).into();
    Ok(())
}

async fn read_log_group(clients: &AwsClients, state: &mut StackModel) -> Result<(), Diagnostics> {
    let name = logs::lambda_log_group_name(&lambda::aggregator_function_name(&state.name));
    let group = logs::find_log_group(&clients.logs, &name)
        .await
        .or_error_at(BLOCK, "Cannot read the aggregator's log group")?;
    state.log_group_name = group.as_ref().map(|g| g.name.clone()).into();
    if let (Some(aggregator), Some(group)) = (state.aggregator.as_mut(), group) {
        // No retention (events kept forever) is not a value the block can hold: 0 plans
        // the configured one back.
        aggregator.log_retention_days = group.retention_in_days.map_or(0, i64::from);
    }
    Ok(())
}

/// The block an import records: what the function runs with.
fn imported_block(f: &FunctionInfo, state: &StackModel) -> AggregatorModel {
    let created_role = f
        .role_arn
        .as_deref()
        .is_some_and(|arn| arn.ends_with(&format!(":role/{}", role::role_name(state))));
    let mut block = AggregatorModel {
        role_arn: if created_role { None } else { f.role_arn.clone() },
        ..AggregatorModel::default()
    };
    copy_function_settings(f, &mut block);
    // The log group's retention is read into the block next (read_log_group).
    block.log_retention_days = i64::from(logs::DEFAULT_RETENTION_DAYS);
    block
}

/// The settings the block shows, from the function.
fn copy_function_settings(f: &FunctionInfo, block: &mut AggregatorModel) {
    block.memory_size = f.memory_mb.map_or(0, i64::from);
    block.timeout = f.timeout_seconds.map_or(0, i64::from);
    block.tracing = f.tracing_mode.as_deref() == Some("Active");
    let env = |k: &str| f.environment.get(k).cloned();
    if let Some(windows) = env(zae_limiter_aggregator::env::SNAPSHOT_WINDOWS) {
        block.snapshot_windows = windows.split(',').map(str::to_owned).collect();
    }
    if let Some(days) = env(zae_limiter_aggregator::env::SNAPSHOT_TTL_DAYS) {
        block.usage_retention_days = days.trim().parse().unwrap_or(0);
    }
}

/// Copies the function's visible settings into the block, and says whether the hidden
/// ones (table, archive, schema version, runtime, handler) are what the stack deploys.
fn function_matches(state: &mut StackModel, f: &FunctionInfo) -> bool {
    let bucket = state.archive_bucket_name.value().cloned();
    let Some(aggregator) = state.aggregator.as_mut() else {
        return true;
    };
    copy_function_settings(f, aggregator);
    let env = |k: &str| f.environment.get(k).map(String::as_str);
    let archive_ok = match &bucket {
        Some(b) => {
            env(zae_limiter_aggregator::env::ENABLE_ARCHIVAL) == Some("true")
                && env(zae_limiter_aggregator::env::ARCHIVE_BUCKET_NAME) == Some(b)
        }
        None => env(zae_limiter_aggregator::env::ENABLE_ARCHIVAL) != Some("true"),
    };
    let runtime_ok = match aggregator.package_path {
        Some(_) => true,
        None => {
            f.runtime.as_deref() == Some(lambda::DEFAULT_RUNTIME)
                && f.handler.as_deref() == Some(lambda::DEFAULT_HANDLER)
        }
    };
    archive_ok && runtime_ok && env(zae_limiter_aggregator::env::TABLE_NAME) == Some(state.name.as_str())
}

async fn read_role(
    clients: &AwsClients,
    state: &mut StackModel,
    function: Option<&FunctionInfo>,
    importing: bool,
    drifted: &mut Vec<String>,
) -> Result<(), Diagnostics> {
    if let Some(user) = role::user_role(state) {
        state.aggregator_role_arn = Known::Value(user);
        return Ok(());
    }
    if !importing && !role::creates_role(state) {
        return Ok(());
    }
    let kind = match function.and_then(|f| f.runtime.as_deref()) {
        Some(package::PYTHON_RUNTIME) => CodeKind::Python,
        _ => CodeKind::BuiltIn,
    };
    let grants = if state.dlq_arn.value().is_some() && state.stream_arn.value().is_some() {
        Some(role::grants(clients, state, kind).await?)
    } else {
        None
    };
    match role::read(clients, &role::role_name(state), grants.as_ref()).await? {
        role::Found::Missing => state.aggregator_role_arn = Known::Null,
        role::Found::Present(arn, matches) => {
            state.aggregator_role_arn = Known::Value(arn);
            if !matches {
                drifted.push(ROLE_DRIFT.to_string());
            }
        }
    }
    Ok(())
}

async fn read_mapping(
    clients: &AwsClients,
    state: &mut StackModel,
    function_name: &str,
    importing: bool,
    drifted: &mut Vec<String>,
) -> Result<(), Diagnostics> {
    let attr = NAMES.event_source_mapping_id;
    let found = match (
        state.event_source_mapping_id.value().cloned(),
        state.stream_arn.value().cloned(),
    ) {
        (Some(uuid), _) => lambda::find_event_source_mapping(&clients.lambda, &uuid)
            .await
            .or_error_at(attr, "Cannot read the event source mapping")?,
        (None, Some(stream)) if importing => {
            lambda::find_event_source_mapping_for(&clients.lambda, function_name, &stream)
                .await
                .or_error_at(attr, "Cannot list the aggregator's event source mappings")?
        }
        _ => None,
    };
    let Some(mapping) = found else {
        state.event_source_mapping_id = Known::Null;
        return Ok(());
    };
    state.event_source_mapping_id = Known::Value(mapping.uuid.clone());
    if let (Ok(wanted), Some(_)) = (mapping_settings(state), state.aggregator.as_ref()) {
        let same = mapping.batch_size == Some(wanted.batch_size)
            && mapping.maximum_batching_window_seconds == Some(wanted.maximum_batching_window_seconds)
            && mapping.maximum_retry_attempts == Some(wanted.maximum_retry_attempts)
            && mapping.maximum_record_age_seconds == Some(wanted.maximum_record_age_seconds)
            && mapping.bisect_batch_on_function_error == Some(wanted.bisect_batch_on_function_error)
            && mapping.filter_patterns == wanted.filter_patterns
            && mapping.on_failure_destination == wanted.on_failure_destination
            && mapping.state.as_deref() != Some("Disabled");
        if !same {
            drifted.push(MAPPING_DRIFT.to_string());
        }
    }
    Ok(())
}
