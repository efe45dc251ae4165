//! Composite bucket items (wire-format §3.8): one item per entity × resource × shard holding
//! every limit as `b_{name}_{tk,cp,ra,rp,tc}` (millitokens / ms) around one shared
//! refill timestamp `rf`, plus the auto-injected `wcu` limit.

use super::attrs::{self, Item, get_s, n, s, try_get_n};
use super::keys::{
    SK_STATE, gsi2_pk_resource, gsi2_sk_bucket, gsi3_pk_entity, gsi3_sk_bucket, gsi4_sk_bucket, parse_bucket_pk,
    pk_bucket,
};
use crate::error::{Error, Result};
use crate::limit::Limit;

/// Prefix of per-limit bucket attributes.
pub const BUCKET_ATTR_PREFIX: &str = "b_";
/// Balance (millitokens).
pub const FIELD_TK: &str = "tk";
/// Capacity (millitokens, undivided).
pub const FIELD_CP: &str = "cp";
/// Refill amount (millitokens, undivided).
pub const FIELD_RA: &str = "ra";
/// Refill period (ms).
pub const FIELD_RP: &str = "rp";
/// Cumulative net consumption (millitokens).
pub const FIELD_TC: &str = "tc";
/// Soft-limit stamp (deadline, epoch ms).
pub const FIELD_SOFT: &str = "soft";
/// Quota grant count (0.17 quota feature).
pub const FIELD_GC: &str = "gc";
/// Quota top-up (0.17 quota feature).
pub const FIELD_TU: &str = "tu";
/// Quota reset counter (0.17 quota feature).
pub const FIELD_RN: &str = "rn";
/// Session-window reset-after (0.17 session-window feature).
pub const FIELD_RSA: &str = "rsa";
/// Session-window start (0.17 session-window feature).
pub const FIELD_WS: &str = "ws";
/// Session-window amount (0.17 session-window feature).
pub const FIELD_WA: &str = "wa";
/// Session-window consumption (0.17 session-window feature).
pub const FIELD_WTC: &str = "wtc";
/// Per-limit parameter schedule (0.17 schedule feature).
pub const FIELD_SCHED: &str = "sched";
/// Per-limit reset schedule (0.17 calendar-quota feature).
pub const FIELD_RSCHED: &str = "rsched";
/// Shared refill timestamp and optimistic lock.
pub const RF: &str = "rf";
/// Total shard count (shard 0 is the source of truth).
pub const SHARD_COUNT: &str = "shard_count";
/// Valid-until stamp (epoch ms).
pub const VU: &str = "vu";
/// Bypass stamp (deadline, epoch ms).
pub const BYPASS: &str = "bypass";

/// Name of the auto-injected infrastructure limit.
pub const WCU_LIMIT_NAME: &str = "wcu";
/// `wcu` capacity and refill amount, millitokens (1000 writes).
pub const WCU_CAPACITY_MILLI: i64 = 1_000_000;
/// `wcu` refill period, ms.
pub const WCU_REFILL_PERIOD_MS: i64 = 1000;
/// Millitokens one fast-path write debits from `wcu`.
pub const WCU_PER_WRITE_MILLI: i64 = 1000;
/// Largest shard count.
pub const MAX_SHARD_COUNT: u32 = 32;

/// `b_{name}_{field}`.
pub fn bucket_attr(name: &str, field: &str) -> String {
    format!("{BUCKET_ATTR_PREFIX}{name}_{field}")
}

/// The item's `shard_count`, clamped to `1..=MAX_SHARD_COUNT` (`None` when absent). Any
/// stored number clamps, also one beyond `i64` (it cannot wrap into a small count); a
/// fraction truncates, like Python's `int()`.
pub fn stored_shard_count(item: &Item) -> Option<u32> {
    let count = match item.get(SHARD_COUNT) {
        Some(aws_sdk_dynamodb::types::AttributeValue::N(raw)) => raw.parse::<f64>().ok().filter(|c| !c.is_nan())?,
        _ => return None,
    };
    // Clamped into 1..=32 first, so the cast cannot truncate.
    Some(count.clamp(1.0, f64::from(MAX_SHARD_COUNT)) as u32)
}

