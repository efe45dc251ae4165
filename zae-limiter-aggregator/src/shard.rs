//! Proactive shard doubling and shard-count propagation (spec §7.3, core profile).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
use zae_limiter::acquire::{ShardParams, refill};
use zae_limiter::schema::attrs::{self, Item, n, s};
use zae_limiter::schema::bucket::{
    BUCKET_ATTR_PREFIX, BucketItem, FIELD_CP, FIELD_TC, FIELD_TK, MAX_SHARD_COUNT, SHARD_COUNT, WCU_LIMIT_NAME,
    bucket_attr,
};
use zae_limiter::schema::entity::EntityMeta;
use zae_limiter::schema::keys::{gsi2_sk_bucket, gsi3_sk_bucket, gsi4_sk_bucket, parse_bucket_pk, pk_bucket};
use zae_limiter::schema::owner::{OwnerCondition, owner_meta_condition};

use crate::bucket::{DataError, number};
use crate::record::{AttrMap, StreamRecord};
use crate::refill::{BucketState, floor_div};

/// Doubling threshold: `wcu` projected below 20 % of its capacity.
pub const WCU_PROACTIVE_THRESHOLD_LOW: f64 = 0.2;

/// The shard count to double to, when shard 0's projected `wcu` is below the threshold.
pub fn proactive_target(state: &BucketState, now_ms: i64) -> Option<i64> {
    let wcu = state.wcu()?;
    if state.shard_id != 0 || wcu.cp_milli <= 0 || state.shard_count >= i64::from(MAX_SHARD_COUNT) {
        return None;
    }
    let mut tk = wcu.tk_milli;
    if wcu.rp_ms > 0 && wcu.ra_milli > 0 {
        let params = ShardParams {
            capacity_milli: wcu.cp_milli,
            refill_amount_milli: wcu.ra_milli,
            refill_period_ms: wcu.rp_ms,
            retry_refill_amount_milli: wcu.ra_milli,
        };
        tk = refill(tk, state.rf_ms, now_ms, &params).0;
    }
    let ratio = tk as f64 / wcu.cp_milli as f64;
    (ratio < WCU_PROACTIVE_THRESHOLD_LOW).then(|| (state.shard_count * 2).min(i64::from(MAX_SHARD_COUNT)))
}

/// Doubles `shard_count` on shard 0 when [`proactive_target`] says so (`shard_count =
/// :old` condition); `Ok(false)` when not needed or another writer bumped it first.
pub async fn try_proactive_shard(
    client: &Client,
    table: &str,
    state: &BucketState,
    now_ms: i64,
) -> Result<bool, String> {
    let Some(new_count) = proactive_target(state, now_ms) else {
        return Ok(false);
    };
    let result = client
        .update_item()
        .table_name(table)
        .set_key(Some(BucketItem::key(
            &state.namespace_id,
            &state.entity_id,
            &state.resource,
            0,
        )))
        .update_expression(format!("SET {SHARD_COUNT} = :new"))
        .condition_expression(format!("{SHARD_COUNT} = :old"))
        .expression_attribute_values(":old", n(state.shard_count))
        .expression_attribute_values(":new", n(new_count))
        .send()
        .await;
    match result {
        Ok(_) => {
            tracing::info!(
                entity_id = state.entity_id,
                resource = state.resource,
                old_count = state.shard_count,
                new_count,
                "Proactive shard doubling"
            );
            Ok(true)
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(format!(
            "Error in proactive sharding: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(&e)
        )),
    }
}

/// What a shard-0 MODIFY that grew `shard_count` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Propagation {
    /// Namespace id.
    pub namespace_id: String,
    /// Entity.
    pub entity_id: String,
    /// Resource.
    pub resource: String,
    /// Previous count.
    pub old_count: u32,
    /// New count.
    pub new_count: u32,
    /// The clones of shards `old_count..new_count`, in order.
    pub clones: Vec<Item>,
    /// The `ConditionCheck` on the owner's META every clone is created with.
    pub owner_check: OwnerCondition,
}

/// Limit names of an image, discovered by `b_{name}_cp` (0.17.0's `_extract_limit_attrs`).
fn cp_limits(image: &AttrMap) -> Vec<&str> {
    image
        .0
        .iter()
        .filter_map(|(attr, _)| attr.strip_prefix(BUCKET_ATTR_PREFIX)?.rsplit_once('_'))
        .filter(|(name, field)| *field == FIELD_CP && !name.is_empty())
        .map(|(name, _)| name)
        .collect()
}

