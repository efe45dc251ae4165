//! Entity META items (wire-format §3.7).

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::attrs::{self, Item, get_s, null, s};
use super::keys::{SK_META, gsi1_pk_parent, gsi1_sk_child, pk_entity};
use crate::error::{Error, Result};

/// The legacy incarnation of an entity with neither `pinc` nor `created_at`.
pub const LEGACY_INCARNATION: &str = "-";

/// An entity: an id, an optional parent, and whether acquires cascade to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityMeta {
    /// Entity id.
    pub entity_id: String,
    /// Display name (defaults to the id).
    pub name: String,
    /// Parent entity.
    pub parent_id: Option<String>,
    /// Default cascade: debit the parent on every acquire.
    pub cascade: bool,
    /// Parent generation (`pgen`: creation instant in epoch ms, +1 per move; 0 when
    /// absent).
    pub parent_generation: i64,
    /// Incarnation (`pinc`, else `created_at`, else `-`).
    pub incarnation: String,
    /// Whether the item carried its incarnation as `pinc` itself.
    pub has_stored_incarnation: bool,
    /// String metadata.
    pub metadata: BTreeMap<String, String>,
    /// Creation time.
    pub created_at: Option<String>,
}

impl EntityMeta {
    /// The key of an entity's META item.
    pub fn key(ns: &str, entity_id: &str) -> Item {
        attrs::key(pk_entity(ns, entity_id), SK_META)
    }

    /// The item `create_entity` writes.
    pub fn to_item(&self, ns: &str) -> Item {
        let mut item = EntityMeta::key(ns, &self.entity_id);
        item.insert(attrs::ENTITY_ID.into(), s(&self.entity_id));
        item.insert("name".into(), s(&self.name));
        item.insert(attrs::PARENT_ID.into(), self.parent_id.as_deref().map_or_else(null, s));
        item.insert(attrs::CASCADE.into(), attrs::b(self.cascade));
        item.insert(attrs::PGEN.into(), attrs::n(self.parent_generation));
        item.insert(attrs::PINC.into(), s(&self.incarnation));
        item.insert(
            "metadata".into(),
            AttributeValue::M(self.metadata.iter().map(|(k, v)| (k.clone(), s(v))).collect()),
        );
        if let Some(created_at) = &self.created_at {
            item.insert(attrs::CREATED_AT.into(), s(created_at));
        }
        item.insert(attrs::GSI4PK.into(), s(ns));
        item.insert(attrs::GSI4SK.into(), s(pk_entity(ns, &self.entity_id)));
        if let Some(parent) = &self.parent_id {
            item.insert(attrs::GSI1PK.into(), s(gsi1_pk_parent(ns, parent)));
            item.insert(attrs::GSI1SK.into(), s(gsi1_sk_child(&self.entity_id)));
        }
        item
    }

    /// Decodes a META item.
    pub fn decode(item: &Item) -> Result<EntityMeta> {
        let entity_id = get_s(item, attrs::ENTITY_ID).ok_or_else(|| {
            let (pk, sk) = attrs::item_keys(item);
            Error::CorruptItem {
                pk,
                sk,
                reason: "META without entity_id".into(),
            }
        })?;
        let stored_incarnation = get_s(item, attrs::PINC).filter(|v| !v.is_empty());
        let created_at = get_s(item, attrs::CREATED_AT).map(str::to_string);
        let incarnation = stored_incarnation
            .map(str::to_string)
            .or_else(|| created_at.clone().filter(|c| !c.is_empty()))
            .unwrap_or_else(|| LEGACY_INCARNATION.to_string());
        let metadata = match item.get("metadata") {
            Some(AttributeValue::M(m)) => m
                .iter()
                .filter_map(|(k, v)| v.as_s().ok().map(|v| (k.clone(), v.clone())))
                .collect(),
            _ => BTreeMap::new(),
        };
        Ok(EntityMeta {
            entity_id: entity_id.to_string(),
            name: get_s(item, "name").unwrap_or(entity_id).to_string(),
            parent_id: get_s(item, attrs::PARENT_ID).map(str::to_string),
            cascade: attrs::get_bool(item, attrs::CASCADE).unwrap_or(false),
            parent_generation: attrs::try_get_n(item, attrs::PGEN)
                .map_err(|reason| {
                    let (pk, sk) = attrs::item_keys(item);
                    Error::CorruptItem { pk, sk, reason }
                })?
                .unwrap_or(0),
            incarnation,
            has_stored_incarnation: stored_incarnation.is_some(),
            metadata,
            created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EntityMeta {
        EntityMeta {
            entity_id: "key-1".into(),
            name: "key-1".into(),
            parent_id: Some("proj-1".into()),
            cascade: true,
            parent_generation: 1_795_400_053_788,
            incarnation: "439bd5ba744c6174".into(),
            has_stored_incarnation: true,
            metadata: BTreeMap::from([("tier".to_string(), "gold".to_string())]),
            created_at: Some("2026-11-23T02:14:13Z".into()),
        }
    }

    #[test]
    fn matches_vector_e3() {
        let item = sample().to_item("lW0ivYeiB-o");
        assert_eq!(item.len(), 14);
        assert_eq!(item["GSI1PK"], s("lW0ivYeiB-o/PARENT#proj-1"));
        assert_eq!(item["GSI1SK"], s("CHILD#key-1"));
        assert_eq!(item["pgen"], attrs::n(1_795_400_053_788));
        assert_eq!(EntityMeta::decode(&item).unwrap(), sample());
    }

    #[test]
    fn root_entity_has_null_parent_and_no_gsi1() {
        let mut meta = sample();
        meta.parent_id = None;
        let item = meta.to_item("ns");
        assert_eq!(item["parent_id"], AttributeValue::Null(true));
        assert!(!item.contains_key("GSI1PK"));
        assert_eq!(EntityMeta::decode(&item).unwrap().parent_id, None);
    }

    #[test]
    fn incarnation_falls_back_to_created_at() {
        let mut item = sample().to_item("ns");
        item.remove("pinc");
        let meta = EntityMeta::decode(&item).unwrap();
        assert_eq!(meta.incarnation, "2026-11-23T02:14:13Z");
        assert!(!meta.has_stored_incarnation);
        item.remove("created_at");
        assert_eq!(EntityMeta::decode(&item).unwrap().incarnation, "-");
    }
}
