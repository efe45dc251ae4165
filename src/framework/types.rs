//! Terraform's type system (cty) as far as schemas need it, with its JSON encoding.

use std::collections::BTreeMap;

/// A cty type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// `bool`
    Bool,
    /// `number`
    Number,
    /// `string`
    String,
    /// `dynamic` (any type, encoded with its type on the wire)
    Dynamic,
    /// `list(T)`
    List(Box<Type>),
    /// `set(T)`
    Set(Box<Type>),
    /// `map(T)`
    Map(Box<Type>),
    /// `object({...})`
    Object(BTreeMap<String, Type>),
}

impl Type {
    /// `list(T)`.
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }

    /// `set(T)`.
    pub fn set(t: Type) -> Type {
        Type::Set(Box::new(t))
    }

    /// `map(T)`.
    pub fn map(t: Type) -> Type {
        Type::Map(Box::new(t))
    }

    /// The type's JSON form as Terraform expects it in a schema (`"string"`,
    /// `["map","string"]`, `["object",{...}]`).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{Value as J, json};
        match self {
            Type::Bool => J::from("bool"),
            Type::Number => J::from("number"),
            Type::String => J::from("string"),
            Type::Dynamic => J::from("dynamic"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
            Type::Object(attrs) => {
                let fields: serde_json::Map<String, J> = attrs.iter().map(|(k, t)| (k.clone(), t.to_json())).collect();
                json!(["object", fields])
            }
        }
    }

    /// The type's JSON bytes, as carried in `Schema.Attribute.type`.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }

    /// Parses a type from its JSON form.
    pub fn from_json(json: &serde_json::Value) -> Option<Type> {
        use serde_json::Value as J;
        match json {
            J::String(s) => match s.as_str() {
                "bool" => Some(Type::Bool),
                "number" => Some(Type::Number),
                "string" => Some(Type::String),
                "dynamic" => Some(Type::Dynamic),
                _ => None,
            },
            J::Array(parts) if parts.len() == 2 => {
                let kind = parts[0].as_str()?;
                match kind {
                    "list" => Some(Type::list(Type::from_json(&parts[1])?)),
                    "set" => Some(Type::set(Type::from_json(&parts[1])?)),
                    "map" => Some(Type::map(Type::from_json(&parts[1])?)),
                    "object" => {
                        let fields = parts[1].as_object()?;
                        let mut attrs = BTreeMap::new();
                        for (k, v) in fields {
                            attrs.insert(k.clone(), Type::from_json(v)?);
                        }
                        Some(Type::Object(attrs))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_cty() {
        assert_eq!(Type::String.to_json_bytes(), br#""string""#.to_vec());
        assert_eq!(Type::map(Type::String).to_json().to_string(), r#"["map","string"]"#);
        let obj = Type::Object(BTreeMap::from([("a".to_string(), Type::Number)]));
        assert_eq!(obj.to_json().to_string(), r#"["object",{"a":"number"}]"#);
    }

    #[test]
    fn round_trips_through_json() {
        let t = Type::list(Type::Object(BTreeMap::from([("x".to_string(), Type::set(Type::Bool))])));
        assert_eq!(Type::from_json(&t.to_json()), Some(t));
    }
}