/// Plans the propagation a record asks for. `Ok(None)` when it asks for none (not a
/// growth of shard 0's count, or beyond [`MAX_SHARD_COUNT`]).
pub fn plan_propagation(record: &StreamRecord) -> Result<Option<Propagation>, DataError> {
    let (new_image, old_image) = (record.new_image(), record.old_image());
    let (Some(new_count), Some(old_count)) = (number(new_image, SHARD_COUNT)?, number(old_image, SHARD_COUNT)?) else {
        return Ok(None);
    };
    if new_count <= old_count {
        return Ok(None);
    }
    let Some(key) = parse_bucket_pk(new_image.get_s("PK").unwrap_or("")) else {
        return Ok(None);
    };
    if key.shard != 0 {
        return Ok(None);
    }
    if new_count > i64::from(MAX_SHARD_COUNT) {
        tracing::warn!(
            entity_id = key.entity_id,
            resource = key.resource,
            old_count,
            new_count,
            "Shard count propagation skipped - above MAX_SHARD_COUNT"
        );
        return Ok(None);
    }
    // 1 <= old < new <= 32 from here (a count below 1 only widens the clone range).
    let new_count = new_count as u32;
    let old_count = old_count.max(0) as u32;
    let mut starting = Vec::new();
    for name in cp_limits(new_image) {
        let cp = number(new_image, &bucket_attr(name, FIELD_CP))?.unwrap_or(0);
        let tokens = if name == WCU_LIMIT_NAME {
            cp
        } else {
            floor_div(cp, i64::from(new_count)).unwrap_or(0)
        };
        starting.push((name.to_string(), tokens));
    }
    let base = new_image.to_item();
    let mut clones = Vec::new();
    for shard in old_count..new_count {
        let mut item = base.clone();
        item.insert(
            "PK".into(),
            s(pk_bucket(&key.namespace_id, &key.entity_id, &key.resource, shard)),
        );
        item.insert(attrs::GSI2SK.into(), s(gsi2_sk_bucket(&key.entity_id, shard)));
        item.insert(attrs::GSI3SK.into(), s(gsi3_sk_bucket(&key.resource, shard)));
        item.insert(
            attrs::GSI4SK.into(),
            s(gsi4_sk_bucket(&key.entity_id, &key.resource, shard)),
        );
        item.insert(SHARD_COUNT.into(), n(i64::from(new_count)));
        for (name, tokens) in &starting {
            item.insert(bucket_attr(name, FIELD_TK), n(*tokens));
            item.insert(bucket_attr(name, FIELD_TC), n(0));
        }
        clones.push(item);
    }
    let (pgen, pinc) = (number(new_image, attrs::PGEN)?, new_image.get_s(attrs::PINC));
    let exists = (pgen.is_some() || pinc.is_some()).then_some(true);
    let owner_check = owner_meta_condition(exists, pgen, pinc);
    Ok(Some(Propagation {
        namespace_id: key.namespace_id,
        entity_id: key.entity_id,
        resource: key.resource,
        old_count,
        new_count,
        clones,
        owner_check,
    }))
}