/// `(name, field)` of a `b_{name}_{field}` attribute (`None` for any other attribute).
fn split_bucket_attr(attr: &str) -> Option<(&str, &str)> {
    attr.strip_prefix(BUCKET_ATTR_PREFIX)?.rsplit_once('_')
}

/// One limit's state on a bucket item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketLimit {
    /// Limit name.
    pub name: String,
    /// Balance, millitokens (negative = debt); stored as `tk`.
    pub tokens_milli: i64,
    /// Capacity, millitokens, undivided; stored as `cp`.
    pub capacity_milli: i64,
    /// Refill amount, millitokens, undivided; stored as `ra`.
    pub refill_amount_milli: i64,
    /// Refill period, ms; stored as `rp`.
    pub refill_period_ms: i64,
    /// Cumulative consumption, millitokens; stored as `tc`.
    pub total_consumed_milli: i64,
}

impl BucketLimit {
    /// A fresh `wcu` limit.
    pub fn fresh_wcu() -> BucketLimit {
        BucketLimit {
            name: WCU_LIMIT_NAME.into(),
            tokens_milli: WCU_CAPACITY_MILLI,
            capacity_milli: WCU_CAPACITY_MILLI,
            refill_amount_milli: WCU_CAPACITY_MILLI,
            refill_period_ms: WCU_REFILL_PERIOD_MS,
            total_consumed_milli: 0,
        }
    }

    /// `limit`'s parameters in bucket units, with an empty balance and no consumption.
    pub fn empty(limit: &Limit) -> BucketLimit {
        BucketLimit {
            name: limit.name().to_string(),
            tokens_milli: 0,
            capacity_milli: limit.capacity_milli(),
            refill_amount_milli: limit.refill_amount_milli(),
            refill_period_ms: limit.refill_period_ms(),
            total_consumed_milli: 0,
        }
    }

    fn insert_into(&self, item: &mut Item) {
        for (field, value) in [
            (FIELD_TK, self.tokens_milli),
            (FIELD_CP, self.capacity_milli),
            (FIELD_RA, self.refill_amount_milli),
            (FIELD_RP, self.refill_period_ms),
            (FIELD_TC, self.total_consumed_milli),
        ] {
            item.insert(bucket_attr(&self.name, field), n(value));
        }
    }
}

/// A bucket item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketItem {
    /// Owning entity.
    pub entity_id: String,
    /// Resource.
    pub resource: String,
    /// Shard index (from the PK).
    pub shard: u32,
    /// Shared refill timestamp / lock (epoch ms); stored as `rf`.
    pub last_refill_ms: i64,
    /// Total shards.
    pub shard_count: u32,
    /// Effective cascade of the owner.
    pub cascade: bool,
    /// Owner's parent.
    pub parent_id: Option<String>,
    /// Owner's parent generation stamp; stored as `pgen`.
    pub parent_generation: Option<i64>,
    /// Owner's incarnation stamp; stored as `pinc`.
    pub owner_incarnation: Option<String>,
    /// Expiry (epoch seconds).
    pub ttl: Option<i64>,
    /// Valid-until stamp (epoch ms), stored as `vu`; `Some(0)` forces one slow pass.
    pub valid_until_ms: Option<i64>,
    /// Whether the bucket is stamped `disabled`.
    pub disabled: bool,
    /// The user limits, in name order (excluding `wcu`).
    pub limits: Vec<BucketLimit>,
    /// The infrastructure limit (`wcu`, write capacity units).
    pub write_capacity_limit: BucketLimit,
}

/// Attributes (or attribute suffixes) of 0.17 features this client refuses to
/// materialise: item-level names and per-limit fields.
const UNSUPPORTED_ITEM_ATTRS: [(&str, &str); 4] = [
    (attrs::SCHED, "parameter schedule"),
    (attrs::RSCHED, "calendar quota"),
    (attrs::SCHED_TZ, "schedule timezone"),
    (BYPASS, "bypass"),
];
const UNSUPPORTED_LIMIT_FIELDS: [(&str, &str); 10] = [
    (FIELD_SOFT, "soft limit"),
    (FIELD_GC, "quota grant count"),
    (FIELD_TU, "quota top-up"),
    (FIELD_RN, "quota reset counter"),
    (FIELD_RSA, "session window"),
    (FIELD_WS, "session window"),
    (FIELD_WA, "session window"),
    (FIELD_WTC, "session window"),
    (FIELD_SCHED, "per-limit schedule"),
    (FIELD_RSCHED, "per-limit reset schedule"),
];

