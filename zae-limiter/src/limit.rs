//! The [`Limit`] model: a token bucket's capacity and refill rate (wire-format §4).
//!
//! Limits are configured in whole tokens and seconds; buckets store millitokens and
//! milliseconds ([`Limit::capacity_milli`] and friends). This crate implements the
//! dripping limits of the core profile; quotas, schedules, session windows and soft
//! limits are zae-limiter features it refuses to read or write.

use std::fmt;

use crate::error::{Error, Result};
use crate::validate::validate_name;

/// Upper bound on capacity and refill amount (tokens).
pub const MAX_TOKENS: i64 = 1_000_000_000_000_000;
/// Upper bound on the refill period (seconds).
pub const MAX_PERIOD_SECONDS: i64 = 1_000_000_000;
/// Millitokens per token.
pub const MILLI: i64 = 1000;
/// Largest amount one acquire, adjustment or release may name for one limit: its
/// millitokens (×[`MILLI`]) must fit an `i64`. zae-limiter's Python integers have no such
/// bound; an amount above it is refused with an error instead of wrapping into a debit
/// that admits (no bucket can hold more than [`MAX_TOKENS`] anyway).
pub const MAX_AMOUNT: i64 = i64::MAX / MILLI;

// `MAX_TOKENS` and `MAX_PERIOD_SECONDS` keep every stored unit conversion of a validated
// limit in range, so `capacity_milli` and friends cannot overflow.
const _: () = assert!(MAX_TOKENS <= MAX_AMOUNT && MAX_PERIOD_SECONDS <= i64::MAX / 1000);

/// `tokens` in millitokens, or [`Error::InvalidLimit`] naming `what` when the product does
/// not fit an `i64` (see [`MAX_AMOUNT`]).
pub fn to_milli(tokens: i64, what: &str) -> Result<i64> {
    tokens.checked_mul(MILLI).ok_or_else(|| {
        Error::InvalidLimit(format!(
            "{what} must be between {} and {MAX_AMOUNT} tokens (its millitokens must fit a 64-bit integer), \
             got {tokens}",
            -MAX_AMOUNT
        ))
    })
}

/// A token-bucket limit: `capacity` tokens, refilled by `refill_amount` tokens every
/// `refill_period_seconds`.
///
/// There is no separate burst field: the burst is the capacity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Limit {
    name: String,
    capacity: i64,
    refill_amount: i64,
    refill_period_seconds: i64,
}

impl Limit {
    /// A limit with explicit parameters (zae-limiter's `Limit.custom`), validated with
    /// zae-limiter's rules.
    pub fn custom(name: &str, capacity: i64, refill_amount: i64, refill_period_seconds: i64) -> Result<Limit> {
        validate_name(name, "name")?;
        if capacity <= 0 {
            return Err(Error::InvalidLimit("capacity must be positive".into()));
        }
        if refill_amount < 0 {
            return Err(Error::InvalidLimit("refill_amount must not be negative".into()));
        }
        if refill_period_seconds <= 0 {
            return Err(Error::InvalidLimit("refill_period_seconds must be positive".into()));
        }
        for (field, value, bound) in [
            ("capacity", capacity, MAX_TOKENS),
            ("refill_amount", refill_amount, MAX_TOKENS),
            ("refill_period_seconds", refill_period_seconds, MAX_PERIOD_SECONDS),
        ] {
            if value > bound {
                return Err(Error::InvalidLimit(format!(
                    "{field} must be at most {bound}, got {value}. Above this the limit cannot be stored \
                     exactly as a DynamoDB Number, and a schedule applied on top of it overflows (#570)."
                )));
            }
        }
        if refill_amount == 0 {
            return Err(Error::InvalidLimit(
                "refill_amount=0 means the limit does not drip, which is only valid with a reset_schedule; \
                 otherwise the bucket can never recover. Use Limit.quota(name, amount, cron=...) or \
                 Limit.quota(name, amount, reset_after=...) (ADR-137, ADR-139)."
                    .into(),
            ));
        }
        Ok(Limit {
            name: name.to_string(),
            capacity,
            refill_amount,
            refill_period_seconds,
        })
    }

    fn per(name: &str, rate: i64, burst: Option<i64>, period: i64) -> Result<Limit> {
        Limit::custom(name, burst.unwrap_or(rate), rate, period)
    }

    /// `rate` tokens per second; capacity = `burst` or `rate`.
    pub fn per_second(name: &str, rate: i64, burst: Option<i64>) -> Result<Limit> {
        Limit::per(name, rate, burst, 1)
    }

    /// `rate` tokens per minute; capacity = `burst` or `rate`.
    pub fn per_minute(name: &str, rate: i64, burst: Option<i64>) -> Result<Limit> {
        Limit::per(name, rate, burst, 60)
    }

