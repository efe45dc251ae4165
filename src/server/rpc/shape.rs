//! Schema-driven reshaping of values the provider hands back to Terraform: conforming a
//! state to its schema, replacing leftover unknowns, and turning a state into a config.

use std::collections::BTreeMap;

use crate::framework::planning::empty_object;
use crate::framework::schema::{Attribute, AttributeKind, Block, NestedBlock, Nesting};
use crate::framework::value::Value;

/// `value` with exactly the attributes and blocks of `block`: missing ones become null,
/// unknown ones are dropped, and absent repeated blocks become empty collections (Terraform
/// decodes "no blocks" as an empty list, set or map, never null, so a null would show up as
/// a perpetual diff). Null or unknown values are returned unchanged.
pub(crate) fn conform(block: &Block, value: &Value) -> Value {
    let Value::Object(fields) = value else {
        return value.clone();
    };
    let mut out = BTreeMap::new();
    for attr in &block.attributes {
        let v = fields.get(&attr.name).unwrap_or(&Value::Null);
        out.insert(attr.name.clone(), conform_attribute(attr, v));
    }
    for nested in &block.blocks {
        let v = fields.get(&nested.type_name).unwrap_or(&Value::Null);
        out.insert(nested.type_name.clone(), conform_nested_block(nested, v));
    }
    Value::Object(out)
}

fn conform_nested_block(nested: &NestedBlock, value: &Value) -> Value {
    let inner = &nested.block;
    match (nested.nesting, value) {
        (Nesting::Group, Value::Null) => conform(inner, &empty_object(inner)),
        (Nesting::List, Value::Null) => Value::List(Vec::new()),
        (Nesting::Set, Value::Null) => Value::Set(Vec::new()),
        (Nesting::Map, Value::Null) => Value::Map(BTreeMap::new()),
        (nesting, value) => map_objects(nesting, value, &|obj| conform(inner, obj)),
    }
}

fn conform_attribute(attr: &Attribute, value: &Value) -> Value {
    match &attr.kind {
        AttributeKind::Typed(_) => value.clone(),
        AttributeKind::Nested { nesting, attributes } => {
            let inner = Block {
                attributes: attributes.clone(),
                ..Block::default()
            };
            map_objects(*nesting, value, &|obj| conform(&inner, obj))
        }
    }
}

/// Applies `f` to each object of a nested block or nested attribute value.
fn map_objects(nesting: Nesting, value: &Value, f: &dyn Fn(&Value) -> Value) -> Value {
    match (nesting, value) {
        (Nesting::Single | Nesting::Group, Value::Object(_)) => f(value),
        (Nesting::List, Value::List(items)) => Value::List(items.iter().map(f).collect()),
        (Nesting::Set, Value::Set(items)) => Value::Set(items.iter().map(f).collect()),
        (Nesting::Map, Value::Map(entries)) => Value::Map(entries.iter().map(|(k, v)| (k.clone(), f(v))).collect()),
        _ => value.clone(),
    }
}

/// `value` with every unknown (at any depth) replaced by null.
pub(crate) fn unknowns_to_null(value: &Value) -> Value {
    match value {
        Value::Unknown(_) => Value::Null,
        Value::List(items) => Value::List(items.iter().map(unknowns_to_null).collect()),
        Value::Set(items) => Value::Set(items.iter().map(unknowns_to_null).collect()),
        Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), unknowns_to_null(v))).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), unknowns_to_null(v))).collect()),
        other => other.clone(),
    }
}

/// The configuration that would produce `state`: read-only (computed, not optional) and
/// deprecated attributes are null, deprecated blocks are empty, everything else is kept.
/// Used by `GenerateResourceConfig` (`terraform plan -generate-config-out`).
pub(crate) fn config_from_state(block: &Block, state: &Value) -> Value {
    let Value::Object(fields) = state else {
        return state.clone();
    };
    let mut out = BTreeMap::new();
    for attr in &block.attributes {
        let v = fields.get(&attr.name).unwrap_or(&Value::Null);
        let kept = if attr.deprecated || (attr.computed && !attr.optional) {
            Value::Null
        } else {
            match &attr.kind {
                AttributeKind::Typed(_) => v.clone(),
                AttributeKind::Nested { nesting, attributes } => {
                    let inner = Block {
                        attributes: attributes.clone(),
                        ..Block::default()
                    };
                    map_objects(*nesting, v, &|obj| config_from_state(&inner, obj))
                }
            }
        };
        out.insert(attr.name.clone(), kept);
    }
    for nested in &block.blocks {
        let v = fields.get(&nested.type_name).unwrap_or(&Value::Null);
        let kept = if nested.block.deprecated {
            Value::Null
        } else {
            map_objects(nested.nesting, v, &|obj| config_from_state(&nested.block, obj))
        };
        out.insert(nested.type_name.clone(), conform_nested_block(nested, &kept));
    }
    Value::Object(out)
}

