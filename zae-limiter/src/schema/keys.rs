//! Key formats (wire-format §3.1): every partition key, sort key and GSI key a zae-limiter
//! table uses.
//!
//! Partition keys (and GSI hash keys except GSI4) are prefixed `{ns}/` with the opaque
//! namespace id; sort keys never are. Table-level records live in the reserved
//! namespace `_`.

/// The reserved namespace for table-level records (`_/SYSTEM#`).
pub const RESERVED_NAMESPACE: &str = "_";
/// The namespace name `zae-limiter deploy` registers.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Reserved resource name for entity-wide configs (`#CONFIG#_default_`).
pub const DEFAULT_RESOURCE: &str = "_default_";

/// `ENTITY#` partition-key prefix.
pub const ENTITY_PREFIX: &str = "ENTITY#";
/// `PARENT#` GSI1 prefix.
pub const PARENT_PREFIX: &str = "PARENT#";
/// `CHILD#` GSI1 sort-key prefix.
pub const CHILD_PREFIX: &str = "CHILD#";
/// `RESOURCE#` prefix.
pub const RESOURCE_PREFIX: &str = "RESOURCE#";
/// `SYSTEM#` prefix.
pub const SYSTEM_PREFIX: &str = "SYSTEM#";
/// `ENTITY_CONFIG#` GSI3 prefix.
pub const ENTITY_CONFIG_PREFIX: &str = "ENTITY_CONFIG#";
/// `BUCKET#` prefix (bucket PKs and GSI sort keys).
pub const BUCKET_PREFIX: &str = "BUCKET#";
/// `AUDIT#` prefix.
pub const AUDIT_PREFIX: &str = "AUDIT#";

/// Sort key of a bucket item.
pub const SK_STATE: &str = "#STATE";
/// Sort key of an entity's META item.
pub const SK_META: &str = "#META";
/// Sort key of the version record.
pub const SK_VERSION: &str = "#VERSION";
/// Sort key of system/resource config items (entity configs append `#{resource}`).
pub const SK_CONFIG: &str = "#CONFIG";
/// Sort key of the resource registry.
pub const SK_RESOURCES: &str = "#RESOURCES";
/// Sort key of the entity-config registry.
pub const SK_ENTITY_CONFIG_RESOURCES: &str = "#ENTITY_CONFIG_RESOURCES";
/// Sort-key prefix of namespace forward records.
pub const SK_NAMESPACE_PREFIX: &str = "#NAMESPACE#";
/// Sort-key prefix of namespace reverse records.
pub const SK_NSID_PREFIX: &str = "#NSID#";
/// Sort key of the provisioner state record.
pub const SK_PROVISIONER: &str = "#PROVISIONER";
/// Sort-key prefix of audit events.
pub const SK_AUDIT_PREFIX: &str = "#AUDIT#";
/// Sort-key prefix of usage snapshots.
pub const SK_USAGE_PREFIX: &str = "#USAGE#";
/// Sort-key prefix of reset/top-up operation records.
pub const SK_OPERATION_PREFIX: &str = "#OP#";

/// `{ns}/ENTITY#{entity_id}`.
pub fn pk_entity(ns: &str, entity_id: &str) -> String {
    format!("{ns}/{ENTITY_PREFIX}{entity_id}")
}

/// `{ns}/SYSTEM#`.
pub fn pk_system(ns: &str) -> String {
    format!("{ns}/{SYSTEM_PREFIX}")
}

/// `_/SYSTEM#`, the partition of table-level records (version, namespace registry).
pub fn pk_table_system() -> String {
    pk_system(RESERVED_NAMESPACE)
}

/// `{ns}/RESOURCE#{resource}`.
pub fn pk_resource(ns: &str, resource: &str) -> String {
    format!("{ns}/{RESOURCE_PREFIX}{resource}")
}

/// `{ns}/AUDIT#{entity_id}`.
pub fn pk_audit(ns: &str, entity_id: &str) -> String {
    format!("{ns}/{AUDIT_PREFIX}{entity_id}")
}

/// `{ns}/BUCKET#{entity_id}#{resource}#{shard}`.
pub fn pk_bucket(ns: &str, entity_id: &str, resource: &str, shard: u32) -> String {
    format!("{ns}/{BUCKET_PREFIX}{entity_id}#{resource}#{shard}")
}

/// `#CONFIG` (system, resource) or `#CONFIG#{resource}` (entity).
pub fn sk_config(resource: Option<&str>) -> String {
    match resource {
        Some(r) => format!("{SK_CONFIG}#{r}"),
        None => SK_CONFIG.to_string(),
    }
}

/// `#NAMESPACE#{name}`.
pub fn sk_namespace(name: &str) -> String {
    format!("{SK_NAMESPACE_PREFIX}{name}")
}

/// `#NSID#{id}`.
pub fn sk_nsid(id: &str) -> String {
    format!("{SK_NSID_PREFIX}{id}")
}

/// `#AUDIT#{event_id}`.
pub fn sk_audit(event_id: &str) -> String {
    format!("{SK_AUDIT_PREFIX}{event_id}")
}

/// `#USAGE#{resource}#{window_start}`.
pub fn sk_usage(resource: &str, window_start: &str) -> String {
    format!("{SK_USAGE_PREFIX}{resource}#{window_start}")
}

/// `#OP#{operation_id}`.
pub fn sk_operation(operation_id: &str) -> String {
    format!("{SK_OPERATION_PREFIX}{operation_id}")
}

