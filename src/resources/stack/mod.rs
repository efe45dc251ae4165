//! `zae_limiter_stack`: the zae-limiter DynamoDB table, its six IAM managed policies, the
//! two data-plane records a zae-limiter deploy writes (the version record and the
//! `default` namespace), and optionally the aggregator, the audit archive, the alarms and
//! the app/admin/read-only roles, created directly through the AWS SDK.
//!
//! This file holds the schema and the resource's operations; each operation calls the
//! parts in order, one file per part: `table.rs` (the table, TTL, point-in-time recovery,
//! tags, deletion protection), `records.rs` (version record and `default` namespace),
//! `policies.rs`, `archive.rs` (audit bucket), `aggregator.rs` (log group, DLQ, function,
//! stream mapping; its role in `role.rs`, its zip found by `package.rs`), `alarms.rs`,
//! `roles.rs`; `iam.rs` holds the `iam` block and the names it gives; `model.rs` is the
//! typed state.
//!
//! Create order: table → ACTIVE → TTL → PITR → version record → `default` namespace →
//! policies → archive bucket → log group → DLQ → aggregator role → function → mapping →
//! alarms → roles → deletion protection. Delete runs it backwards. Each part records what
//! it made before the next starts and returns the state of what exists when it fails
//! part-way, so Terraform keeps it and the next apply or destroy finishes the job.

mod aggregator;
mod alarms;
mod archive;
mod iam;
mod model;
mod package;
mod policies;
mod records;
mod role;
mod roles;
mod table;

use async_trait::async_trait;

use super::common::{computed_string, error_diag, identity_string};
use crate::aws::AwsClients;
use crate::aws::policy_document::PolicyCompatibility;
use crate::aws::table as aws_table;
use crate::framework::timeouts;
use crate::framework::validator::{IntBetween, MapEntries, OneOf, StringCheck};
use crate::framework::{
    Attribute, Block, Diagnostics, IdentityAttribute, ImportId, Known, ModelResource, Outcome, Partial, Plan, Private,
    RequiresReplace, ResourceModel, Schema,
};

pub use model::{
    AggregatorConfig, AggregatorModel, AggregatorNames, AlarmsConfig, AlarmsModel, AlarmsNames, AuditArchiveConfig,
    AuditArchiveModel, AuditArchiveNames, IamConfig, IamModel, IamNames, StackConfig, StackIdentity,
    StackIdentityConfig, StackIdentityNames, StackModel, StackNames,
};
pub use package::RELEASE_FILE_NAME as AGGREGATOR_PACKAGE_FILE_NAME;
pub use policies::POLICY_ATTRIBUTES;
pub use records::{DEFAULT_NAMESPACE, UPDATED_BY};

/// Resource type name.
pub const TYPE_NAME: &str = "zae_limiter_stack";

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
            .default_value(i64::from(aws_table::pitr::DEFAULT_PITR_DAYS))
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
    for (attr, description) in AGGREGATOR_OUTPUTS {
        block = block.attribute(computed_string(attr, description));
    }
    block = block
        .attribute(Attribute::string("lambda_version").computed().description(
            "The `lambda_version` of the version record: null for the built-in aggregator (which clients \
                     treat as compatible), `aggregator.package_version` for a user package.",
        ))
        .attribute(computed_string(
            "app_role_arn",
            "ARN of the `{name}-app` role (with `iam.create_roles`).",
        ))
        .attribute(computed_string(
            "admin_role_arn",
            "ARN of the `{name}-admin` role (with `iam.create_roles`).",
        ))
        .attribute(computed_string(
            "readonly_role_arn",
            "ARN of the `{name}-read` role (with `iam.create_roles`).",
        ))
        .attribute(
            Attribute::string_map("alarm_arns")
                .computed()
                .description("The alarms' ARNs by alarm name (with `alarms`)."),
        )
        .block(aggregator::block())
        .block(archive::block())
        .block(alarms::block())
        .block(iam::block())
        .block(timeouts::block(&["create", "update", "delete"]));
    Schema::new(block)
}

