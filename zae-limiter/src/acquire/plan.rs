//! Slow-path planning: from what was read about one owner (config, META, bucket shard),
//! decide admission and build the create or normal write (wire-format §6.5).

use super::config::ResolvedConfig;
use super::lease::LeaseEntry;
use super::math::{self, check, expiry_epoch_seconds, shard_params, ttl_seconds};
use super::rate_limited::LimitStatus;
use super::requests::{self, CreditPin, NormalLine, NormalWrite, OwnerStamp, Seed, TtlAction, Write};
use crate::error::{Error, Result};
use crate::limit::{Limit, to_milli};
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
        (limit.capacity_milli / 1000, limit.refill_amount_milli / 1000)
    } else {
        (
            ((limit.capacity_milli / sc) / 1000).max(1),
            ((limit.refill_amount_milli / sc) / 1000).max(1),
        )
    };
    LimitStatus {
        entity_id: entity_id.to_string(),
        resource: resource.to_string(),
        limit_name: limit.name.clone(),
        capacity,
        refill_amount,
        refill_period_seconds: (limit.refill_period_ms / 1000).max(1),
        available: c.available,
        requested,
        exceeded: !c.ok,
        retry_after_seconds: c.retry_after,
    }
}

/// Plans one owner's write. `consume` lists declared limits (tokens). Fails with
/// [`Error::Overflow`] when a stored balance is so far out of range that the refill
/// delta the write carries does not fit an `i64`.
pub(crate) fn plan(
    ns: &str,
    resource: &str,
    read: &OwnerRead,
    consume: &[(String, i64)],
    now: i64,
    ttl_multiplier: i64,
) -> Result<OwnerPlan> {
    let planner = Planner {
        ns,
        resource,
        read,
        consume,
        now,
        ttl_multiplier,
    };
    match &read.bucket {
        None => planner.plan_create(),
        Some(bucket) => planner.plan_normal(bucket),
    }
}

/// What one owner's plan admits, collected limit by limit.
#[derive(Debug, Default)]
struct Admission {
    statuses: Vec<LimitStatus>,
    entries: Vec<LeaseEntry>,
    consumed: Vec<(String, i64)>,
}

/// How the normal write lands one configured limit.
enum LimitUpdate {
    /// The limit is on the item: `ADD` its refill and consumption.
    Line(NormalLine),
    /// The limit is missing from the item: `SET` it in full.
    Seed(Seed),
}

/// The inputs of one owner's plan.
struct Planner<'a> {
    ns: &'a str,
    resource: &'a str,
    read: &'a OwnerRead,
    consume: &'a [(String, i64)],
    now: i64,
    ttl_multiplier: i64,
}

