//! Limit config items at the system, resource and entity levels (wire-format §3.4–§3.5).
//!
//! Each level is one item holding every limit as composite attributes
//! `l_{name}_cp`/`_ra`/`_rp` (whole tokens and seconds), written with a full-replace
//! `PutItem`. Items carrying features this client does not implement (session windows
//! `w_…`, schedules, reset schedules, soft limits) are refused by [`ConfigItem::decode`]
//! with [`Error::Unsupported`].

use aws_sdk_dynamodb::types::AttributeValue;

use super::attrs::{self, Item, get_bool, get_s, n, s};
use super::keys::{gsi3_pk_entity_config, pk_entity, pk_resource, pk_system, sk_config};
use crate::error::{Error, Result};
use crate::limit::Limit;

/// Prefix of ordinary limit attributes on config items.
pub const LIMIT_ATTR_PREFIX: &str = "l_";
/// Prefix of session-window (`reset_after`) limits on config items.
pub const WINDOW_LIMIT_ATTR_PREFIX: &str = "w_";
/// Capacity field.
pub const FIELD_CP: &str = "cp";
/// Refill amount field.
pub const FIELD_RA: &str = "ra";
/// Refill period field.
pub const FIELD_RP: &str = "rp";
/// Parameter-schedule field (0.17 feature).
pub const FIELD_SCHED: &str = "sched";
/// Reset-schedule field (0.17 calendar-quota feature).
pub const FIELD_RSCHED: &str = "rsched";
/// Session-window reset-after field (0.17 feature).
pub const FIELD_RSA: &str = "rsa";
/// Soft-limit field (0.17 feature).
pub const FIELD_SOFT: &str = "soft";

/// `l_{name}_{field}`.
pub fn limit_attr(name: &str, field: &str) -> String {
    format!("{LIMIT_ATTR_PREFIX}{name}_{field}")
}

/// `w_{name}_{field}`.
pub fn window_limit_attr(name: &str, field: &str) -> String {
    format!("{WINDOW_LIMIT_ATTR_PREFIX}{name}_{field}")
}

/// The text before `_cp` of a capacity attribute (`l_rpm_cp` → `l_rpm`; with the prefix
/// stripped, the limit name); `None` when `attr` is not one.
pub fn strip_capacity_field(attr: &str) -> Option<&str> {
    attr.strip_suffix(FIELD_CP)?.strip_suffix('_')
}

/// Which config item: system, resource or entity (per resource or `_default_`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConfigLevel {
    /// `{ns}/SYSTEM#` / `#CONFIG`.
    System,
    /// `{ns}/RESOURCE#{resource}` / `#CONFIG`.
    Resource(String),
    /// `{ns}/ENTITY#{entity_id}` / `#CONFIG#{resource}` (`_default_` = every resource).
    Entity {
        /// Entity id.
        entity_id: String,
        /// Resource name or `_default_`.
        resource: String,
    },
}

impl ConfigLevel {
    /// The item's key in namespace `ns`.
    pub fn key(&self, ns: &str) -> Item {
        match self {
            ConfigLevel::System => attrs::key(pk_system(ns), sk_config(None)),
            ConfigLevel::Resource(r) => attrs::key(pk_resource(ns, r), sk_config(None)),
            ConfigLevel::Entity { entity_id, resource } => {
                attrs::key(pk_entity(ns, entity_id), sk_config(Some(resource)))
            }
        }
    }

    /// Audit pseudo-entity for this level: `$SYSTEM`, `$RESOURCE:{r}`, or the entity id.
    pub fn audit_entity_id(&self) -> String {
        match self {
            ConfigLevel::System => "$SYSTEM".to_string(),
            ConfigLevel::Resource(r) => format!("$RESOURCE:{r}"),
            ConfigLevel::Entity { entity_id, .. } => entity_id.clone(),
        }
    }

    /// The resource an audit event of this level names (`None` for system).
    pub fn audit_resource(&self) -> Option<&str> {
        match self {
            ConfigLevel::System => None,
            ConfigLevel::Resource(r) | ConfigLevel::Entity { resource: r, .. } => Some(r),
        }
    }
}

/// `on_unavailable` on the system config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnavailable {
    /// Admit (degraded lease) when DynamoDB is unavailable.
    Allow,
    /// Fail when DynamoDB is unavailable (the default).
    Block,
}

