//! Proactive drip refill (spec §7.3, core profile): per bucket of the batch, top up a
//! limit whose projected balance will not cover the batch's consumption, and always
//! clamp a balance above a lowered ceiling, in one `rf`-locked `UpdateItem`.
//!
//! The maths is the client's (`zae_limiter::acquire::refill`); shares are
//! `floor(cp / shard_count)` and `floor(ra / shard_count)`, `wcu` undivided.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use zae_limiter::acquire::{ShardParams, refill};
use zae_limiter::schema::attrs::n;
use zae_limiter::schema::bucket::{BucketItem, FIELD_TK, RF, VU, WCU_LIMIT_NAME, bucket_attr};

use crate::bucket::{ParsedBucket, ParsedLimit};

/// Python's `a // b` (floor division), `None` for a zero divisor.
pub fn floor_div(a: i64, b: i64) -> Option<i64> {
    match b {
        0 => None,
        b if b > 0 => Some(a.div_euclid(b)),
        b => Some(a.saturating_neg().div_euclid(b.saturating_neg())),
    }
}

/// One limit of a bucket, accumulated over the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitState {
    /// Limit name.
    pub name: String,
    /// Sum of the batch's `tc` deltas.
    pub tc_delta: i64,
    /// Last NewImage `tk`.
    pub tk_milli: i64,
    /// Last NewImage `cp`.
    pub cp_milli: i64,
    /// Last NewImage `ra`.
    pub ra_milli: i64,
    /// Last NewImage `rp`.
    pub rp_ms: i64,
}

/// One bucket (namespace, entity, resource, shard) over the batch: last image wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketState {
    /// Namespace id.
    pub namespace_id: String,
    /// Entity.
    pub entity_id: String,
    /// Resource.
    pub resource: String,
    /// Shard index.
    pub shard_id: u32,
    /// Last `shard_count`.
    pub shard_count: i64,
    /// Last `rf` (the lock value).
    pub rf_ms: i64,
    /// Last `vu`.
    pub vu_ms: Option<i64>,
    /// Limits in first-seen order.
    pub limits: Vec<LimitState>,
    /// The 0.15+ feature on the last image, if any (such a bucket is never rewritten).
    pub unsupported: Option<String>,
}

impl BucketState {
    fn from_parsed(p: &ParsedBucket) -> BucketState {
        BucketState {
            namespace_id: p.namespace_id.clone(),
            entity_id: p.entity_id.clone(),
            resource: p.resource.clone(),
            shard_id: p.shard_id,
            shard_count: p.shard_count,
            rf_ms: p.rf_ms,
            vu_ms: p.vu_ms,
            limits: Vec::new(),
            unsupported: p.unsupported.clone(),
        }
    }

    fn absorb(&mut self, p: &ParsedBucket) {
        self.shard_count = p.shard_count;
        self.rf_ms = p.rf_ms;
        self.vu_ms = p.vu_ms;
        self.unsupported = p.unsupported.clone();
        for l in &p.limits {
            let ParsedLimit {
                tc_delta,
                tk_milli,
                cp_milli,
                ra_milli,
                rp_ms,
                ..
            } = *l;
            match self.limits.iter_mut().find(|s| s.name == l.name) {
                Some(s) => {
                    s.tc_delta = s.tc_delta.saturating_add(tc_delta);
                    (s.tk_milli, s.cp_milli, s.ra_milli, s.rp_ms) = (tk_milli, cp_milli, ra_milli, rp_ms);
                }
                None => self.limits.push(LimitState {
                    name: l.name.clone(),
                    tc_delta,
                    tk_milli,
                    cp_milli,
                    ra_milli,
                    rp_ms,
                }),
            }
        }
    }

    /// The `wcu` limit.
    pub fn wcu(&self) -> Option<&LimitState> {
        self.limits.iter().find(|l| l.name == WCU_LIMIT_NAME)
    }
}

/// Groups parsed records per bucket, in first-seen order.
pub fn aggregate<'a>(parsed: impl IntoIterator<Item = &'a ParsedBucket>) -> Vec<BucketState> {
    let mut states: Vec<BucketState> = Vec::new();
    let mut index: HashMap<(String, String, String, u32), usize> = HashMap::new();
    for p in parsed {
        let key = (
            p.namespace_id.clone(),
            p.entity_id.clone(),
            p.resource.clone(),
            p.shard_id,
        );
        let i = *index.entry(key).or_insert_with(|| {
            states.push(BucketState::from_parsed(p));
            states.len() - 1
        });
        states[i].absorb(p);
    }
    states
}

/// A planned refill write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefillPlan {
    /// `(limit, tk delta, tk read)` in write order (`wcu` last when it rides along).
    pub deltas: Vec<(String, i64, i64)>,
    /// The new `rf`.
    pub new_rf: i64,
}