/// Whether `identity` is a known object whose every attribute is known and not null, i.e.
/// it fully names the remote object.
pub(crate) fn is_complete_identity(identity: &Value) -> bool {
    match identity {
        Value::Object(fields) => fields.values().all(|v| !v.is_null() && v.is_fully_known()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::schema::Attribute;

    fn block() -> Block {
        Block::new("")
            .attribute(Attribute::string("id").computed())
            .attribute(Attribute::string("name").required())
            .attribute(Attribute::string("old").optional().deprecated())
            .attribute(Attribute::number("size").optional().computed())
            .attribute(Attribute::nested(
                "ports",
                Nesting::List,
                vec![
                    Attribute::number("port").required(),
                    Attribute::string("arn").computed(),
                ],
            ))
            .block(NestedBlock::list(
                "rule",
                Block::new("").attribute(Attribute::bool("on").optional()),
            ))
            .block(NestedBlock::single(
                "timeouts",
                Block::new("").attribute(Attribute::string("create").optional()),
            ))
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::Object(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn conform_fills_drops_and_empties_repeated_blocks() {
        let v = obj(&[("name", "a".into()), ("extra", "x".into())]);
        let out = conform(&block(), &v);
        let fields = out.as_map().expect("object");
        assert!(fields.get("extra").is_none());
        assert!(out.get("id").is_null());
        assert_eq!(out.get("rule"), &Value::List(Vec::new()));
        assert!(out.get("timeouts").is_null(), "single blocks stay null");
        assert!(out.get("ports").is_null(), "nested attributes stay null");
        assert_eq!(conform(&block(), &Value::Null), Value::Null);
    }

    #[test]
    fn conform_reaches_into_nested_attributes() {
        let v = obj(&[(
            "ports",
            Value::List(vec![obj(&[("port", Value::int(80)), ("junk", Value::Bool(true))])]),
        )]);
        let out = conform(&block(), &v);
        let port = &out.get("ports").as_list().expect("list")[0];
        assert_eq!(port, &obj(&[("arn", Value::Null), ("port", Value::int(80))]));
    }

    #[test]
    fn unknowns_become_null_at_any_depth() {
        let v = obj(&[
            ("id", Value::unknown()),
            ("rule", Value::List(vec![obj(&[("on", Value::unknown())])])),
        ]);
        let out = unknowns_to_null(&v);
        assert!(out.is_fully_known());
        assert!(out.get("id").is_null());
    }

    #[test]
    fn config_drops_read_only_and_deprecated_values() {
        let state = obj(&[
            ("id", "w-1".into()),
            ("name", "a".into()),
            ("old", "legacy".into()),
            ("size", Value::int(3)),
            (
                "ports",
                Value::List(vec![obj(&[("port", Value::int(80)), ("arn", "arn:x".into())])]),
            ),
            ("rule", Value::List(vec![obj(&[("on", true.into())])])),
            ("timeouts", Value::Null),
        ]);
        let config = config_from_state(&block(), &state);
        assert!(config.get("id").is_null());
        assert!(config.get("old").is_null());
        assert_eq!(config.get("name"), &Value::string("a"));
        assert_eq!(config.get("size"), &Value::int(3), "optional+computed values are kept");
        let port = &config.get("ports").as_list().expect("list")[0];
        assert!(port.get("arn").is_null());
        assert_eq!(port.get("port"), &Value::int(80));
        assert_eq!(config.get("rule").as_list().map(<[Value]>::len), Some(1));
    }

    #[test]
    fn complete_identity_needs_every_attribute() {
        assert!(is_complete_identity(&obj(&[("name", "a".into())])));
        assert!(!is_complete_identity(&obj(&[
            ("name", "a".into()),
            ("region", Value::Null)
        ])));
        assert!(!is_complete_identity(&obj(&[("name", Value::unknown())])));
        assert!(!is_complete_identity(&Value::Null));
    }
}
