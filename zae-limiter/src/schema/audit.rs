//! Audit events (wire-format §3.10): `{ns}/AUDIT#{entity_id}` / `#AUDIT#{ulid}`.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use super::attrs::{self, Item, get_s, null, s};
use super::keys::{pk_audit, sk_audit};
use crate::error::{Error, Result};
use crate::limit::Limit;

/// Default audit retention (days) when the system config sets none.
pub const DEFAULT_AUDIT_RETENTION_DAYS: i64 = 90;

/// The `action` of an audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// `entity_created`.
    EntityCreated,
    /// `entity_deleted`.
    EntityDeleted,
    /// `limits_set`.
    LimitsSet,
    /// `limits_deleted`.
    LimitsDeleted,
    /// `entity_parent_changed`.
    EntityParentChanged,
    /// `bucket_reset`.
    BucketReset,
    /// `bucket_topped_up`.
    BucketToppedUp,
}

impl AuditAction {
    /// Stored string.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::EntityCreated => "entity_created",
            AuditAction::EntityDeleted => "entity_deleted",
            AuditAction::LimitsSet => "limits_set",
            AuditAction::LimitsDeleted => "limits_deleted",
            AuditAction::EntityParentChanged => "entity_parent_changed",
            AuditAction::BucketReset => "bucket_reset",
            AuditAction::BucketToppedUp => "bucket_topped_up",
        }
    }
}

/// zae-limiter's `Limit.to_dict()` for a dripping limit.
pub fn limit_to_json(limit: &Limit) -> Value {
    json!({
        "name": limit.name(),
        "capacity": limit.capacity(),
        "refill_amount": limit.refill_amount(),
        "refill_period_seconds": limit.refill_period_seconds(),
    })
}

/// One audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// ULID.
    pub event_id: String,
    /// Entity id or pseudo entity (`$SYSTEM`, `$RESOURCE:{r}`).
    pub entity_id: String,
    /// Action.
    pub action: String,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub timestamp: String,
    /// Who did it (`None` = `NULL`).
    pub principal: Option<String>,
    /// Resource (`None` = `NULL`).
    pub resource: Option<String>,
    /// Action-specific details (a JSON object).
    pub details: Value,
    /// Expiry, epoch seconds.
    pub ttl: i64,
}

impl AuditEvent {
    /// The item in namespace `ns`.
    pub fn to_item(&self, ns: &str) -> Item {
        let pk = pk_audit(ns, &self.entity_id);
        let mut item = attrs::key(pk.clone(), sk_audit(&self.event_id));
        item.insert(attrs::ENTITY_ID.into(), s(&self.entity_id));
        item.insert("event_id".into(), s(&self.event_id));
        item.insert("timestamp".into(), s(&self.timestamp));
        item.insert("action".into(), s(&self.action));
        let opt = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map_or_else(null, s);
        item.insert("principal".into(), opt(&self.principal));
        item.insert(attrs::RESOURCE.into(), opt(&self.resource));
        let details = match attrs::from_json(&self.details) {
            m @ AttributeValue::M(_) => m,
            _ => AttributeValue::M(Default::default()),
        };
        item.insert("details".into(), details);
        item.insert(attrs::TTL.into(), attrs::n(self.ttl));
        item.insert(attrs::GSI4PK.into(), s(ns));
        item.insert(attrs::GSI4SK.into(), s(pk));
        item
    }

    /// Decodes an audit item.
    pub fn decode(item: &Item) -> Result<AuditEvent> {
        let req = |name: &str| {
            get_s(item, name).map(str::to_string).ok_or_else(|| {
                let (pk, sk) = attrs::item_keys(item);
                Error::CorruptItem {
                    pk,
                    sk,
                    reason: format!("audit event without {name}"),
                }
            })
        };
        Ok(AuditEvent {
            event_id: req("event_id")?,
            entity_id: req(attrs::ENTITY_ID)?,
            action: req("action")?,
            timestamp: req("timestamp")?,
            principal: get_s(item, "principal").map(str::to_string),
            resource: get_s(item, attrs::RESOURCE).map(str::to_string),
            details: item.get("details").map(attrs::to_json).unwrap_or(Value::Null),
            ttl: attrs::try_get_n(item, attrs::TTL)
                .map_err(|reason| {
                    let (pk, sk) = attrs::item_keys(item);
                    Error::CorruptItem { pk, sk, reason }
                })?
                .unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_vector_v2_audit_item() {
        let ev = AuditEvent {
            event_id: "01M8332YKCJDMWYVE2YAD6RZC1".into(),
            entity_id: "$SYSTEM".into(),
            action: AuditAction::LimitsSet.as_str().into(),
            timestamp: "2026-11-23T02:17:15Z".into(),
            principal: Some("arn:aws:sts::123456789012:user/moto".into()),
            resource: None,
            details: json!({
                "limits": [limit_to_json(&Limit::per_minute("rpm", 100, None).unwrap())],
                "on_unavailable": null
            }),
            ttl: 1_803_176_235,
        };
        let item = ev.to_item("ZCtndc_pcZY");
        assert_eq!(item.len(), 12);
        assert_eq!(item["PK"], s("ZCtndc_pcZY/AUDIT#$SYSTEM"));
        assert_eq!(item["SK"], s("#AUDIT#01M8332YKCJDMWYVE2YAD6RZC1"));
        assert_eq!(item["resource"], AttributeValue::Null(true));
        assert_eq!(item["GSI4SK"], s("ZCtndc_pcZY/AUDIT#$SYSTEM"));
        let AttributeValue::M(details) = &item["details"] else {
            panic!()
        };
        assert_eq!(details["on_unavailable"], AttributeValue::Null(true));
        let AttributeValue::L(limits) = &details["limits"] else {
            panic!()
        };
        let AttributeValue::M(l0) = &limits[0] else { panic!() };
        assert_eq!(l0["capacity"], AttributeValue::N("100".into()));
        assert_eq!(l0["refill_period_seconds"], AttributeValue::N("60".into()));
        assert_eq!(AuditEvent::decode(&item).unwrap(), ev);
        let mut beyond = item.clone();
        beyond.insert("ttl".into(), AttributeValue::N("9223372036854775808".into()));
        let err = AuditEvent::decode(&beyond).unwrap_err().to_string();
        assert!(err.contains("ttl = 9223372036854775808"), "{err}");
    }
}