/// Decides the refill of `state` at `now_ms`; `Ok(None)` when nothing needs writing.
/// `Err` for a zero `shard_count` (0.17.0 raises there too) and for a refill delta
/// beyond 64 bits (0.17.0's integers are unbounded).
pub fn plan(state: &BucketState, now_ms: i64) -> Result<Option<RefillPlan>, String> {
    let mut deltas = Vec::new();
    let mut deferred_wcu = None;
    for l in &state.limits {
        let (ceiling, refill_amount) = if l.name == WCU_LIMIT_NAME {
            (l.cp_milli, l.ra_milli)
        } else {
            let div = |v| floor_div(v, state.shard_count).ok_or("integer division or modulo by zero");
            (div(l.cp_milli)?, div(l.ra_milli)?)
        };
        if l.rp_ms <= 0 || l.ra_milli <= 0 {
            continue;
        }
        let params = ShardParams {
            capacity_milli: ceiling,
            refill_amount_milli: refill_amount,
            refill_period_ms: l.rp_ms,
            retry_refill_amount_milli: refill_amount,
        };
        let (projected, _) = refill(l.tk_milli, state.rf_ms, now_ms, &params);
        let delta = projected
            .checked_sub(l.tk_milli)
            .ok_or_else(|| format!("{} refill beyond 64 bits", l.name))?;
        if delta == 0 {
            continue;
        }
        if delta > 0 && projected >= l.tc_delta.max(0) {
            if l.name == WCU_LIMIT_NAME {
                deferred_wcu = Some((l.name.clone(), delta, l.tk_milli));
            }
            continue;
        }
        deltas.push((l.name.clone(), delta, l.tk_milli));
    }
    if deltas.is_empty() {
        return Ok(None);
    }
    deltas.extend(deferred_wcu);
    Ok(Some(RefillPlan {
        deltas,
        new_rf: now_ms.max(state.rf_ms),
    }))
}

/// The `UpdateItem` parts of a plan: `(update, condition, names, values)`.
pub fn request(
    state: &BucketState,
    plan: &RefillPlan,
) -> (String, String, HashMap<String, String>, HashMap<String, AttributeValue>) {
    let mut names = HashMap::from([("#vu".to_string(), VU.to_string())]);
    let mut values = HashMap::from([
        (":new_rf".to_string(), n(plan.new_rf)),
        (":expected_rf".to_string(), n(state.rf_ms)),
    ]);
    let mut adds = Vec::new();
    let mut condition = format!("{RF} = :expected_rf");
    match state.vu_ms {
        None => condition.push_str(" AND attribute_not_exists(#vu)"),
        Some(vu) => {
            condition.push_str(" AND #vu = :expected_vu");
            values.insert(":expected_vu".into(), n(vu));
        }
    }
    for (i, (name, delta, read)) in plan.deltas.iter().enumerate() {
        names.insert(format!("#rt{i}"), bucket_attr(name, FIELD_TK));
        values.insert(format!(":rd{i}"), n(*delta));
        adds.push(format!("#rt{i} :rd{i}"));
        if *delta > 0 {
            condition.push_str(&format!(" AND #rt{i} <= :rk{i}"));
            values.insert(format!(":rk{i}"), n(*read));
        }
    }
    let update = format!("SET {RF} = :new_rf ADD {}", adds.join(", "));
    (update, condition, names, values)
}

