//! Namespace registry records (wire-format §3.2): a forward record `#NAMESPACE#{name}` and a
//! reverse record `#NSID#{id}`, both under `_/SYSTEM#`.

use super::attrs::{self, Item, get_s, s};
use super::keys::{RESERVED_NAMESPACE, pk_table_system, sk_namespace, sk_nsid};
use crate::error::{Error, Result};

/// `namespace_id`.
pub const NAMESPACE_ID: &str = "namespace_id";
/// `namespace_name`.
pub const NAMESPACE_NAME: &str = "namespace_name";
/// `status`.
pub const STATUS: &str = "status";
/// `deleted_at` (reverse record only).
pub const DELETED_AT: &str = "deleted_at";

/// Lifecycle state of a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceStatus {
    /// In use.
    Active,
    /// Soft-deleted: forward record gone, data orphaned, recoverable.
    Deleted,
    /// Purge in progress (terminal).
    Purging,
    /// Any other stored value.
    Other(String),
}

impl NamespaceStatus {
    /// The stored string.
    pub fn as_str(&self) -> &str {
        match self {
            NamespaceStatus::Active => "active",
            NamespaceStatus::Deleted => "deleted",
            NamespaceStatus::Purging => "purging",
            NamespaceStatus::Other(s) => s,
        }
    }

    /// Parses a stored value.
    pub fn parse(value: &str) -> NamespaceStatus {
        match value {
            "active" => NamespaceStatus::Active,
            "deleted" => NamespaceStatus::Deleted,
            "purging" => NamespaceStatus::Purging,
            other => NamespaceStatus::Other(other.to_string()),
        }
    }

    /// Whether name resolution treats the namespace as present (`deleted` and `purging`
    /// resolve as not found).
    pub fn resolves(&self) -> bool {
        !matches!(self, NamespaceStatus::Deleted | NamespaceStatus::Purging)
    }
}

/// One namespace as the registry stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceRecord {
    /// Opaque id (11-character base64url, or `default` on migrated tables).
    pub id: String,
    /// Human name.
    pub name: String,
    /// Lifecycle state.
    pub status: NamespaceStatus,
    /// Creation time, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created_at: String,
    /// Soft-delete time (reverse record only).
    pub deleted_at: Option<String>,
}

impl NamespaceRecord {
    /// A new active namespace.
    pub fn new_active(id: &str, name: &str, created_at: &str) -> NamespaceRecord {
        NamespaceRecord {
            id: id.to_string(),
            name: name.to_string(),
            status: NamespaceStatus::Active,
            created_at: created_at.to_string(),
            deleted_at: None,
        }
    }

    fn common(&self, sk: String) -> Item {
        let mut item = attrs::key(pk_table_system(), sk);
        item.insert(NAMESPACE_ID.into(), s(&self.id));
        item.insert(NAMESPACE_NAME.into(), s(&self.name));
        item.insert(STATUS.into(), s(self.status.as_str()));
        item.insert(attrs::CREATED_AT.into(), s(&self.created_at));
        item.insert(attrs::GSI4PK.into(), s(RESERVED_NAMESPACE));
        item.insert(attrs::GSI4SK.into(), s(pk_table_system()));
        item
    }

    /// The forward record `#NAMESPACE#{name}` (never carries `deleted_at`).
    pub fn forward_item(&self) -> Item {
        self.common(sk_namespace(&self.name))
    }

    /// The reverse record `#NSID#{id}`.
    pub fn reverse_item(&self) -> Item {
        let mut item = self.common(sk_nsid(&self.id));
        if let Some(deleted_at) = &self.deleted_at {
            item.insert(DELETED_AT.into(), s(deleted_at));
        }
        item
    }

    /// Decodes either record.
    pub fn decode(item: &Item) -> Result<NamespaceRecord> {
        let corrupt = |reason: &str| {
            let (pk, sk) = attrs::item_keys(item);
            Error::CorruptItem {
                pk,
                sk,
                reason: reason.to_string(),
            }
        };
        Ok(NamespaceRecord {
            id: get_s(item, NAMESPACE_ID)
                .ok_or_else(|| corrupt("missing namespace_id"))?
                .to_string(),
            name: get_s(item, NAMESPACE_NAME)
                .ok_or_else(|| corrupt("missing namespace_name"))?
                .to_string(),
            status: NamespaceStatus::parse(get_s(item, STATUS).unwrap_or("")),
            created_at: get_s(item, attrs::CREATED_AT).unwrap_or("").to_string(),
            deleted_at: get_s(item, DELETED_AT).map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    #[test]
    fn forward_and_reverse_match_vector_v1() {
        let rec = NamespaceRecord::new_active("ZCtndc_pcZY", "tenant-alpha", "2026-11-23T02:17:15Z");
        let fwd = rec.forward_item();
        assert_eq!(fwd.len(), 8);
        assert_eq!(fwd["PK"], AttributeValue::S("_/SYSTEM#".into()));
        assert_eq!(fwd["SK"], AttributeValue::S("#NAMESPACE#tenant-alpha".into()));
        assert_eq!(fwd["status"], AttributeValue::S("active".into()));
        assert_eq!(fwd["GSI4PK"], AttributeValue::S("_".into()));
        assert_eq!(fwd["GSI4SK"], AttributeValue::S("_/SYSTEM#".into()));
        let rev = rec.reverse_item();
        assert_eq!(rev["SK"], AttributeValue::S("#NSID#ZCtndc_pcZY".into()));
        assert_eq!(NamespaceRecord::decode(&rev).unwrap(), rec);
    }

    #[test]
    fn deleted_reverse_record_carries_deleted_at() {
        let mut rec = NamespaceRecord::new_active("id", "n", "t0");
        rec.status = NamespaceStatus::Deleted;
        rec.deleted_at = Some("t1".into());
        let rev = rec.reverse_item();
        assert_eq!(rev["deleted_at"], AttributeValue::S("t1".into()));
        assert!(!rec.forward_item().contains_key("deleted_at"));
        assert!(!NamespaceStatus::Deleted.resolves());
        assert!(!NamespaceStatus::Purging.resolves());
        assert!(NamespaceStatus::Active.resolves());
    }
}
