//! The DynamoDB write shapes of the acquire protocol (wire-format §6.3–§6.6), built exactly
//! as zae-limiter 0.17.0 builds them, and the dispatcher that sends one of them as a
//! plain `PutItem`/`UpdateItem` or several as one `TransactWriteItems`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use crate::ddb::{built, non_empty};
use crate::error::{Error, Result};
use crate::limit::to_milli;
use crate::schema::attrs::{self, Item, n, s};
use crate::schema::bucket::{
    BYPASS, BucketItem, BucketLimit, FIELD_CP, FIELD_GC, FIELD_RA, FIELD_RP, FIELD_RSA, FIELD_RSCHED, FIELD_SCHED,
    FIELD_SOFT, FIELD_TC, FIELD_TK, RF, SHARD_COUNT, VU, WCU_LIMIT_NAME, WCU_PER_WRITE_MILLI, bucket_attr,
};
use crate::schema::entity::{EntityMeta, LEGACY_INCARNATION};

/// One write: a full-item put, an update, or a condition check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Write {
    /// `Put` with a condition.
    Put {
        /// The item.
        item: Item,
        /// Condition.
        condition: String,
    },
    /// `Update`.
    Update(UpdateSpec),
    /// `ConditionCheck`.
    Check {
        /// Key.
        key: Item,
        /// Condition.
        condition: String,
        /// Names.
        names: HashMap<String, String>,
        /// Values.
        values: HashMap<String, AttributeValue>,
    },
}

/// The parameters of one `UpdateItem`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct UpdateSpec {
    pub key: Item,
    pub update: String,
    pub condition: Option<String>,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
    /// `ReturnValuesOnConditionCheckFailure = ALL_OLD`.
    pub old_on_failure: bool,
}

impl UpdateSpec {
    fn name(&mut self, alias: &str, attr: impl Into<String>) {
        self.names.insert(alias.to_string(), attr.into());
    }

    fn value(&mut self, token: &str, v: AttributeValue) {
        self.values.insert(token.to_string(), v);
    }
}

/// The speculative fast-path write (wire-format §6.3, vectors V4/V5): `ADD tc, tk` per consumed
/// limit plus the `wcu` debit, under the exact zae-limiter condition. An amount whose
/// millitokens do not fit an `i64` is an error: wrapped, it would be a credit that the
/// condition `tk >= :h` always admits.
pub(crate) fn speculative(key: Item, consume: &[(String, i64)], now_ms: i64) -> Result<UpdateSpec> {
    let mut u = UpdateSpec {
        key,
        old_on_failure: true,
        ..UpdateSpec::default()
    };
    let mut adds = Vec::new();
    let mut cond = vec!["attribute_exists(PK)".to_string()];
    for (i, (name, amount)) in consume.iter().enumerate() {
        let milli = to_milli(*amount, "consume amount")?;
        u.name(&format!("#c{i}"), bucket_attr(name, FIELD_TC));
        u.value(&format!(":p{i}"), n(milli));
        adds.push(format!("#c{i} :p{i}"));
        u.name(&format!("#t{i}"), bucket_attr(name, FIELD_TK));
        u.value(&format!(":n{i}"), n(-milli));
        u.value(&format!(":h{i}"), n(milli));
        adds.push(format!("#t{i} :n{i}"));
        u.name(&format!("#o{i}"), bucket_attr(name, FIELD_SOFT));
        u.name(&format!("#oc{i}"), bucket_attr(name, FIELD_CP));
        cond.push(format!(
            "(#byp > :vu_now OR (#o{i} > :vu_now AND attribute_exists(#oc{i}) AND attribute_exists(#t{i})) \
             OR #t{i} >= :h{i})"
        ));
        cond.push(format!("(attribute_not_exists(#o{i}) OR #o{i} > :vu_now)"));
    }
    u.name("#byp", BYPASS);
    u.value(":vu_now", n(now_ms));
    cond.push("(attribute_not_exists(#byp) OR #byp > :vu_now)".into());
    u.name("#wcu_tk", bucket_attr(WCU_LIMIT_NAME, FIELD_TK));
    u.name("#wcu_tc", bucket_attr(WCU_LIMIT_NAME, FIELD_TC));
    u.value(":neg_wcu", n(-WCU_PER_WRITE_MILLI));
    u.value(":pos_wcu", n(WCU_PER_WRITE_MILLI));
    u.value(":thresh_wcu", n(WCU_PER_WRITE_MILLI));
    adds.push("#wcu_tk :neg_wcu".into());
    adds.push("#wcu_tc :pos_wcu".into());
    cond.push("#wcu_tk >= :thresh_wcu".into());
    u.name("#ttl", attrs::TTL);
    u.value(":now_epoch", n(now_ms.div_euclid(1000)));
    cond.push("(attribute_not_exists(#ttl) OR #ttl > :now_epoch)".into());
    u.name("#disabled", attrs::DISABLED);
    cond.push("attribute_not_exists(#disabled)".into());
    u.name("#vu", VU);
    cond.push("(#byp > :vu_now OR attribute_not_exists(#vu) OR #vu > :vu_now)".into());
    u.update = format!("ADD {}", adds.join(", "));
    u.condition = Some(cond.join(" AND "));
    Ok(u)
}