impl OnUnavailable {
    /// Stored string.
    pub fn as_str(self) -> &'static str {
        match self {
            OnUnavailable::Allow => "allow",
            OnUnavailable::Block => "block",
        }
    }

    /// Parses `allow` / `block`.
    pub fn parse(value: &str) -> Option<OnUnavailable> {
        match value {
            "allow" => Some(OnUnavailable::Allow),
            "block" => Some(OnUnavailable::Block),
            _ => None,
        }
    }
}

/// The tri-state (four-valued in 0.17) `disabled` flag of a config item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisabledFlag {
    /// `BOOL true`: the resource/entity is disabled.
    Disabled,
    /// `BOOL false`: explicitly enforced (carve-out below a disabled level).
    Enforced,
    /// `S "bypass"`: limits are metered but not enforced (0.17 feature).
    Bypass,
}

impl DisabledFlag {
    /// Decodes the attribute; an unknown string reads as `Enforced`, as zae-limiter does.
    pub fn decode(value: Option<&AttributeValue>) -> Option<DisabledFlag> {
        match value? {
            AttributeValue::S(v) if v == attrs::DISABLED_BYPASS => Some(DisabledFlag::Bypass),
            AttributeValue::Bool(true) => Some(DisabledFlag::Disabled),
            _ => Some(DisabledFlag::Enforced),
        }
    }

    /// Encodes the attribute.
    pub fn encode(self) -> AttributeValue {
        match self {
            DisabledFlag::Disabled => attrs::b(true),
            DisabledFlag::Enforced => attrs::b(false),
            DisabledFlag::Bypass => s(attrs::DISABLED_BYPASS),
        }
    }
}

/// A decoded (or to-be-written) config item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigItem {
    /// Which level.
    pub level: ConfigLevel,
    /// Limits, in item order for decoded items.
    pub limits: Vec<Limit>,
    /// System level only.
    pub on_unavailable: Option<OnUnavailable>,
    /// Resource/entity levels only.
    pub disabled: Option<DisabledFlag>,
    /// Resource/entity levels only.
    pub cascade: Option<bool>,
    /// System level only; written by library-provisioned stacks, dropped by a
    /// full-replace `set_system_defaults`.
    pub audit_retention_days: Option<i64>,
}

impl ConfigItem {
    /// A config item with just limits.
    pub fn new(level: ConfigLevel, limits: Vec<Limit>) -> ConfigItem {
        ConfigItem {
            level,
            limits,
            on_unavailable: None,
            disabled: None,
            cascade: None,
            audit_retention_days: None,
        }
    }

    /// The full item `set_system_defaults` / `set_resource_defaults` / `set_limits`
    /// writes in namespace `ns` (vectors V2, V3, E8).
    pub fn to_item(&self, ns: &str) -> Item {
        let mut item = self.level.key(ns);
        let pk = attrs::get_s(&item, "PK").unwrap_or_default().to_string();
        match &self.level {
            ConfigLevel::System => {
                if let Some(o) = self.on_unavailable {
                    item.insert(attrs::ON_UNAVAILABLE.into(), s(o.as_str()));
                }
                if let Some(days) = self.audit_retention_days {
                    item.insert(attrs::AUDIT_RETENTION_DAYS.into(), n(days));
                }
            }
            ConfigLevel::Resource(r) => {
                item.insert(attrs::RESOURCE.into(), s(r));
            }
            ConfigLevel::Entity { entity_id, resource } => {
                item.insert(attrs::ENTITY_ID.into(), s(entity_id));
                item.insert(attrs::RESOURCE.into(), s(resource));
                item.insert(attrs::GSI3PK.into(), s(gsi3_pk_entity_config(ns, resource)));
                item.insert(attrs::GSI3SK.into(), s(entity_id));
            }
        }
        item.insert(attrs::CONFIG_VERSION.into(), n(1));
        for limit in &self.limits {
            item.insert(limit_attr(limit.name(), FIELD_CP), n(limit.capacity()));
            item.insert(limit_attr(limit.name(), FIELD_RA), n(limit.refill_amount()));
            item.insert(limit_attr(limit.name(), FIELD_RP), n(limit.refill_period_seconds()));
        }
        if let Some(d) = self.disabled {
            item.insert(attrs::DISABLED.into(), d.encode());
        }
        if let Some(c) = self.cascade {
            item.insert(attrs::CASCADE.into(), attrs::b(c));
        }
        item.insert(attrs::GSI4PK.into(), s(ns));
        item.insert(attrs::GSI4SK.into(), s(pk));
        item
    }