/// GSI1 hash key `{ns}/PARENT#{parent_id}`.
pub fn gsi1_pk_parent(ns: &str, parent_id: &str) -> String {
    format!("{ns}/{PARENT_PREFIX}{parent_id}")
}

/// GSI1 range key `CHILD#{entity_id}`.
pub fn gsi1_sk_child(entity_id: &str) -> String {
    format!("{CHILD_PREFIX}{entity_id}")
}

/// GSI2 hash key `{ns}/RESOURCE#{resource}`.
pub fn gsi2_pk_resource(ns: &str, resource: &str) -> String {
    pk_resource(ns, resource)
}

/// GSI2 range key of a bucket, `BUCKET#{entity_id}#{shard}`.
pub fn gsi2_sk_bucket(entity_id: &str, shard: u32) -> String {
    format!("{BUCKET_PREFIX}{entity_id}#{shard}")
}

/// GSI2 range key of a usage snapshot, `USAGE#{window_start}#{entity_id}`.
pub fn gsi2_sk_usage(window_start: &str, entity_id: &str) -> String {
    format!("USAGE#{window_start}#{entity_id}")
}

/// GSI3 hash key of an entity config, `{ns}/ENTITY_CONFIG#{resource}`.
pub fn gsi3_pk_entity_config(ns: &str, resource: &str) -> String {
    format!("{ns}/{ENTITY_CONFIG_PREFIX}{resource}")
}

/// GSI3 hash key of a bucket, `{ns}/ENTITY#{entity_id}`.
pub fn gsi3_pk_entity(ns: &str, entity_id: &str) -> String {
    pk_entity(ns, entity_id)
}

/// GSI3 range key of a bucket, `BUCKET#{resource}#{shard}`.
pub fn gsi3_sk_bucket(resource: &str, shard: u32) -> String {
    format!("{BUCKET_PREFIX}{resource}#{shard}")
}

/// GSI4 range key of a bucket, `BUCKET#{entity_id}#{resource}#{shard}`.
pub fn gsi4_sk_bucket(entity_id: &str, resource: &str, shard: u32) -> String {
    format!("{BUCKET_PREFIX}{entity_id}#{resource}#{shard}")
}

/// A bucket partition key taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketKey {
    /// Namespace id.
    pub namespace_id: String,
    /// Owning entity.
    pub entity_id: String,
    /// Resource.
    pub resource: String,
    /// Shard index.
    pub shard: u32,
}

/// Parses `{ns}/BUCKET#{entity}#{resource}#{shard}`: the last `#` separates the shard,
/// the first remaining `#` separates entity from resource.
pub fn parse_bucket_pk(pk: &str) -> Option<BucketKey> {
    let (ns, rest) = pk.split_once('/')?;
    let rest = rest.strip_prefix(BUCKET_PREFIX)?;
    let (entity_resource, shard) = rest.rsplit_once('#')?;
    let (entity, resource) = entity_resource.split_once('#')?;
    Some(BucketKey {
        namespace_id: ns.to_string(),
        entity_id: entity.to_string(),
        resource: resource.to_string(),
        shard: shard.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_spec_formats() {
        assert_eq!(pk_entity("ns", "user-1"), "ns/ENTITY#user-1");
        assert_eq!(pk_table_system(), "_/SYSTEM#");
        assert_eq!(pk_resource("ns", "openai/gpt-4"), "ns/RESOURCE#openai/gpt-4");
        assert_eq!(pk_audit("ns", "$SYSTEM"), "ns/AUDIT#$SYSTEM");
        assert_eq!(pk_bucket("ns", "e", "gpt-4", 3), "ns/BUCKET#e#gpt-4#3");
        assert_eq!(sk_config(None), "#CONFIG");
        assert_eq!(sk_config(Some("_default_")), "#CONFIG#_default_");
        assert_eq!(sk_namespace("tenant-alpha"), "#NAMESPACE#tenant-alpha");
        assert_eq!(sk_nsid("ZCtndc_pcZY"), "#NSID#ZCtndc_pcZY");
        assert_eq!(
            sk_usage("gpt-4", "2026-11-23T02:00:00Z"),
            "#USAGE#gpt-4#2026-11-23T02:00:00Z"
        );
        assert_eq!(gsi1_pk_parent("ns", "p"), "ns/PARENT#p");
        assert_eq!(gsi1_sk_child("c"), "CHILD#c");
        assert_eq!(gsi2_sk_bucket("e", 0), "BUCKET#e#0");
        assert_eq!(gsi3_pk_entity_config("ns", "gpt-4"), "ns/ENTITY_CONFIG#gpt-4");
        assert_eq!(gsi3_sk_bucket("gpt-4", 1), "BUCKET#gpt-4#1");
        assert_eq!(gsi4_sk_bucket("e", "r", 2), "BUCKET#e#r#2");
        assert_eq!(sk_operation("01X"), "#OP#01X");
    }

    #[test]
    fn parses_bucket_pks_with_slashes_and_colons_in_the_resource() {
        let key = parse_bucket_pk("ZCtndc_pcZY/BUCKET#user-1#openai/gpt-4:8b#12").unwrap();
        assert_eq!(key.namespace_id, "ZCtndc_pcZY");
        assert_eq!(key.entity_id, "user-1");
        assert_eq!(key.resource, "openai/gpt-4:8b");
        assert_eq!(key.shard, 12);
        assert!(parse_bucket_pk("ns/ENTITY#x").is_none());
        assert!(parse_bucket_pk("ns/BUCKET#x#1").is_none());
    }
}