/// The create path's `Put` (condition `attribute_not_exists(PK)`).
pub(crate) fn create(ns: &str, bucket: &BucketItem) -> Write {
    Write::Put {
        item: bucket.to_item(ns),
        condition: "attribute_not_exists(PK)".into(),
    }
}

/// The `ConditionCheck` pinning a create to its owner's META as read (ADR-150).
pub(crate) fn owner_check(ns: &str, entity_id: &str, meta: Option<&EntityMeta>) -> Write {
    let key = EntityMeta::key(ns, entity_id);
    let Some(meta) = meta else {
        return Write::Check {
            key,
            condition: "attribute_not_exists(PK)".into(),
            names: HashMap::new(),
            values: HashMap::new(),
        };
    };
    let mut names = HashMap::from([
        ("#opg".to_string(), attrs::PGEN.to_string()),
        ("#opi".to_string(), attrs::PINC.to_string()),
    ]);
    let mut values = HashMap::from([(":opg".to_string(), n(meta.parent_generation))]);
    let mut parts = vec!["attribute_exists(PK)".to_string()];
    parts.push(if meta.parent_generation == 0 {
        "(attribute_not_exists(#opg) OR #opg = :opg)".into()
    } else {
        "#opg = :opg".into()
    });
    names.insert("#oca".into(), attrs::CREATED_AT.into());
    values.insert(":opi".into(), s(&meta.incarnation));
    let created = if meta.incarnation == LEGACY_INCARNATION {
        "(#oca = :opi OR attribute_not_exists(#oca))"
    } else {
        "#oca = :opi"
    };
    parts.push(format!("(#opi = :opi OR (attribute_not_exists(#opi) AND {created}))"));
    Write::Check {
        key,
        condition: parts.join(" AND "),
        names,
        values,
    }
}

/// What the normal path writes for one limit already on the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NormalLine {
    /// Limit name.
    pub name: String,
    /// Millitokens consumed by this acquire.
    pub consumed: i64,
    /// Millitokens refilled by this pass (new balance − read balance + consumed).
    pub refill: i64,
    /// Balance (`tk`, millitokens) as read.
    pub read_tokens_milli: i64,
}

/// A limit missing from an existing item, written in full by the normal path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seed {
    /// The limit as it should land (balance already net of this acquire).
    pub limit: BucketLimit,
}

/// TTL handling of a normal write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TtlAction {
    /// `REMOVE #ttl` (limits from entity config).
    Remove,
    /// `SET #ttl = :ttl_val`.
    Set(i64),
}

/// The owner stamp a normal write re-sets from the META it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnerStamp {
    pub cascade: bool,
    pub parent_id: Option<String>,
    /// Parent generation (`pgen`).
    pub parent_generation: i64,
    /// Owner incarnation (`pinc`).
    pub incarnation: String,
}

/// Inputs of [`normal`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NormalWrite {
    pub key: Item,
    pub lines: Vec<NormalLine>,
    pub seeds: Vec<Seed>,
    /// The refill timestamp (`rf`, epoch ms) read off the item: the optimistic lock.
    pub expected_last_refill_ms: i64,
    /// The refill timestamp this write sets.
    pub new_last_refill_ms: i64,
    pub now_ms: i64,
    pub ttl: TtlAction,
    /// The valid-until stamp (`vu`, epoch ms) read off the item (`None` = absent); `vu`
    /// is always removed.
    pub read_valid_until_ms: Option<i64>,
    pub owner: Option<OwnerStamp>,
}

