//! The rate limiter: acquire (fast path, fallbacks, slow path, cascade) and
//! `available()`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use rand::Rng as _;
use tracing::{debug, warn};

use super::config::{ResolvedConfig, levels, resolve};
use super::fast::{self, FailReason, Fast};
use super::io::{self, TxOutcome, WriteOutcome};
use super::lease::{Lease, LeaseEntry, join_all_futures, write_grouped};
use super::math::{check, retry_after_seconds, shard_params, whole_tokens};
use super::plan::{OwnerPlan, OwnerRead, plan};
use super::rate_limited::{LimitStatus, RateLimited};
use super::requests::{self, CreditPin, Write};
use crate::clock;
use crate::error::{Error, Result};
use crate::limit::{MAX_AMOUNT, to_milli};
use crate::repository::{RepoInner, Repository};
use crate::schema::attrs::Item;
use crate::schema::bucket::{BucketItem, MAX_SHARD_COUNT, stored_shard_count};
use crate::schema::config::DisabledFlag;
use crate::schema::entity::EntityMeta;
use crate::validate::{validate_identifier, validate_name, validate_resource};

/// Re-plans after an owner check failed (the owner's META changed under the read).
const MAX_PLANS: usize = 3;
/// Extra shards tried on a fast rejection when the bucket is sharded.
const MAX_SHARD_RETRIES: usize = 2;

/// Acquires tokens from a namespace's buckets.
///
/// Cheap to clone; clones share the repository's caches.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    repo: Arc<RepoInner>,
}

/// A pending acquire: `limiter.acquire(entity, resource).consume([...]).await`.
#[derive(Debug)]
#[must_use = "an acquire does nothing until `consume(...).await`"]
pub struct Acquire<'a> {
    limiter: &'a RateLimiter,
    entity_id: String,
    resource: String,
}

impl RateLimiter {
    /// A limiter over `repo`'s namespace.
    pub fn new(repo: Repository) -> RateLimiter {
        RateLimiter { repo: repo.inner }
    }

    /// Starts an acquire for `entity_id` on `resource`.
    pub fn acquire(&self, entity_id: &str, resource: &str) -> Acquire<'_> {
        Acquire {
            limiter: self,
            entity_id: entity_id.to_string(),
            resource: resource.to_string(),
        }
    }

    /// Tokens currently available per limit, summed over the bucket's shards (may be
    /// negative). Uses the config cache. Limits with no bucket yet report their
    /// capacity.
    pub async fn available(&self, entity_id: &str, resource: &str) -> Result<HashMap<String, i64>> {
        validate_identifier(entity_id, "entity_id")?;
        validate_resource(resource)?;
        let repo = &*self.repo;
        let config = cached_config(repo, entity_id, resource).await?;
        let shard0_key = BucketItem::key(&repo.ns_id, entity_id, resource, 0);
        let mut found = io::batch_get(&repo.table, vec![shard0_key.clone()]).await?;
        let mut shards = Vec::new();
        if let Some(item) = io::take(&mut found, &shard0_key) {
            let b0 = BucketItem::decode(&item)?;
            let count = b0.shard_count;
            shards.push(b0);
            if count > 1 {
                let keys: Vec<Item> = (1..count)
                    .map(|s| BucketItem::key(&repo.ns_id, entity_id, resource, s))
                    .collect();
                let mut more = io::batch_get(&repo.table, keys.clone()).await?;
                for key in keys {
                    if let Some(item) = io::take(&mut more, &key) {
                        shards.push(BucketItem::decode(&item)?);
                    }
                }
            }
        }
        let now = clock::now_ms();
        Ok(config
            .limits
            .iter()
            .map(|limit| {
                let on_shards: Vec<i64> = shards
                    .iter()
                    .filter_map(|b| {
                        b.limit(limit.name())
                            .map(|l| check(l, b.last_refill_ms, b.shard_count, 0, now).tokens)
                    })
                    .collect();
                let available = if on_shards.is_empty() {
                    limit.capacity()
                } else {
                    on_shards.iter().map(|t| whole_tokens(*t)).sum()
                };
                (limit.name().to_string(), available)
            })
            .collect())
    }
}