    /// `rate` tokens per hour; capacity = `burst` or `rate`.
    pub fn per_hour(name: &str, rate: i64, burst: Option<i64>) -> Result<Limit> {
        Limit::per(name, rate, burst, 3600)
    }

    /// `rate` tokens per day; capacity = `burst` or `rate`.
    pub fn per_day(name: &str, rate: i64, burst: Option<i64>) -> Result<Limit> {
        Limit::per(name, rate, burst, 86_400)
    }

    /// The limit's name (`rpm`, `tpm`, …).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bucket ceiling in tokens.
    pub fn capacity(&self) -> i64 {
        self.capacity
    }

    /// The burst: zae-limiter has no separate burst, it is the capacity.
    pub fn burst(&self) -> i64 {
        self.capacity
    }

    /// Tokens added per refill period.
    pub fn refill_amount(&self) -> i64 {
        self.refill_amount
    }

    /// Refill period in seconds.
    pub fn refill_period_seconds(&self) -> i64 {
        self.refill_period_seconds
    }

    /// Capacity in millitokens (the bucket's `b_{name}_cp`; at most `MAX_TOKENS × 1000`,
    /// which fits an `i64`).
    pub fn capacity_milli(&self) -> i64 {
        self.capacity * MILLI
    }

    /// Refill amount in millitokens (the bucket's `b_{name}_ra`).
    pub fn refill_amount_milli(&self) -> i64 {
        self.refill_amount * MILLI
    }

    /// Refill period in milliseconds (the bucket's `b_{name}_rp`).
    pub fn refill_period_ms(&self) -> i64 {
        self.refill_period_seconds * 1000
    }

    /// Tokens per second, for display.
    pub fn refill_rate(&self) -> f64 {
        self.refill_amount as f64 / self.refill_period_seconds as f64
    }

    /// Seconds to refill an empty bucket (the bucket TTL's recovery horizon), computed in
    /// floating point exactly as zae-limiter does.
    pub fn recovery_seconds(&self) -> f64 {
        (self.capacity_milli() as f64 / self.refill_amount_milli() as f64) * (self.refill_period_ms() as f64 / 1000.0)
    }

    /// Parses zae-limiter's CLI limit syntax `name:rate[/period][:burst]`, period one of
    /// `[N]sec|[N]min|[N]hour|[N]day` (default `min`).
    pub fn parse_spec(spec: &str) -> Result<Limit> {
        let bad = || {
            Error::InvalidLimit(format!(
                "invalid limit spec '{spec}': expected name:rate[/period][:burst]"
            ))
        };
        let mut parts = spec.split(':');
        let name = parts.next().ok_or_else(bad)?;
        let rate_part = parts.next().ok_or_else(bad)?;
        // Like zae-limiter, anything after a third `:` is ignored.
        let burst = parts.next().map(|b| b.parse::<i64>().map_err(|_| bad())).transpose()?;
        let (rate, period) = match rate_part.split_once('/') {
            Some((r, p)) => (r, parse_period(p)?.ok_or_else(bad)?),
            None => (rate_part, 60),
        };
        let rate: i64 = rate.parse().map_err(|_| bad())?;
        Limit::custom(name, burst.unwrap_or(rate), rate, period)
    }
}