impl BucketItem {
    /// Key of a bucket item.
    pub fn key(ns: &str, entity_id: &str, resource: &str, shard: u32) -> Item {
        attrs::key(pk_bucket(ns, entity_id, resource, shard), SK_STATE)
    }

    /// The full item the create path `Put`s (vectors V4, V6, E1, E2, E14).
    pub fn to_item(&self, ns: &str) -> Item {
        let mut item = BucketItem::key(ns, &self.entity_id, &self.resource, self.shard);
        item.insert(attrs::ENTITY_ID.into(), s(&self.entity_id));
        item.insert(attrs::RESOURCE.into(), s(&self.resource));
        item.insert(RF.into(), n(self.last_refill_ms));
        item.insert(attrs::GSI2PK.into(), s(gsi2_pk_resource(ns, &self.resource)));
        item.insert(attrs::GSI2SK.into(), s(gsi2_sk_bucket(&self.entity_id, self.shard)));
        item.insert(attrs::CASCADE.into(), attrs::b(self.cascade));
        item.insert(attrs::GSI3PK.into(), s(gsi3_pk_entity(ns, &self.entity_id)));
        item.insert(attrs::GSI3SK.into(), s(gsi3_sk_bucket(&self.resource, self.shard)));
        item.insert(attrs::GSI4PK.into(), s(ns));
        item.insert(
            attrs::GSI4SK.into(),
            s(gsi4_sk_bucket(&self.entity_id, &self.resource, self.shard)),
        );
        item.insert(SHARD_COUNT.into(), n(i64::from(self.shard_count)));
        if let Some(parent) = &self.parent_id {
            item.insert(attrs::PARENT_ID.into(), s(parent));
        }
        if let Some(generation) = self.parent_generation {
            item.insert(attrs::PGEN.into(), n(generation));
        }
        if let Some(incarnation) = &self.owner_incarnation {
            item.insert(attrs::PINC.into(), s(incarnation));
        }
        if let Some(ttl) = self.ttl {
            item.insert(attrs::TTL.into(), n(ttl));
        }
        if let Some(valid_until_ms) = self.valid_until_ms {
            item.insert(VU.into(), n(valid_until_ms));
        }
        if self.disabled {
            item.insert(attrs::DISABLED.into(), attrs::b(true));
        }
        self.write_capacity_limit.insert_into(&mut item);
        for limit in &self.limits {
            limit.insert_into(&mut item);
        }
        item
    }

    /// Decodes a bucket item, refusing the 0.17 features this client does not implement.
    pub fn decode(item: &Item) -> Result<BucketItem> {
        if let Some(err) = BucketItem::unsupported_feature(item) {
            return Err(err);
        }
        BucketItem::decode_lenient(item)
    }

    /// The first 0.17 feature on `item` this client does not implement, as the error
    /// [`BucketItem::decode`] would return.
    pub fn unsupported_feature(item: &Item) -> Option<Error> {
        let pk = attrs::get_s(item, "PK").unwrap_or("?");
        let unsupported = |feature: &str, attr: &str| Error::Unsupported {
            feature: format!("{feature} ({attr})"),
            location: format!("bucket {pk}"),
        };
        for (attr, feature) in UNSUPPORTED_ITEM_ATTRS {
            if item.contains_key(attr) {
                return Some(unsupported(feature, attr));
            }
        }
        for attr in item.keys() {
            let Some((_, field)) = split_bucket_attr(attr) else {
                continue;
            };
            if let Some((_, feature)) = UNSUPPORTED_LIMIT_FIELDS.iter().find(|(f, _)| *f == field) {
                return Some(unsupported(feature, attr));
            }
        }
        None
    }