impl Planner<'_> {
    /// The create path: a new bucket item with every configured limit at its per-shard
    /// ceiling less what this acquire takes, `Put` with an owner `ConditionCheck`.
    fn plan_create(&self) -> Result<OwnerPlan> {
        let shard_count = self.read.shard_count.max(1);
        let mut admission = Admission::default();
        let limits = self
            .read
            .config
            .limits
            .iter()
            .map(|limit| self.created_limit(limit, shard_count, &mut admission))
            .collect::<Result<_>>()?;
        let bucket = self.new_bucket(shard_count, limits);
        let owner_check = requests::owner_check(self.ns, &self.read.entity_id, self.read.meta.as_ref());
        let write = requests::create(self.ns, &bucket);
        Ok(self.owner_plan(true, write, Some(owner_check), admission, shard_count))
    }

    /// One limit of a bucket being created: full, then debited when the acquire declares
    /// it and it admits.
    fn created_limit(&self, limit: &Limit, shard_count: u32, admission: &mut Admission) -> Result<BucketLimit> {
        let mut created = full_limit(limit, shard_count);
        let Some(requested) = self.requested(limit.name()) else {
            return Ok(created);
        };
        let c = check(&created, self.now, shard_count, requested, self.now);
        let taken = self.admit(&created, shard_count, requested, &c, admission)?;
        if c.ok {
            // Admitted: 0 ≤ taken ≤ tokens, so the difference is in range.
            created.tokens_milli = c.tokens - taken;
            created.total_consumed_milli = taken;
        }
        Ok(created)
    }

    /// The bucket item the create path writes, stamped with the owner's META as read.
    fn new_bucket(&self, shard_count: u32, limits: Vec<BucketLimit>) -> BucketItem {
        let meta = self.read.meta.as_ref();
        BucketItem {
            entity_id: self.read.entity_id.clone(),
            resource: self.resource.to_string(),
            shard: self.read.shard,
            last_refill_ms: self.now,
            shard_count,
            cascade: self.read.cascade,
            parent_id: meta.and_then(|m| m.parent_id.clone()),
            parent_generation: meta.map(|m| m.parent_generation),
            owner_incarnation: meta.map(|m| m.incarnation.clone()),
            ttl: self.expiry(limits.iter()),
            valid_until_ms: None,
            disabled: false,
            limits,
            write_capacity_limit: BucketLimit::fresh_wcu(),
        }
    }

    /// The normal path: refill every limit on the item to now, debit the declared ones
    /// and seed missing ones, all under the `rf` lock.
    fn plan_normal(&self, bucket: &BucketItem) -> Result<OwnerPlan> {
        let shard_count = bucket.shard_count.max(1);
        let mut admission = Admission::default();
        let mut lines = Vec::new();
        let mut seeds = Vec::new();
        for limit in &self.read.config.limits {
            match self.updated_limit(bucket, limit, shard_count, &mut admission)? {
                LimitUpdate::Line(line) => lines.push(line),
                LimitUpdate::Seed(seed) => seeds.push(seed),
            }
        }
        lines.push(self.wcu_refill(bucket, shard_count)?);
        let spec = requests::normal(&NormalWrite {
            key: BucketItem::key(self.ns, &self.read.entity_id, self.resource, self.read.shard),
            lines,
            seeds,
            expected_last_refill_ms: bucket.last_refill_ms,
            new_last_refill_ms: self.now.max(bucket.last_refill_ms),
            now_ms: self.now,
            ttl: self.normal_ttl(),
            read_valid_until_ms: bucket.valid_until_ms,
            owner: self.owner_stamp(),
        })?;
        Ok(self.owner_plan(false, Write::Update(spec), None, admission, shard_count))
    }

    /// Refills one configured limit of an existing item (a missing one starts full at
    /// now) and debits it when declared and admitted.
    fn updated_limit(
        &self,
        bucket: &BucketItem,
        limit: &Limit,
        shard_count: u32,
        admission: &mut Admission,
    ) -> Result<LimitUpdate> {
        let requested = self.requested(limit.name());
        let (current, last_refill_ms, missing) = match bucket.limit(limit.name()) {
            Some(stored) => (stored.clone(), bucket.last_refill_ms, false),
            None => (full_limit(limit, shard_count), self.now, true),
        };
        let c = check(&current, last_refill_ms, shard_count, requested.unwrap_or(0), self.now);
        let taken = match requested {
            Some(r) => self.admit(&current, shard_count, r, &c, admission)?,
            None => 0,
        };
        if missing {
            let mut landed = current;
            // Admitted or not taken: 0 ≤ taken ≤ tokens.
            landed.tokens_milli = c.tokens - taken;
            landed.total_consumed_milli = taken;
            return Ok(LimitUpdate::Seed(Seed { limit: landed }));
        }
        Ok(LimitUpdate::Line(NormalLine {
            name: current.name.clone(),
            consumed: taken,
            refill: refill_delta(&self.read.entity_id, &current, c.tokens)?,
            read_tokens_milli: current.tokens_milli,
        }))
    }

    /// The `wcu` line of a normal write: refill only.
    fn wcu_refill(&self, bucket: &BucketItem, shard_count: u32) -> Result<NormalLine> {
        let write_capacity = &bucket.write_capacity_limit;
        let c = check(write_capacity, bucket.last_refill_ms, shard_count, 0, self.now);
        Ok(NormalLine {
            name: write_capacity.name.clone(),
            consumed: 0,
            refill: refill_delta(&self.read.entity_id, write_capacity, c.tokens)?,
            read_tokens_milli: write_capacity.tokens_milli,
        })
    }

    /// The TTL a normal write sets (from the configured limits and `wcu`) or removes.
    fn normal_ttl(&self) -> TtlAction {
        let configured: Vec<BucketLimit> = self.read.config.limits.iter().map(BucketLimit::empty).collect();
        let write_capacity = BucketLimit::fresh_wcu();
        match self.expiry(configured.iter().chain([&write_capacity])) {
            Some(at) => TtlAction::Set(at),
            None => TtlAction::Remove,
        }
    }

    /// Bucket expiry (epoch seconds) from `limits`; none for entity-level limits.
    fn expiry<'a>(&self, limits: impl IntoIterator<Item = &'a BucketLimit>) -> Option<i64> {
        if self.read.config.source.is_custom() {
            return None;
        }
        ttl_seconds(limits, self.ttl_multiplier).map(|s| expiry_epoch_seconds(self.now, s))
    }

    /// The owner stamp a normal write re-sets from the META it read.
    fn owner_stamp(&self) -> Option<OwnerStamp> {
        self.read.meta.as_ref().map(|m| OwnerStamp {
            cascade: self.read.cascade,
            parent_id: m.parent_id.clone(),
            parent_generation: m.parent_generation,
            incarnation: m.incarnation.clone(),
        })
    }

    /// Tokens the acquire declares for limit `name`.
    fn requested(&self, name: &str) -> Option<i64> {
        self.consume.iter().find(|(n, _)| n == name).map(|(_, a)| *a)
    }

    /// Records the status of `requested` tokens against `limit` and, when `c` admits,
    /// the lease entry; returns the millitokens taken (0 when rejected).
    fn admit(
        &self,
        limit: &BucketLimit,
        shard_count: u32,
        requested: i64,
        c: &math::Check,
        admission: &mut Admission,
    ) -> Result<i64> {
        let entity_id = &self.read.entity_id;
        admission
            .statuses
            .push(status(entity_id, self.resource, limit, shard_count, requested, c));
        if !c.ok {
            return Ok(0);
        }
        let taken = to_milli(requested, "consume amount")?;
        admission.consumed.push((limit.name.clone(), taken));
        admission.entries.push(LeaseEntry {
            entity_id: entity_id.clone(),
            resource: self.resource.to_string(),
            shard: self.read.shard,
            name: limit.name.clone(),
            consumed: requested,
            capacity_milli: limit.capacity_milli,
            ceiling_milli: shard_params(limit, shard_count).capacity_milli,
            pin: CreditPin {
                shard_count,
                valid_until_ms: None,
            },
        });
        Ok(taken)
    }

    /// Assembles the plan.
    fn owner_plan(
        &self,
        creates: bool,
        write: Write,
        check: Option<Write>,
        admission: Admission,
        shard_count: u32,
    ) -> OwnerPlan {
        OwnerPlan {
            entity_id: self.read.entity_id.clone(),
            shard: self.read.shard,
            creates,
            write,
            check,
            statuses: admission.statuses,
            entries: admission.entries,
            consumed: admission.consumed,
            shard_count,
        }
    }
}

