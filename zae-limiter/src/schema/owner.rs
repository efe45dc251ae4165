//! The condition a bucket create pins on its owner's META item (ADR-150; 0.17.0's
//! `schema.owner_meta_condition`), in the general form the aggregator's shard clones
//! need: the reader may not know whether META exists.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::attrs::{self, n, s};
use super::entity::LEGACY_INCARNATION;

/// A condition expression with the names and values it uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OwnerCondition {
    /// The expression.
    pub expression: String,
    /// `ExpressionAttributeNames`.
    pub names: HashMap<String, String>,
    /// `ExpressionAttributeValues` (empty when the expression uses none).
    pub values: HashMap<String, AttributeValue>,
}

/// `exists`: `Some(true)` when META was read, `Some(false)` when it was found absent
/// (`attribute_not_exists(PK)` and nothing else), `None` when the reader cannot tell (no
/// term on `PK`). `pgen` / `pinc`: the stamps read (`None` = none stamped); a generation
/// of 0 also accepts a META without one, an incarnation also matches `created_at`, and
/// the legacy incarnation `-` also a META without `created_at`.
pub fn owner_meta_condition(exists: Option<bool>, pgen: Option<i64>, pinc: Option<&str>) -> OwnerCondition {
    let mut c = OwnerCondition::default();
    if exists == Some(false) {
        c.expression = "attribute_not_exists(PK)".into();
        return c;
    }
    let mut parts = Vec::new();
    if exists == Some(true) {
        parts.push("attribute_exists(PK)".to_string());
    }
    c.names.insert("#opg".into(), attrs::PGEN.into());
    match pgen {
        None => parts.push("attribute_not_exists(#opg)".into()),
        Some(generation) => {
            c.values.insert(":opg".into(), n(generation));
            parts.push(
                if generation == 0 {
                    "(attribute_not_exists(#opg) OR #opg = :opg)"
                } else {
                    "#opg = :opg"
                }
                .into(),
            );
        }
    }
    c.names.insert("#opi".into(), attrs::PINC.into());
    match pinc {
        None => parts.push("attribute_not_exists(#opi)".into()),
        Some(incarnation) => {
            c.names.insert("#oca".into(), attrs::CREATED_AT.into());
            c.values.insert(":opi".into(), s(incarnation));
            let created = if incarnation == LEGACY_INCARNATION {
                "(#oca = :opi OR attribute_not_exists(#oca))"
            } else {
                "#oca = :opi"
            };
            parts.push(format!("(#opi = :opi OR (attribute_not_exists(#opi) AND {created}))"));
        }
    }
    c.expression = parts.join(" AND ");
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_shapes() {
        assert_eq!(
            owner_meta_condition(Some(false), Some(3), Some("x")).expression,
            "attribute_not_exists(PK)"
        );
        assert!(owner_meta_condition(Some(false), None, None).values.is_empty());
        assert_eq!(
            owner_meta_condition(None, None, None).expression,
            "attribute_not_exists(#opg) AND attribute_not_exists(#opi)"
        );
        let legacy = owner_meta_condition(Some(true), Some(0), Some("-"));
        assert_eq!(
            legacy.expression,
            "attribute_exists(PK) AND (attribute_not_exists(#opg) OR #opg = :opg) AND \
             (#opi = :opi OR (attribute_not_exists(#opi) AND (#oca = :opi OR attribute_not_exists(#oca))))"
        );
        assert_eq!(legacy.names["#oca"], "created_at");
        let moved = owner_meta_condition(Some(true), Some(3), Some("abc"));
        assert!(
            moved
                .expression
                .contains("#opg = :opg AND (#opi = :opi OR (attribute_not_exists(#opi) AND #oca = :opi))")
        );
        assert_eq!(
            (moved.values[":opg"].clone(), moved.values[":opi"].clone()),
            (n(3), s("abc"))
        );
    }
}