impl Acquire<'_> {
    /// Consumes `amounts` (tokens per limit name) all-or-nothing, returning a lease, or
    /// [`Error::RateLimited`] with the wait and the remaining balance per limit.
    pub async fn consume<I, S>(self, amounts: I) -> Result<Lease>
    where
        I: IntoIterator<Item = (S, i64)>,
        S: Into<String>,
    {
        let consume: Vec<(String, i64)> = amounts.into_iter().map(|(n, a)| (n.into(), a)).collect();
        validate_identifier(&self.entity_id, "entity_id")?;
        validate_resource(&self.resource)?;
        for (i, (name, amount)) in consume.iter().enumerate() {
            validate_name(name, "limit_name")?;
            if *amount < 0 {
                return Err(Error::InvalidLimit(format!(
                    "consume amount for {name:?} must be >= 0, got {amount}"
                )));
            }
            if *amount > MAX_AMOUNT {
                return Err(Error::InvalidLimit(format!(
                    "consume amount for {name:?} must be at most {MAX_AMOUNT} (its millitokens must fit a \
                     64-bit integer), got {amount}"
                )));
            }
            if consume[..i].iter().any(|(n, _)| n == name) {
                return Err(Error::InvalidLimit(format!("limit {name:?} is consumed twice")));
            }
        }
        let started = Instant::now();
        let result = acquire(&self.limiter.repo, &self.entity_id, &self.resource, &consume).await;
        let elapsed_us = started.elapsed().as_micros() as u64;
        debug!(
            entity_id = %self.entity_id,
            resource = %self.resource,
            ok = result.is_ok(),
            elapsed_us,
            "acquire"
        );
        result
    }
}

fn hint(repo: &RepoInner, entity_id: &str, resource: &str) -> (u32, bool, Option<String>) {
    repo.hints
        .lock()
        .ok()
        .and_then(|h| h.get(&(entity_id.to_string(), resource.to_string())).cloned())
        .map_or((1, false, None), |h| (h.shard_count.max(1), h.cascade, h.parent_id))
}

/// A random shard of `entity_id`'s bucket, by the cached shard count.
fn hinted_shard(repo: &RepoInner, entity_id: &str, resource: &str) -> u32 {
    let (count, _, _) = hint(repo, entity_id, resource);
    draw_shard(count)
}

fn draw_shard(count: u32) -> u32 {
    if count <= 1 {
        0
    } else {
        rand::rng().random_range(0..count)
    }
}

fn lease_entries(image: &BucketItem, consume: &[(String, i64)]) -> Vec<LeaseEntry> {
    consume
        .iter()
        .filter_map(|(name, amount)| {
            let l = image.limit(name)?;
            Some(LeaseEntry {
                entity_id: image.entity_id.clone(),
                resource: image.resource.clone(),
                shard: image.shard,
                name: name.clone(),
                consumed: *amount,
                capacity_milli: l.capacity_milli,
                ceiling_milli: shard_params(l, image.shard_count).capacity_milli,
                pin: CreditPin {
                    shard_count: image.shard_count,
                    valid_until_ms: image.valid_until_ms,
                },
            })
        })
        .collect()
}

/// Credits back a speculative debit (best effort, like zae-limiter's compensation).
async fn compensate(repo: &RepoInner, image: &BucketItem, consume: &[(String, i64)]) {
    let entries = lease_entries(image, consume);
    for result in write_grouped(repo, &entries, |e| to_milli(e.consumed, "consumed amount").map(|m| -m)).await {
        if let Err(err) = result {
            warn!(error = %err, entity_id = %image.entity_id, "speculative compensation failed; the debit stands");
        }
    }
}

fn rate_limited(statuses: Vec<LimitStatus>) -> Error {
    Error::RateLimited(Box::new(RateLimited::new(statuses, false)))
}