    /// Decodes the core attributes of a bucket item, ignoring attributes of features
    /// this client does not implement (used for fast-path images, whose admission the
    /// server already decided). A number outside `i64` (balances, parameters, `rf`,
    /// `ttl`, `vu`, `pgen`) is [`Error::CorruptItem`], never read as absent or wrapped.
    pub fn decode_lenient(item: &Item) -> Result<BucketItem> {
        let (pk, sk) = attrs::item_keys(item);
        let corrupt = |reason: String| Error::CorruptItem {
            pk: pk.clone(),
            sk: sk.clone(),
            reason,
        };
        let key = parse_bucket_pk(&pk).ok_or_else(|| corrupt("not a bucket partition key".into()))?;
        let mut names: Vec<&str> = Vec::new();
        for attr in item.keys() {
            let Some((name, field)) = split_bucket_attr(attr) else {
                continue;
            };
            if field == FIELD_TK && name != WCU_LIMIT_NAME && item.contains_key(&bucket_attr(name, FIELD_CP)) {
                names.push(name);
            }
        }
        names.sort_unstable();
        let optional = |attr: &str| try_get_n(item, attr).map_err(&corrupt);
        let read_limit = |name: &str| -> Result<BucketLimit> {
            let get = |field: &str| {
                let attr = bucket_attr(name, field);
                optional(&attr)?.ok_or_else(|| corrupt(format!("limit {name:?} lacks a numeric {attr}")))
            };
            Ok(BucketLimit {
                name: name.to_string(),
                tokens_milli: get(FIELD_TK)?,
                capacity_milli: get(FIELD_CP)?,
                refill_amount_milli: get(FIELD_RA)?,
                refill_period_ms: get(FIELD_RP)?,
                total_consumed_milli: optional(&bucket_attr(name, FIELD_TC))?.unwrap_or(0),
            })
        };
        let write_capacity_limit = if item.contains_key(&bucket_attr(WCU_LIMIT_NAME, FIELD_TK)) {
            read_limit(WCU_LIMIT_NAME)?
        } else {
            BucketLimit::fresh_wcu()
        };
        let limits = names.into_iter().map(read_limit).collect::<Result<Vec<_>>>()?;
        Ok(BucketItem {
            entity_id: get_s(item, attrs::ENTITY_ID).unwrap_or(&key.entity_id).to_string(),
            resource: get_s(item, attrs::RESOURCE).unwrap_or(&key.resource).to_string(),
            shard: key.shard,
            last_refill_ms: optional(RF)?.ok_or_else(|| corrupt(format!("missing {RF}")))?,
            shard_count: stored_shard_count(item).unwrap_or(1),
            cascade: attrs::get_bool(item, attrs::CASCADE).unwrap_or(false),
            parent_id: get_s(item, attrs::PARENT_ID).map(str::to_string),
            parent_generation: optional(attrs::PGEN)?,
            owner_incarnation: get_s(item, attrs::PINC).map(str::to_string),
            ttl: optional(attrs::TTL)?,
            valid_until_ms: optional(VU)?,
            disabled: item.contains_key(attrs::DISABLED),
            limits,
            write_capacity_limit,
        })
    }