/// The normal (rf-locked) write path (wire-format §6.5, ADR-115 path 2). A line whose
/// net change (`refill − consumed`) does not fit an `i64` is [`Error::Overflow`].
pub(crate) fn normal(w: &NormalWrite) -> Result<UpdateSpec> {
    let mut u = UpdateSpec {
        key: w.key.clone(),
        ..UpdateSpec::default()
    };
    let mut sets = vec!["#rf = :now".to_string()];
    let mut adds = Vec::new();
    let mut removes = Vec::new();
    u.name("#rf", RF);
    u.value(":now", n(w.new_last_refill_ms));
    u.value(":expected_rf", n(w.expected_last_refill_ms));
    u.name("#ttl", attrs::TTL);
    match w.ttl {
        TtlAction::Set(ttl) => {
            sets.push("#ttl = :ttl_val".into());
            u.value(":ttl_val", n(ttl));
        }
        TtlAction::Remove => removes.push("#ttl".to_string()),
    }
    removes.push("#vu".into());
    u.name("#vu", VU);
    let mut cond = vec!["#rf = :expected_rf".to_string()];
    if let Some(owner) = &w.owner {
        sets.push("#ocs = :ocs".into());
        u.name("#ocs", attrs::CASCADE);
        u.value(":ocs", attrs::b(owner.cascade));
        u.name("#opid", attrs::PARENT_ID);
        match &owner.parent_id {
            Some(p) => {
                sets.push("#opid = :opid".into());
                u.value(":opid", s(p));
            }
            None => removes.push("#opid".into()),
        }
        sets.push("#opg = :opg".into());
        u.name("#opg", attrs::PGEN);
        u.value(":opg", n(owner.parent_generation));
        sets.push("#opi = :opi".into());
        u.name("#opi", attrs::PINC);
        u.value(":opi", s(&owner.incarnation));
        cond.push(
            "(attribute_not_exists(#opi) OR (#opi = :opi AND (attribute_not_exists(#opg) OR #opg <= :opg)))".into(),
        );
        u.old_on_failure = true;
    }
    for (i, line) in w.lines.iter().enumerate() {
        u.name(&format!("#bt{i}"), bucket_attr(&line.name, FIELD_TK));
        u.name(&format!("#bc{i}"), bucket_attr(&line.name, FIELD_TC));
        let net = line.refill.checked_sub(line.consumed).ok_or_else(|| {
            Error::Overflow(format!(
                "limit {:?}: refill {} minus consumption {} millitokens",
                line.name, line.refill, line.consumed
            ))
        })?;
        u.value(&format!(":bd{i}"), n(net));
        u.value(&format!(":bcd{i}"), n(line.consumed));
        adds.push(format!("#bt{i} :bd{i}"));
        adds.push(format!("#bc{i} :bcd{i}"));
        // −net, computed without negating i64::MIN.
        let floor = if net < 0 { net.unsigned_abs() } else { 0 };
        let floor = i64::try_from(floor)
            .map_err(|_| Error::Overflow(format!("limit {:?}: balance floor {floor} millitokens", line.name)))?;
        if floor > 0 {
            u.value(&format!(":bf{i}"), n(floor));
            u.value(":bnow", n(w.now_ms));
            u.name(&format!("#bo{i}"), bucket_attr(&line.name, FIELD_SOFT));
            cond.push(format!("(#bo{i} > :bnow OR #bt{i} >= :bf{i})"));
        }
        if line.refill > 0 {
            u.value(&format!(":bk{i}"), n(line.read_tokens_milli));
            cond.push(format!("#bt{i} <= :bk{i}"));
        }
    }
    for (j, seed) in w.seeds.iter().enumerate() {
        let l = &seed.limit;
        for (field, code, value) in [
            (FIELD_TK, "t", l.tokens_milli),
            (FIELD_CP, "p", l.capacity_milli),
            (FIELD_RA, "a", l.refill_amount_milli),
            (FIELD_RP, "d", l.refill_period_ms),
            (FIELD_TC, "c", l.total_consumed_milli),
        ] {
            u.name(&format!("#s{code}{j}"), bucket_attr(&l.name, field));
            u.value(&format!(":s{code}{j}"), n(value));
            sets.push(format!("#s{code}{j} = :s{code}{j}"));
        }
        cond.push(format!(
            "(attribute_not_exists(#sp{j}) OR attribute_not_exists(#st{j}))"
        ));
    }
    match w.read_valid_until_ms {
        None => cond.push("attribute_not_exists(#vu)".into()),
        Some(valid_until_ms) => {
            u.value(":evu", n(valid_until_ms));
            cond.push("#vu = :evu".into());
        }
    }
    let mut expr = format!("SET {}", sets.join(", "));
    if !adds.is_empty() {
        expr.push_str(&format!(" ADD {}", adds.join(", ")));
    }
    expr.push_str(&format!(" REMOVE {}", removes.join(", ")));
    u.update = expr;
    u.condition = Some(cond.join(" AND "));
    Ok(u)
}

