//! The typed model of a `zae_limiter_stack`: its state, configuration view and identity.
//! The conversions each part needs live with the part (`table_settings` in `table.rs`,
//! `compatibility` in `policies.rs`); the ones every part shares live here.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::framework::Known;
use crate::framework::timeouts::{self, Timeouts};
use crate::model;

model! {
    /// The state of a `zae_limiter_stack` (see [`schema`](super::schema)).
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
        /// The aggregator Lambda and its parts; `None` = no aggregator.
        pub aggregator: Option<AggregatorModel>,
        /// Archival of expired audit events to S3; `None` = no archive.
        pub audit_archive: Option<AuditArchiveModel>,
        /// ARN of the aggregator function.
        pub aggregator_function_arn: Known<String>,
        /// ARN of the aggregator's execution role (created, or `aggregator.role_arn`).
        pub aggregator_role_arn: Known<String>,
        /// SHA-256 (base64) of the deployed aggregator package.
        pub aggregator_code_sha256: Known<String>,
        /// URL of the aggregator's dead-letter queue.
        pub dlq_url: Known<String>,
        /// ARN of the aggregator's dead-letter queue.
        pub dlq_arn: Known<String>,
        /// The aggregator's CloudWatch Logs group.
        pub log_group_name: Known<String>,
        /// Id (UUID) of the stream → aggregator event source mapping.
        pub event_source_mapping_id: Known<String>,
        /// Name of the audit archive bucket.
        pub archive_bucket_name: Known<String>,
        /// The `lambda_version` of the version record (null for the built-in aggregator).
        pub lambda_version: Known<String>,
        /// CloudWatch alarms; `None` = no alarms.
        pub alarms: Option<AlarmsModel>,
        /// The alarms' ARNs by alarm name.
        pub alarm_arns: Known<BTreeMap<String, String>>,
        /// IAM options; `None` = 0.17.0's defaults (policies, no roles).
        pub iam: Option<IamModel>,
        /// ARN of the `{name}-app` role.
        pub app_role_arn: Known<String>,
        /// ARN of the `{name}-admin` role.
        pub admin_role_arn: Known<String>,
        /// ARN of the `{name}-read` role.
        pub readonly_role_arn: Known<String>,
        /// Time limits.
        pub timeouts: Option<Timeouts>,
    }
}

model! {
    /// The `aggregator` block: the Lambda that turns the table's stream into usage
    /// snapshots, refills and grows hot buckets, and archives expired audit events.
    pub struct AggregatorModel, config AggregatorConfig, names AggregatorNames {
        /// Memory, MB.
        pub memory_size: i64,
        /// Timeout, seconds.
        pub timeout: i64,
        /// Usage snapshot windows, in order.
        pub snapshot_windows: Vec<String>,
        /// Days a usage snapshot is kept.
        pub usage_retention_days: i64,
        /// Retention of the log group, days.
        pub log_retention_days: i64,
        /// X-Ray active tracing.
        pub tracing: bool,
        /// An execution role to use instead of the one the provider creates.
        pub role_arn: Option<String>,
        /// A zip to deploy instead of the built-in aggregator.
        pub package_path: Option<String>,
        /// The zae-limiter version that `package_path` implements.
        pub package_version: Option<String>,
    }
}

model! {
    /// The `iam` block.
    pub struct IamModel, config IamConfig, names IamNames {
        /// false = no IAM at all.
        pub create_policies: bool,
        /// true = the app/admin/read-only roles.
        pub create_roles: bool,
        /// Permission boundary (ARN or policy name) of every role the stack creates.
        pub permission_boundary: Option<String>,
        /// Role name format (`{}` = the default name).
        pub role_name_format: Option<String>,
        /// Managed policy name format (`{}` = the default name).
        pub policy_name_format: Option<String>,
        /// IAM path of every role and policy the stack creates.
        pub path: String,
    }
}

model! {
    /// The `alarms` block: zae-limiter's CloudWatch alarms on the table and the aggregator.
    pub struct AlarmsModel, config AlarmsConfig, names AlarmsNames {
        /// The SNS topic the alarms notify; `None` = alarms without actions.
        pub sns_topic_arn: Option<String>,
        /// The duration alarm's threshold, percent of the aggregator's timeout.
        pub duration_threshold_pct: i64,
        /// Seconds per evaluation period.
        pub period: i64,
        /// Periods evaluated (the DLQ alarm always evaluates one).
        pub evaluation_periods: i64,
        /// Aggregator errors per period above which the error alarm fires.
        pub error_threshold: i64,
        /// Stream iterator age, ms, above which the lag alarm fires.
        pub iterator_age_threshold_ms: i64,
        /// Throttled requests per period above which a throttle alarm fires.
        pub throttle_threshold: i64,
        /// Messages in the DLQ at which the DLQ alarm fires.
        pub dlq_threshold: i64,
    }
}

model! {
    /// The `audit_archive` block: the S3 bucket expired audit events go to.
    pub struct AuditArchiveModel, config AuditArchiveConfig, names AuditArchiveNames {
        /// Days after which archived objects move to Glacier Instant Retrieval.
        pub glacier_transition_days: i64,
        /// Whether destroy (or removing the block) may delete archived objects.
        pub force_destroy: bool,
    }
}

model! {
    /// The identity of a `zae_limiter_stack`.
    pub struct StackIdentity, config StackIdentityConfig, names StackIdentityNames {
        /// Stack name.
        pub name: String,
    }
}

/// The attribute names of the stack, for diagnostic paths.
pub(super) const NAMES: StackNames = StackModel::NAMES;
/// The attribute names of the `aggregator` block.
pub(super) const AGGREGATOR_NAMES: AggregatorNames = AggregatorModel::NAMES;
/// The attribute names of the `iam` block.
pub(super) const IAM_NAMES: IamNames = IamModel::NAMES;
/// The attribute names of the `alarms` block.
pub(super) const ALARM_NAMES: AlarmsNames = AlarmsModel::NAMES;
/// The attribute names of the `audit_archive` block.
pub(super) const ARCHIVE_NAMES: AuditArchiveNames = AuditArchiveModel::NAMES;

impl StackModel {
    /// The configured time limit picked by `pick`, or `default` when none is set.
    pub(super) fn timeout(&self, pick: fn(&Timeouts) -> &Option<String>, default: Duration) -> Duration {
        timeouts::configured(self.timeouts.as_ref(), pick, default)
    }
}