    /// The user limit named `name`.
    pub fn limit(&self, name: &str) -> Option<&BucketLimit> {
        self.limits.iter().find(|l| l.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn v4_bucket() -> BucketItem {
        BucketItem {
            entity_id: "user-1".into(),
            resource: "gpt-4".into(),
            shard: 0,
            last_refill_ms: 1_795_400_235_912,
            shard_count: 1,
            cascade: false,
            parent_id: None,
            parent_generation: None,
            owner_incarnation: None,
            ttl: None,
            valid_until_ms: None,
            disabled: false,
            limits: vec![BucketLimit {
                name: "rpm".into(),
                tokens_milli: 9000,
                capacity_milli: 10_000,
                refill_amount_milli: 10_000,
                refill_period_ms: 60_000,
                total_consumed_milli: 1000,
            }],
            write_capacity_limit: BucketLimit::fresh_wcu(),
        }
    }

    #[test]
    fn create_item_matches_vector_v4() {
        let item = v4_bucket().to_item("ZCtndc_pcZY");
        let expected = concat!(
            r##"{"PK":"ZCtndc_pcZY/BUCKET#user-1#gpt-4#0","SK":"#STATE","entity_id":"user-1","##,
            r##""resource":"gpt-4","rf":1795400235912,"GSI2PK":"ZCtndc_pcZY/RESOURCE#gpt-4","##,
            r##""GSI2SK":"BUCKET#user-1#0","cascade":false,"GSI3PK":"ZCtndc_pcZY/ENTITY#user-1","##,
            r##""GSI3SK":"BUCKET#gpt-4#0","GSI4PK":"ZCtndc_pcZY","GSI4SK":"BUCKET#user-1#gpt-4#0","##,
            r##""shard_count":1,"b_wcu_tk":1000000,"b_wcu_cp":1000000,"b_wcu_ra":1000000,"b_wcu_rp":1000,"##,
            r##""b_wcu_tc":0,"b_rpm_tk":9000,"b_rpm_cp":10000,"b_rpm_ra":10000,"b_rpm_rp":60000,"##,
            r##""b_rpm_tc":1000}"##,
        );
        let expected: serde_json::Map<String, serde_json::Value> = serde_json::from_str(expected).unwrap();
        assert_eq!(item.len(), expected.len());
        for (k, v) in expected {
            let got = &item[&k];
            match v {
                serde_json::Value::String(sv) => assert_eq!(got, &AttributeValue::S(sv), "{k}"),
                serde_json::Value::Number(nv) => assert_eq!(got, &AttributeValue::N(nv.to_string()), "{k}"),
                serde_json::Value::Bool(bv) => assert_eq!(got, &AttributeValue::Bool(bv), "{k}"),
                other => panic!("{other}"),
            }
        }
        assert_eq!(BucketItem::decode(&item).unwrap(), v4_bucket());
    }

    #[test]
    fn refuses_quota_and_soft_state() {
        let mut item = v4_bucket().to_item("ns");
        item.insert("b_rpm_soft".into(), n(1));
        assert!(matches!(BucketItem::decode(&item), Err(Error::Unsupported { .. })));
        let mut item = v4_bucket().to_item("ns");
        item.insert("bypass".into(), n(1));
        assert!(matches!(BucketItem::decode(&item), Err(Error::Unsupported { .. })));
        let mut item = v4_bucket().to_item("ns");
        item.insert("vu".into(), n(0));
        assert_eq!(BucketItem::decode(&item).unwrap().valid_until_ms, Some(0));
    }

    #[test]
    fn numbers_beyond_i64_are_corrupt_not_absent() {
        // Python's integers are unbounded; a stored value this client cannot represent
        // must not read as "absent" (an absent `vu` or `ttl` changes the write's
        // conditions) or as 0 (`tc`).
        for attr in [
            "b_rpm_tk", "b_rpm_cp", "b_rpm_ra", "b_rpm_rp", "b_rpm_tc", "rf", "ttl", "vu", "pgen", "b_wcu_tk",
        ] {
            for raw in ["9223372036854775808", "-9223372036854775809", "1e30", "0.5"] {
                let mut item = v4_bucket().to_item("ns");
                item.insert(attr.into(), AttributeValue::N(raw.into()));
                let err = BucketItem::decode(&item).unwrap_err();
                assert!(
                    matches!(&err, Error::CorruptItem { reason, .. } if reason.contains(attr)),
                    "{attr} = {raw}: {err}"
                );
            }
        }
        let mut item = v4_bucket().to_item("ns");
        item.insert("b_rpm_tk".into(), n(i64::MIN));
        item.insert("rf".into(), n(i64::MAX));
        let b = BucketItem::decode(&item).unwrap();
        assert_eq!((b.limits[0].tokens_milli, b.last_refill_ms), (i64::MIN, i64::MAX));
    }

    #[test]
    fn shard_counts_clamp_at_any_magnitude() {
        let with = |raw: &str| {
            let mut item = v4_bucket().to_item("ns");
            item.insert(SHARD_COUNT.into(), AttributeValue::N(raw.into()));
            stored_shard_count(&item)
        };
        assert_eq!(with("4"), Some(4));
        assert_eq!(with("4294967297"), Some(32), "u32 wrap would give 1");
        assert_eq!(with("99999999999999999999999"), Some(32));
        assert_eq!(with("-99999999999999999999999"), Some(1));
        assert_eq!(with("0"), Some(1));
        assert_eq!(with("2.5"), Some(2));
        assert_eq!(with("1e400"), Some(32));
    }

    #[test]
    fn discovers_limits_by_tk_and_cp_pair() {
        let mut item = v4_bucket().to_item("ns");
        item.insert("b_orphan_tk".into(), n(5));
        let b = BucketItem::decode(&item).unwrap();
        assert_eq!(b.limits.len(), 1);
        assert_eq!(b.write_capacity_limit, BucketLimit::fresh_wcu());
    }
}