/// The consumption-only retry path (ADR-115 path 3): `ADD tk −c, tc +c` per limit with
/// `c > 0`, each under `tk >= c` (or a live soft stamp).
pub(crate) fn retry(key: Item, consumed: &[(String, i64)], now_ms: i64) -> Option<UpdateSpec> {
    let mut u = UpdateSpec {
        key,
        old_on_failure: true,
        ..UpdateSpec::default()
    };
    let mut adds = Vec::new();
    let mut cond = Vec::new();
    for (i, (name, c)) in consumed.iter().enumerate() {
        if *c <= 0 {
            continue;
        }
        u.name(&format!("#bt{i}"), bucket_attr(name, FIELD_TK));
        u.name(&format!("#bc{i}"), bucket_attr(name, FIELD_TC));
        u.value(&format!(":bd{i}"), n(-c));
        u.value(&format!(":bcd{i}"), n(*c));
        u.value(&format!(":bf{i}"), n(*c));
        adds.push(format!("#bt{i} :bd{i}"));
        adds.push(format!("#bc{i} :bcd{i}"));
        u.name(&format!("#be{i}"), bucket_attr(name, FIELD_CP));
        u.name(&format!("#bo{i}"), bucket_attr(name, FIELD_SOFT));
        u.value(":bnow", n(now_ms));
        cond.push(format!(
            "(#bt{i} >= :bf{i} OR (#bo{i} > :bnow AND attribute_exists(#be{i}) AND attribute_exists(#bt{i})))"
        ));
    }
    if adds.is_empty() {
        return None;
    }
    u.update = format!("ADD {}", adds.join(", "));
    u.condition = Some(cond.join(" AND "));
    Some(u)
}

/// The ceiling a credit is checked against, and what it pins (§6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CreditCeiling {
    /// Per-shard ceiling (millitokens).
    pub ceiling: i64,
    /// Stored `cp` the ceiling was computed from.
    pub capacity: i64,
}

/// The item state a self-trimming credit pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CreditPin {
    pub shard_count: u32,
    /// The item's valid-until stamp (`vu`, epoch ms) when it was read.
    pub valid_until_ms: Option<i64>,
}

/// An adjustment (ADR-115 path 4): per limit `ADD tk −delta, tc +delta` under
/// `attribute_exists(PK)`. A credit (negative delta) with a known ceiling is
/// self-trimming: `tk <= ceiling − credit` plus pins on `cp`, `gc`, per-limit schedule
/// overrides and the item's `shard_count`, `vu`, `sched`, `rsched`, `sched_tz`.
/// `trim` re-sends the same `ADD` with `SET vu = 0` and no ceiling terms.
/// [`Error::Overflow`] when a delta cannot be negated or `ceiling + credit` does not fit
/// an `i64` (a corrupt stored capacity); nothing is sent then.
pub(crate) fn adjust(
    key: Item,
    deltas: &[(String, i64)],
    ceilings: &HashMap<String, CreditCeiling>,
    pin: Option<&CreditPin>,
    trim: bool,
) -> Result<Option<UpdateSpec>> {
    let mut u = UpdateSpec {
        key,
        ..UpdateSpec::default()
    };
    let mut adds = Vec::new();
    let mut cond = vec!["attribute_exists(PK)".to_string()];
    let mut ceiling_terms = false;
    for (i, (name, delta)) in deltas.iter().enumerate() {
        if *delta == 0 {
            continue;
        }
        let overflow = |what: String| Error::Overflow(format!("adjusting limit {name:?}: {what}"));
        let negated = delta
            .checked_neg()
            .ok_or_else(|| overflow(format!("{delta} millitokens cannot be negated")))?;
        u.name(&format!("#bt{i}"), bucket_attr(name, FIELD_TK));
        u.value(&format!(":bd{i}"), n(negated));
        adds.push(format!("#bt{i} :bd{i}"));
        u.name(&format!("#bc{i}"), bucket_attr(name, FIELD_TC));
        u.value(&format!(":bcd{i}"), n(*delta));
        adds.push(format!("#bc{i} :bcd{i}"));
        if *delta < 0
            && !trim
            && let Some(c) = ceilings.get(name)
        {
            {
                ceiling_terms = true;
                let most = c
                    .ceiling
                    .checked_add(*delta)
                    .ok_or_else(|| overflow(format!("ceiling {} plus credit {delta} millitokens", c.ceiling)))?;
                u.value(&format!(":bm{i}"), n(most));
                cond.push(format!("#bt{i} <= :bm{i}"));
                u.name(&format!("#bp{i}"), bucket_attr(name, FIELD_CP));
                u.value(&format!(":bp{i}"), n(c.capacity));
                cond.push(format!("#bp{i} = :bp{i}"));
                u.name(&format!("#bg{i}"), bucket_attr(name, FIELD_GC));
                cond.push(format!("attribute_not_exists(#bg{i})"));
                for (code, field) in [("s", FIELD_SCHED), ("r", FIELD_RSCHED)] {
                    u.name(&format!("#bx{code}{i}"), bucket_attr(name, field));
                    cond.push(format!("attribute_not_exists(#bx{code}{i})"));
                }
            }
        }
    }
    if adds.is_empty() {
        return Ok(None);
    }
    let mut expr = format!("ADD {}", adds.join(", "));
    if trim {
        u.name("#vu", VU);
        u.value(":vuz", n(0));
        expr = format!("SET #vu = :vuz {expr}");
    }
    if let (true, Some(pin)) = (ceiling_terms, pin) {
        u.name("#bsc", SHARD_COUNT);
        u.value(":bsc", n(i64::from(pin.shard_count)));
        cond.push(if pin.shard_count == 1 {
            "(attribute_not_exists(#bsc) OR #bsc = :bsc)".into()
        } else {
            "#bsc = :bsc".into()
        });
        u.name("#bvu", VU);
        match pin.valid_until_ms {
            None => cond.push("attribute_not_exists(#bvu)".into()),
            Some(valid_until_ms) => {
                u.value(":bvu", n(valid_until_ms));
                cond.push("#bvu = :bvu".into());
            }
        }
        for (code, field) in [("s", attrs::SCHED), ("r", attrs::RSCHED), ("z", attrs::SCHED_TZ)] {
            u.name(&format!("#bi{code}"), field);
            cond.push(format!("attribute_not_exists(#bi{code})"));
        }
    }
    u.update = expr;
    u.condition = Some(cond.join(" AND "));
    Ok(Some(u))
}

