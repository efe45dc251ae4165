//! Usage snapshots (spec §7.2): one upsert per (record, limit, window), the window taken
//! from the NewImage's `rf`, the amount `tc` delta floor-divided to whole tokens.

use aws_sdk_dynamodb::Client;
use zae_limiter::schema::bucket::WCU_LIMIT_NAME;
use zae_limiter::schema::usage::{SnapshotWindow, UsageIncrement, snapshot_update};

use crate::bucket::ParsedBucket;

/// One limit's consumption in one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumptionDelta {
    /// The snapshot increment (whole tokens).
    pub increment: UsageIncrement,
    /// Timestamp the windows are derived from: the NewImage `rf` (epoch ms).
    pub timestamp_ms: i64,
}

/// The deltas of a parsed bucket record: every limit but `wcu` whose `tc` moved.
pub fn extract_deltas(parsed: &ParsedBucket) -> Vec<ConsumptionDelta> {
    parsed
        .limits
        .iter()
        .filter(|l| l.name != WCU_LIMIT_NAME && l.tc_delta != 0)
        .map(|l| ConsumptionDelta {
            increment: UsageIncrement {
                namespace_id: parsed.namespace_id.clone(),
                entity_id: parsed.entity_id.clone(),
                resource: parsed.resource.clone(),
                limit_name: l.name.clone(),
                tokens: l.tc_delta.div_euclid(1000),
                overdrawn: l.soft && l.tc_delta > 0 && l.tk_milli < 0,
            },
            timestamp_ms: parsed.rf_ms,
        })
        .collect()
}

/// Snapshot TTL: `now_s + ttl_days × 86400`.
pub fn snapshot_ttl(now_ms: i64, ttl_days: i64) -> i64 {
    now_ms.div_euclid(1000).saturating_add(ttl_days.saturating_mul(86_400))
}

/// Writes one snapshot update.
pub async fn write(
    client: &Client,
    table: &str,
    delta: &ConsumptionDelta,
    window: SnapshotWindow,
    ttl_epoch_s: i64,
) -> Result<(), String> {
    let start = window.window_start(delta.timestamp_ms);
    let up = snapshot_update(&delta.increment, window, &start, ttl_epoch_s);
    client
        .update_item()
        .table_name(table)
        .set_key(Some(up.key))
        .update_expression(up.update_expression)
        .set_expression_attribute_names(Some(up.names))
        .set_expression_attribute_values(Some(up.values))
        .send()
        .await
        .map_err(|e| {
            format!(
                "Error updating snapshot: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            )
        })?;
    tracing::debug!(
        entity_id = delta.increment.entity_id,
        resource = delta.increment.resource,
        limit_name = delta.increment.limit_name,
        window = window.as_str(),
        window_key = start,
        tokens_delta = delta.increment.tokens,
        "Snapshot updated"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::{parse, tests::modify};

    #[test]
    fn deltas_floor_to_whole_tokens_and_skip_wcu_and_zero() {
        let r = modify(
            "ns/BUCKET#e#r#0",
            &[
                ("rf", 1_795_400_089_500),
                ("b_rpm_tc", 2500),
                ("b_tpm_tc", 500),
                ("b_wcu_tc", 9000),
                ("b_rpd_tc", 7),
                ("b_ret_tc", -1500),
            ],
            &[
                ("b_rpm_tc", 0),
                ("b_tpm_tc", 1000),
                ("b_wcu_tc", 0),
                ("b_rpd_tc", 7),
                ("b_ret_tc", 0),
            ],
        );
        let deltas = extract_deltas(&parse(&r).unwrap().unwrap());
        let got: Vec<(&str, i64)> = deltas
            .iter()
            .map(|d| (d.increment.limit_name.as_str(), d.increment.tokens))
            .collect();
        // Python's `//`: -500 // 1000 == -1, -1500 // 1000 == -2.
        assert_eq!(got, [("rpm", 2), ("tpm", -1), ("ret", -2)]);
        assert!(
            deltas
                .iter()
                .all(|d| d.timestamp_ms == 1_795_400_089_500 && !d.increment.overdrawn)
        );
    }

    #[test]
    fn overdraw_needs_a_soft_debit_into_debt() {
        let mk = |tk: i64, delta: i64| {
            let mut r = modify(
                "ns/BUCKET#e#r#0",
                &[("b_rpm_tc", delta), ("b_rpm_tk", tk)],
                &[("b_rpm_tc", 0)],
            );
            r.dynamodb
                .new_image
                .as_mut()
                .unwrap()
                .0
                .push(("b_rpm_soft".into(), crate::record::Attr::N("1".into())));
            extract_deltas(&parse(&r).unwrap().unwrap())[0].increment.overdrawn
        };
        assert!(mk(-1, 1000));
        assert!(!mk(0, 1000));
        assert!(!mk(-1, -1000));
    }

    #[test]
    fn ttl_is_whole_seconds_plus_days() {
        assert_eq!(snapshot_ttl(1_999, 90), 1 + 90 * 86_400);
        assert_eq!(snapshot_ttl(i64::MAX, i64::MAX), i64::MAX);
    }
}