    /// Decodes a config item of `level`, refusing unsupported features.
    pub fn decode(level: ConfigLevel, item: &Item) -> Result<ConfigItem> {
        let limits = decode_limits(item)?;
        Ok(ConfigItem {
            level,
            limits,
            on_unavailable: get_s(item, attrs::ON_UNAVAILABLE).and_then(OnUnavailable::parse),
            disabled: DisabledFlag::decode(item.get(attrs::DISABLED)),
            cascade: match item.get(attrs::CASCADE) {
                Some(AttributeValue::Bool(v)) => Some(*v),
                Some(_) => Some(false),
                None => None,
            },
            audit_retention_days: attrs::try_get_n(item, attrs::AUDIT_RETENTION_DAYS).map_err(|reason| {
                let (pk, sk) = attrs::item_keys(item);
                Error::CorruptItem { pk, sk, reason }
            })?,
        })
    }
}

/// Decodes the limits of a config item (discovery: every `l_{name}_cp`), refusing
/// session windows, schedules, reset schedules and soft limits.
pub fn decode_limits(item: &Item) -> Result<Vec<Limit>> {
    let (pk, sk) = attrs::item_keys(item);
    let location = || format!("config item {pk} / {sk}");
    let unsupported = |feature: &str| Error::Unsupported {
        feature: feature.to_string(),
        location: location(),
    };
    if item.contains_key(attrs::SCHED_TZ) {
        return Err(unsupported("scheduled limit (sched_tz)"));
    }
    let mut names: Vec<&str> = Vec::new();
    for attr in item.keys() {
        if attr.starts_with(WINDOW_LIMIT_ATTR_PREFIX) && strip_capacity_field(attr).is_some() {
            return Err(unsupported(&format!("session-window limit ({attr})")));
        }
        if let Some(rest) = attr.strip_prefix(LIMIT_ATTR_PREFIX) {
            let Some((name, field)) = rest.rsplit_once('_') else {
                continue;
            };
            if name.is_empty() {
                continue;
            }
            match field {
                FIELD_CP => names.push(name),
                FIELD_SCHED => return Err(unsupported(&format!("parameter schedule ({attr})"))),
                FIELD_RSCHED => return Err(unsupported(&format!("calendar quota ({attr})"))),
                FIELD_RSA => return Err(unsupported(&format!("session-window limit ({attr})"))),
                FIELD_SOFT => return Err(unsupported(&format!("soft limit ({attr})"))),
                _ => {}
            }
        }
    }
    names.sort_unstable();
    names
        .into_iter()
        .map(|name| {
            let corrupt = |reason: String| Error::CorruptItem {
                pk: pk.clone(),
                sk: sk.clone(),
                reason,
            };
            let get = |field: &str| {
                attrs::try_get_n(item, &limit_attr(name, field))
                    .map(|v| v.unwrap_or(0))
                    .map_err(|e| corrupt(format!("limit {name:?} cannot be reconstructed: {e}")))
            };
            let (cp, ra, rp) = (get(FIELD_CP)?, get(FIELD_RA)?, get(FIELD_RP)?);
            Limit::custom(name, cp, ra, rp).map_err(|e| corrupt(format!("limit {name:?} cannot be reconstructed: {e}")))
        })
        .collect()
}

/// Reads the `disabled` flag of any config item.
pub fn decode_disabled(item: &Item) -> Option<DisabledFlag> {
    DisabledFlag::decode(item.get(attrs::DISABLED))
}

/// Reads the `cascade` policy of any config item.
pub fn decode_cascade(item: &Item) -> Option<bool> {
    item.get(attrs::CASCADE)
        .map(|v| matches!(v, AttributeValue::Bool(true)))
}

