//! The rate-limit rejection (zae-limiter's `RateLimitExceeded`).

use std::fmt;
use std::time::Duration;

/// One limit's state when a request was checked.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitStatus {
    /// Entity whose bucket this is.
    pub entity_id: String,
    /// Resource.
    pub resource: String,
    /// Limit name.
    pub limit_name: String,
    /// Per-shard capacity, tokens.
    pub capacity: i64,
    /// Per-shard refill amount, tokens.
    pub refill_amount: i64,
    /// Refill period, seconds.
    pub refill_period_seconds: i64,
    /// Tokens available (floor; negative = debt).
    pub available: i64,
    /// Tokens requested.
    pub requested: i64,
    /// Whether this limit rejected the request.
    pub exceeded: bool,
    /// Seconds until this limit could admit the request.
    pub retry_after_seconds: f64,
}

/// A request rejected because one or more limits would be exceeded.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimited {
    /// Every limit checked, passed and failed.
    pub statuses: Vec<LimitStatus>,
    /// Seconds until every violated limit could admit the request (the maximum).
    pub retry_after_seconds: f64,
    /// True when rejected for persistent write contention rather than capacity.
    pub contended: bool,
}

impl RateLimited {
    /// Builds the rejection; `retry_after` is the maximum over violated limits (or over
    /// all limits when `contended` and none is violated).
    pub fn new(statuses: Vec<LimitStatus>, contended: bool) -> RateLimited {
        let pool: Vec<&LimitStatus> = {
            let v: Vec<&LimitStatus> = statuses.iter().filter(|s| s.exceeded).collect();
            if v.is_empty() && contended {
                statuses.iter().collect()
            } else {
                v
            }
        };
        let retry = pool.iter().map(|s| s.retry_after_seconds).fold(0.0_f64, f64::max);
        RateLimited {
            statuses,
            retry_after_seconds: retry,
            contended,
        }
    }

    /// Time until the request could be admitted.
    pub fn retry_after(&self) -> Duration {
        // A wait beyond `Duration`'s range (a corrupt or astronomically slow bucket)
        // saturates instead of panicking.
        Duration::try_from_secs_f64(self.retry_after_seconds.max(0.0)).unwrap_or(Duration::MAX)
    }

    /// The violated limits.
    pub fn violations(&self) -> impl Iterator<Item = &LimitStatus> {
        self.statuses.iter().filter(|s| s.exceeded)
    }

    /// Tokens remaining per limit (may be negative).
    pub fn remaining(&self) -> impl Iterator<Item = (&str, i64)> {
        self.statuses.iter().map(|s| (s.limit_name.as_str(), s.available))
    }

    /// Value for an HTTP `Retry-After` header (whole seconds, rounded up).
    pub fn retry_after_header(&self) -> String {
        // `as` saturates at i64::MAX; the `+ 1` must not wrap past it.
        (self.retry_after_seconds as i64).saturating_add(1).to_string()
    }

    fn primary(&self) -> Option<&LimitStatus> {
        let pool: Vec<&LimitStatus> = if self.violations().next().is_some() {
            self.violations().collect()
        } else {
            self.statuses.iter().collect()
        };
        pool.into_iter()
            .max_by(|a, b| a.retry_after_seconds.total_cmp(&b.retry_after_seconds))
    }

    /// zae-limiter's `as_dict()` JSON body for a 429 response.
    pub fn as_json(&self) -> serde_json::Value {
        serde_json::json!({
            "error": "rate_limit_exceeded",
            "message": self.to_string(),
            "contended": self.contended,
            "retry_after_seconds": self.retry_after_seconds,
            "retry_after_ms": (self.retry_after_seconds * 1000.0) as i64,
            "limits": self.statuses.iter().map(|s| serde_json::json!({
                "entity_id": s.entity_id,
                "resource": s.resource,
                "limit_name": s.limit_name,
                "kind": "rate",
                "capacity": s.capacity,
                "refill_amount": s.refill_amount,
                "refill_period_seconds": s.refill_period_seconds,
                "available": s.available,
                "requested": s.requested,
                "exceeded": s.exceeded,
                "retry_after_seconds": s.retry_after_seconds,
                "soft": false,
            })).collect::<Vec<_>>(),
        })
    }
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (entity, resource) = self
            .primary()
            .map_or(("?", "?"), |p| (p.entity_id.as_str(), p.resource.as_str()));
        if self.contended && self.violations().next().is_none() {
            return write!(
                f,
                "Rate limiter contended for {entity}/{resource}: concurrent transactions on the bucket. \
                 Retry after {:.1}s",
                self.retry_after_seconds
            );
        }
        let names: Vec<&str> = self.violations().map(|s| s.limit_name.as_str()).collect();
        write!(
            f,
            "Rate limit exceeded for {entity}/{resource}: [{}]. Retry after {:.1}s",
            names.join(", "),
            self.retry_after_seconds
        )
    }
}

impl std::error::Error for RateLimited {}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(retry_after_seconds: f64) -> LimitStatus {
        LimitStatus {
            entity_id: "e".into(),
            resource: "r".into(),
            limit_name: "rpm".into(),
            capacity: 1,
            refill_amount: 1,
            refill_period_seconds: 1,
            available: 0,
            requested: 2,
            exceeded: true,
            retry_after_seconds,
        }
    }

    #[test]
    fn astronomical_waits_saturate_instead_of_panicking() {
        // A wait of 1e27 s (the slowest valid limit, one token per 1e9 s, owes 1e24 s for a
        // full bucket; a corrupt one more) is beyond `Duration` and `i64` seconds.
        let rl = RateLimited::new(vec![status(1e27)], false);
        assert_eq!(rl.retry_after(), Duration::MAX);
        assert_eq!(rl.retry_after_header(), i64::MAX.to_string());
        assert_eq!(rl.as_json()["retry_after_ms"], serde_json::json!(i64::MAX));
        let rl = RateLimited::new(vec![status(f64::INFINITY)], false);
        assert_eq!(rl.retry_after(), Duration::MAX);
        let rl = RateLimited::new(vec![status(540.001)], false);
        assert_eq!(rl.retry_after(), Duration::from_secs_f64(540.001));
        assert_eq!(rl.retry_after_header(), "541");
    }
}
