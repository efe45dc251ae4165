//! Slow-path planning: from what was read about one owner (config, META, bucket shard),
//! decide admission and build the create or normal write (spec §6.5).

use super::config::ResolvedConfig;
use super::lease::LeaseEntry;
use super::math::{self, check, shard_params, ttl_seconds};
use super::rate_limited::LimitStatus;
use super::requests::{self, CreditPin, NormalLine, NormalWrite, OwnerStamp, Seed, TtlAction, Write};
use crate::limit::Limit;
use crate::schema::bucket::{BucketItem, BucketLimit};
use crate::schema::entity::EntityMeta;

/// Everything the slow path read about one owner.
#[derive(Debug, Clone)]
pub(crate) struct OwnerRead {
    pub entity_id: String,
    pub shard: u32,
    /// Shard count to create a missing shard with.
    pub shard_count: u32,
    pub config: ResolvedConfig,
    pub meta: Option<EntityMeta>,
    pub bucket: Option<BucketItem>,
    /// Effective cascade of this owner.
    pub cascade: bool,
}

/// The plan for one owner.
#[derive(Debug, Clone)]
pub(crate) struct OwnerPlan {
    pub entity_id: String,
    pub shard: u32,
    pub creates: bool,
    pub write: Write,
    /// Owner check for a create.
    pub check: Option<Write>,
    pub statuses: Vec<LimitStatus>,
    pub entries: Vec<LeaseEntry>,
    /// Millitokens per declared limit, for the retry path.
    pub consumed: Vec<(String, i64)>,
    pub shard_count: u32,
}

fn bucket_limit(limit: &Limit, tk: i64, tc: i64) -> BucketLimit {
    BucketLimit {
        name: limit.name().to_string(),
        tk,
        cp: limit.capacity_milli(),
        ra: limit.refill_amount_milli(),
        rp: limit.refill_period_ms(),
        tc,
    }
}

/// The status zae-limiter reports for a declared limit: the configured limit narrowed to
/// one shard.
pub(crate) fn status(
    entity_id: &str,
    resource: &str,
    limit: &BucketLimit,
    shard_count: u32,
    requested: i64,
    c: &math::Check,
) -> LimitStatus {
    let sc = i64::from(shard_count.max(1));
    let (capacity, refill_amount) = if sc <= 1 {
        (limit.cp / 1000, limit.ra / 1000)
    } else {
        (((limit.cp / sc) / 1000).max(1), ((limit.ra / sc) / 1000).max(1))
    };
    LimitStatus {
        entity_id: entity_id.to_string(),
        resource: resource.to_string(),
        limit_name: limit.name.clone(),
        capacity,
        refill_amount,
        refill_period_seconds: (limit.rp / 1000).max(1),
        available: c.available,
        requested,
        exceeded: !c.ok,
        retry_after_seconds: c.retry_after,
    }
}