/// Writes a propagation: `SET shard_count` on shards `1..old` (condition `shard_count
/// < :new`), then each clone in its own transaction with the owner check. Returns the
/// number of shard items updated or created.
pub async fn propagate(client: &Client, table: &str, p: &Propagation) -> Result<u32, String> {
    let mut updated = 0;
    for shard in 1..p.old_count {
        let result = client
            .update_item()
            .table_name(table)
            .set_key(Some(BucketItem::key(&p.namespace_id, &p.entity_id, &p.resource, shard)))
            .update_expression(format!("SET {SHARD_COUNT} = :new"))
            .condition_expression(format!("{SHARD_COUNT} < :new"))
            .expression_attribute_values(":new", n(i64::from(p.new_count)))
            .send()
            .await;
        match result {
            Ok(_) => updated += 1,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => {
                return Err(format!(
                    "Error propagating shard_count: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                ));
            }
        }
    }
    let bad = |e: aws_sdk_dynamodb::error::BuildError| format!("Error propagating shard_count: {e}");
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(EntityMeta::key(&p.namespace_id, &p.entity_id)))
        .condition_expression(&p.owner_check.expression)
        .set_expression_attribute_names(Some(p.owner_check.names.clone()))
        .set_expression_attribute_values((!p.owner_check.values.is_empty()).then(|| p.owner_check.values.clone()))
        .build()
        .map_err(bad)?;
    for clone in &p.clones {
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(clone.clone()))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(bad)?;
        let result = client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().condition_check(check.clone()).build())
            .send()
            .await;
        match result {
            Ok(_) => updated += 1,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                tracing::debug!(
                    resource = p.resource,
                    "Clone transaction cancelled - left to the client"
                );
            }
            Err(e) => {
                return Err(format!(
                    "Error propagating shard_count: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                ));
            }
        }
    }
    if updated > 0 {
        tracing::info!(
            entity_id = p.entity_id,
            resource = p.resource,
            new_count = p.new_count,
            shards_updated = updated,
            "Shard count propagated"
        );
    }
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::tests::modify;
    use crate::record::Attr;
    use crate::refill::LimitState;

    fn wcu_state(tk: i64, shard_count: i64, shard_id: u32) -> BucketState {
        BucketState {
            namespace_id: "ns".into(),
            entity_id: "e".into(),
            resource: "r".into(),
            shard_id,
            shard_count,
            rf_ms: 1_000_000,
            vu_ms: None,
            limits: vec![LimitState {
                name: WCU_LIMIT_NAME.into(),
                tc_delta: 0,
                tk_milli: tk,
                cp_milli: 1_000_000,
                ra_milli: 1_000_000,
                rp_ms: 1000,
            }],
            unsupported: None,
        }
    }

    #[test]
    fn doubles_below_twenty_percent_after_projection() {
        let rf = 1_000_000;
        assert_eq!(proactive_target(&wcu_state(199_999, 1, 0), rf), Some(2));
        assert_eq!(proactive_target(&wcu_state(200_000, 1, 0), rf), None);
        // 100 ms later the projection is 299 999: no doubling.
        assert_eq!(proactive_target(&wcu_state(199_999, 1, 0), rf + 100), None);
        assert_eq!(proactive_target(&wcu_state(0, 20, 0), rf), Some(32));
        assert_eq!(proactive_target(&wcu_state(0, 32, 0), rf), None);
        assert_eq!(proactive_target(&wcu_state(0, 1, 1), rf), None, "shard 0 only");
    }

    #[test]
    fn clones_new_shards_from_shard_zero() {
        let mut r = modify(
            "ns/BUCKET#e#gpt-4#0",
            &[
                ("shard_count", 4),
                ("b_rpm_cp", 100_000),
                ("b_rpm_tk", 3),
                ("b_rpm_tc", 77),
                ("b_wcu_cp", 1_000_000),
                ("b_wcu_tk", 5),
            ],
            &[("shard_count", 2)],
        );
        r.dynamodb
            .new_image
            .as_mut()
            .unwrap()
            .0
            .push(("pinc".into(), Attr::S("abc".into())));
        let p = plan_propagation(&r).unwrap().unwrap();
        assert_eq!((p.old_count, p.new_count, p.clones.len()), (2, 4, 2));
        let c = &p.clones[1];
        assert_eq!(c["PK"], s("ns/BUCKET#e#gpt-4#3"));
        assert_eq!(c["GSI2SK"], s("BUCKET#e#3"));
        assert_eq!(c["GSI3SK"], s("BUCKET#gpt-4#3"));
        assert_eq!(c["GSI4SK"], s("BUCKET#e#gpt-4#3"));
        assert_eq!(
            (c["shard_count"].clone(), c["b_rpm_tk"].clone(), c["b_rpm_tc"].clone()),
            (n(4), n(25_000), n(0))
        );
        assert_eq!(c["b_wcu_tk"], n(1_000_000), "wcu is never divided");
        assert_eq!(
            p.owner_check.expression,
            "attribute_exists(PK) AND attribute_not_exists(#opg) AND \
             (#opi = :opi OR (attribute_not_exists(#opi) AND #oca = :opi))"
        );
        // Not a growth, or not shard 0: nothing.
        assert_eq!(
            plan_propagation(&modify("ns/BUCKET#e#r#0", &[("shard_count", 2)], &[("shard_count", 2)])).unwrap(),
            None
        );
        assert_eq!(
            plan_propagation(&modify("ns/BUCKET#e#r#1", &[("shard_count", 4)], &[("shard_count", 2)])).unwrap(),
            None
        );
        assert_eq!(
            plan_propagation(&modify(
                "ns/BUCKET#e#r#0",
                &[("shard_count", 64)],
                &[("shard_count", 32)]
            ))
            .unwrap(),
            None
        );
    }
}
