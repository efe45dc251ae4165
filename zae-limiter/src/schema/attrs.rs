//! Attribute names and DynamoDB value helpers shared by every item codec.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// A DynamoDB item as the SDK represents it.
pub type Item = HashMap<String, AttributeValue>;

/// `GSI1PK`.
pub const GSI1PK: &str = "GSI1PK";
/// `GSI1SK`.
pub const GSI1SK: &str = "GSI1SK";
/// `GSI2PK`.
pub const GSI2PK: &str = "GSI2PK";
/// `GSI2SK`.
pub const GSI2SK: &str = "GSI2SK";
/// `GSI3PK`.
pub const GSI3PK: &str = "GSI3PK";
/// `GSI3SK`.
pub const GSI3SK: &str = "GSI3SK";
/// `GSI4PK`.
pub const GSI4PK: &str = "GSI4PK";
/// `GSI4SK`.
pub const GSI4SK: &str = "GSI4SK";

/// `entity_id`.
pub const ENTITY_ID: &str = "entity_id";
/// `resource`.
pub const RESOURCE: &str = "resource";
/// `created_at`.
pub const CREATED_AT: &str = "created_at";
/// `config_version` (always `N 1` on library-written config items).
pub const CONFIG_VERSION: &str = "config_version";
/// `on_unavailable` on the system config.
pub const ON_UNAVAILABLE: &str = "on_unavailable";
/// `audit_retention_days` on the system config.
pub const AUDIT_RETENTION_DAYS: &str = "audit_retention_days";
/// `disabled`: tri-state on config items, `BOOL true` on disabled buckets.
pub const DISABLED: &str = "disabled";
/// `cascade`: tri-state on config items, `BOOL` on META and buckets.
pub const CASCADE: &str = "cascade";
/// `sched`: an item-level parameter schedule (0.17 feature).
pub const SCHED: &str = "sched";
/// `rsched`: an item-level reset schedule (0.17 calendar-quota feature).
pub const RSCHED: &str = "rsched";
/// `sched_tz`: the IANA timezone of every schedule on an item.
pub const SCHED_TZ: &str = "sched_tz";
/// `parent_id` on META and buckets.
pub const PARENT_ID: &str = "parent_id";
/// `pgen` parent generation on META and buckets.
pub const PGEN: &str = "pgen";
/// `pinc` incarnation on META and buckets.
pub const PINC: &str = "pinc";
/// `ttl` (epoch seconds).
pub const TTL: &str = super::table::TTL;

/// The value `disabled = S "bypass"` on a config item (ADR-151).
pub const DISABLED_BYPASS: &str = "bypass";

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A boolean attribute.
pub fn b(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

/// `NULL true`.
pub fn null() -> AttributeValue {
    AttributeValue::Null(true)
}

/// A `{PK, SK}` key.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("PK".to_string(), s(pk)), ("SK".to_string(), s(sk))])
}

/// The string value of `name`, if it is an `S`.
pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    }
}

/// The integer value of `name`, if it is an `N` holding an integer.
pub fn get_n(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => parse_int(v),
        _ => None,
    }
}

/// The integer value of `name`, strictly: `Ok(None)` when it is absent or not an `N`, and
/// an error message (naming the attribute and the stored text) when it is an `N` that is
/// not an integer within `i64` (where [`get_n`] would read it as absent).
pub fn try_get_n(item: &Item, name: &str) -> Result<Option<i64>, String> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => parse_int(v)
            .map(Some)
            .ok_or_else(|| format!("{name} = {v} is not an integer within the 64-bit range")),
        _ => Ok(None),
    }
}

/// The boolean value of `name`, if it is a `BOOL`.
pub fn get_bool(item: &Item, name: &str) -> Option<bool> {
    match item.get(name) {
        Some(AttributeValue::Bool(v)) => Some(*v),
        _ => None,
    }
}

/// Parses a DynamoDB number that should be an integer (`"12"`, `"-3"`, `"5.0"`).
pub fn parse_int(raw: &str) -> Option<i64> {
    if let Ok(v) = raw.parse::<i64>() {
        return Some(v);
    }
    let (int, frac) = raw.split_once('.')?;
    if frac.bytes().all(|c| c == b'0') {
        int.parse().ok()
    } else {
        None
    }
}

/// The item's `PK` and `SK`, for error messages.
pub fn item_keys(item: &Item) -> (String, String) {
    (
        get_s(item, "PK").unwrap_or("?").to_string(),
        get_s(item, "SK").unwrap_or("?").to_string(),
    )
}

/// Converts a JSON value to a DynamoDB attribute the way zae-limiter serialises audit
/// details (`str`→`S`, `bool`→`BOOL`, number→`N`, object→`M`, array→`L`, null→`NULL`).
pub fn from_json(value: &serde_json::Value) -> AttributeValue {
    use serde_json::Value;
    match value {
        Value::Null => null(),
        Value::Bool(v) => b(*v),
        Value::Number(v) => AttributeValue::N(v.to_string()),
        Value::String(v) => s(v.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(from_json).collect()),
        Value::Object(map) => AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
    }
}

/// Converts a DynamoDB attribute to JSON (numbers with a `.` become floats).
pub fn to_json(value: &AttributeValue) -> serde_json::Value {
    use serde_json::Value;
    match value {
        AttributeValue::S(v) => Value::String(v.clone()),
        AttributeValue::N(v) => match v.parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => v.parse::<f64>().map(Value::from).unwrap_or(Value::Null),
        },
        AttributeValue::Bool(v) => Value::Bool(*v),
        AttributeValue::M(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        AttributeValue::L(l) => Value::Array(l.iter().map(to_json).collect()),
        AttributeValue::Ss(l) => Value::Array(l.iter().cloned().map(Value::String).collect()),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_as_integers_only() {
        assert_eq!(parse_int("-1000"), Some(-1000));
        assert_eq!(parse_int("5.0"), Some(5));
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_int("x"), None);
        assert_eq!(parse_int("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int("9223372036854775808"), None);
        assert_eq!(parse_int("-9223372036854775809.0"), None);
    }

    #[test]
    fn strict_numbers_report_out_of_range_values() {
        let item: Item = HashMap::from([
            ("big".to_string(), AttributeValue::N("1e400".into())),
            ("over".to_string(), AttributeValue::N("9223372036854775808".into())),
            ("ok".to_string(), n(-5)),
            ("text".to_string(), s("5")),
        ]);
        assert_eq!(try_get_n(&item, "ok"), Ok(Some(-5)));
        assert_eq!(try_get_n(&item, "absent"), Ok(None));
        assert_eq!(try_get_n(&item, "text"), Ok(None));
        let err = try_get_n(&item, "over").unwrap_err();
        assert_eq!(
            err,
            "over = 9223372036854775808 is not an integer within the 64-bit range"
        );
        assert!(try_get_n(&item, "big").is_err());
        // The lenient reader treats them as absent: the decoders use the strict one.
        assert_eq!(get_n(&item, "over"), None);
    }

    #[test]
    fn json_round_trip() {
        let v = serde_json::json!({"limits": [{"name": "rpm", "capacity": 100}], "on_unavailable": null, "x": true});
        let attr = from_json(&v);
        let AttributeValue::M(m) = &attr else { panic!() };
        assert_eq!(m["on_unavailable"], AttributeValue::Null(true));
        assert_eq!(to_json(&attr), v);
    }
}