/// Plans one owner's write. `consume` lists declared limits (tokens).
pub(crate) fn plan(
    ns: &str,
    resource: &str,
    read: &OwnerRead,
    consume: &[(String, i64)],
    now: i64,
    ttl_multiplier: i64,
) -> OwnerPlan {
    let amount_of = |name: &str| consume.iter().find(|(n, _)| n == name).map(|(_, a)| *a);
    let custom = read.config.source.is_custom();
    let mut statuses = Vec::new();
    let mut entries = Vec::new();
    let mut consumed = Vec::new();
    let key = BucketItem::key(ns, &read.entity_id, resource, read.shard);
    match &read.bucket {
        None => {
            let count = read.shard_count.max(1);
            let mut limits = Vec::new();
            for limit in &read.config.limits {
                let mut bl = bucket_limit(limit, 0, 0);
                bl.tk = shard_params(&bl, count).cap;
                if let Some(amount) = amount_of(limit.name()) {
                    let c = check(&bl, now, count, amount, now);
                    statuses.push(status(&read.entity_id, resource, &bl, count, amount, &c));
                    if c.ok {
                        bl.tk = c.tokens - amount * 1000;
                        bl.tc = amount * 1000;
                        consumed.push((bl.name.clone(), amount * 1000));
                        entries.push(LeaseEntry {
                            entity_id: read.entity_id.clone(),
                            resource: resource.to_string(),
                            shard: read.shard,
                            name: bl.name.clone(),
                            consumed: amount,
                            capacity_milli: bl.cp,
                            ceiling_milli: shard_params(&bl, count).cap,
                            pin: CreditPin {
                                shard_count: count,
                                vu: None,
                            },
                        });
                    }
                }
                limits.push(bl);
            }
            let ttl = if custom {
                None
            } else {
                ttl_seconds(limits.iter(), ttl_multiplier).map(|s| now.div_euclid(1000) + s)
            };
            let bucket = BucketItem {
                entity_id: read.entity_id.clone(),
                resource: resource.to_string(),
                shard: read.shard,
                rf: now,
                shard_count: count,
                cascade: read.cascade,
                parent_id: read.meta.as_ref().and_then(|m| m.parent_id.clone()),
                pgen: read.meta.as_ref().map(|m| m.pgen),
                pinc: read.meta.as_ref().map(|m| m.incarnation.clone()),
                ttl,
                vu: None,
                disabled: false,
                limits,
                wcu: BucketLimit::fresh_wcu(),
            };
            OwnerPlan {
                entity_id: read.entity_id.clone(),
                shard: read.shard,
                creates: true,
                write: requests::create(ns, &bucket),
                check: Some(requests::owner_check(ns, &read.entity_id, read.meta.as_ref())),
                statuses,
                entries,
                consumed,
                shard_count: count,
            }
        }
        Some(bucket) => {
            let count = bucket.shard_count.max(1);
            let mut lines = Vec::new();
            let mut seeds = Vec::new();
            let mut ttl_limits = Vec::new();
            for limit in &read.config.limits {
                let amount = amount_of(limit.name());
                ttl_limits.push(bucket_limit(limit, 0, 0));
                let (bl, rf, seed) = match bucket.limit(limit.name()) {
                    Some(bl) => (bl.clone(), bucket.rf, false),
                    None => {
                        let mut fresh = bucket_limit(limit, 0, 0);
                        fresh.tk = shard_params(&fresh, count).cap;
                        (fresh, now, true)
                    }
                };
                let c = check(&bl, rf, count, amount.unwrap_or(0), now);
                let taken = match amount {
                    Some(a) => {
                        statuses.push(status(&read.entity_id, resource, &bl, count, a, &c));
                        if c.ok { a * 1000 } else { 0 }
                    }
                    None => 0,
                };
                if let Some(a) = amount.filter(|_| c.ok) {
                    consumed.push((bl.name.clone(), taken));
                    entries.push(LeaseEntry {
                        entity_id: read.entity_id.clone(),
                        resource: resource.to_string(),
                        shard: read.shard,
                        name: bl.name.clone(),
                        consumed: a,
                        capacity_milli: bl.cp,
                        ceiling_milli: shard_params(&bl, count).cap,
                        pin: CreditPin {
                            shard_count: count,
                            vu: None,
                        },
                    });
                }
                if seed {
                    let mut landed = bl.clone();
                    landed.tk = c.tokens - taken;
                    landed.tc = taken;
                    seeds.push(Seed { limit: landed });
                } else {
                    lines.push(NormalLine {
                        name: bl.name.clone(),
                        consumed: taken,
                        refill: c.tokens - bl.tk,
                        read_tk: bl.tk,
                    });
                }
            }
            let wcu = check(&bucket.wcu, bucket.rf, count, 0, now);
            lines.push(NormalLine {
                name: bucket.wcu.name.clone(),
                consumed: 0,
                refill: wcu.tokens - bucket.wcu.tk,
                read_tk: bucket.wcu.tk,
            });
            ttl_limits.push(BucketLimit::fresh_wcu());
            let ttl = if custom {
                TtlAction::Remove
            } else {
                match ttl_seconds(ttl_limits.iter(), ttl_multiplier) {
                    Some(s) => TtlAction::Set(now.div_euclid(1000) + s),
                    None => TtlAction::Remove,
                }
            };
            let owner = read.meta.as_ref().map(|m| OwnerStamp {
                cascade: read.cascade,
                parent_id: m.parent_id.clone(),
                pgen: m.pgen,
                pinc: m.incarnation.clone(),
            });
            let spec = requests::normal(&NormalWrite {
                key,
                lines,
                seeds,
                expected_rf: bucket.rf,
                written_rf: now.max(bucket.rf),
                now_ms: now,
                ttl,
                read_vu: bucket.vu,
                owner,
            });
            OwnerPlan {
                entity_id: read.entity_id.clone(),
                shard: read.shard,
                creates: false,
                write: Write::Update(spec),
                check: None,
                statuses,
                entries,
                consumed,
                shard_count: count,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::ConfigSource;
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn read(bucket: Option<BucketItem>, source: ConfigSource) -> OwnerRead {
        OwnerRead {
            entity_id: "user-2".into(),
            shard: 0,
            shard_count: 1,
            config: ResolvedConfig {
                limits: vec![Limit::per_minute("rpm", 100, None).unwrap()],
                source,
                disabled: None,
                cascade_policy: None,
            },
            meta: None,
            bucket,
            cascade: false,
        }
    }

    #[test]
    fn create_matches_vector_v6() {
        let now = 1_795_400_236_115;
        let p = plan(
            "ZCtndc_pcZY",
            "gpt-4",
            &read(None, ConfigSource::System),
            &[("rpm".into(), 1)],
            now,
            7,
        );
        assert!(p.creates);
        let Write::Put { item, condition } = &p.write else {
            panic!()
        };
        assert_eq!(condition, "attribute_not_exists(PK)");
        assert_eq!(item["ttl"], AttributeValue::N("1795400656".into()));
        assert_eq!(item["b_rpm_tk"], AttributeValue::N("99000".into()));
        assert_eq!(item["b_rpm_tc"], AttributeValue::N("1000".into()));
        assert_eq!(item["rf"], AttributeValue::N(now.to_string()));
        assert_eq!(item.len(), 24);
        assert!(matches!(p.check, Some(Write::Check { ref condition, .. }) if condition == "attribute_not_exists(PK)"));
        let p = plan(
            "ns",
            "gpt-4",
            &read(None, ConfigSource::Entity),
            &[("rpm".into(), 1)],
            now,
            7,
        );
        let Write::Put { item, .. } = &p.write else { panic!() };
        assert!(!item.contains_key("ttl"));
    }

    #[test]
    fn rejects_without_writing_when_short() {
        let p = plan(
            "ns",
            "gpt-4",
            &read(None, ConfigSource::System),
            &[("rpm".into(), 101)],
            0,
            7,
        );
        assert!(p.statuses[0].exceeded);
        assert!(p.entries.is_empty());
    }

    #[test]
    fn normal_refills_and_seeds_new_limits() {
        let now = 120_000;
        let bucket = BucketItem {
            entity_id: "user-2".into(),
            resource: "gpt-4".into(),
            shard: 0,
            rf: 60_000,
            shard_count: 1,
            cascade: false,
            parent_id: None,
            pgen: None,
            pinc: None,
            ttl: None,
            vu: Some(0),
            disabled: false,
            limits: vec![BucketLimit {
                name: "rpm".into(),
                tk: 0,
                cp: 100_000,
                ra: 100_000,
                rp: 60_000,
                tc: 100_000,
            }],
            wcu: BucketLimit {
                tk: 990_000,
                ..BucketLimit::fresh_wcu()
            },
        };
        let mut r = read(Some(bucket), ConfigSource::Resource);
        r.config.limits.push(Limit::per_minute("tpm", 50, None).unwrap());
        let p = plan("ns", "gpt-4", &r, &[("rpm".into(), 2), ("tpm".into(), 5)], now, 7);
        assert!(!p.creates);
        assert!(p.statuses.iter().all(|s| !s.exceeded));
        let Write::Update(u) = &p.write else { panic!() };
        assert_eq!(
            u.values[":bd0"],
            AttributeValue::N("98000".into()),
            "refill 100000 - consumed 2000"
        );
        assert_eq!(
            u.values[":st0"],
            AttributeValue::N("45000".into()),
            "seeded tpm: 50000 - 5000"
        );
        assert_eq!(u.values[":evu"], AttributeValue::N("0".into()));
        assert!(u.update.contains("#ttl = :ttl_val"));
        assert_eq!(p.entries.len(), 2);
    }
}