/// Whether a config item's `disabled` attribute is a `BOOL`.
pub fn has_bool_disabled(item: &Item) -> bool {
    get_bool(item, attrs::DISABLED).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpm(n: i64) -> Limit {
        Limit::per_minute("rpm", n, None).unwrap()
    }

    #[test]
    fn system_item_matches_vector_v2() {
        let item = ConfigItem::new(ConfigLevel::System, vec![rpm(100)]).to_item("ZCtndc_pcZY");
        let expected: Item = [
            ("PK", s("ZCtndc_pcZY/SYSTEM#")),
            ("SK", s("#CONFIG")),
            ("config_version", n(1)),
            ("l_rpm_cp", n(100)),
            ("l_rpm_ra", n(100)),
            ("l_rpm_rp", n(60)),
            ("GSI4PK", s("ZCtndc_pcZY")),
            ("GSI4SK", s("ZCtndc_pcZY/SYSTEM#")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(item, expected);
    }

    #[test]
    fn entity_item_matches_vector_v3() {
        let level = ConfigLevel::Entity {
            entity_id: "user-1".into(),
            resource: "gpt-4".into(),
        };
        let item = ConfigItem::new(level.clone(), vec![rpm(10)]).to_item("ZCtndc_pcZY");
        assert_eq!(item.len(), 12);
        assert_eq!(item["SK"], s("#CONFIG#gpt-4"));
        assert_eq!(item["GSI3PK"], s("ZCtndc_pcZY/ENTITY_CONFIG#gpt-4"));
        assert_eq!(item["GSI3SK"], s("user-1"));
        assert_eq!(item["GSI4SK"], s("ZCtndc_pcZY/ENTITY#user-1"));
        let back = ConfigItem::decode(level, &item).unwrap();
        assert_eq!(back.limits, vec![rpm(10)]);
        assert_eq!(back.disabled, None);
    }

    #[test]
    fn resource_item_carries_flags() {
        let mut cfg = ConfigItem::new(ConfigLevel::Resource("api".into()), vec![rpm(5)]);
        cfg.disabled = Some(DisabledFlag::Enforced);
        cfg.cascade = Some(true);
        let item = cfg.to_item("ns");
        assert_eq!(item["resource"], s("api"));
        assert_eq!(item["disabled"], attrs::b(false));
        assert_eq!(item["GSI4SK"], s("ns/RESOURCE#api"));
        assert_eq!(ConfigItem::decode(cfg.level.clone(), &item).unwrap(), cfg);
    }

    #[test]
    fn refuses_features_it_does_not_implement() {
        let mut item = ConfigItem::new(ConfigLevel::System, vec![rpm(5)]).to_item("ns");
        item.insert("l_tpm_soft".into(), attrs::b(true));
        assert!(matches!(decode_limits(&item), Err(Error::Unsupported { .. })));
        let mut item = ConfigItem::new(ConfigLevel::System, vec![]).to_item("ns");
        item.insert("w_session_cp".into(), n(50));
        let err = decode_limits(&item).unwrap_err().to_string();
        assert!(err.contains("session-window"), "{err}");
        let mut item = ConfigItem::new(ConfigLevel::System, vec![rpm(1)]).to_item("ns");
        item.insert("sched_tz".into(), s("UTC"));
        assert!(decode_limits(&item).is_err());
    }

    #[test]
    fn limit_numbers_beyond_i64_are_named_in_the_error() {
        for attr in ["l_rpm_cp", "l_rpm_ra", "l_rpm_rp"] {
            let mut item = ConfigItem::new(ConfigLevel::System, vec![rpm(5)]).to_item("ns");
            item.insert(attr.into(), AttributeValue::N("18446744073709551616000".into()));
            let err = decode_limits(&item).unwrap_err().to_string();
            assert!(err.contains(attr) && err.contains("64-bit range"), "{err}");
        }
        // Within i64 but above zae-limiter's bounds: the bound is named.
        let mut item = ConfigItem::new(ConfigLevel::System, vec![rpm(5)]).to_item("ns");
        item.insert("l_rpm_cp".into(), n(i64::MAX));
        let err = decode_limits(&item).unwrap_err().to_string();
        assert!(err.contains("capacity must be at most"), "{err}");
        let mut item = ConfigItem::new(ConfigLevel::System, vec![]).to_item("ns");
        item.insert("audit_retention_days".into(), AttributeValue::N("1e40".into()));
        assert!(ConfigItem::decode(ConfigLevel::System, &item).is_err());
    }

    #[test]
    fn limit_names_may_contain_underscores() {
        let l = Limit::per_minute("tok_out", 7, None).unwrap();
        let item = ConfigItem::new(ConfigLevel::System, vec![l.clone()]).to_item("ns");
        assert_eq!(decode_limits(&item).unwrap(), vec![l]);
    }

    #[test]
    fn unknown_disabled_string_reads_as_enforced() {
        assert_eq!(DisabledFlag::decode(Some(&s("weird"))), Some(DisabledFlag::Enforced));
        assert_eq!(DisabledFlag::decode(Some(&s("bypass"))), Some(DisabledFlag::Bypass));
        assert_eq!(DisabledFlag::decode(None), None);
    }
}
