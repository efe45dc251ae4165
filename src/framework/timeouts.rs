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

/// The time limit one operation's setting gives (`pick` chooses it from the block), or
/// `default` when the block or the setting is absent. Settings were validated at plan time.
pub fn configured(timeouts: Option<&Timeouts>, pick: fn(&Timeouts) -> &Option<String>, default: Duration) -> Duration {
    timeouts
        .and_then(|t| pick(t).as_deref())
        .and_then(|s| parse_duration(s).ok())
        .unwrap_or(default)
}

/// Parses a duration like Go's `time.ParseDuration` (`"90s"`, `"1h30m"`, `"1.5h"`, `"250ms"`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid =
        || format!("{text:?} is not a duration; use a number with a unit such as \"30s\", \"10m\" or \"1h30m\"");
    if text.is_empty() {
        return Err(invalid());
    }
    let mut rest = text;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(invalid());
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Ok(Duration::from_secs_f64(total))
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