/// The millitokens a refill adds to `limit`'s stored balance to reach `refilled`: an
/// error when a balance far in debt makes the difference overflow an `i64` (zae-limiter
/// would send a number this client cannot represent).
fn refill_delta(entity_id: &str, limit: &BucketLimit, refilled: i64) -> Result<i64> {
    refilled.checked_sub(limit.tokens_milli).ok_or_else(|| {
        Error::Overflow(format!(
            "refilling limit {:?} of {entity_id} from {} to {refilled} millitokens",
            limit.name, limit.tokens_milli
        ))
    })
}

/// `limit` at its per-shard ceiling, nothing consumed.
fn full_limit(limit: &Limit, shard_count: u32) -> BucketLimit {
    let mut full = BucketLimit::empty(limit);
    full.tokens_milli = shard_params(&full, shard_count).capacity_milli;
    full
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
        )
        .unwrap();
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
        )
        .unwrap();
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
        )
        .unwrap();
        assert!(p.statuses[0].exceeded);
        assert!(p.entries.is_empty());
    }

    fn bucket_with(limit: BucketLimit, last_refill_ms: i64) -> BucketItem {
        BucketItem {
            entity_id: "user-2".into(),
            resource: "gpt-4".into(),
            shard: 0,
            last_refill_ms,
            shard_count: 1,
            cascade: false,
            parent_id: None,
            parent_generation: None,
            owner_incarnation: None,
            ttl: None,
            valid_until_ms: None,
            disabled: false,
            limits: vec![limit],
            write_capacity_limit: BucketLimit::fresh_wcu(),
        }
    }

    #[test]
    fn huge_requests_are_rejected_never_admitted() {
        // i64::MAX tokens: ×1000 wraps to -1000 in i64, which the full bucket "covers".
        for amount in [i64::MAX, i64::MAX / 1000 + 1, 101] {
            let p = plan(
                "ns",
                "gpt-4",
                &read(None, ConfigSource::System),
                &[("rpm".into(), amount)],
                0,
                7,
            )
            .unwrap();
            assert!(p.statuses[0].exceeded, "{amount}");
            assert!(p.entries.is_empty() && p.consumed.is_empty(), "{amount}");
            assert_eq!(p.statuses[0].requested, amount);
        }
    }

    #[test]
    fn a_balance_too_deep_in_debt_to_refill_is_an_error() {
        // tk = i64::MIN refilled to the ceiling: the ADD it needs is beyond i64.
        let deep = BucketLimit {
            name: "rpm".into(),
            tokens_milli: i64::MIN,
            capacity_milli: 100_000,
            refill_amount_milli: 1_000_000_000_000_000_000,
            refill_period_ms: 1,
            total_consumed_milli: 0,
        };
        let r = read(Some(bucket_with(deep, 0)), ConfigSource::Resource);
        let err = plan("ns", "gpt-4", &r, &[], 60_000, 7).unwrap_err();
        assert!(matches!(err, Error::Overflow(_)), "{err}");
        // The same debt one refill step smaller plans normally.
        let shallow = BucketLimit {
            name: "rpm".into(),
            tokens_milli: i64::MIN,
            capacity_milli: 100_000,
            refill_amount_milli: 100_000,
            refill_period_ms: 60_000,
            total_consumed_milli: 0,
        };
        let r = read(Some(bucket_with(shallow, 0)), ConfigSource::Resource);
        let p = plan("ns", "gpt-4", &r, &[], 60_000, 7).unwrap();
        let Write::Update(u) = &p.write else { panic!() };
        assert_eq!(u.values[":bd0"], AttributeValue::N("100000".into()));
    }

    #[test]
    fn the_slowest_limit_never_expires_instead_of_wrapping_its_ttl() {
        let mut r = read(None, ConfigSource::System);
        r.config.limits =
            vec![Limit::custom("slow", crate::limit::MAX_TOKENS, 1, crate::limit::MAX_PERIOD_SECONDS).unwrap()];
        let p = plan("ns", "gpt-4", &r, &[("slow".into(), 1)], 1_795_400_236_115, 7).unwrap();
        let Write::Put { item, .. } = &p.write else { panic!() };
        assert_eq!(item["ttl"], AttributeValue::N(i64::MAX.to_string()));
    }

    #[test]
    fn normal_refills_and_seeds_new_limits() {
        let now = 120_000;
        let bucket = BucketItem {
            entity_id: "user-2".into(),
            resource: "gpt-4".into(),
            shard: 0,
            last_refill_ms: 60_000,
            shard_count: 1,
            cascade: false,
            parent_id: None,
            parent_generation: None,
            owner_incarnation: None,
            ttl: None,
            valid_until_ms: Some(0),
            disabled: false,
            limits: vec![BucketLimit {
                name: "rpm".into(),
                tokens_milli: 0,
                capacity_milli: 100_000,
                refill_amount_milli: 100_000,
                refill_period_ms: 60_000,
                total_consumed_milli: 100_000,
            }],
            write_capacity_limit: BucketLimit {
                tokens_milli: 990_000,
                ..BucketLimit::fresh_wcu()
            },
        };
        let mut r = read(Some(bucket), ConfigSource::Resource);
        r.config.limits.push(Limit::per_minute("tpm", 50, None).unwrap());
        let p = plan("ns", "gpt-4", &r, &[("rpm".into(), 2), ("tpm".into(), 5)], now, 7).unwrap();
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