/// One acquire: speculative writes first, then the cascade parent or the slow path.
async fn acquire(repo: &Arc<RepoInner>, entity_id: &str, resource: &str, consume: &[(String, i64)]) -> Result<Lease> {
    let now = clock::now_ms();
    let (count, hinted_cascade, hinted_parent) = hint(repo, entity_id, resource);
    let shard = draw_shard(count);
    let early_parent = hinted_parent.filter(|_| hinted_cascade);
    let speculation = speculate(repo, entity_id, resource, shard, early_parent, consume, now).await;
    let child = match speculation.child {
        Ok(child) => child,
        Err(err) => {
            undo_early_parent(repo, speculation.parent.as_ref(), consume).await;
            return Err(err);
        }
    };
    match child {
        Fast::Admitted(image) => {
            cascade_after_fast_admit(repo, image, speculation.parent, resource, consume, now).await
        }
        rejected => {
            undo_early_parent(repo, speculation.parent.as_ref(), consume).await;
            fall_back_to_slow(repo, entity_id, resource, shard, rejected, consume, now).await
        }
    }
}

/// The speculative writes of one acquire.
struct Speculation {
    /// The acquiring entity's attempt.
    child: Result<Fast>,
    /// The cascade parent the cache knew, and its attempt.
    parent: Option<(String, Result<Fast>)>,
}

/// Speculative writes on the child's `shard` and, when the cache knows the cascade
/// parent, on the parent, concurrently.
async fn speculate(
    repo: &RepoInner,
    entity_id: &str,
    resource: &str,
    shard: u32,
    early_parent: Option<String>,
    consume: &[(String, i64)],
    now: i64,
) -> Speculation {
    let child_attempt = fast::attempt(repo, entity_id, resource, shard, consume, now);
    let Some(parent) = early_parent else {
        return Speculation {
            child: child_attempt.await,
            parent: None,
        };
    };
    let parent_attempt = fast::attempt(
        repo,
        &parent,
        resource,
        hinted_shard(repo, &parent, resource),
        consume,
        now,
    );
    let (child, parent_result) = tokio::join!(child_attempt, parent_attempt);
    Speculation {
        child,
        parent: Some((parent, parent_result)),
    }
}

/// Credits back an early parent attempt that was admitted but is not going to be used.
async fn undo_early_parent(repo: &RepoInner, early: Option<&(String, Result<Fast>)>, consume: &[(String, i64)]) {
    if let Some((_, Ok(Fast::Admitted(image)))) = early {
        compensate(repo, image, consume).await;
    }
}

/// The early parent attempt when it went to the child's actual cascade `parent`; any
/// other early attempt is undone.
async fn reuse_early_parent(
    repo: &RepoInner,
    parent: Option<&str>,
    early: Option<(String, Result<Fast>)>,
    consume: &[(String, i64)],
) -> Option<Result<Fast>> {
    let (early_parent, attempt) = early?;
    if parent == Some(early_parent.as_str()) {
        return Some(attempt);
    }
    if let Ok(Fast::Admitted(image)) = &attempt {
        compensate(repo, image, consume).await;
    }
    None
}

/// The child was admitted on the fast path: without a cascade parent the lease is the
/// child's; otherwise the parent is debited too (fast, else slow), or the child's debit
/// is given back.
async fn cascade_after_fast_admit(
    repo: &Arc<RepoInner>,
    image: BucketItem,
    early: Option<(String, Result<Fast>)>,
    resource: &str,
    consume: &[(String, i64)],
    now: i64,
) -> Result<Lease> {
    let parent = image.parent_id.clone().filter(|_| image.cascade);
    let early = reuse_early_parent(repo, parent.as_deref(), early, consume).await;
    let Some(parent) = parent else {
        return Ok(Lease::new(repo.clone(), lease_entries(&image, consume)));
    };
    let attempt = match early {
        Some(attempt) => attempt,
        None => {
            let shard = hinted_shard(repo, &parent, resource);
            fast::attempt(repo, &parent, resource, shard, consume, now).await
        }
    };
    match attempt {
        Ok(outcome) => settle_parent(repo, &image, &parent, resource, outcome, consume, now).await,
        Err(err) => {
            compensate(repo, &image, consume).await;
            Err(err)
        }
    }
}

