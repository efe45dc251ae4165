//! Usage snapshots (wire-format §3.9): the per-entity, per-resource, per-window counters
//! only the aggregator writes, and the exact `UpdateItem` zae-limiter 0.17.0's
//! aggregator upserts them with.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_dynamodb::types::AttributeValue;

use super::attrs::{self, Item, n, s};
use super::keys::{gsi2_pk_resource, gsi2_sk_usage, pk_entity, sk_usage};
use crate::clock::civil_from_days;

/// `window` (`hourly` / `daily` / `monthly`).
pub const WINDOW: &str = "window";
/// `window_start` (`YYYY-MM-DDTHH:00:00Z`, UTC).
pub const WINDOW_START: &str = "window_start";
/// `total_events`: one per (stream record, limit) delta.
pub const TOTAL_EVENTS: &str = "total_events";
/// Suffix of the soft-limit overdraw counter, `{limit}#od`.
pub const OVERDRAWN_SUFFIX: &str = "#od";

/// A snapshot window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnapshotWindow {
    /// `YYYY-MM-DDTHH:00:00Z`.
    Hourly,
    /// `YYYY-MM-DDT00:00:00Z`.
    Daily,
    /// `YYYY-MM-01T00:00:00Z`.
    Monthly,
}

impl SnapshotWindow {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotWindow::Hourly => "hourly",
            SnapshotWindow::Daily => "daily",
            SnapshotWindow::Monthly => "monthly",
        }
    }

    /// Parses a stored / configured name (exact, lower case, like 0.17.0).
    pub fn parse(name: &str) -> Option<SnapshotWindow> {
        match name {
            "hourly" => Some(SnapshotWindow::Hourly),
            "daily" => Some(SnapshotWindow::Daily),
            "monthly" => Some(SnapshotWindow::Monthly),
            _ => None,
        }
    }

    /// The window start containing `timestamp_ms` (epoch ms, UTC).
    pub fn window_start(self, timestamp_ms: i64) -> String {
        let seconds = timestamp_ms.div_euclid(1000);
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        let hour = seconds.rem_euclid(86_400) / 3600;
        match self {
            SnapshotWindow::Hourly => format!("{year:04}-{month:02}-{day:02}T{hour:02}:00:00Z"),
            SnapshotWindow::Daily => format!("{year:04}-{month:02}-{day:02}T00:00:00Z"),
            SnapshotWindow::Monthly => format!("{year:04}-{month:02}-01T00:00:00Z"),
        }
    }
}

impl fmt::Display for SnapshotWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One limit's consumption in one stream record, as a snapshot increment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageIncrement {
    /// Namespace id.
    pub namespace_id: String,
    /// Entity.
    pub entity_id: String,
    /// Resource.
    pub resource: String,
    /// Limit name (the counter attribute's name).
    pub limit_name: String,
    /// Whole tokens (`tc` delta in millitokens, floor-divided by 1000).
    pub tokens: i64,
    /// A soft limit debited into debt: also adds 1 to `{limit}#od`.
    pub overdrawn: bool,
}

/// A ready `UpdateItem`: key, update expression, names and values.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageUpdate {
    /// `PK` / `SK` of the snapshot.
    pub key: Item,
    /// The update expression.
    pub update_expression: String,
    /// `ExpressionAttributeNames`.
    pub names: HashMap<String, String>,
    /// `ExpressionAttributeValues`.
    pub values: HashMap<String, AttributeValue>,
}