/// `SET shard_count = :new` on shard 0, conditioned on the count read (§6.7).
pub(crate) fn double_shards(key: Item, old: u32, new: u32) -> UpdateSpec {
    UpdateSpec {
        key,
        update: "SET shard_count = :new".into(),
        condition: Some("shard_count = :old".into()),
        names: HashMap::new(),
        values: HashMap::from([
            (":old".to_string(), n(i64::from(old))),
            (":new".to_string(), n(i64::from(new))),
        ]),
        old_on_failure: true,
    }
}

/// Stamps a grown shard count on an existing shard (`shard_count < :new`).
pub(crate) fn stamp_shard_count(key: Item, new: u32) -> UpdateSpec {
    UpdateSpec {
        key,
        update: "SET shard_count = :new".into(),
        condition: Some("shard_count < :new".into()),
        names: HashMap::new(),
        values: HashMap::from([(":new".to_string(), n(i64::from(new)))]),
        old_on_failure: false,
    }
}

/// The static-parameter sync `set_limits` applies to an entity's existing buckets
/// (zae-limiter's `_build_bucket_param_update`): `SET` each limit's undivided
/// `cp`/`ra`/`rp`, `REMOVE` its `rsa`/`soft` and every schedule attribute, `SET vu = 0`
/// (the next acquire re-materialises on the slow path), and `REMOVE ttl` (entity
/// limits) or `SET ttl`; stale limits lose all their fields. `None` when `limits` is
/// empty.
pub(crate) fn param_sync(
    key: Item,
    limits: &[crate::limit::Limit],
    ttl: Option<TtlAction>,
    stale: &[String],
) -> Option<UpdateSpec> {
    if limits.is_empty() {
        return None;
    }
    let mut u = UpdateSpec {
        key,
        ..UpdateSpec::default()
    };
    let mut sets = Vec::new();
    let mut removes = Vec::new();
    for (i, l) in limits.iter().enumerate() {
        for (alias, field, value) in [
            ("cp", FIELD_CP, l.capacity_milli()),
            ("ra", FIELD_RA, l.refill_amount_milli()),
            ("rp", FIELD_RP, l.refill_period_ms()),
        ] {
            u.name(&format!("#{alias}{i}"), bucket_attr(l.name(), field));
            u.value(&format!(":{alias}{i}"), n(value));
            sets.push(format!("#{alias}{i} = :{alias}{i}"));
        }
        u.name(&format!("#rsa{i}"), bucket_attr(l.name(), FIELD_RSA));
        removes.push(format!("#rsa{i}"));
        u.name(&format!("#sft{i}"), bucket_attr(l.name(), FIELD_SOFT));
        removes.push(format!("#sft{i}"));
    }
    u.name("#sched_tz", attrs::SCHED_TZ);
    removes.push("#sched_tz".into());
    for (alias, item_attr, limit_field) in [
        ("sched", attrs::SCHED, FIELD_SCHED),
        ("rsched", attrs::RSCHED, FIELD_RSCHED),
    ] {
        u.name(&format!("#{alias}"), item_attr);
        removes.push(format!("#{alias}"));
        for (i, l) in limits.iter().enumerate() {
            u.name(&format!("#l{alias}{i}"), bucket_attr(l.name(), limit_field));
            removes.push(format!("#l{alias}{i}"));
        }
    }
    sets.push("#vu = :vu_zero".into());
    u.name("#vu", VU);
    u.value(":vu_zero", n(0));
    match ttl {
        Some(TtlAction::Set(at)) => {
            u.name("#ttl", attrs::TTL);
            sets.push("#ttl = :ttl_val".into());
            u.value(":ttl_val", n(at));
        }
        Some(TtlAction::Remove) => {
            u.name("#ttl", attrs::TTL);
            removes.push("#ttl".into());
        }
        None => {}
    }
    let mut stale: Vec<&String> = stale.iter().collect();
    stale.sort();
    for (i, name) in stale.into_iter().enumerate() {
        for (j, field) in STALE_LIMIT_FIELDS.iter().enumerate() {
            u.name(&format!("#stale{i}_{j}"), bucket_attr(name, field));
            removes.push(format!("#stale{i}_{j}"));
        }
    }
    u.update = format!("SET {} REMOVE {}", sets.join(", "), removes.join(", "));
    u.condition = Some("attribute_exists(PK)".into());
    Some(u)
}

