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
        /// Time limits.
        pub timeouts: Option<Timeouts>,
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

impl StackModel {
    /// The configured time limit picked by `pick`, or `default` when none is set.
    pub(super) fn timeout(&self, pick: fn(&Timeouts) -> &Option<String>, default: Duration) -> Duration {
        timeouts::configured(self.timeouts.as_ref(), pick, default)
    }
}
