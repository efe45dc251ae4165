//! A bucket MODIFY record taken apart: 0.17.0's `_parse_bucket_record`, core fields only.
//!
//! Limits are discovered by their `b_{name}_tc` attribute and counted only when both
//! images carry it. Numbers parse strictly (a malformed one is a [`DataError`], which
//! the snapshot phase reports and the refill phase skips, as 0.17.0 does).

use zae_limiter::schema::attrs;
use zae_limiter::schema::bucket::{
    BUCKET_ATTR_PREFIX, BucketItem, FIELD_CP, FIELD_RA, FIELD_RP, FIELD_SOFT, FIELD_TC, FIELD_TK, RF, SHARD_COUNT, VU,
    bucket_attr,
};
use zae_limiter::schema::keys::{BUCKET_PREFIX, parse_bucket_pk};

use crate::record::{Attr, AttrMap, StreamRecord};

/// Sort-key prefix of the pre-0.9 bucket layout (`PK={ns}/ENTITY#{entity}`,
/// `SK=#BUCKET#{resource}`), still accepted by 0.17.0's aggregator.
pub const LEGACY_SK_BUCKET: &str = "#BUCKET#";

/// A record the aggregator cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{attr} = {raw:?} is not an integer")]
pub struct DataError {
    /// The attribute.
    pub attr: String,
    /// Its stored text (or type).
    pub raw: String,
}

/// A number attribute of `image`: `Ok(None)` when absent.
pub fn number(image: &AttrMap, attr: &str) -> Result<Option<i64>, DataError> {
    match image.get(attr) {
        None => Ok(None),
        Some(Attr::N(raw)) => raw.parse::<i64>().map(Some).map_err(|_| DataError {
            attr: attr.to_string(),
            raw: raw.clone(),
        }),
        // 0.17.0 reads `.get("N", default)`: a non-number attribute reads as the default.
        Some(_) => Ok(None),
    }
}

fn number_or(image: &AttrMap, attr: &str, default: i64) -> Result<i64, DataError> {
    Ok(number(image, attr)?.unwrap_or(default))
}

/// One limit of a bucket record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLimit {
    /// Limit name.
    pub name: String,
    /// `tc` delta, NewImage − OldImage (millitokens).
    pub tc_delta: i64,
    /// NewImage `tk`.
    pub tk_milli: i64,
    /// NewImage `cp` (undivided).
    pub cp_milli: i64,
    /// NewImage `ra` (undivided).
    pub ra_milli: i64,
    /// NewImage `rp`.
    pub rp_ms: i64,
    /// The limit carries a soft stamp.
    pub soft: bool,
}

/// A parsed bucket MODIFY record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedBucket {
    /// Namespace id.
    pub namespace_id: String,
    /// Entity.
    pub entity_id: String,
    /// Resource.
    pub resource: String,
    /// Shard index (0 on the legacy layout).
    pub shard_id: u32,
    /// NewImage `shard_count` (1 when absent), unclamped as 0.17.0 reads it.
    pub shard_count: i64,
    /// NewImage `rf`.
    pub rf_ms: i64,
    /// NewImage `vu`.
    pub vu_ms: Option<i64>,
    /// Limits in NewImage attribute order.
    pub limits: Vec<ParsedLimit>,
    /// The first 0.15+ feature on the NewImage, when any: the core profile does not
    /// rewrite such a bucket.
    pub unsupported: Option<String>,
}

