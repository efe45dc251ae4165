//! The `timeouts { create = "30m" ... }` block and Go-style duration strings.

use std::time::Duration;

use super::schema::{Attribute, Block, NestedBlock};
use super::validator::StringCheck;

/// Name of the block in configuration.
pub const BLOCK_NAME: &str = "timeouts";

/// A `timeouts` block offering the given operations (`create`, `read`, `update`, `delete`).
pub fn block(operations: &[&str]) -> NestedBlock {
    let mut b = Block::new("How long each operation may take, as a duration such as \"30s\", \"10m\" or \"1h30m\".");
    for op in operations {
        b = b.attribute(
            Attribute::string(op)
                .optional()
                .description(format!("Time limit for {op}."))
                .validator(StringCheck::new(
                    "Invalid duration",
                    "a duration such as \"10m\"",
                    |s| parse_duration(s).map(|_| ()),
                )),
        );
    }
    NestedBlock::single(BLOCK_NAME, b)
}

crate::model! {
    /// A `timeouts` block offering create, update and delete (`block(&["create", "update", "delete"])`).
    pub struct Timeouts, config TimeoutsConfig, names TimeoutsNames {
        /// Time limit for create.
        pub create: Option<String>,
        /// Time limit for update.
        pub update: Option<String>,
        /// Time limit for delete.
        pub delete: Option<String>,
    }
}

/// The longest time limit a `timeouts` setting may give.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// The time limit one operation's setting gives (`pick` chooses it from the block), or
/// `default` when the block or the setting is absent. Settings were validated at plan time;
/// one that is invalid anyway gives `default`, and any value is capped at [`MAX_TIMEOUT`].
pub fn configured(timeouts: Option<&Timeouts>, pick: fn(&Timeouts) -> &Option<String>, default: Duration) -> Duration {
    timeouts
        .and_then(|t| pick(t).as_deref())
        .and_then(|s| parse_duration(s).ok())
        .unwrap_or(default)
        .min(MAX_TIMEOUT)
}

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Parses a duration like Go's `time.ParseDuration` (`"90s"`, `"1h30m"`, `"1.5h"`, `"250ms"`,
/// `"0"`), for a time limit: negative values and values above [`MAX_TIMEOUT`] are refused.
///
/// The arithmetic is in whole nanoseconds with checked operations, so no input panics; digits
/// of a fraction beyond nanosecond precision are ignored, as Go does.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    match parse_nanos(body) {
        Ok(0) => Ok(Duration::ZERO),
        Ok(_) | Err(TooLong) if negative => Err(format!("{text:?} is negative; a time limit must be positive")),
        Ok(total) => {
            let seconds = u64::try_from(total / NANOS_PER_SECOND).map_err(|_| too_long(text))?;
            let subsec = u32::try_from(total % NANOS_PER_SECOND).map_err(|_| too_long(text))?;
            Ok(Duration::new(seconds, subsec))
        }
        Err(TooLong) => Err(too_long(text)),
        Err(Invalid) => Err(format!(
            "{text:?} is not a duration; use a number with a unit such as \"30s\", \"10m\" or \"1h30m\""
        )),
    }
}

fn too_long(text: &str) -> String {
    format!("{text:?} is longer than the maximum of 24h")
}

/// Why [`parse_nanos`] refused a duration.
enum Refusal {
    Invalid,
    TooLong,
}
use Refusal::{Invalid, TooLong};

