//! The aggregator's environment (wire-format §7.1): the variable names zae-limiter 0.17.0's
//! template sets on `{stack}-aggregator`, written once for the reader ([`Config::from_env`])
//! and for the writer (the provider, which deploys the function with [`Deployment::environment`]).
//!
//! [`Config::from_env`]: crate::Config::from_env

use std::collections::BTreeMap;

use zae_limiter::schema::usage::SnapshotWindow;

/// The table the aggregator writes.
pub const TABLE_NAME: &str = "TABLE_NAME";
/// Comma-separated snapshot windows (`hourly,daily,monthly`).
pub const SNAPSHOT_WINDOWS: &str = "SNAPSHOT_WINDOWS";
/// Days a usage snapshot is kept (its `ttl`).
pub const SNAPSHOT_TTL_DAYS: &str = "SNAPSHOT_TTL_DAYS";
/// The schema version of the stack.
pub const SCHEMA_VERSION: &str = "ZAE_LIMITER_SCHEMA_VERSION";
/// `true` when expired audit events are archived.
pub const ENABLE_ARCHIVAL: &str = "ENABLE_ARCHIVAL";
/// The archive bucket (empty when archival is off).
pub const ARCHIVE_BUCKET_NAME: &str = "ARCHIVE_BUCKET_NAME";

/// What a stack tells its aggregator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The stack's table.
    pub table_name: String,
    /// Snapshot windows, in the configured order.
    pub windows: Vec<SnapshotWindow>,
    /// Snapshot retention, days.
    pub ttl_days: i64,
    /// The stack's schema version.
    pub schema_version: String,
    /// The archive bucket, when archival is on.
    pub archive_bucket: Option<String>,
}

impl Deployment {
    /// The function's environment variables, exactly as the 0.17.0 template sets them.
    pub fn environment(&self) -> BTreeMap<String, String> {
        let windows: Vec<&str> = self.windows.iter().map(|w| w.as_str()).collect();
        BTreeMap::from([
            (TABLE_NAME.to_owned(), self.table_name.clone()),
            (SNAPSHOT_WINDOWS.to_owned(), windows.join(",")),
            (SNAPSHOT_TTL_DAYS.to_owned(), self.ttl_days.to_string()),
            (SCHEMA_VERSION.to_owned(), self.schema_version.clone()),
            (ENABLE_ARCHIVAL.to_owned(), self.archive_bucket.is_some().to_string()),
            (
                ARCHIVE_BUCKET_NAME.to_owned(),
                self.archive_bucket.clone().unwrap_or_default(),
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn what_the_provider_writes_the_aggregator_reads_back() {
        let deployment = Deployment {
            table_name: "prod".into(),
            windows: vec![SnapshotWindow::Monthly, SnapshotWindow::Hourly],
            ttl_days: 7,
            schema_version: "0.10.0".into(),
            archive_bucket: Some("prod-audit".into()),
        };
        let env = deployment.environment();
        let lookup = |k: &str| env.get(k).cloned();
        let config = Config::from_env(lookup).unwrap();
        assert_eq!(config.table_name, "prod");
        assert_eq!(config.windows, deployment.windows);
        assert_eq!(config.ttl_days, 7);
        assert_eq!(Config::archive_bucket(lookup).as_deref(), Some("prod-audit"));
        assert_eq!(env[ENABLE_ARCHIVAL], "true");
    }

    #[test]
    fn archival_off_leaves_an_empty_bucket_name() {
        let env = Deployment {
            table_name: "t".into(),
            windows: vec![SnapshotWindow::Hourly],
            ttl_days: 90,
            schema_version: "0.10.0".into(),
            archive_bucket: None,
        }
        .environment();
        assert_eq!(env[ENABLE_ARCHIVAL], "false");
        assert_eq!(env[ARCHIVE_BUCKET_NAME], "");
        assert_eq!(Config::archive_bucket(|k| env.get(k).cloned()), None);
    }
}
