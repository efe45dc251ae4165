//! One invocation: a batch of stream records → 0.17.0's summary body. Data errors are
//! collected in `errors`, never returned as `Err` (the event source would retry them).

use aws_sdk_dynamodb::Client;
use serde::Serialize;
use zae_limiter::clock::civil_from_days;
use zae_limiter::schema::usage::SnapshotWindow;

use crate::archive::{self, ArchiveSink};
use crate::bucket;
use crate::env;
use crate::record::{BatchRecord, StreamRecord};
use crate::refill;
use crate::shard;
use crate::snapshot;

/// Configuration (the Lambda's environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `TABLE_NAME` (default `rate-limits`).
    pub table_name: String,
    /// `SNAPSHOT_WINDOWS` (default `hourly,daily`).
    pub windows: Vec<SnapshotWindow>,
    /// `SNAPSHOT_TTL_DAYS` (default 90).
    pub ttl_days: i64,
}

/// A configuration value the Lambda cannot start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} = {value:?}: {reason}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Config {
    /// Reads `TABLE_NAME`, `SNAPSHOT_WINDOWS` and `SNAPSHOT_TTL_DAYS` through `lookup`
    /// (e.g. `|k| std::env::var(k).ok()`), with 0.17.0's defaults. An unknown window or a
    /// TTL that is not an integer is an error here (0.17.0 instead fails every snapshot
    /// write, or its import, at run time).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let defaults = Config::default();
        let windows = match lookup(env::SNAPSHOT_WINDOWS) {
            None => defaults.windows,
            Some(raw) => raw
                .split(',')
                .map(|w| {
                    SnapshotWindow::parse(w).ok_or(ConfigError {
                        variable: env::SNAPSHOT_WINDOWS,
                        value: raw.clone(),
                        reason: "windows are hourly, daily, monthly",
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let ttl_days = match lookup(env::SNAPSHOT_TTL_DAYS) {
            None => defaults.ttl_days,
            Some(raw) => raw.trim().parse().map_err(|_| ConfigError {
                variable: env::SNAPSHOT_TTL_DAYS,
                value: raw.clone(),
                reason: "not an integer",
            })?,
        };
        Ok(Config {
            table_name: lookup(env::TABLE_NAME).unwrap_or(defaults.table_name),
            windows,
            ttl_days,
        })
    }

    /// `ARCHIVE_BUCKET_NAME` when `ENABLE_ARCHIVAL` is `true` (any case) and the name is
    /// not empty, as 0.17.0 decides whether to archive.
    pub fn archive_bucket(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
        let enabled = lookup(env::ENABLE_ARCHIVAL).is_some_and(|v| v.to_lowercase() == "true");
        lookup(env::ARCHIVE_BUCKET_NAME).filter(|b| enabled && !b.is_empty())
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            table_name: "rate-limits".into(),
            windows: vec![SnapshotWindow::Hourly, SnapshotWindow::Daily],
            ttl_days: 90,
        }
    }
}

/// The summary body (`{"processed", "snapshots_updated", "refills_written",
/// "events_archived", "errors"}`), plus counters that only go to the logs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    /// Records in the batch.
    pub processed: u64,
    /// Snapshot updates written.
    pub snapshots_updated: u64,
    /// Refill writes that landed.
    pub refills_written: u64,
    /// Audit events archived.
    pub events_archived: u64,
    /// Every data / write error of the batch.
    pub errors: Vec<String>,
    /// Buckets carrying 0.15+ features that the core profile did not rewrite (logs only).
    #[serde(skip)]
    pub skipped_buckets: u64,
    /// Proactive doublings written (logs only).
    #[serde(skip)]
    pub shards_doubled: u64,
    /// Shard items updated or cloned by propagation (logs only).
    #[serde(skip)]
    pub shards_propagated: u64,
}

impl Summary {
    /// The Lambda response: `{"statusCode": 200, "body": {...}}`.
    pub fn response(&self) -> serde_json::Value {
        serde_json::json!({ "statusCode": 200, "body": self })
    }
}

/// Processes a batch at `now_ms` against `client`'s table, archiving audit REMOVEs to
/// `sink` when given.
pub async fn process<S: ArchiveSink>(
    client: &Client,
    config: &Config,
    records: &[BatchRecord],
    request_id: &str,
    now_ms: i64,
    sink: Option<&S>,
) -> Summary {
    let mut summary = Summary {
        processed: records.len() as u64,
        ..Summary::default()
    };
    tracing::info!(
        record_count = records.len(),
        table_name = config.table_name,
        "Batch processing started"
    );
    let table = config.table_name.as_str();
    let mut well_formed: Vec<&StreamRecord> = Vec::new();
    let mut parsed = Vec::new();
    let mut deltas = Vec::new();
    for (idx, r) in records.iter().enumerate() {
        let record = match r {
            BatchRecord::Record(record) => record,
            BatchRecord::Malformed => {
                let msg = "Error processing record: malformed stream record".to_string();
                tracing::warn!(record_index = idx, "{msg}");
                summary.errors.push(msg);
                continue;
            }
        };
        well_formed.push(record);
        if !record.is_modify() {
            continue;
        }
        match bucket::parse(record) {
            Ok(Some(p)) => {
                deltas.extend(snapshot::extract_deltas(&p));
                parsed.push(p);
            }
            Ok(None) => {}
            Err(e) => {
                let msg = format!("Error processing record: {e}");
                tracing::warn!(record_index = idx, "{msg}");
                summary.errors.push(msg);
            }
        }
    }
    let ttl = snapshot::snapshot_ttl(now_ms, config.ttl_days);
    for delta in &deltas {
        for window in &config.windows {
            match snapshot::write(client, table, delta, *window, ttl).await {
                Ok(()) => summary.snapshots_updated += 1,
                Err(e) => {
                    tracing::warn!(entity_id = delta.increment.entity_id, window = window.as_str(), "{e}");
                    summary.errors.push(e);
                }
            }
        }
    }
    let states = refill::aggregate(&parsed);
    for state in &states {
        if let Some(feature) = &state.unsupported {
            summary.skipped_buckets += 1;
            tracing::info!(
                entity_id = state.entity_id,
                resource = state.resource,
                shard_id = state.shard_id,
                feature = feature.as_str(),
                "Bucket uses a 0.15+ feature - not rewritten (core profile)"
            );
            continue;
        }
        match refill::try_refill(client, table, state, now_ms).await {
            Ok(true) => summary.refills_written += 1,
            Ok(false) => {}
            Err(e) => summary.errors.push(e),
        }
    }
    for state in states.iter().filter(|s| s.unsupported.is_none()) {
        match shard::try_proactive_shard(client, table, state, now_ms).await {
            Ok(true) => summary.shards_doubled += 1,
            Ok(false) => {}
            Err(e) => summary.errors.push(e),
        }
    }
    for record in well_formed.iter().filter(|r| r.is_modify()) {
        match shard::plan_propagation(record) {
            Ok(None) => {}
            Ok(Some(_))
                if bucket::parse(record)
                    .ok()
                    .flatten()
                    .is_some_and(|p| p.unsupported.is_some()) =>
            {
                summary.skipped_buckets += 1;
            }
            Ok(Some(p)) => match shard::propagate(client, table, &p).await {
                Ok(n) => summary.shards_propagated += u64::from(n),
                Err(e) => summary.errors.push(e),
            },
            Err(e) => summary.errors.push(format!("Error propagating shard_count: {e}")),
        }
    }
    if let Some(sink) = sink {
        let today = civil_from_days(now_ms.div_euclid(86_400_000));
        let result = archive::archive(sink, &well_formed, request_id, today).await;
        summary.events_archived = result.events_archived;
        summary.errors.extend(result.errors);
    }
    tracing::info!(
        processed = summary.processed,
        snapshots_updated = summary.snapshots_updated,
        refills_written = summary.refills_written,
        events_archived = summary.events_archived,
        skipped_buckets = summary.skipped_buckets,
        shards_doubled = summary.shards_doubled,
        shards_propagated = summary.shards_propagated,
        error_count = summary.errors.len(),
        "Batch processing completed"
    );
    summary
}

/// An [`ArchiveSink`] for invocations without archival.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoArchive;

impl ArchiveSink for NoArchive {
    async fn put_object(&self, _: &str, _: Vec<u8>, _: &str, _: &str) -> Result<(), String> {
        Err("archival is disabled".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_the_lambda_environment_with_reference_defaults() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(Config::from_env(env(&[])).unwrap(), Config::default());
        let c = Config::from_env(env(&[
            ("TABLE_NAME", "t"),
            ("SNAPSHOT_WINDOWS", "monthly,hourly"),
            ("SNAPSHOT_TTL_DAYS", "7"),
        ]))
        .unwrap();
        assert_eq!(c.windows, [SnapshotWindow::Monthly, SnapshotWindow::Hourly]);
        assert_eq!((c.table_name.as_str(), c.ttl_days), ("t", 7));
        let err = Config::from_env(env(&[("SNAPSHOT_WINDOWS", "hourly,weekly")])).unwrap_err();
        assert_eq!(err.variable, "SNAPSHOT_WINDOWS");
        assert!(Config::from_env(env(&[("SNAPSHOT_TTL_DAYS", "x")])).is_err());
        let on = env(&[("ENABLE_ARCHIVAL", "TRUE"), ("ARCHIVE_BUCKET_NAME", "b")]);
        assert_eq!(Config::archive_bucket(on).as_deref(), Some("b"));
        assert_eq!(Config::archive_bucket(env(&[("ARCHIVE_BUCKET_NAME", "b")])), None);
        assert_eq!(
            Config::archive_bucket(env(&[("ENABLE_ARCHIVAL", "true"), ("ARCHIVE_BUCKET_NAME", "")])),
            None
        );
    }

    #[test]
    fn summary_body_has_exactly_the_reference_keys() {
        let s = Summary {
            processed: 3,
            skipped_buckets: 9,
            errors: vec!["x".into()],
            ..Summary::default()
        };
        assert_eq!(
            s.response(),
            serde_json::json!({"statusCode": 200, "body": {"processed": 3, "snapshots_updated": 0,
                "refills_written": 0, "events_archived": 0, "errors": ["x"]}})
        );
    }
}