/// The period of `[N]sec|[N]min|[N]hour|[N]day` in seconds: `Ok(None)` when it is not
/// one, an error when `N × unit` is beyond any valid period (instead of wrapping into
/// one).
fn parse_period(p: &str) -> Result<Option<i64>> {
    let digits = p.bytes().take_while(u8::is_ascii_digit).count();
    let unit = match &p[digits..] {
        "sec" => 1,
        "min" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return Ok(None),
    };
    let too_long = || {
        Error::InvalidLimit(format!(
            "refill_period_seconds must be at most {MAX_PERIOD_SECONDS}, got /{p}"
        ))
    };
    // Only ASCII digits: parsing fails solely on overflow, which is out of range too.
    let count: i64 = if digits == 0 {
        1
    } else {
        p[..digits].parse().map_err(|_| too_long())?
    };
    count.checked_mul(unit).map(Some).ok_or_else(too_long)
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} per {}s (capacity {})",
            self.name, self.refill_amount, self.refill_period_seconds, self.capacity
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_capacity_from_burst() {
        let l = Limit::per_minute("rpm", 100, None).unwrap();
        assert_eq!(
            (l.capacity(), l.refill_amount(), l.refill_period_seconds()),
            (100, 100, 60)
        );
        let l = Limit::per_second("rps", 10, Some(50)).unwrap();
        assert_eq!(
            (l.capacity(), l.burst(), l.refill_amount(), l.refill_period_seconds()),
            (50, 50, 10, 1)
        );
        assert_eq!(Limit::per_hour("h", 1, None).unwrap().refill_period_ms(), 3_600_000);
        assert_eq!(Limit::per_day("d", 1, None).unwrap().refill_period_seconds(), 86_400);
        assert_eq!(l.capacity_milli(), 50_000);
        assert_eq!(l.refill_amount_milli(), 10_000);
    }

    #[test]
    fn validation_messages() {
        let msg = |r: Result<Limit>| r.unwrap_err().to_string();
        assert_eq!(
            msg(Limit::custom("rpm", 0, 1, 1)),
            "invalid limit: capacity must be positive"
        );
        assert_eq!(
            msg(Limit::custom("rpm", 1, -1, 1)),
            "invalid limit: refill_amount must not be negative"
        );
        assert_eq!(
            msg(Limit::custom("rpm", 1, 1, 0)),
            "invalid limit: refill_period_seconds must be positive"
        );
        assert!(msg(Limit::custom("rpm", MAX_TOKENS + 1, 1, 1)).contains("capacity must be at most 1000000000000000"));
        assert!(
            msg(Limit::custom("rpm", 1, 1, MAX_PERIOD_SECONDS + 1)).contains("refill_period_seconds must be at most")
        );
        assert!(msg(Limit::custom("rpm", 1, 0, 1)).contains("refill_amount=0 means the limit does not drip"));
        assert_eq!(
            msg(Limit::custom("wcu", 1, 1, 1)),
            "Invalid name: 'wcu' is a reserved limit name"
        );
        Limit::custom("rpm", MAX_TOKENS, MAX_TOKENS, MAX_PERIOD_SECONDS).unwrap();
    }

    #[test]
    fn recovery_seconds_matches_the_ttl_example() {
        // 100 rpm: 60 s to refill; x7 = 420 s (wire-format §5.4).
        let l = Limit::per_minute("rpm", 100, None).unwrap();
        assert_eq!(l.recovery_seconds(), 60.0);
        let l = Limit::per_minute("tpm", 10, Some(25)).unwrap();
        assert_eq!(l.recovery_seconds(), 150.0);
    }

    #[test]
    fn parses_cli_specs() {
        assert_eq!(
            Limit::parse_spec("rpm:100").unwrap(),
            Limit::per_minute("rpm", 100, None).unwrap()
        );
        assert_eq!(
            Limit::parse_spec("rps:10/sec:50").unwrap(),
            Limit::per_second("rps", 10, Some(50)).unwrap()
        );
        assert_eq!(
            Limit::parse_spec("x:5/2hour").unwrap(),
            Limit::custom("x", 5, 5, 7200).unwrap()
        );
        assert!(Limit::parse_spec("rpm").is_err());
        assert!(Limit::parse_spec("rpm:1/week").is_err());
    }

    #[test]
    fn periods_whose_seconds_overflow_are_refused_not_wrapped() {
        // 213503982334602 days × 86400 s wraps an i64 to 61184 s, a valid period.
        let err = Limit::parse_spec("rpm:5/213503982334602day").unwrap_err().to_string();
        assert!(err.contains("refill_period_seconds must be at most"), "{err}");
        let err = Limit::parse_spec("rpm:5/99999999999999999999999sec")
            .unwrap_err()
            .to_string();
        assert!(err.contains("refill_period_seconds must be at most"), "{err}");
        assert_eq!(
            Limit::parse_spec("rpm:5/11574day").unwrap().refill_period_seconds(),
            11_574 * 86_400
        );
    }

    #[test]
    fn unit_conversions_hold_at_the_bounds() {
        let l = Limit::custom("big", MAX_TOKENS, MAX_TOKENS, MAX_PERIOD_SECONDS).unwrap();
        assert_eq!(l.capacity_milli(), 1_000_000_000_000_000_000);
        assert_eq!(l.refill_amount_milli(), 1_000_000_000_000_000_000);
        assert_eq!(l.refill_period_ms(), 1_000_000_000_000);
        assert_eq!(to_milli(MAX_AMOUNT, "x").unwrap(), MAX_AMOUNT * 1000);
        assert_eq!(to_milli(-MAX_AMOUNT, "x").unwrap(), -MAX_AMOUNT * 1000);
        for bad in [MAX_AMOUNT + 1, i64::MAX, i64::MIN, -MAX_AMOUNT - 2] {
            let err = to_milli(bad, "consume amount").unwrap_err().to_string();
            assert!(err.contains("must be between"), "{bad}: {err}");
        }
        for (cp, ra, rp) in [
            (i64::MAX, 1, 1),
            (1, i64::MAX, 1),
            (1, 1, i64::MAX),
            (i64::MIN, 1, 1),
            (1, 1, i64::MIN),
        ] {
            assert!(Limit::custom("x", cp, ra, rp).is_err(), "{cp} {ra} {rp}");
        }
    }
}