/// Acts on the parent's fast-path outcome after the child was admitted: a joint lease,
/// a refusal (giving the child's tokens back), or the slow path for the parent alone.
async fn settle_parent(
    repo: &Arc<RepoInner>,
    child_image: &BucketItem,
    parent: &str,
    resource: &str,
    outcome: Fast,
    consume: &[(String, i64)],
    now: i64,
) -> Result<Lease> {
    let mut entries = lease_entries(child_image, consume);
    match outcome {
        Fast::Admitted(parent_image) => {
            entries.extend(lease_entries(&parent_image, consume));
            Ok(Lease::new(repo.clone(), entries))
        }
        Fast::Failed {
            reason: FailReason::Disabled,
            ..
        } => {
            compensate(repo, child_image, consume).await;
            Err(bucket_disabled(parent, resource))
        }
        Fast::Failed {
            image: parent_image,
            reason,
        } => {
            if reason != FailReason::Boundary
                && let Some(statuses) = projected_shortage(&parent_image, consume, now)
            {
                compensate(repo, child_image, consume).await;
                return Err(rate_limited(statuses));
            }
            let shard = Some(parent_image.shard);
            parent_only(repo, child_image, parent, resource, consume, shard, entries).await
        }
        Fast::Missing | Fast::Contended => {
            parent_only(repo, child_image, parent, resource, consume, None, entries).await
        }
    }
}

/// The child's speculative write did not admit: refuse when the failure image already
/// shows the shortage, otherwise run the slow path on the right shard.
async fn fall_back_to_slow(
    repo: &Arc<RepoInner>,
    entity_id: &str,
    resource: &str,
    shard: u32,
    rejected: Fast,
    consume: &[(String, i64)],
    now: i64,
) -> Result<Lease> {
    let (slow_shard, slow_count) = match rejected {
        Fast::Failed {
            reason: FailReason::Disabled,
            ..
        } => return Err(bucket_disabled(entity_id, resource)),
        Fast::Failed {
            image,
            reason: FailReason::Boundary,
        } => (image.shard, Some(image.shard_count)),
        Fast::Failed {
            image,
            reason: reason @ (FailReason::Wcu | FailReason::Both),
        } => {
            if reason == FailReason::Both
                && let Some(statuses) = projected_shortage(&image, consume, now)
            {
                return Err(rate_limited(statuses));
            }
            shard_after_wcu(repo, entity_id, resource, &image, now).await?
        }
        Fast::Failed { image, .. } => {
            if let Some(statuses) = projected_shortage(&image, consume, now) {
                return match retry_other_shards(repo, entity_id, resource, &image, consume, now).await? {
                    Some(lease) => Ok(lease),
                    None => Err(rate_limited(statuses)),
                };
            }
            (image.shard, Some(image.shard_count))
        }
        Fast::Missing | Fast::Contended => (shard, None),
        Fast::Admitted(_) => unreachable!("an admitted write never falls back"),
    };
    slow_acquire(repo, entity_id, resource, consume, slow_shard, slow_count, true).await
}

/// The declared limits projected from a failure image to now, when refill would still
/// leave one of them short.
fn projected_shortage(image: &BucketItem, consume: &[(String, i64)], now: i64) -> Option<Vec<LimitStatus>> {
    fast::project(image, consume, now).filter(|statuses| statuses.iter().any(|s| s.exceeded))
}

/// [`Error::ResourceDisabled`] for a bucket stamped `disabled`.
fn bucket_disabled(entity_id: &str, resource: &str) -> Error {
    Error::ResourceDisabled {
        entity_id: entity_id.to_string(),
        resource: resource.to_string(),
        level: "bucket".into(),
    }
}

