//! Token-bucket arithmetic in integer millitokens and milliseconds (wire-format §6.1),
//! identical to zae-limiter's `bucket.py` for unscheduled dripping limits.

use crate::schema::bucket::{BucketLimit, WCU_LIMIT_NAME};

/// A limit's parameters as one shard sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShardParams {
    /// Per-shard ceiling (millitokens).
    pub capacity_milli: i64,
    /// Per-shard refill amount (millitokens).
    pub refill_amount_milli: i64,
    /// Refill period (ms).
    pub refill_period_ms: i64,
    /// Refill amount used for waits: the share, or the undivided amount when the share
    /// floors to zero.
    pub retry_refill_amount_milli: i64,
}

/// Per-shard parameters: capacity and refill amount divided by `shard_count`
/// (floor), the period undivided; `wcu` is never divided.
pub(crate) fn shard_params(limit: &BucketLimit, shard_count: u32) -> ShardParams {
    let divisor = if limit.name == WCU_LIMIT_NAME {
        1
    } else {
        i64::from(shard_count.max(1))
    };
    let refill_amount_milli = limit.refill_amount_milli / divisor;
    ShardParams {
        capacity_milli: limit.capacity_milli / divisor,
        refill_amount_milli,
        refill_period_ms: limit.refill_period_ms,
        retry_refill_amount_milli: if refill_amount_milli == 0 {
            limit.refill_amount_milli
        } else {
            refill_amount_milli
        },
    }
}

/// `refill_bucket`: returns `(tokens_milli, last_refill_ms)` after lazily refilling from
/// `last_refill_ms` to `now_ms` at `params`, with drift compensation. Always clamps to
/// the ceiling; debt is kept.
pub(crate) fn refill(tokens_milli: i64, last_refill_ms: i64, now_ms: i64, params: &ShardParams) -> (i64, i64) {
    let ShardParams {
        capacity_milli,
        refill_amount_milli,
        refill_period_ms,
        ..
    } = *params;
    let elapsed_ms = now_ms - last_refill_ms;
    if elapsed_ms <= 0 || refill_period_ms <= 0 {
        return (capacity_milli.min(tokens_milli), last_refill_ms);
    }
    let added_milli = (i128::from(elapsed_ms) * i128::from(refill_amount_milli) / i128::from(refill_period_ms)) as i64;
    if added_milli == 0 {
        return (capacity_milli.min(tokens_milli), last_refill_ms);
    }
    let used_ms = (i128::from(added_milli) * i128::from(refill_period_ms) / i128::from(refill_amount_milli)) as i64;
    (
        capacity_milli.min(tokens_milli.saturating_add(added_milli)),
        last_refill_ms + used_ms,
    )
}

/// Seconds until a deficit of `deficit_milli` millitokens clears at
/// `refill_amount_milli` per `refill_period_ms`:
/// `(deficit × period // amount + 1) / 1000`.
pub(crate) fn retry_after_seconds(deficit_milli: i64, refill_amount_milli: i64, refill_period_ms: i64) -> f64 {
    if deficit_milli <= 0 || refill_amount_milli <= 0 {
        return 0.0;
    }
    let ms = (i128::from(deficit_milli) * i128::from(refill_period_ms) / i128::from(refill_amount_milli)) as i64;
    (ms + 1) as f64 / 1000.0
}

/// Floor division by 1000 (Python's `//`, also for negatives).
pub(crate) fn whole_tokens(milli: i64) -> i64 {
    milli.div_euclid(1000)
}

/// The outcome of checking `requested` tokens against one limit of one shard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Check {
    /// Whether the request fits.
    pub ok: bool,
    /// Balance after refill (before consuming).
    pub tokens: i64,
    /// Refill timestamp (`rf`, epoch ms) after refill.
    pub last_refill_ms: i64,
    /// Whole tokens available (floor).
    pub available: i64,
    /// Wait when not ok.
    pub retry_after: f64,
}

/// `try_consume`: refill, then admit iff the balance covers `requested` tokens.
pub(crate) fn check(limit: &BucketLimit, last_refill_ms: i64, shard_count: u32, requested: i64, now: i64) -> Check {
    let p = shard_params(limit, shard_count);
    let (tokens, new_last_refill_ms) = refill(limit.tokens_milli, last_refill_ms, now, &p);
    let need = requested * 1000;
    let ok = tokens >= need;
    Check {
        ok,
        tokens,
        last_refill_ms: new_last_refill_ms,
        available: whole_tokens(tokens),
        retry_after: if ok {
            0.0
        } else {
            retry_after_seconds(need - tokens, p.retry_refill_amount_milli, p.refill_period_ms)
        },
    }
}

