//! Limit and flag resolution over the config hierarchy (wire-format §5.1–§5.2).

use crate::error::{Error, Result};
use crate::limit::Limit;
use crate::schema::attrs::Item;
use crate::schema::config::{self, ConfigLevel, DisabledFlag};
use crate::schema::keys::DEFAULT_RESOURCE;

/// Where resolved limits came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// `#CONFIG#{resource}` of the entity.
    Entity,
    /// `#CONFIG#_default_` of the entity.
    EntityDefault,
    /// The resource config.
    Resource,
    /// The system config.
    System,
}

impl ConfigSource {
    /// Entity-level limits give buckets no TTL (ADR-119/136).
    pub fn is_custom(self) -> bool {
        matches!(self, ConfigSource::Entity | ConfigSource::EntityDefault)
    }
}

/// The four config items consulted for one (entity, resource), most specific first.
pub(crate) fn levels(entity_id: &str, resource: &str) -> [ConfigLevel; 4] {
    [
        ConfigLevel::Entity {
            entity_id: entity_id.to_string(),
            resource: resource.to_string(),
        },
        ConfigLevel::Entity {
            entity_id: entity_id.to_string(),
            resource: DEFAULT_RESOURCE.to_string(),
        },
        ConfigLevel::Resource(resource.to_string()),
        ConfigLevel::System,
    ]
}

/// The outcome of resolving one (entity, resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedConfig {
    /// The winning level's limits (never empty).
    pub limits: Vec<Limit>,
    /// Which level won.
    pub source: ConfigSource,
    /// Effective `disabled` (entity → entity default → resource; no system level).
    pub disabled: Option<(DisabledFlag, &'static str)>,
    /// Explicit cascade policy from the same walk, if any.
    pub cascade_policy: Option<bool>,
}

/// Resolves from the four fetched items (in [`levels`] order, `None` = absent): the first
/// level defining at least one limit wins entirely.
pub(crate) fn resolve(entity_id: &str, resource: &str, items: &[Option<Item>; 4]) -> Result<ResolvedConfig> {
    let sources = [
        ConfigSource::Entity,
        ConfigSource::EntityDefault,
        ConfigSource::Resource,
        ConfigSource::System,
    ];
    let mut winner = None;
    for (item, source) in items.iter().zip(sources) {
        if let Some(item) = item {
            let limits = config::decode_limits(item)?;
            if !limits.is_empty() && winner.is_none() {
                winner = Some((limits, source));
            }
        }
    }
    let Some((limits, source)) = winner else {
        return Err(Error::NoLimits {
            entity_id: entity_id.to_string(),
            resource: resource.to_string(),
        });
    };
    let level_names = ["entity", "entity", "resource"];
    let disabled = items[..3]
        .iter()
        .zip(level_names)
        .find_map(|(item, level)| item.as_ref().and_then(config::decode_disabled).map(|d| (d, level)));
    let cascade_policy = items[..3]
        .iter()
        .find_map(|item| item.as_ref().and_then(config::decode_cascade));
    Ok(ResolvedConfig {
        limits,
        source,
        disabled,
        cascade_policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::config::ConfigItem;

    fn item(level: ConfigLevel, limits: Vec<Limit>) -> Option<Item> {
        Some(ConfigItem::new(level, limits).to_item("ns"))
    }

    #[test]
    fn first_level_with_limits_wins_entirely() {
        let lv = levels("e", "r");
        let rpm = |n| Limit::per_minute("rpm", n, None).unwrap();
        let tpm = Limit::per_minute("tpm", 1000, None).unwrap();
        let items = [
            None,
            item(lv[1].clone(), vec![]),
            item(lv[2].clone(), vec![rpm(5)]),
            item(lv[3].clone(), vec![rpm(100), tpm]),
        ];
        let r = resolve("e", "r", &items).unwrap();
        assert_eq!(r.source, ConfigSource::Resource);
        assert_eq!(r.limits, vec![rpm(5)]);
        let none: [Option<Item>; 4] = [None, None, None, None];
        assert!(matches!(resolve("e", "r", &none), Err(Error::NoLimits { .. })));
    }

    #[test]
    fn disabled_walk_stops_at_the_first_explicit_value() {
        let lv = levels("e", "r");
        let mut carve = ConfigItem::new(lv[0].clone(), vec![]);
        carve.disabled = Some(DisabledFlag::Enforced);
        let mut off = ConfigItem::new(lv[2].clone(), vec![Limit::per_minute("rpm", 5, None).unwrap()]);
        off.disabled = Some(DisabledFlag::Disabled);
        off.cascade = Some(false);
        let items = [Some(carve.to_item("ns")), None, Some(off.to_item("ns")), None];
        let r = resolve("e", "r", &items).unwrap();
        assert_eq!(r.disabled, Some((DisabledFlag::Enforced, "entity")));
        assert_eq!(r.cascade_policy, Some(false));
    }
}