/// Up to two other random shards when one shard of a sharded, non-cascading bucket is
/// short (`None` when none admits, or the bucket is not such a bucket).
async fn retry_other_shards(
    repo: &Arc<RepoInner>,
    entity_id: &str,
    resource: &str,
    failed: &BucketItem,
    consume: &[(String, i64)],
    now: i64,
) -> Result<Option<Lease>> {
    if failed.shard_count <= 1 || failed.cascade {
        return Ok(None);
    }
    let mut untried: Vec<u32> = (0..failed.shard_count).filter(|s| *s != failed.shard).collect();
    for _ in 0..MAX_SHARD_RETRIES {
        if untried.is_empty() {
            break;
        }
        let shard = untried.swap_remove(rand::rng().random_range(0..untried.len()));
        match fast::attempt(repo, entity_id, resource, shard, consume, now).await? {
            Fast::Admitted(image) => return Ok(Some(Lease::new(repo.clone(), lease_entries(&image, consume)))),
            Fast::Failed {
                image,
                reason: FailReason::App,
                ..
            } if fast::project(&image, consume, now).is_some_and(|s| s.iter().all(|s| !s.exceeded)) => {
                return slow_acquire(repo, entity_id, resource, consume, shard, Some(image.shard_count), true)
                    .await
                    .map(Some);
            }
            Fast::Missing => {
                return slow_acquire(
                    repo,
                    entity_id,
                    resource,
                    consume,
                    shard,
                    Some(failed.shard_count),
                    true,
                )
                .await
                .map(Some);
            }
            _ => {}
        }
    }
    Ok(None)
}

/// After a `wcu` exhaustion: the same shard when the projected `wcu` refill covers a
/// write, otherwise double `shard_count` on shard 0 (capped at 32) and go to a new shard.
async fn shard_after_wcu(
    repo: &RepoInner,
    entity_id: &str,
    resource: &str,
    image: &BucketItem,
    now: i64,
) -> Result<(u32, Option<u32>)> {
    if fast::wcu_recovers(image, now) {
        return Ok((image.shard, Some(image.shard_count)));
    }
    let old = image.shard_count;
    if old >= MAX_SHARD_COUNT {
        warn!(
            entity_id,
            resource, "shard_count is at MAX_SHARD_COUNT=32; refusing to double further"
        );
        return Ok((image.shard, Some(old)));
    }
    let new = old * 2;
    let key0 = BucketItem::key(&repo.ns_id, entity_id, resource, 0);
    let effective = match io::update(&repo.table, &requests::double_shards(key0, old, new)).await? {
        WriteOutcome::Done(_) => {
            let stamps = (1..old).map(|s| {
                let spec = requests::stamp_shard_count(BucketItem::key(&repo.ns_id, entity_id, resource, s), new);
                async move { io::update(&repo.table, &spec).await }
            });
            for result in join_all_futures(stamps).await {
                if let Err(err) = result {
                    warn!(error = %err, "shard_count propagation incomplete");
                }
            }
            new
        }
        WriteOutcome::ConditionFailed(Some(winner)) => stored_shard_count(&winner).map_or(old, |c| c.max(old)),
        _ => old,
    };
    if let Ok(mut hints) = repo.hints.lock()
        && let Some(h) = hints.get_mut(&(entity_id.to_string(), resource.to_string()))
    {
        h.shard_count = effective;
    }
    if effective > old {
        Ok((rand::rng().random_range(old..effective), Some(effective)))
    } else {
        Ok((image.shard, Some(effective)))
    }
}

/// The child was debited on the fast path but its parent needs the slow path: run it
/// for the parent alone; on failure give the child's tokens back.
async fn parent_only(
    repo: &Arc<RepoInner>,
    child_image: &BucketItem,
    parent: &str,
    resource: &str,
    consume: &[(String, i64)],
    shard: Option<u32>,
    child_entries: Vec<LeaseEntry>,
) -> Result<Lease> {
    let shard = shard.unwrap_or_else(|| hinted_shard(repo, parent, resource));
    match slow_acquire(repo, parent, resource, consume, shard, None, false).await {
        Ok(mut lease) => {
            let mut entries = child_entries;
            entries.extend(lease.take_entries());
            Ok(Lease::new(repo.clone(), entries))
        }
        Err(err) => {
            compensate(repo, child_image, consume).await;
            Err(err)
        }
    }
}