/// Parses a bucket record. `Ok(None)` for a record that is not a bucket MODIFY with a
/// consumption counter in both images.
pub fn parse(record: &StreamRecord) -> Result<Option<ParsedBucket>, DataError> {
    let new_image = record.new_image();
    let old_image = record.old_image();
    let pk = new_image.get_s("PK").unwrap_or("");
    let sk = new_image.get_s("SK").unwrap_or("");
    let Some((namespace_id, remainder)) = pk.split_once('/') else {
        tracing::warn!(pk, "Skipping pre-migration record with unprefixed PK");
        return Ok(None);
    };
    let (entity_id, resource, shard_id) = if remainder.starts_with(BUCKET_PREFIX) {
        let Some(key) = parse_bucket_pk(pk) else {
            return Ok(None);
        };
        (key.entity_id, key.resource, key.shard)
    } else if let Some(resource) = sk.strip_prefix(LEGACY_SK_BUCKET) {
        let entity = new_image.get_s(attrs::ENTITY_ID).unwrap_or("");
        if resource.is_empty() || entity.is_empty() {
            return Ok(None);
        }
        (entity.to_string(), resource.to_string(), 0)
    } else {
        return Ok(None);
    };
    let shard_count = number_or(new_image, SHARD_COUNT, 1)?;
    if new_image.get_s(attrs::ENTITY_ID).unwrap_or("").is_empty() {
        return Ok(None);
    }
    let rf_ms = number_or(new_image, RF, 0)?;
    let vu_ms = number(new_image, VU)?;
    let mut limits = Vec::new();
    for (attr, _) in &new_image.0 {
        let Some((name, field)) = attr.strip_prefix(BUCKET_ATTR_PREFIX).and_then(|r| r.rsplit_once('_')) else {
            continue;
        };
        if field != FIELD_TC || name.is_empty() {
            continue;
        }
        let (Some(new_tc), Some(old_tc)) = (number(new_image, attr)?, number(old_image, attr)?) else {
            tracing::debug!(
                entity_id,
                resource,
                limit_name = name,
                "Skipping limit without consumption counter"
            );
            continue;
        };
        let get = |field: &str| number_or(new_image, &bucket_attr(name, field), 0);
        let tc_delta = new_tc.checked_sub(old_tc).ok_or_else(|| DataError {
            attr: attr.clone(),
            raw: format!("{new_tc} - {old_tc} (beyond 64 bits)"),
        })?;
        limits.push(ParsedLimit {
            name: name.to_string(),
            tc_delta,
            tk_milli: get(FIELD_TK)?,
            cp_milli: get(FIELD_CP)?,
            ra_milli: get(FIELD_RA)?,
            rp_ms: get(FIELD_RP)?,
            soft: new_image.contains(&bucket_attr(name, FIELD_SOFT)),
        });
    }
    if limits.is_empty() {
        return Ok(None);
    }
    let unsupported = BucketItem::unsupported_feature(&new_image.to_item()).map(|e| e.to_string());
    Ok(Some(ParsedBucket {
        namespace_id: namespace_id.to_string(),
        entity_id,
        resource,
        shard_id,
        shard_count,
        rf_ms,
        vu_ms,
        limits,
        unsupported,
    }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::record::StreamData;

    /// A MODIFY of `pk` whose images hold `new` / `old` (`(attr, number)` pairs) plus
    /// the keys and `entity_id`.
    pub(crate) fn modify(pk: &str, new: &[(&str, i64)], old: &[(&str, i64)]) -> StreamRecord {
        let image = |pairs: &[(&str, i64)]| {
            let mut m = vec![
                ("PK".to_string(), Attr::S(pk.into())),
                ("SK".to_string(), Attr::S("#STATE".into())),
                ("entity_id".to_string(), Attr::S("e".into())),
            ];
            m.extend(pairs.iter().map(|(k, v)| (k.to_string(), Attr::N(v.to_string()))));
            AttrMap(m)
        };
        StreamRecord {
            event_name: Some("MODIFY".into()),
            dynamodb: StreamData {
                new_image: Some(image(new)),
                old_image: Some(image(old)),
                ..Default::default()
            },
        }
    }

    #[test]
    fn parses_limits_with_counters_in_both_images() {
        let r = modify(
            "ns/BUCKET#e#gpt-4#1",
            &[
                ("rf", 5),
                ("shard_count", 2),
                ("b_rpm_tc", 3000),
                ("b_rpm_tk", 7),
                ("b_tpm_tc", 1),
                ("b_x_tc", 9),
            ],
            &[("b_rpm_tc", 1000), ("b_tpm_tc", 1)],
        );
        let p = parse(&r).unwrap().unwrap();
        assert_eq!(
            (p.namespace_id.as_str(), p.entity_id.as_str(), p.resource.as_str()),
            ("ns", "e", "gpt-4")
        );
        assert_eq!((p.shard_id, p.shard_count, p.rf_ms, p.vu_ms), (1, 2, 5, None));
        let names: Vec<&str> = p.limits.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["rpm", "tpm"], "b_x_tc has no old counter");
        assert_eq!(
            (p.limits[0].tc_delta, p.limits[0].tk_milli, p.limits[0].cp_milli),
            (2000, 7, 0)
        );
        assert_eq!(p.unsupported, None);
    }

    #[test]
    fn flags_0_15_features_and_rejects_malformed_numbers() {
        let r = modify(
            "ns/BUCKET#e#r#0",
            &[("b_rpm_tc", 1), ("b_rpm_gc", 1)],
            &[("b_rpm_tc", 0)],
        );
        assert!(parse(&r).unwrap().unwrap().unsupported.unwrap().contains("gc"));
        let mut bad = modify("ns/BUCKET#e#r#0", &[("b_rpm_tc", 1)], &[("b_rpm_tc", 0)]);
        bad.dynamodb
            .new_image
            .as_mut()
            .unwrap()
            .0
            .push(("b_rpm_tk".into(), Attr::N("x".into())));
        assert_eq!(parse(&bad).unwrap_err().attr, "b_rpm_tk");
        assert_eq!(
            parse(&modify("nopk", &[("b_rpm_tc", 1)], &[("b_rpm_tc", 0)])).unwrap(),
            None
        );
        assert_eq!(
            parse(&modify("ns/ENTITY#e", &[("b_rpm_tc", 1)], &[("b_rpm_tc", 0)])).unwrap(),
            None
        );
    }

    #[test]
    fn a_counter_delta_beyond_i64_is_a_data_error_not_a_panic() {
        let r = modify("ns/BUCKET#e#r#0", &[("b_rpm_tc", i64::MAX)], &[("b_rpm_tc", -1)]);
        assert_eq!(parse(&r).unwrap_err().attr, "b_rpm_tc");
    }

    #[test]
    fn accepts_the_legacy_layout() {
        let mut r = modify("ns/ENTITY#e", &[("b_rpm_tc", 1)], &[("b_rpm_tc", 0)]);
        r.dynamodb.new_image.as_mut().unwrap().0[1].1 = Attr::S("#BUCKET#gpt-4".into());
        let p = parse(&r).unwrap().unwrap();
        assert_eq!(
            (p.entity_id.as_str(), p.resource.as_str(), p.shard_id),
            ("e", "gpt-4", 0)
        );
    }
}