/// Plans and writes the refill of one bucket: `Ok(true)` when written, `Ok(false)` when
/// not needed or the `rf` lock was lost.
pub async fn try_refill(client: &Client, table: &str, state: &BucketState, now_ms: i64) -> Result<bool, String> {
    let Some(plan) = plan(state, now_ms).map_err(|e| format!("Error refilling bucket: {e}"))? else {
        tracing::debug!(
            entity_id = state.entity_id,
            resource = state.resource,
            "Refill skipped - sufficient tokens"
        );
        return Ok(false);
    };
    let (update, condition, names, values) = request(state, &plan);
    let key = BucketItem::key(&state.namespace_id, &state.entity_id, &state.resource, state.shard_id);
    let result = client
        .update_item()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(update)
        .condition_expression(condition)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .send()
        .await;
    match result {
        Ok(_) => {
            let limits: Vec<&str> = plan.deltas.iter().map(|(n, _, _)| n.as_str()).collect();
            tracing::debug!(
                entity_id = state.entity_id,
                resource = state.resource,
                ?limits,
                "Bucket refilled"
            );
            Ok(true)
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            tracing::debug!(
                entity_id = state.entity_id,
                resource = state.resource,
                "Refill skipped - concurrent rf update"
            );
            Ok(false)
        }
        Err(e) => Err(format!(
            "Error refilling bucket: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(&e)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(name: &str, tk: i64, cp: i64, ra: i64, rp: i64, tc_delta: i64) -> LimitState {
        LimitState {
            name: name.into(),
            tc_delta,
            tk_milli: tk,
            cp_milli: cp,
            ra_milli: ra,
            rp_ms: rp,
        }
    }

    fn state(shard_count: i64, limits: Vec<LimitState>) -> BucketState {
        BucketState {
            namespace_id: "ns".into(),
            entity_id: "e".into(),
            resource: "r".into(),
            shard_id: 0,
            shard_count,
            rf_ms: 1_000_000,
            vu_ms: None,
            limits,
            unsupported: None,
        }
    }

    #[test]
    fn floor_division_is_pythons() {
        assert_eq!(floor_div(7, 2), Some(3));
        assert_eq!(floor_div(-7, 2), Some(-4));
        assert_eq!(floor_div(7, -2), Some(-4));
        assert_eq!(floor_div(-7, -2), Some(3));
        assert_eq!(floor_div(1, 0), None);
    }

    #[test]
    fn tops_up_only_when_projection_misses_the_batch_consumption() {
        // 100 rpm: 100 000 milli per 60 s; 6 s elapsed adds 10 000.
        let now = 1_006_000;
        let covered = state(1, vec![limit("rpm", 50_000, 100_000, 100_000, 60_000, 5_000)]);
        assert_eq!(plan(&covered, now).unwrap(), None);
        let short = state(1, vec![limit("rpm", 0, 100_000, 100_000, 60_000, 20_000)]);
        let p = plan(&short, now).unwrap().unwrap();
        assert_eq!(p.deltas, [("rpm".to_string(), 10_000, 0)]);
        assert_eq!(p.new_rf, now);
    }

    #[test]
    fn clamps_above_the_ceiling_even_without_consumption() {
        // Two shards: the per-shard ceiling is 50 000; a balance of 80 000 is clamped.
        let s = state(2, vec![limit("rpm", 80_000, 100_000, 100_000, 60_000, 0)]);
        let p = plan(&s, s.rf_ms).unwrap().unwrap();
        assert_eq!(p.deltas, [("rpm".to_string(), -30_000, 80_000)]);
        let (update, condition, _, values) = request(&s, &p);
        assert_eq!(update, "SET rf = :new_rf ADD #rt0 :rd0");
        assert_eq!(
            condition, "rf = :expected_rf AND attribute_not_exists(#vu)",
            "a clamp pins no balance"
        );
        assert_eq!(values[":rd0"], n(-30_000));
    }

    #[test]
    fn wcu_rides_along_undivided_and_last() {
        let now = 1_000_500;
        let s = state(
            4,
            vec![
                limit(WCU_LIMIT_NAME, 900_000, 1_000_000, 1_000_000, 1000, 0),
                limit("rpm", 0, 400_000, 400_000, 60_000, 50_000),
            ],
        );
        let p = plan(&s, now).unwrap().unwrap();
        // rpm share: 100 000 / 60 s over 0.5 s = 833; wcu: 500 000 over 0.5 s, capped at 1 000 000.
        assert_eq!(
            p.deltas,
            [("rpm".to_string(), 833, 0), ("wcu".to_string(), 100_000, 900_000)]
        );
        let mut vu = s.clone();
        vu.vu_ms = Some(0);
        let (_, condition, _, values) = request(&vu, &p);
        assert_eq!(
            condition,
            "rf = :expected_rf AND #vu = :expected_vu AND #rt0 <= :rk0 AND #rt1 <= :rk1"
        );
        assert_eq!(values[":rk1"], n(900_000));
        // wcu alone never triggers a write.
        let alone = state(1, vec![limit(WCU_LIMIT_NAME, 900_000, 1_000_000, 1_000_000, 1000, 0)]);
        assert_eq!(plan(&alone, now).unwrap(), None);
    }

    #[test]
    fn non_dripping_limits_and_zero_shards() {
        let s = state(1, vec![limit("q", 0, 100_000, 0, 60_000, 50_000)]);
        assert_eq!(plan(&s, 2_000_000).unwrap(), None);
        let z = state(0, vec![limit("rpm", 0, 100_000, 100_000, 60_000, 50_000)]);
        assert!(plan(&z, 2_000_000).is_err());
    }

    #[test]
    fn extreme_balances_are_errors_not_panics() {
        let s = state(1, vec![limit("rpm", i64::MIN, i64::MAX, i64::MAX, 1, 0)]);
        assert!(plan(&s, s.rf_ms + 10).is_err());
    }

    #[test]
    fn aggregation_sums_deltas_and_keeps_the_last_image() {
        let p = |tc: i64, tk: i64, sc: i64| ParsedBucket {
            namespace_id: "ns".into(),
            entity_id: "e".into(),
            resource: "r".into(),
            shard_id: 0,
            shard_count: sc,
            rf_ms: tk,
            vu_ms: None,
            limits: vec![ParsedLimit {
                name: "rpm".into(),
                tc_delta: tc,
                tk_milli: tk,
                cp_milli: 1,
                ra_milli: 1,
                rp_ms: 1,
                soft: false,
            }],
            unsupported: None,
        };
        let mut other = p(5, 5, 1);
        other.shard_id = 1;
        let states = aggregate(&[p(1000, 7, 1), other, p(2000, 9, 2)]);
        let huge = aggregate(&[p(i64::MAX, 1, 1), p(i64::MAX, 1, 1)]);
        assert_eq!(huge[0].limits[0].tc_delta, i64::MAX, "saturates");
        assert_eq!(states.len(), 2);
        assert_eq!((states[0].limits[0].tc_delta, states[0].limits[0].tk_milli), (3000, 9));
        assert_eq!((states[0].shard_count, states[0].rf_ms), (2, 9));
        assert_eq!(states[1].shard_id, 1);
    }
}