async fn cached_config(repo: &RepoInner, entity_id: &str, resource: &str) -> Result<Arc<ResolvedConfig>> {
    let key = (entity_id.to_string(), resource.to_string());
    if let Ok(cache) = repo.config_cache.lock()
        && let Some((at, cfg)) = cache.get(&key)
        && at.elapsed() < repo.config_ttl
    {
        return Ok(cfg.clone());
    }
    let lv = levels(entity_id, resource);
    let keys: Vec<Item> = lv.iter().map(|l| l.key(&repo.ns_id)).collect();
    let mut found = io::batch_get(&repo.table, keys.clone()).await?;
    let items = [
        io::take(&mut found, &keys[0]),
        io::take(&mut found, &keys[1]),
        io::take(&mut found, &keys[2]),
        io::take(&mut found, &keys[3]),
    ];
    let cfg = Arc::new(resolve(entity_id, resource, &items)?);
    remember_config(repo, entity_id, resource, &cfg);
    Ok(cfg)
}

fn remember_config(repo: &RepoInner, entity_id: &str, resource: &str, cfg: &Arc<ResolvedConfig>) {
    if repo.config_ttl.is_zero() {
        return;
    }
    if let Ok(mut cache) = repo.config_cache.lock() {
        cache.insert(
            (entity_id.to_string(), resource.to_string()),
            (Instant::now(), cfg.clone()),
        );
    }
}

/// Reads one owner for the slow path: its four config levels, META and bucket shard in
/// one `BatchGetItem`, uncached (flags must be fresh).
async fn read_owner(
    repo: &RepoInner,
    entity_id: &str,
    resource: &str,
    shard: u32,
    count_hint: Option<u32>,
    allow_cascade: bool,
) -> Result<OwnerRead> {
    let lv = levels(entity_id, resource);
    let mut keys: Vec<Item> = lv.iter().map(|l| l.key(&repo.ns_id)).collect();
    let meta_key = EntityMeta::key(&repo.ns_id, entity_id);
    let bucket_key = BucketItem::key(&repo.ns_id, entity_id, resource, shard);
    keys.push(meta_key.clone());
    keys.push(bucket_key.clone());
    let mut found = io::batch_get(&repo.table, keys.clone()).await?;
    let items = [
        io::take(&mut found, &keys[0]),
        io::take(&mut found, &keys[1]),
        io::take(&mut found, &keys[2]),
        io::take(&mut found, &keys[3]),
    ];
    let config = resolve(entity_id, resource, &items)?;
    remember_config(repo, entity_id, resource, &Arc::new(config.clone()));
    match config.disabled {
        Some((DisabledFlag::Disabled, level)) => {
            return Err(Error::ResourceDisabled {
                entity_id: entity_id.to_string(),
                resource: resource.to_string(),
                level: level.into(),
            });
        }
        Some((DisabledFlag::Bypass, level)) => {
            return Err(Error::Unsupported {
                feature: "bypass (disabled = \"bypass\")".into(),
                location: format!("{level} config of {entity_id}/{resource}"),
            });
        }
        _ => {}
    }
    let meta = io::take(&mut found, &meta_key)
        .as_ref()
        .map(EntityMeta::decode)
        .transpose()?;
    let bucket = io::take(&mut found, &bucket_key)
        .as_ref()
        .map(BucketItem::decode)
        .transpose()?;
    let has_parent = meta.as_ref().is_some_and(|m| m.parent_id.is_some());
    let cascade = allow_cascade
        && has_parent
        && config
            .cascade_policy
            .unwrap_or_else(|| meta.as_ref().is_some_and(|m| m.cascade));
    let (hinted, _, _) = hint(repo, entity_id, resource);
    let shard_count = bucket
        .as_ref()
        .map(|b| b.shard_count)
        .or(count_hint)
        .unwrap_or(hinted)
        .max(shard.saturating_add(1))
        .min(MAX_SHARD_COUNT);
    Ok(OwnerRead {
        entity_id: entity_id.to_string(),
        shard,
        shard_count,
        config,
        meta,
        bucket,
        cascade,
    })
}