/// Bucket TTL seconds from the slowest recovery, as zae-limiter computes it in floating
/// point: `int(max((cp / ra) × (rp / 1000)) × multiplier)`.
pub(crate) fn ttl_seconds<'a>(limits: impl IntoIterator<Item = &'a BucketLimit>, multiplier: i64) -> Option<i64> {
    if multiplier <= 0 {
        return None;
    }
    let max = limits
        .into_iter()
        .filter(|l| l.refill_amount_milli > 0)
        .map(|l| {
            let periods_to_fill = l.capacity_milli as f64 / l.refill_amount_milli as f64;
            periods_to_fill * (l.refill_period_ms as f64 / 1000.0)
        })
        .fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.max(v))))?;
    Some((max * multiplier as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpm(tokens_milli: i64, capacity: i64) -> BucketLimit {
        BucketLimit {
            name: "rpm".into(),
            tokens_milli,
            capacity_milli: capacity * 1000,
            refill_amount_milli: capacity * 1000,
            refill_period_ms: 60_000,
            total_consumed_milli: 0,
        }
    }

    fn params(capacity_milli: i64, refill_amount_milli: i64, refill_period_ms: i64) -> ShardParams {
        ShardParams {
            capacity_milli,
            refill_amount_milli,
            refill_period_ms,
            retry_refill_amount_milli: refill_amount_milli,
        }
    }

    #[test]
    fn refill_compensates_drift_and_keeps_debt() {
        // 100/min: 1207 ms → 2011 milli, rf advances by the time actually used.
        assert_eq!(refill(0, 0, 1207, &params(100_000, 100_000, 60_000)), (2011, 1206));
        assert_eq!(refill(-5000, 0, 0, &params(100_000, 100_000, 60_000)), (-5000, 0));
        assert_eq!(
            refill(200_000, 0, 0, &params(100_000, 100_000, 60_000)),
            (100_000, 0),
            "clamped to the ceiling"
        );
        assert_eq!(
            refill(0, 10, 5, &params(100_000, 100_000, 60_000)),
            (0, 10),
            "clock behind rf"
        );
        assert_eq!(refill(0, 0, 0, &params(1, 0, 1000)), (0, 0));
    }

    #[test]
    fn retry_after_matches_the_verified_example() {
        // Deficit 90 tokens at 10 tokens/min: 540 s plus the 1 ms rounding guard.
        assert_eq!(retry_after_seconds(90_000, 10_000, 60_000), 540.001);
        assert_eq!(retry_after_seconds(0, 10_000, 60_000), 0.0);
        assert_eq!(retry_after_seconds(1, 10_000, 60_000), 0.007);
    }

    #[test]
    fn shards_divide_capacity_but_not_wcu() {
        let p = shard_params(&rpm(0, 100), 2);
        assert_eq!(
            (p.capacity_milli, p.refill_amount_milli, p.refill_period_ms),
            (50_000, 50_000, 60_000)
        );
        let write_capacity = BucketLimit::fresh_wcu();
        assert_eq!(shard_params(&write_capacity, 8).capacity_milli, 1_000_000);
        let tiny = BucketLimit {
            name: "x".into(),
            tokens_milli: 0,
            capacity_milli: 1000,
            refill_amount_milli: 10,
            refill_period_ms: 1000,
            total_consumed_milli: 0,
        };
        let p = shard_params(&tiny, 32);
        assert_eq!(
            (p.capacity_milli, p.refill_amount_milli, p.retry_refill_amount_milli),
            (31, 0, 10)
        );
    }

    #[test]
    fn check_admits_exactly_the_balance() {
        let l = rpm(3000, 10);
        assert!(check(&l, 0, 1, 3, 0).ok);
        let c = check(&l, 0, 1, 4, 0);
        assert!(!c.ok);
        assert_eq!(c.available, 3);
        assert_eq!(c.retry_after, 6.001);
        assert_eq!(whole_tokens(-1), -1);
    }

    #[test]
    fn ttl_is_slowest_recovery_times_multiplier() {
        assert_eq!(ttl_seconds([&rpm(0, 100)], 7), Some(420));
        let slow = BucketLimit {
            name: "tpd".into(),
            tokens_milli: 0,
            capacity_milli: 10_000,
            refill_amount_milli: 5_000,
            refill_period_ms: 86_400_000,
            total_consumed_milli: 0,
        };
        assert_eq!(ttl_seconds([&rpm(0, 100), &slow], 7), Some(2 * 86_400 * 7));
        assert_eq!(ttl_seconds([&rpm(0, 100)], 0), None);
    }
}
