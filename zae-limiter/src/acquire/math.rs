//! Token-bucket arithmetic in integer millitokens and milliseconds (spec §6.1),
//! identical to zae-limiter's `bucket.py` for unscheduled dripping limits.

use crate::schema::bucket::{BucketLimit, WCU_LIMIT_NAME};

/// A limit's parameters as one shard sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShardParams {
    /// Per-shard ceiling (millitokens).
    pub cap: i64,
    /// Per-shard refill amount (millitokens).
    pub ra: i64,
    /// Refill period (ms).
    pub rp: i64,
    /// Refill amount used for waits: the share, or the undivided amount when the share
    /// floors to zero.
    pub retry_ra: i64,
}

/// Per-shard parameters: capacity and refill amount divided by `shard_count`
/// (floor), the period undivided; `wcu` is never divided.
pub(crate) fn shard_params(limit: &BucketLimit, shard_count: u32) -> ShardParams {
    let div = if limit.name == WCU_LIMIT_NAME {
        1
    } else {
        i64::from(shard_count.max(1))
    };
    let ra = limit.ra / div;
    ShardParams {
        cap: limit.cp / div,
        ra,
        rp: limit.rp,
        retry_ra: if ra == 0 { limit.ra } else { ra },
    }
}

/// `refill_bucket`: returns `(tokens, rf)` after lazily refilling from `rf` to `now`,
/// with drift compensation. Always clamps to the ceiling; debt is kept.
pub(crate) fn refill(tk: i64, rf: i64, now: i64, cap: i64, ra: i64, rp: i64) -> (i64, i64) {
    let elapsed = now - rf;
    if elapsed <= 0 || rp <= 0 {
        return (cap.min(tk), rf);
    }
    let add = (i128::from(elapsed) * i128::from(ra) / i128::from(rp)) as i64;
    if add == 0 {
        return (cap.min(tk), rf);
    }
    let used = (i128::from(add) * i128::from(rp) / i128::from(ra)) as i64;
    (cap.min(tk.saturating_add(add)), rf + used)
}

/// Seconds until a deficit of `deficit` millitokens clears at `ra` per `rp`:
/// `(deficit × rp // ra + 1) / 1000`.
pub(crate) fn retry_after_seconds(deficit: i64, ra: i64, rp: i64) -> f64 {
    if deficit <= 0 || ra <= 0 {
        return 0.0;
    }
    let ms = (i128::from(deficit) * i128::from(rp) / i128::from(ra)) as i64;
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
    /// `rf` after refill.
    pub rf: i64,
    /// Whole tokens available (floor).
    pub available: i64,
    /// Wait when not ok.
    pub retry_after: f64,
}

/// `try_consume`: refill, then admit iff the balance covers `requested` tokens.
pub(crate) fn check(limit: &BucketLimit, rf: i64, shard_count: u32, requested: i64, now: i64) -> Check {
    let p = shard_params(limit, shard_count);
    let (tokens, new_rf) = refill(limit.tk, rf, now, p.cap, p.ra, p.rp);
    let need = requested * 1000;
    let ok = tokens >= need;
    Check {
        ok,
        tokens,
        rf: new_rf,
        available: whole_tokens(tokens),
        retry_after: if ok {
            0.0
        } else {
            retry_after_seconds(need - tokens, p.retry_ra, p.rp)
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
        .filter(|l| l.ra > 0)
        .map(|l| (l.cp as f64 / l.ra as f64) * (l.rp as f64 / 1000.0))
        .fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.max(v))))?;
    Some((max * multiplier as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpm(tk: i64, cp: i64) -> BucketLimit {
        BucketLimit {
            name: "rpm".into(),
            tk,
            cp: cp * 1000,
            ra: cp * 1000,
            rp: 60_000,
            tc: 0,
        }
    }

    #[test]
    fn refill_compensates_drift_and_keeps_debt() {
        // 100/min: 1207 ms → 2011 milli, rf advances by the time actually used.
        assert_eq!(refill(0, 0, 1207, 100_000, 100_000, 60_000), (2011, 1206));
        assert_eq!(refill(-5000, 0, 0, 100_000, 100_000, 60_000), (-5000, 0));
        assert_eq!(
            refill(200_000, 0, 0, 100_000, 100_000, 60_000),
            (100_000, 0),
            "clamped to the ceiling"
        );
        assert_eq!(refill(0, 10, 5, 100_000, 100_000, 60_000), (0, 10), "clock behind rf");
        assert_eq!(refill(0, 0, 0, 1, 0, 1000), (0, 0));
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
        assert_eq!((p.cap, p.ra, p.rp), (50_000, 50_000, 60_000));
        let wcu = BucketLimit::fresh_wcu();
        assert_eq!(shard_params(&wcu, 8).cap, 1_000_000);
        let tiny = BucketLimit {
            name: "x".into(),
            tk: 0,
            cp: 1000,
            ra: 10,
            rp: 1000,
            tc: 0,
        };
        let p = shard_params(&tiny, 32);
        assert_eq!((p.cap, p.ra, p.retry_ra), (31, 0, 10));
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
            tk: 0,
            cp: 10_000,
            ra: 5_000,
            rp: 86_400_000,
            tc: 0,
        };
        assert_eq!(ttl_seconds([&rpm(0, 100), &slow], 7), Some(2 * 86_400 * 7));
        assert_eq!(ttl_seconds([&rpm(0, 100)], 0), None);
    }
}
