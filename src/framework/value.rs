//! Terraform values as the framework sees them: known, null or unknown, with the type
//! information kept by the [`Type`](super::types::Type) used to decode them.

use std::collections::BTreeMap;
use std::fmt;

/// A number as Terraform sends it: msgpack integers, floats, or decimal strings for values
/// that fit neither.
#[derive(Debug, Clone)]
pub enum Number {
    /// A whole number that fits in `i64`.
    Int(i64),
    /// A binary floating-point number.
    Float(f64),
    /// A decimal string (arbitrary precision), kept verbatim.
    Decimal(String),
}

impl Number {
    /// The number as `i64` when it is whole and in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            Number::Float(_) => None,
            Number::Decimal(s) => s.parse::<i64>().ok().or_else(|| {
                let f: f64 = s.parse().ok()?;
                Number::Float(f).as_i64()
            }),
        }
    }

    /// The number as `f64` (possibly rounded).
    pub fn as_f64(&self) -> f64 {
        match self {
            Number::Int(i) => *i as f64,
            Number::Float(f) => *f,
            Number::Decimal(s) => s.parse().unwrap_or(f64::NAN),
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (self.as_i64(), other.as_i64()) {
            (Some(a), Some(b)) => a == b,
            (None, None) => match (self, other) {
                (Number::Decimal(a), Number::Decimal(b)) => a == b,
                _ => self.as_f64() == other.as_f64(),
            },
            _ => false,
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
            Number::Decimal(s) => f.write_str(s),
        }
    }
}

/// What Terraform told us about an unknown value (msgpack extension 12). The raw payload
/// is kept so the value can be echoed back unchanged.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Refinements {
    /// `Some(false)` when the value is known not to be null.
    pub nullable: Option<bool>,
    /// Known prefix of a string value.
    pub string_prefix: Option<String>,
    /// The msgpack-encoded refinement map, as received.
    pub raw: Vec<u8>,
}

/// A Terraform value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// The null value of any type.
    #[default]
    Null,
    /// A value not known until apply, possibly refined.
    Unknown(Option<Refinements>),
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// A list (ordered, duplicates allowed).
    List(Vec<Value>),
    /// A set (unordered, no duplicates).
    Set(Vec<Value>),
    /// A map with string keys.
    Map(BTreeMap<String, Value>),
    /// An object with a fixed set of attributes (also used for blocks).
    Object(BTreeMap<String, Value>),
}

impl Value {
    /// An unrefined unknown value.
    pub fn unknown() -> Value {
        Value::Unknown(None)
    }

    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A whole-number value.
    pub fn int(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }

    /// A map of strings.
    pub fn string_map<K: Into<String>, V: Into<String>>(entries: impl IntoIterator<Item = (K, V)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.into(), Value::String(v.into())))
                .collect(),
        )
    }

    /// Whether this is the null value.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether this value is unknown (at its top level).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown(_))
    }

    /// Whether this value and everything inside it is known.
    pub fn is_fully_known(&self) -> bool {
        match self {
            Value::Unknown(_) => false,
            Value::List(items) | Value::Set(items) => items.iter().all(Value::is_fully_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_fully_known),
            _ => true,
        }
    }

    /// An attribute of an object (`Null` when absent or when `self` is not an object).
    pub fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        match self {
            Value::Object(m) => m.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// Mutable access to an object attribute; `None` when `self` is not an object.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        match self {
            Value::Object(m) => m.get_mut(name),
            _ => None,
        }
    }

    /// Sets an object attribute (no-op when `self` is not an object).
    pub fn set(&mut self, name: &str, value: Value) {
        if let Value::Object(m) = self {
            m.insert(name.to_string(), value);
        }
    }

    /// The string, when this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The whole number, when this is a known whole number in `i64` range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The boolean, when this is a known boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The entries of a known map or object.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) | Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The elements of a known list or set.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Set(v) => Some(v),
            _ => None,
        }
    }

    /// A known map of strings as a `BTreeMap<String, String>` (null → empty; unknown or
    /// non-string entries → `None`).
    pub fn as_string_map(&self) -> Option<BTreeMap<String, String>> {
        match self {
            Value::Null => Some(BTreeMap::new()),
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect(),
            _ => None,
        }
    }

    /// A known list or set of strings as a `Vec<String>` (null → empty).
    pub fn as_string_list(&self) -> Option<Vec<String>> {
        match self {
            Value::Null => Some(Vec::new()),
            Value::List(v) | Value::Set(v) => v.iter().map(|e| e.as_str().map(str::to_string)).collect(),
            _ => None,
        }
    }

    /// Semantic equality for sets (order-insensitive) and everything else.
    pub fn equivalent(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Set(a), Value::Set(b)) => a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| x.equivalent(y))),
            (Value::List(a), Value::List(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equivalent(y)),
            (Value::Map(a), Value::Map(b)) | (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v.equivalent(w)))
            }
            (Value::Unknown(_), Value::Unknown(_)) => true,
            _ => self == other,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::int(i)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_across_representations() {
        assert_eq!(Number::Int(5), Number::Float(5.0));
        assert_eq!(Number::Int(5), Number::Decimal("5".into()));
        assert_ne!(Number::Int(5), Number::Float(5.5));
        assert_eq!(Number::Decimal("1e3".into()).as_i64(), Some(1000));
    }

    #[test]
    fn sets_compare_without_order() {
        let a = Value::Set(vec!["x".into(), "y".into()]);
        let b = Value::Set(vec!["y".into(), "x".into()]);
        assert!(a.equivalent(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn nested_unknowns_are_found() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), Value::List(vec![Value::unknown()]));
        assert!(!Value::Object(m).is_fully_known());
    }

    #[test]
    fn string_maps_reject_unknown_entries() {
        let v = Value::Map(BTreeMap::from([("k".to_string(), Value::unknown())]));
        assert_eq!(v.as_string_map(), None);
        assert_eq!(Value::Null.as_string_map(), Some(BTreeMap::new()));
    }
}