/// The upsert of `inc` into the `window` snapshot starting at `window_start`, with
/// `ttl_epoch_s` stamped on first write only (0.17.0's `update_snapshot`).
pub fn snapshot_update(
    inc: &UsageIncrement,
    window: SnapshotWindow,
    window_start: &str,
    ttl_epoch_s: i64,
) -> UsageUpdate {
    let pk = pk_entity(&inc.namespace_id, &inc.entity_id);
    let key = attrs::key(pk.clone(), sk_usage(&inc.resource, window_start));
    let mut names: HashMap<String, String> = [
        ("#resource", attrs::RESOURCE),
        ("#window", WINDOW),
        ("#window_start", WINDOW_START),
        ("#limit_name", inc.limit_name.as_str()),
        ("#total_events", TOTAL_EVENTS),
        ("#ttl", attrs::TTL),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut add = String::from("#limit_name :delta, #total_events :one");
    if inc.overdrawn {
        names.insert("#overdrawn".into(), format!("{}{OVERDRAWN_SUFFIX}", inc.limit_name));
        add.push_str(", #overdrawn :one");
    }
    let values: HashMap<String, AttributeValue> = [
        (":entity_id", s(&inc.entity_id)),
        (":resource", s(&inc.resource)),
        (":window", s(window.as_str())),
        (":window_start", s(window_start)),
        (":gsi2pk", s(gsi2_pk_resource(&inc.namespace_id, &inc.resource))),
        (":gsi2sk", s(gsi2_sk_usage(window_start, &inc.entity_id))),
        (":gsi4pk", s(&inc.namespace_id)),
        (":gsi4sk", s(pk)),
        (":ttl", n(ttl_epoch_s)),
        (":delta", n(inc.tokens)),
        (":one", n(1)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let update_expression = format!(
        "SET {e} = :entity_id, #resource = if_not_exists(#resource, :resource), \
         #window = if_not_exists(#window, :window), \
         #window_start = if_not_exists(#window_start, :window_start), \
         {g2p} = :gsi2pk, {g2s} = :gsi2sk, {g4p} = if_not_exists({g4p}, :gsi4pk), \
         {g4s} = if_not_exists({g4s}, :gsi4sk), #ttl = if_not_exists(#ttl, :ttl) ADD {add}",
        e = attrs::ENTITY_ID,
        g2p = attrs::GSI2PK,
        g2s = attrs::GSI2SK,
        g4p = attrs::GSI4PK,
        g4s = attrs::GSI4SK,
    );
    UsageUpdate {
        key,
        update_expression,
        names,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-23T02:14:49.500Z
    const TS: i64 = 1_795_400_089_500;

    #[test]
    fn window_starts_match_the_reference_formats() {
        assert_eq!(SnapshotWindow::Hourly.window_start(TS), "2026-11-23T02:00:00Z");
        assert_eq!(SnapshotWindow::Daily.window_start(TS), "2026-11-23T00:00:00Z");
        assert_eq!(SnapshotWindow::Monthly.window_start(TS), "2026-11-01T00:00:00Z");
        assert_eq!(SnapshotWindow::Hourly.window_start(0), "1970-01-01T00:00:00Z");
        // Leap day, and the last millisecond of a year.
        assert_eq!(
            SnapshotWindow::Daily.window_start(1_709_164_800_000),
            "2024-02-29T00:00:00Z"
        );
        assert_eq!(
            SnapshotWindow::Hourly.window_start(1_735_689_599_999),
            "2024-12-31T23:00:00Z"
        );
        assert_eq!(SnapshotWindow::parse("monthly"), Some(SnapshotWindow::Monthly));
        assert_eq!(SnapshotWindow::parse("Hourly"), None);
    }

    #[test]
    fn civil_dates_round_trip_over_centuries() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(47_541), (2100, 3, 1));
    }

    #[test]
    fn update_names_the_limit_and_the_overdraw_counter() {
        let inc = UsageIncrement {
            namespace_id: "ns".into(),
            entity_id: "e".into(),
            resource: "gpt-4".into(),
            limit_name: "rpm".into(),
            tokens: -1,
            overdrawn: true,
        };
        let up = snapshot_update(&inc, SnapshotWindow::Hourly, "2026-11-23T02:00:00Z", 7);
        assert_eq!(up.key["PK"], s("ns/ENTITY#e"));
        assert_eq!(up.key["SK"], s("#USAGE#gpt-4#2026-11-23T02:00:00Z"));
        assert_eq!(up.names["#limit_name"], "rpm");
        assert_eq!(up.names["#overdrawn"], "rpm#od");
        assert!(
            up.update_expression
                .ends_with("ADD #limit_name :delta, #total_events :one, #overdrawn :one")
        );
        assert_eq!(up.values[":gsi2sk"], s("USAGE#2026-11-23T02:00:00Z#e"));
        assert_eq!(up.values[":gsi4sk"], s("ns/ENTITY#e"));
        assert_eq!(up.values[":delta"], n(-1));
        assert_eq!(up.values[":ttl"], n(7));
        let plain = snapshot_update(
            &UsageIncrement {
                overdrawn: false,
                ..inc
            },
            SnapshotWindow::Daily,
            "2026-11-23T00:00:00Z",
            7,
        );
        assert!(!plain.names.contains_key("#overdrawn"));
        assert!(!plain.update_expression.contains("#overdrawn"));
        assert_eq!(plain.values[":window"], s("daily"));
    }
}
