//! The version record `_/SYSTEM#` / `#VERSION` (wire-format §1.2).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::attrs::{self, Item, get_s, null, s};
use super::keys::{RESERVED_NAMESPACE, SK_VERSION, pk_table_system};
use crate::version::{DEFAULT_CLIENT_MIN_VERSION, InfrastructureVersion};

/// `schema_version`.
pub const SCHEMA_VERSION: &str = "schema_version";
/// `client_min_version`.
pub const CLIENT_MIN_VERSION: &str = "client_min_version";
/// `lambda_version`.
pub const LAMBDA_VERSION: &str = "lambda_version";
/// `updated_at`.
pub const UPDATED_AT: &str = "updated_at";
/// `updated_by`.
pub const UPDATED_BY: &str = "updated_by";

/// Key of the version record.
pub fn version_key() -> Item {
    attrs::key(pk_table_system(), SK_VERSION)
}

/// The version record as stored (absent or `NULL` attributes are `None`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionRecord {
    /// `schema_version`.
    pub schema_version: Option<String>,
    /// `client_min_version`.
    pub client_min_version: Option<String>,
    /// `lambda_version` (`None` = unknown).
    pub lambda_version: Option<String>,
    /// `updated_at`.
    pub updated_at: Option<String>,
    /// `updated_by` (`cli:0.17.0`, `client:0.17.0`, …).
    pub updated_by: Option<String>,
}

impl VersionRecord {
    /// Decodes the record.
    pub fn decode(item: &Item) -> VersionRecord {
        let get = |name: &str| get_s(item, name).map(str::to_string);
        VersionRecord {
            schema_version: get(SCHEMA_VERSION),
            client_min_version: get(CLIENT_MIN_VERSION),
            lambda_version: get(LAMBDA_VERSION),
            updated_at: get(UPDATED_AT),
            updated_by: get(UPDATED_BY),
        }
    }

    /// The fields the compatibility rule reads, with zae-limiter's defaults
    /// (`schema_version` → `1.0.0`, `client_min_version` → `0.0.0`; empty strings count
    /// as absent).
    pub fn infrastructure_version(&self) -> InfrastructureVersion {
        let or = |v: &Option<String>, d: &str| v.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| d.to_string());
        InfrastructureVersion {
            schema_version: or(&self.schema_version, "1.0.0"),
            lambda_version: self.lambda_version.clone().filter(|s| !s.is_empty()),
            client_min_version: or(&self.client_min_version, DEFAULT_CLIENT_MIN_VERSION),
        }
    }
}

/// The parameters of one `UpdateItem` (besides table name).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    /// `Key`.
    pub key: Item,
    /// `UpdateExpression`.
    pub update_expression: String,
    /// `ConditionExpression`, if any.
    pub condition_expression: Option<String>,
    /// `ExpressionAttributeNames`.
    pub names: HashMap<String, String>,
    /// `ExpressionAttributeValues`.
    pub values: HashMap<String, AttributeValue>,
}

/// The deploy/upgrade write (wire-format §1.2, vector V0): sets `schema_version`,
/// `updated_at`, `lambda_version` (`NULL` when `None`), `updated_by` (`NULL` when
/// empty) and the GSI4 keys, and `client_min_version = if_not_exists(…, "0.0.0")` so a
/// deploy never lowers a ratcheted minimum.
pub fn deploy_update(schema_version: &str, lambda_version: Option<&str>, updated_by: &str, now: &str) -> UpdateRequest {
    let values = HashMap::from([
        (":schema".to_string(), s(schema_version)),
        (":min".to_string(), s(DEFAULT_CLIENT_MIN_VERSION)),
        (":now".to_string(), s(now)),
        (
            ":lambda".to_string(),
            lambda_version.filter(|l| !l.is_empty()).map_or_else(null, s),
        ),
        (
            ":by".to_string(),
            if updated_by.is_empty() { null() } else { s(updated_by) },
        ),
        (":gsi4pk".to_string(), s(RESERVED_NAMESPACE)),
        (":gsi4sk".to_string(), s(pk_table_system())),
    ]);
    UpdateRequest {
        key: version_key(),
        update_expression: "SET schema_version = :schema, #min = if_not_exists(#min, :min), updated_at = :now, \
                            lambda_version = :lambda, updated_by = :by, GSI4PK = :gsi4pk, GSI4SK = :gsi4sk"
            .to_string(),
        condition_expression: None,
        names: HashMap::from([("#min".to_string(), CLIENT_MIN_VERSION.to_string())]),
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_update_matches_vector_v0() {
        let req = deploy_update("0.10.0", Some("0.17.0"), "cli:0.17.0", "2026-11-23T02:17:15Z");
        assert_eq!(
            req.update_expression,
            concat!(
                "SET schema_version = :schema, #min = if_not_exists(#min, :min), updated_at = :now, ",
                "lambda_version = :lambda, updated_by = :by, GSI4PK = :gsi4pk, GSI4SK = :gsi4sk",
            )
        );
        assert_eq!(req.names["#min"], "client_min_version");
        assert_eq!(req.values[":lambda"], AttributeValue::S("0.17.0".into()));
        assert_eq!(req.values[":min"], AttributeValue::S("0.0.0".into()));
        assert_eq!(req.values[":gsi4sk"], AttributeValue::S("_/SYSTEM#".into()));
        assert_eq!(req.values.len(), 7);
        let req = deploy_update("0.10.0", None, "", "t");
        assert_eq!(req.values[":lambda"], AttributeValue::Null(true));
        assert_eq!(req.values[":by"], AttributeValue::Null(true));
    }

    #[test]
    fn decoding_applies_defaults() {
        let mut item = version_key();
        item.insert("lambda_version".into(), AttributeValue::Null(true));
        let rec = VersionRecord::decode(&item);
        assert_eq!(rec.lambda_version, None);
        let infra = rec.infrastructure_version();
        assert_eq!(infra.schema_version, "1.0.0");
        assert_eq!(infra.client_min_version, "0.0.0");
    }
}
