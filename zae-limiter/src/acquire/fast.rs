//! The speculative fast path: one conditional `UpdateItem` per bucket (wire-format §6.3).

use tracing::debug;

use super::io::{WriteOutcome, update};
use super::math::check;
use super::plan::status;
use super::rate_limited::LimitStatus;
use super::requests::speculative;
use crate::error::Result;
use crate::repository::{BucketHint, RepoInner};
use crate::schema::attrs::{self, Item};
use crate::schema::bucket::{BucketItem, VU, WCU_PER_WRITE_MILLI};

/// Why a speculative write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailReason {
    /// The bucket is stamped `disabled`.
    Disabled,
    /// `vu ≤ now` or an expired stamp: the slow path must re-materialise.
    Boundary,
    /// Only `wcu` is short.
    Wcu,
    /// `wcu` and an application limit are short.
    Both,
    /// An application limit is short (or missing).
    App,
}

/// Result of one speculative write.
#[derive(Debug, Clone)]
pub(crate) enum Fast {
    /// Admitted; the `ALL_NEW` image.
    Admitted(BucketItem),
    /// No bucket item.
    Missing,
    /// The condition failed on an existing item.
    Failed { image: BucketItem, reason: FailReason },
    /// Transaction conflicts outlasted the retries.
    Contended,
}

/// Issues one speculative write on `shard` and classifies the outcome; learns the
/// entity's shard count and cascade parent from the image.
pub(crate) async fn attempt(
    repo: &RepoInner,
    entity_id: &str,
    resource: &str,
    shard: u32,
    consume: &[(String, i64)],
    now: i64,
) -> Result<Fast> {
    let key = BucketItem::key(&repo.ns_id, entity_id, resource, shard);
    let spec = speculative(key, consume, now)?;
    let outcome = update(&repo.table, &spec).await?;
    let fast = match outcome {
        WriteOutcome::Contended => Fast::Contended,
        WriteOutcome::ConditionFailed(None) => Fast::Missing,
        WriteOutcome::Done(image) => {
            let image = image.unwrap_or_default();
            Fast::Admitted(BucketItem::decode_lenient(&image)?)
        }
        WriteOutcome::ConditionFailed(Some(raw)) => {
            if let Some(err) = BucketItem::unsupported_feature(&raw) {
                return Err(err);
            }
            let image = BucketItem::decode_lenient(&raw)?;
            let reason = classify(&image, &raw, consume, now);
            Fast::Failed { image, reason }
        }
    };
    if let Fast::Admitted(image) | Fast::Failed { image, .. } = &fast {
        learn(repo, entity_id, resource, image);
    }
    debug!(entity_id, resource, shard, outcome = ?fast_kind(&fast), "speculative write");
    Ok(fast)
}

fn fast_kind(f: &Fast) -> &'static str {
    match f {
        Fast::Admitted(_) => "admitted",
        Fast::Missing => "missing",
        Fast::Failed { .. } => "failed",
        Fast::Contended => "contended",
    }
}

fn classify(image: &BucketItem, raw: &Item, consume: &[(String, i64)], now: i64) -> FailReason {
    if attrs::get_bool(raw, attrs::DISABLED) == Some(true) {
        return FailReason::Disabled;
    }
    if attrs::get_n(raw, VU).is_some_and(|valid_until_ms| valid_until_ms <= now) {
        return FailReason::Boundary;
    }
    let wcu_short = image.write_capacity_limit.tokens_milli < WCU_PER_WRITE_MILLI;
    let app_short = consume.iter().any(|(name, amount)| match image.limit(name) {
        Some(l) => i128::from(l.tokens_milli) < i128::from(*amount) * 1000,
        None => true,
    });
    match (wcu_short, app_short) {
        (true, true) => FailReason::Both,
        (true, false) => FailReason::Wcu,
        _ => FailReason::App,
    }
}

/// Records what an image says about the owner.
pub(crate) fn learn(repo: &RepoInner, entity_id: &str, resource: &str, image: &BucketItem) {
    if let Ok(mut hints) = repo.hints.lock() {
        hints.insert(
            (entity_id.to_string(), resource.to_string()),
            BucketHint {
                shard_count: image.shard_count.max(1),
                cascade: image.cascade,
                parent_id: image.parent_id.clone(),
            },
        );
    }
}

/// Projects a failure image to now: `Some(statuses)` when every declared limit is on the
/// image (the statuses say whether refill would admit), `None` when one is missing.
pub(crate) fn project(image: &BucketItem, consume: &[(String, i64)], now: i64) -> Option<Vec<LimitStatus>> {
    consume
        .iter()
        .map(|(name, amount)| {
            let l = image.limit(name)?;
            let c = check(l, image.last_refill_ms, image.shard_count, *amount, now);
            Some(status(
                &image.entity_id,
                &image.resource,
                l,
                image.shard_count,
                *amount,
                &c,
            ))
        })
        .collect()
}

/// Whether the projected `wcu` refill since `rf` covers one more write.
pub(crate) fn wcu_recovers(image: &BucketItem, now: i64) -> bool {
    check(&image.write_capacity_limit, image.last_refill_ms, 1, 1, now).ok
}
