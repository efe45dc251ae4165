//! One invocation: a batch of stream records → 0.17.0's summary body. Data errors are
//! collected in `errors`, never returned as `Err` (the event source would retry them).

use aws_sdk_dynamodb::Client;
use serde::Serialize;
use zae_limiter::schema::usage::{SnapshotWindow, civil_from_days};

use crate::archive::{self, ArchiveSink};
use crate::bucket;
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
