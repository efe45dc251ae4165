//! Token-bucket arithmetic in integer millitokens and milliseconds (wire-format §6.1),
//! identical to zae-limiter's `bucket.py` for unscheduled dripping limits.

use crate::schema::bucket::{BucketLimit, WCU_LIMIT_NAME};

/// A limit's parameters as one shard sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardParams {
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
pub fn shard_params(limit: &BucketLimit, shard_count: u32) -> ShardParams {
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

/// An `i128` intermediate narrowed back to `i64`, saturating. Every caller narrows a value
/// it has already bounded by `i64` operands (a `min` with a capacity, a timestamp not past
/// `now`), so saturation never changes a result; it only rules out a wrapping cast.
fn narrow(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// `refill_bucket`: returns `(tokens_milli, last_refill_ms)` after lazily refilling from
/// `last_refill_ms` to `now_ms` at `params`, with drift compensation. Always clamps to
/// the ceiling; debt is kept.
///
/// Computed in `i128` like zae-limiter's unbounded integers: `elapsed × refill_amount`
/// (each below 2^64 in magnitude) cannot overflow, so a long idle bucket with a large
/// refill amount fills to its ceiling instead of wrapping. A non-positive period or
/// refill amount (a corrupt item) refills nothing.
pub fn refill(tokens_milli: i64, last_refill_ms: i64, now_ms: i64, params: &ShardParams) -> (i64, i64) {
    let ShardParams {
        capacity_milli,
        refill_amount_milli,
        refill_period_ms,
        ..
    } = *params;
    let clamped = (capacity_milli.min(tokens_milli), last_refill_ms);
    let elapsed_ms = i128::from(now_ms) - i128::from(last_refill_ms);
    if elapsed_ms <= 0 || refill_period_ms <= 0 || refill_amount_milli <= 0 {
        return clamped;
    }
    let (amount, period) = (i128::from(refill_amount_milli), i128::from(refill_period_ms));
    let added_milli = elapsed_ms * amount / period;
    if added_milli == 0 {
        return clamped;
    }
    // added × period ≤ elapsed × amount, so this cannot overflow either; used ≤ elapsed.
    let used_ms = added_milli * period / amount;
    let tokens = i128::from(capacity_milli).min(i128::from(tokens_milli) + added_milli);
    (narrow(tokens), narrow(i128::from(last_refill_ms) + used_ms))
}

/// Seconds until a deficit of `deficit_milli` millitokens clears at
/// `refill_amount_milli` per `refill_period_ms`:
/// `(deficit × period // amount + 1) / 1000`, in `i128` (a deficit may exceed `i64`
/// when a large request meets a bucket in deep debt). Beyond `i128` the wait is computed
/// in floating point; it is astronomically long either way.
pub(crate) fn retry_after_seconds(deficit_milli: i128, refill_amount_milli: i64, refill_period_ms: i64) -> f64 {
    if deficit_milli <= 0 || refill_amount_milli <= 0 {
        return 0.0;
    }
    let amount = i128::from(refill_amount_milli);
    match deficit_milli.checked_mul(i128::from(refill_period_ms)) {
        Some(product) => (product.div_euclid(amount) + 1) as f64 / 1000.0,
        None => deficit_milli as f64 * refill_period_ms as f64 / amount as f64 / 1000.0,
    }
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

/// `try_consume`: refill, then admit iff the balance covers `requested` tokens. The
/// comparison is exact for any `requested` (millitokens in `i128`), so no amount can wrap
/// into one that fits.
pub(crate) fn check(limit: &BucketLimit, last_refill_ms: i64, shard_count: u32, requested: i64, now: i64) -> Check {
    let p = shard_params(limit, shard_count);
    let (tokens, new_last_refill_ms) = refill(limit.tokens_milli, last_refill_ms, now, &p);
    let need = i128::from(requested) * 1000;
    let ok = i128::from(tokens) >= need;
    Check {
        ok,
        tokens,
        last_refill_ms: new_last_refill_ms,
        available: whole_tokens(tokens),
        retry_after: if ok {
            0.0
        } else {
            retry_after_seconds(
                need - i128::from(tokens),
                p.retry_refill_amount_milli,
                p.refill_period_ms,
            )
        },
    }
}

/// Bucket TTL seconds from the slowest recovery, as zae-limiter computes it in floating
/// point: `int(max((cp / ra) × (rp / 1000)) × multiplier)`. Where zae-limiter's integer
/// would exceed `i64`, the cast saturates at `i64::MAX` (a bucket that never expires,
/// which is what such a TTL means).
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
    // `as` from f64 saturates (and maps NaN to 0); it never wraps.
    Some((max * multiplier as f64) as i64)
}

/// The epoch second a bucket written at `now_ms` expires, `ttl_seconds` later; saturates
/// at `i64::MAX` (never expires) instead of wrapping into the past.
pub(crate) fn expiry_epoch_seconds(now_ms: i64, ttl_seconds: i64) -> i64 {
    now_ms.div_euclid(1000).saturating_add(ttl_seconds)
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
    fn refill_never_wraps_at_the_extremes() {
        // 1e18 millitokens per second, idle 10 s: 1e19 millitokens do not fit an i64 (the
        // old cast wrapped them to a negative refill that drained the bucket).
        let max = params(1_000_000_000_000_000_000, 1_000_000_000_000_000_000, 1000);
        assert_eq!(refill(0, 0, 10_000, &max), (1_000_000_000_000_000_000, 10_000));
        // Timestamps at the ends of i64: elapsed no longer overflows.
        let p = params(100_000, 100_000, 60_000);
        assert_eq!(
            refill(0, i64::MIN, i64::MAX, &p),
            (100_000, i64::MAX),
            "as zae-limiter computes it"
        );
        assert_eq!(refill(5, i64::MAX, i64::MIN, &p), (5, i64::MAX), "clock behind rf");
        // Deep debt at i64::MIN refills up without overflowing.
        assert_eq!(refill(i64::MIN, 0, 60_000, &p), (i64::MIN + 100_000, 60_000));
        assert_eq!(refill(i64::MIN, i64::MIN, i64::MAX, &max).0, 1_000_000_000_000_000_000);
        // Corrupt parameters refill nothing and never divide by zero.
        assert_eq!(refill(7, 0, 1000, &params(10, -5, 1000)), (7, 0));
        assert_eq!(refill(7, 0, 1000, &params(10, 5, 0)), (7, 0));
        assert_eq!(refill(7, 0, 1000, &params(10, 5, i64::MIN)), (7, 0));
    }

    #[test]
    fn retry_after_never_wraps() {
        // 1e18 deficit × 1e12 ms period / 1000: 1e27 ms does not fit an i64 (the old cast
        // wrapped it to a negative wait).
        let wait = retry_after_seconds(1_000_000_000_000_000_000, 1000, 1_000_000_000_000);
        assert!((wait - 1e24).abs() / 1e24 < 1e-9, "{wait}");
        let wait = retry_after_seconds(i128::MAX, 1, i64::MAX);
        assert!(wait.is_finite() && wait > 1e50, "{wait}");
        assert_eq!(retry_after_seconds(-1, 1000, 1000), 0.0);
        assert_eq!(retry_after_seconds(5, 0, 1000), 0.0);
        assert_eq!(retry_after_seconds(5, i64::MIN, 1000), 0.0);
    }

    #[test]
    fn check_is_exact_for_any_request() {
        let l = rpm(3000, 10);
        // i64::MAX tokens: ×1000 wraps to -1000 in i64, which any balance would cover.
        let c = check(&l, 0, 1, i64::MAX, 0);
        assert!(!c.ok);
        assert!(c.retry_after > 1e15, "{}", c.retry_after);
        assert!(!check(&l, 0, 1, i64::MAX / 1000 + 1, 0).ok);
        // A bucket deep in debt against the largest request.
        let debt = BucketLimit {
            tokens_milli: i64::MIN,
            ..rpm(0, 10)
        };
        let c = check(&debt, 0, 1, i64::MAX, 0);
        assert!(!c.ok && c.retry_after.is_finite() && c.retry_after > 0.0);
        assert_eq!(c.available, i64::MIN.div_euclid(1000));
        assert!(
            check(&l, 0, 1, i64::MIN, 0).ok,
            "negative requests are refused before check"
        );
    }

    #[test]
    fn expiry_saturates_instead_of_wrapping() {
        assert_eq!(expiry_epoch_seconds(1_795_400_236_115, 420), 1_795_400_656);
        assert_eq!(expiry_epoch_seconds(1_795_400_236_115, i64::MAX), i64::MAX);
        assert_eq!(expiry_epoch_seconds(-1, 0), -1);
        // The slowest valid limit (1e15 tokens refilled 1 token per 1e9 s) saturates.
        let slow = BucketLimit {
            name: "slow".into(),
            tokens_milli: 0,
            capacity_milli: 1_000_000_000_000_000_000,
            refill_amount_milli: 1000,
            refill_period_ms: 1_000_000_000_000,
            total_consumed_milli: 0,
        };
        assert_eq!(ttl_seconds([&slow], 7), Some(i64::MAX));
        assert_eq!(expiry_epoch_seconds(1_795_400_236_115, i64::MAX), i64::MAX);
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