/// Every per-limit field a stale limit loses in [`param_sync`], in alias order.
const STALE_LIMIT_FIELDS: [&str; 8] = [
    FIELD_TK,
    FIELD_CP,
    FIELD_RA,
    FIELD_RP,
    FIELD_TC,
    FIELD_SCHED,
    FIELD_RSCHED,
    FIELD_SOFT,
];

/// Converts a write into a transaction item.
pub(crate) fn transact_item(table: &str, w: Write) -> Result<TransactWriteItem> {
    Ok(match w {
        Write::Put { item, condition } => TransactWriteItem::builder()
            .put(built(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(item))
                    .condition_expression(condition)
                    .build(),
            )?)
            .build(),
        Write::Update(u) => TransactWriteItem::builder()
            .update(built(
                Update::builder()
                    .table_name(table)
                    .set_key(Some(u.key))
                    .update_expression(u.update)
                    .set_condition_expression(u.condition)
                    .set_expression_attribute_names(non_empty(u.names))
                    .set_expression_attribute_values(non_empty(u.values))
                    .set_return_values_on_condition_check_failure(
                        u.old_on_failure.then_some(ReturnValuesOnConditionCheckFailure::AllOld),
                    )
                    .build(),
            )?)
            .build(),
        Write::Check {
            key,
            condition,
            names,
            values,
        } => TransactWriteItem::builder()
            .condition_check(built(
                ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(key))
                    .condition_expression(condition)
                    .set_expression_attribute_names(non_empty(names))
                    .set_expression_attribute_values(non_empty(values))
                    .build(),
            )?)
            .build(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speculative_matches_vector_v5_exactly() {
        let key = BucketItem::key("ZCtndc_pcZY", "user-1", "gpt-4", 0);
        let u = speculative(key, &[("rpm".into(), 1)], 1_795_400_235_982).unwrap();
        assert_eq!(u.update, "ADD #c0 :p0, #t0 :n0, #wcu_tk :neg_wcu, #wcu_tc :pos_wcu");
        assert_eq!(
            u.condition.as_deref().unwrap(),
            concat!(
                "attribute_exists(PK) AND (#byp > :vu_now OR (#o0 > :vu_now AND attribute_exists(#oc0) ",
                "AND attribute_exists(#t0)) OR #t0 >= :h0) AND (attribute_not_exists(#o0) OR #o0 > :vu_now) ",
                "AND (attribute_not_exists(#byp) OR #byp > :vu_now) AND #wcu_tk >= :thresh_wcu ",
                "AND (attribute_not_exists(#ttl) OR #ttl > :now_epoch) AND attribute_not_exists(#disabled) ",
                "AND (#byp > :vu_now OR attribute_not_exists(#vu) OR #vu > :vu_now)",
            )
        );
        let names: HashMap<String, String> = [
            ("#c0", "b_rpm_tc"),
            ("#t0", "b_rpm_tk"),
            ("#o0", "b_rpm_soft"),
            ("#oc0", "b_rpm_cp"),
            ("#byp", "bypass"),
            ("#wcu_tk", "b_wcu_tk"),
            ("#wcu_tc", "b_wcu_tc"),
            ("#ttl", "ttl"),
            ("#disabled", "disabled"),
            ("#vu", "vu"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(u.names, names);
        let values: HashMap<String, AttributeValue> = [
            (":p0", "1000"),
            (":n0", "-1000"),
            (":h0", "1000"),
            (":vu_now", "1795400235982"),
            (":neg_wcu", "-1000"),
            (":pos_wcu", "1000"),
            (":thresh_wcu", "1000"),
            (":now_epoch", "1795400235"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), AttributeValue::N(b.to_string())))
        .collect();
        assert_eq!(u.values, values);
        assert!(u.old_on_failure);
    }

    #[test]
    fn normal_matches_the_observed_refill_shape() {
        let w = NormalWrite {
            key: BucketItem::key("ns", "e", "r", 0),
            lines: vec![
                NormalLine {
                    name: "rpm".into(),
                    consumed: 1000,
                    refill: 1207,
                    read_tokens_milli: 5000,
                },
                NormalLine {
                    name: "wcu".into(),
                    consumed: 0,
                    refill: 9000,
                    read_tokens_milli: 991_000,
                },
            ],
            seeds: vec![],
            expected_last_refill_ms: 10,
            new_last_refill_ms: 2000,
            now_ms: 2000,
            ttl: TtlAction::Set(99),
            read_valid_until_ms: None,
            owner: None,
        };
        let u = normal(&w).unwrap();
        assert_eq!(
            u.update,
            "SET #rf = :now, #ttl = :ttl_val ADD #bt0 :bd0, #bc0 :bcd0, #bt1 :bd1, #bc1 :bcd1 REMOVE #vu"
        );
        assert_eq!(
            u.condition.as_deref().unwrap(),
            "#rf = :expected_rf AND #bt0 <= :bk0 AND #bt1 <= :bk1 AND attribute_not_exists(#vu)"
        );
        assert_eq!(u.values[":bd0"], n(207));
        assert_eq!(u.values[":bcd0"], n(1000));
        assert_eq!(u.values[":bd1"], n(9000));
    }

    #[test]
    fn normal_absorbing_a_net_decrease_carries_a_floor() {
        let w = NormalWrite {
            key: BucketItem::key("ns", "e", "r", 0),
            lines: vec![NormalLine {
                name: "rpm".into(),
                consumed: 3000,
                refill: 1000,
                read_tokens_milli: 5000,
            }],
            seeds: vec![],
            expected_last_refill_ms: 10,
            new_last_refill_ms: 20,
            now_ms: 20,
            ttl: TtlAction::Remove,
            read_valid_until_ms: Some(0),
            owner: Some(OwnerStamp {
                cascade: false,
                parent_id: None,
                parent_generation: 5,
                incarnation: "abc".into(),
            }),
        };
        let u = normal(&w).unwrap();
        assert_eq!(
            u.update,
            "SET #rf = :now, #ocs = :ocs, #opg = :opg, #opi = :opi ADD #bt0 :bd0, #bc0 :bcd0 REMOVE #ttl, #vu, #opid"
        );
        assert!(
            u.condition
                .as_deref()
                .unwrap()
                .contains("(#bo0 > :bnow OR #bt0 >= :bf0)")
        );
        assert!(u.condition.as_deref().unwrap().ends_with("#vu = :evu"));
        assert_eq!(u.values[":bf0"], n(2000));
    }

    #[test]
    fn credits_trim_and_debits_do_not() {
        let key = BucketItem::key("ns", "e", "r", 0);
        let ceilings = HashMap::from([(
            "rpm".to_string(),
            CreditCeiling {
                ceiling: 10_000,
                capacity: 10_000,
            },
        )]);
        let pin = CreditPin {
            shard_count: 1,
            valid_until_ms: None,
        };
        let u = adjust(key.clone(), &[("rpm".into(), -2000)], &ceilings, Some(&pin), false)
            .unwrap()
            .unwrap();
        assert_eq!(u.update, "ADD #bt0 :bd0, #bc0 :bcd0");
        assert_eq!(u.values[":bm0"], n(8000));
        assert!(
            u.condition
                .as_deref()
                .unwrap()
                .starts_with("attribute_exists(PK) AND #bt0 <= :bm0 AND #bp0 = :bp0")
        );
        let t = adjust(key.clone(), &[("rpm".into(), -2000)], &ceilings, Some(&pin), true)
            .unwrap()
            .unwrap();
        assert_eq!(t.update, "SET #vu = :vuz ADD #bt0 :bd0, #bc0 :bcd0");
        assert_eq!(t.condition.as_deref(), Some("attribute_exists(PK)"));
        let d = adjust(key.clone(), &[("rpm".into(), 500)], &ceilings, Some(&pin), false)
            .unwrap()
            .unwrap();
        assert_eq!(d.condition.as_deref(), Some("attribute_exists(PK)"));
        assert!(
            adjust(key, &[("rpm".into(), 0)], &ceilings, None, false)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn amounts_whose_millitokens_overflow_are_refused() {
        let key = BucketItem::key("ns", "e", "r", 0);
        // (i64::MAX / 1000 + 1) × 1000 wraps to a negative debit: `ADD tk +x` under
        // `tk >= -x`, admitted by any balance.
        for amount in [i64::MAX / 1000 + 1, i64::MAX] {
            let err = speculative(key.clone(), &[("rpm".into(), amount)], 0).unwrap_err();
            assert!(matches!(err, Error::InvalidLimit(_)), "{err}");
        }
        let u = speculative(key.clone(), &[("rpm".into(), i64::MAX / 1000)], 0).unwrap();
        assert_eq!(u.values[":h0"], n(i64::MAX / 1000 * 1000));
        assert_eq!(u.values[":n0"], n(-(i64::MAX / 1000 * 1000)));
    }

    #[test]
    fn normal_lines_at_the_extremes_error_instead_of_wrapping() {
        let line = |consumed: i64, refill: i64| NormalWrite {
            key: BucketItem::key("ns", "e", "r", 0),
            lines: vec![NormalLine {
                name: "rpm".into(),
                consumed,
                refill,
                read_tokens_milli: 0,
            }],
            seeds: vec![],
            expected_last_refill_ms: 0,
            new_last_refill_ms: 0,
            now_ms: 0,
            ttl: TtlAction::Remove,
            read_valid_until_ms: None,
            owner: None,
        };
        assert!(matches!(normal(&line(i64::MAX, -1)), Err(Error::Overflow(_))));
        assert!(matches!(normal(&line(1, i64::MIN)), Err(Error::Overflow(_))));
        let u = normal(&line(i64::MAX, 0)).unwrap();
        assert_eq!(u.values[":bd0"], n(-i64::MAX));
        assert_eq!(u.values[":bf0"], n(i64::MAX));
        let u = normal(&line(0, i64::MAX)).unwrap();
        assert_eq!(u.values[":bd0"], n(i64::MAX));
    }

    #[test]
    fn credits_at_the_extremes_error_instead_of_wrapping() {
        let key = BucketItem::key("ns", "e", "r", 0);
        let corrupt = HashMap::from([(
            "rpm".to_string(),
            CreditCeiling {
                ceiling: i64::MIN + 1,
                capacity: i64::MIN + 1,
            },
        )]);
        let err = adjust(key.clone(), &[("rpm".into(), -2)], &corrupt, None, false).unwrap_err();
        assert!(matches!(err, Error::Overflow(_)), "{err}");
        let none = HashMap::new();
        let err = adjust(key.clone(), &[("rpm".into(), i64::MIN)], &none, None, false).unwrap_err();
        assert!(matches!(err, Error::Overflow(_)), "{err}");
        let u = adjust(key, &[("rpm".into(), i64::MAX)], &none, None, false)
            .unwrap()
            .unwrap();
        assert_eq!(u.values[":bd0"], n(-i64::MAX));
    }

    #[test]
    fn owner_checks() {
        let Write::Check { condition, .. } = owner_check("ns", "e", None) else {
            panic!()
        };
        assert_eq!(condition, "attribute_not_exists(PK)");
        let meta = EntityMeta {
            entity_id: "e".into(),
            name: "e".into(),
            parent_id: None,
            cascade: false,
            parent_generation: 7,
            incarnation: "abc".into(),
            has_stored_incarnation: true,
            metadata: Default::default(),
            created_at: None,
        };
        let Write::Check { condition, .. } = owner_check("ns", "e", Some(&meta)) else {
            panic!()
        };
        assert_eq!(
            condition,
            "attribute_exists(PK) AND #opg = :opg AND (#opi = :opi OR (attribute_not_exists(#opi) AND #oca = :opi))"
        );
    }
}