/// An unsigned Go duration in nanoseconds, at most [`MAX_TIMEOUT`].
fn parse_nanos(body: &str) -> Result<u128, Refusal> {
    if body == "0" {
        return Ok(0);
    }
    if body.is_empty() {
        return Err(Invalid);
    }
    let max = MAX_TIMEOUT.as_nanos();
    let mut rest = body;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (int_digits, after) = rest.split_at(int_len);
        let (frac_digits, after) = match after.strip_prefix('.') {
            Some(tail) => tail.split_at(tail.find(|c: char| !c.is_ascii_digit()).unwrap_or(tail.len())),
            None => ("", after),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(Invalid);
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "h" => 3600 * NANOS_PER_SECOND,
            _ => return Err(Invalid),
        };
        let whole = digits_value(int_digits).ok_or(TooLong)?;
        let mut nanos = whole.checked_mul(unit_nanos).ok_or(TooLong)?;
        // At most 19 fraction digits count: 10^19 times an hour in nanoseconds fits in a u128.
        let frac_digits = &frac_digits[..frac_digits.len().min(19)];
        if !frac_digits.is_empty() {
            let fraction = digits_value(frac_digits).ok_or(TooLong)?;
            let scale = 10u128.pow(u32::try_from(frac_digits.len()).map_err(|_| Invalid)?);
            nanos = nanos.checked_add(fraction * unit_nanos / scale).ok_or(TooLong)?;
        }
        total = total.checked_add(nanos).ok_or(TooLong)?;
        if total > max {
            return Err(TooLong);
        }
        rest = after;
    }
    Ok(total)
}

/// The value of a run of ASCII digits (0 when empty), or `None` when it overflows.
fn digits_value(digits: &str) -> Option<u128> {
    digits
        .bytes()
        .try_fold(0u128, |acc, d| acc.checked_mul(10)?.checked_add(u128::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ten minutes").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("+2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration(".5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.000000001s").unwrap(), Duration::new(1, 1));
        assert_eq!(parse_duration("3\u{b5}s").unwrap(), Duration::from_micros(3));
        assert_eq!(parse_duration("24h").unwrap(), MAX_TIMEOUT);
    }

    #[test]
    fn refuses_negative_huge_and_malformed_durations_without_panicking() {
        let refusal = |text: &str| parse_duration(text).expect_err(text);
        assert!(refusal("9999999999999h").contains("maximum of 24h"));
        assert!(refusal("99999999999999999999999999999999999999999999h").contains("maximum of 24h"));
        assert!(refusal("24h0.000000001s").contains("maximum of 24h"));
        assert!(refusal("25h").contains("maximum of 24h"));
        assert!(refusal("86401s").contains("maximum of 24h"));
        assert!(refusal("0.99999999999999999999999999999h1h23h").contains("maximum of 24h"));
        assert!(refusal("-5m").contains("negative"));
        assert!(refusal("-9999999999999h").contains("negative"));
        for text in [
            "", "1e308s", "-", "+", "--5m", ".", "5", "5x", "h", "1.2.3s", "NaN", "inf", "1 h",
        ] {
            assert!(refusal(text).contains("is not a duration"), "{text}");
        }
        assert_eq!(parse_duration("-0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn configured_values_are_capped_and_validated_at_the_attribute() {
        let huge = Timeouts {
            create: Some("9999999999999h".into()),
            ..Timeouts::default()
        };
        let one = Duration::from_secs(1);
        assert_eq!(configured(Some(&huge), |t| &t.create, one), one);
        assert_eq!(configured(None, |t| &t.create, Duration::MAX), MAX_TIMEOUT);

        let schema = crate::framework::schema::Block::new("r").block(block(&["create", "delete"]));
        let mut config = crate::framework::planning::empty_object(&schema);
        let mut timeouts = crate::framework::planning::empty_object(&block(&["create", "delete"]).block);
        timeouts.set("create", "1e308s".into());
        timeouts.set("delete", "-5m".into());
        config.set(BLOCK_NAME, timeouts);
        let mut diags = crate::framework::diag::Diagnostics::new();
        crate::framework::planning::validate_config(&schema, &config, &mut diags);
        let paths: Vec<String> = diags
            .iter()
            .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
            .collect();
        assert_eq!(paths, ["timeouts.create", "timeouts.delete"], "{diags:?}");
    }

    #[test]
    fn reads_configured_value_or_default() {
        let t = Timeouts {
            create: Some("2m".into()),
            ..Timeouts::default()
        };
        let one = Duration::from_secs(1);
        assert_eq!(configured(Some(&t), |t| &t.create, one), Duration::from_secs(120));
        assert_eq!(configured(Some(&t), |t| &t.delete, one), one);
        assert_eq!(configured(None, |t| &t.create, one), one);
    }

    #[test]
    fn the_model_agrees_with_the_block() {
        let block = block(&["create", "update", "delete"]).block;
        crate::framework::model::check_agreement::<Timeouts>(&block).unwrap();
    }
}