/// The aggregator's and the archive's outputs (computed, kept from state while unchanged).
const AGGREGATOR_OUTPUTS: [(&str, &str); 8] = [
    (
        "aggregator_function_arn",
        "ARN of the aggregator function `{name}-aggregator`.",
    ),
    (
        "aggregator_role_arn",
        "ARN of the aggregator's execution role: `aggregator.role_arn`, or the created `{name}-aggr`.",
    ),
    (
        "aggregator_code_sha256",
        "SHA-256 (base64) of the deployed aggregator package, as Lambda reports it.",
    ),
    (
        "dlq_url",
        "URL of the aggregator's dead-letter queue `{name}-aggregator-dlq`.",
    ),
    ("dlq_arn", "ARN of the aggregator's dead-letter queue."),
    (
        "log_group_name",
        "The aggregator's CloudWatch Logs group, `/aws/lambda/{name}-aggregator`.",
    ),
    (
        "event_source_mapping_id",
        "Id of the event source mapping from the table's stream to the aggregator.",
    ),
    (
        "archive_bucket_name",
        "Name of the audit archive bucket (with `audit_archive`).",
    ),
];

/// The model when a part's steps all succeeded, else a [`Partial`] keeping what `state`
/// recorded before the failure.
#[expect(
    clippy::result_large_err,
    reason = "`Outcome` is what `ModelResource` create/update return: its error carries the state by design"
)]
fn outcome(state: StackModel, steps: Result<(), Diagnostics>) -> Outcome<StackModel> {
    match steps {
        Ok(()) => Ok(state),
        Err(diagnostics) => Err(Partial::keeping(state, diagnostics)),
    }
}

/// `state` before the parts after the policies exist (archive, aggregator, alarms, roles):
/// their blocks and outputs null, so that [`later_parts`] creates each one and records it.
fn before_later_parts(state: StackModel) -> StackModel {
    StackModel {
        aggregator: None,
        audit_archive: None,
        aggregator_function_arn: Known::Null,
        aggregator_role_arn: Known::Null,
        aggregator_code_sha256: Known::Null,
        dlq_url: Known::Null,
        dlq_arn: Known::Null,
        log_group_name: Known::Null,
        event_source_mapping_id: Known::Null,
        archive_bucket_name: Known::Null,
        alarms: None,
        alarm_arns: Known::Null,
        app_role_arn: Known::Null,
        admin_role_arn: Known::Null,
        readonly_role_arn: Known::Null,
        ..state
    }
}

/// Brings the parts after the policies to `plan`, in order: a new archive first (the
/// aggregator's role and environment name it), the aggregator, the alarms (which watch it),
/// an archive no longer wanted, the roles (which hold the policies), then the policies the
/// plan renamed or dropped; finally records the plan's `iam` block.
async fn later_parts(
    clients: &AwsClients,
    prior: Option<&StackModel>,
    plan: &StackModel,
    timeout: std::time::Duration,
    mut state: StackModel,
) -> Outcome<StackModel> {
    let steps = async {
        archive::ensure(clients, prior, plan, &mut state).await?;
        aggregator::ensure(clients, prior, plan, &mut state, timeout).await?;
        alarms::ensure(clients, prior, plan, &mut state).await?;
        archive::retire(clients, prior, plan, &mut state).await?;
        roles::ensure(clients, prior, plan, &mut state).await?;
        if let Some(prior) = prior {
            policies::retire(clients, prior, plan, &mut state).await?;
        }
        state.iam = plan.iam.clone();
        Ok(())
    }
    .await;
    outcome(state, steps)
}