/// The slow path: read, plan, commit (create / normal), falling back to the retry path
/// when the `rf` lock or a create race is lost.
async fn slow_acquire(
    repo: &Arc<RepoInner>,
    entity_id: &str,
    resource: &str,
    consume: &[(String, i64)],
    shard: u32,
    count_hint: Option<u32>,
    allow_cascade: bool,
) -> Result<Lease> {
    for attempt in 0..MAX_PLANS {
        let now = clock::now_ms();
        let child = read_owner(repo, entity_id, resource, shard, count_hint, allow_cascade).await?;
        let mut reads = vec![child];
        if reads[0].cascade {
            let parent = reads[0]
                .meta
                .as_ref()
                .and_then(|m| m.parent_id.clone())
                .unwrap_or_default();
            let parent_shard = hinted_shard(repo, &parent, resource);
            reads.push(read_owner(repo, &parent, resource, parent_shard, None, false).await?);
        }
        let known: Vec<&str> = reads
            .iter()
            .flat_map(|r| r.config.limits.iter().map(|l| l.name()))
            .collect();
        let declared: Vec<(String, i64)> = consume
            .iter()
            .filter(|(name, _)| {
                let ok = known.contains(&name.as_str());
                if !ok {
                    warn!(limit = %name, entity_id, resource, "consumed limit is not configured; ignored");
                }
                ok
            })
            .cloned()
            .collect();
        let plans: Vec<OwnerPlan> = reads
            .iter()
            .map(|r| plan(&repo.ns_id, resource, r, &declared, now, repo.ttl_multiplier))
            .collect::<Result<_>>()?;
        let statuses: Vec<LimitStatus> = plans.iter().flat_map(|p| p.statuses.clone()).collect();
        if statuses.iter().any(|s| s.exceeded) {
            return Err(rate_limited(statuses));
        }
        let mut writes: Vec<Write> = plans.iter().map(|p| p.write.clone()).collect();
        let first_check = writes.len();
        writes.extend(plans.iter().filter_map(|p| p.check.clone()));
        let entries: Vec<LeaseEntry> = plans.iter().flat_map(|p| p.entries.clone()).collect();
        match io::commit(&repo.table, &writes).await? {
            TxOutcome::Done => {
                learn_plans(repo, resource, &reads, &plans);
                return Ok(Lease::new(repo.clone(), entries));
            }
            TxOutcome::Contended => return Err(contended(&statuses)),
            TxOutcome::Canceled(reasons) => {
                let check_failed = reasons
                    .iter()
                    .skip(first_check)
                    .any(|(c, _)| c == "ConditionalCheckFailed");
                if check_failed && attempt + 1 < MAX_PLANS {
                    debug!(entity_id, resource, "owner changed under the read; re-planning");
                    continue;
                }
                return retry_path(repo, resource, &plans, &reasons, &statuses, entries, now).await;
            }
        }
    }
    Err(contended(&[]))
}

fn learn_plans(repo: &RepoInner, resource: &str, reads: &[OwnerRead], plans: &[OwnerPlan]) {
    if let Ok(mut hints) = repo.hints.lock() {
        for (r, p) in reads.iter().zip(plans) {
            hints.insert(
                (r.entity_id.clone(), resource.to_string()),
                crate::repository::BucketHint {
                    shard_count: p.shard_count,
                    cascade: r.cascade,
                    parent_id: r.meta.as_ref().and_then(|m| m.parent_id.clone()),
                },
            );
        }
    }
}

fn contended(statuses: &[LimitStatus]) -> Error {
    let statuses: Vec<LimitStatus> = statuses
        .iter()
        .cloned()
        .map(|mut s| {
            s.exceeded = false;
            s.retry_after_seconds = 0.1;
            s
        })
        .collect();
    let mut rl = RateLimited::new(statuses, true);
    rl.retry_after_seconds = 0.1;
    Error::RateLimited(Box::new(rl))
}

/// The consumption-only retry (ADR-115 path 3) after the normal write lost its lock or a
/// create lost its race. Creates that did not fail are re-sent as they were.
async fn retry_path(
    repo: &Arc<RepoInner>,
    resource: &str,
    plans: &[OwnerPlan],
    reasons: &[(String, Option<Item>)],
    statuses: &[LimitStatus],
    entries: Vec<LeaseEntry>,
    now: i64,
) -> Result<Lease> {
    let mut writes = Vec::new();
    let mut retried: Vec<(usize, &OwnerPlan)> = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        let failed = reasons.get(i).is_none_or(|(c, _)| c == "ConditionalCheckFailed");
        if p.creates && !failed {
            writes.push(p.write.clone());
            writes.extend(p.check.clone());
            continue;
        }
        let key = BucketItem::key(&repo.ns_id, &p.entity_id, resource, p.shard);
        if let Some(spec) = requests::retry(key, &p.consumed, now) {
            retried.push((writes.len(), p));
            writes.push(Write::Update(spec));
        }
    }
    if writes.is_empty() {
        return Ok(Lease::new(repo.clone(), entries));
    }
    match io::commit(&repo.table, &writes).await? {
        TxOutcome::Done => {
            // A retried create landed on an item another writer created: its pin is that
            // item's, which the lease no longer knows; credits then trim through `vu = 0`.
            Ok(Lease::new(repo.clone(), entries))
        }
        TxOutcome::Contended => Err(contended(statuses)),
        TxOutcome::Canceled(reasons) => {
            let out = retried_statuses(resource, &retried, &reasons, statuses)?;
            if out.iter().any(|s| s.exceeded) {
                Err(rate_limited(out))
            } else {
                Err(contended(statuses))
            }
        }
    }
}

/// The statuses of a lost consumption-only retry, from the failure images of the
/// retried writes (`retried` holds each one's index in the transaction).
fn retried_statuses(
    resource: &str,
    retried: &[(usize, &OwnerPlan)],
    reasons: &[(String, Option<Item>)],
    statuses: &[LimitStatus],
) -> Result<Vec<LimitStatus>> {
    let mut out = Vec::new();
    for (idx, p) in retried {
        let image = reasons.get(*idx).and_then(|(_, img)| img.clone());
        let image = image.as_ref().map(BucketItem::decode_lenient).transpose()?;
        for (name, milli) in &p.consumed {
            let requested = milli / 1000;
            let balance_milli = image.as_ref().and_then(|b| b.limit(name)).map_or(0, |l| l.tokens_milli);
            let s = statuses
                .iter()
                .find(|s| s.entity_id == p.entity_id && &s.limit_name == name);
            let (refill_amount_milli, refill_period_ms) = image
                .as_ref()
                .and_then(|b| b.limit(name).map(|l| shard_params(l, b.shard_count)))
                .map_or((1000, 1000), |sp| (sp.retry_refill_amount_milli, sp.refill_period_ms));
            out.push(LimitStatus {
                entity_id: p.entity_id.clone(),
                resource: resource.to_string(),
                limit_name: name.clone(),
                capacity: s.map_or(0, |s| s.capacity),
                refill_amount: s.map_or(0, |s| s.refill_amount),
                refill_period_seconds: s.map_or(1, |s| s.refill_period_seconds),
                available: whole_tokens(balance_milli),
                requested,
                exceeded: balance_milli < *milli,
                retry_after_seconds: retry_after_seconds(
                    i128::from(*milli) - i128::from(balance_milli),
                    refill_amount_milli,
                    refill_period_ms,
                ),
            });
        }
    }
    Ok(out)
}