/// Refreshes the stack from AWS, part by part; `None` when the table is gone. Also the
/// lookup of the `zae_limiter_stack` data source.
pub(crate) async fn refresh(
    clients: &AwsClients,
    state: StackModel,
    private: &mut Private,
) -> Result<Option<StackModel>, Diagnostics> {
    // A state that never saw the table is an import (or a data source lookup): its
    // aggregator and archive are found by their names.
    let importing = state.table_arn.is_null();
    let Some(mut state) = table::read(clients, state).await? else {
        return Ok(None);
    };
    records::read(clients, &mut state).await?;
    policies::read(clients, &mut state, private).await?;
    archive::read(clients, &mut state, private, importing).await?;
    aggregator::read(clients, &mut state, private, importing).await?;
    alarms::read(clients, &mut state, private, importing).await?;
    roles::read(clients, &mut state, private, importing).await?;
    Ok(Some(state))
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
    /// The plan, part by part: protection against loss, computed names and tags, then
    /// records and policies to restore.
    async fn plan(&self, plan: &mut Plan<'_, AwsClients, StackModel>) {
        table::plan(plan);
        records::plan(plan);
        policies::plan(plan);
        archive::plan(plan).await;
        aggregator::plan(plan);
        alarms::plan(plan);
        roles::plan(plan);
    }

    /// Checks across attributes of the `aggregator` block.
    async fn validate(&self, config: &StackConfig, diags: &mut Diagnostics) {
        aggregator::validate(config, diags);
        iam::validate(config, diags);
    }

    /// Create: the table first (nothing exists before it, so a failure leaves no state), then
    /// the records, the policies and deletion protection; from the table on, every failure
    /// returns the state of what exists.
    async fn create(&self, clients: &AwsClients, plan: StackModel) -> Outcome<StackModel> {
        let timeout = plan.timeout(|t| &t.create, aws_table::DEFAULT_CREATE_TIMEOUT);
        let planned = plan.clone();
        let state = table::create(clients, plan, timeout).await?;
        let state = records::create(clients, state).await?;
        let state = policies::create(clients, state).await?;
        let state = later_parts(clients, None, &planned, timeout, before_later_parts(state)).await?;
        let protect = state.deletion_protection;
        table::protect(clients, protect, false, state).await
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

    /// Update: each part brings what changed to the plan, recorded in the state as it
    /// succeeds; deletion protection is lifted first and set last (see `table::update`).
    async fn update(&self, clients: &AwsClients, prior: StackModel, plan: StackModel) -> Outcome<StackModel> {
        let timeout = plan.timeout(|t| &t.update, aws_table::DEFAULT_UPDATE_TIMEOUT);
        let state = StackModel {
            timeouts: plan.timeouts.clone(),
            ..prior.clone()
        };
        let state = table::update(clients, (&prior, &plan), timeout, state).await?;
        let state = records::update(clients, &plan.lambda_version, state).await?;
        let state = policies::update(clients, (&prior, &plan), state).await?;
        let state = later_parts(clients, Some(&prior), &plan, timeout, state).await?;
        table::protect(clients, plan.deletion_protection, prior.deletion_protection, state).await
    }

    /// Delete: refused while AWS protects the table; policies first, then the table (the
    /// records go with it).
    async fn delete(&self, clients: &AwsClients, prior: StackModel) -> Result<(), Diagnostics> {
        let timeout = prior.timeout(|t| &t.delete, aws_table::DEFAULT_DELETE_TIMEOUT);
        table::refuse_if_protected(clients, &prior.name).await?;
        archive::refuse_if_holding_objects(clients, &prior).await?;
        let mut state = prior.clone();
        alarms::delete(clients, &mut state).await?;
        aggregator::remove(clients, &mut state, timeout).await?;
        archive::delete(clients, &prior).await?;
        roles::delete(clients, &prior, &mut state).await?;
        policies::delete(clients, &prior).await?;
        table::delete(clients, &prior.name, timeout).await
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
        table::check_importable(clients, &name).await?;
        Ok(StackModel {
            id: Known::Value(name.clone()),
            name,
            // Refresh reads the setting back from the policies; without any (no IAM), the
            // default.
            policy_compatibility: PolicyCompatibility::Hardened.as_str().to_string(),
            ..StackModel::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
