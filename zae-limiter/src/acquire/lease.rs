//! Leases: what an admitted acquire holds, its adjustments, commit and rollback
//! (wire-format §6.6).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_like::join_all;
use tracing::{debug, warn};

use super::io::{WriteOutcome, update};
use super::requests::{CreditCeiling, CreditPin, adjust};
use crate::error::{Error, Result};
use crate::limit::{MAX_AMOUNT, to_milli};
use crate::repository::RepoInner;
use crate::schema::bucket::BucketItem;

/// One declared limit of one bucket item the acquire debited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeaseEntry {
    pub entity_id: String,
    pub resource: String,
    pub shard: u32,
    pub name: String,
    /// Tokens debited at acquire.
    pub consumed: i64,
    /// Stored `cp` (millitokens) the credit ceiling was computed from.
    pub capacity_milli: i64,
    /// Per-shard ceiling (millitokens).
    pub ceiling_milli: i64,
    /// Item pin for self-trimming credits.
    pub pin: CreditPin,
}

type ItemKey = (String, String, u32);
/// Deltas and entries of one bucket item.
type ItemGroup<'a> = (ItemKey, Vec<(String, i64)>, Vec<&'a LeaseEntry>);

/// Writes per-limit deltas (millitokens; positive = debit) to one bucket item: debits
/// as plain `ADD`s, credits self-trimming with the `vu = 0` fallback. A missing item
/// means there is nothing to adjust.
pub(crate) async fn write_deltas(
    repo: &RepoInner,
    key: &ItemKey,
    deltas: &[(String, i64)],
    entries: &[&LeaseEntry],
) -> Result<()> {
    let (entity, resource, shard) = key;
    let item_key = BucketItem::key(&repo.ns_id, entity, resource, *shard);
    let ceilings: HashMap<String, CreditCeiling> = entries
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                CreditCeiling {
                    ceiling: e.ceiling_milli,
                    capacity: e.capacity_milli,
                },
            )
        })
        .collect();
    let pin = entries.first().map(|e| e.pin.clone());
    let Some(spec) = adjust(item_key.clone(), deltas, &ceilings, pin.as_ref(), false)? else {
        return Ok(());
    };
    match update(&repo.table, &spec).await? {
        WriteOutcome::Done(_) => Ok(()),
        WriteOutcome::ConditionFailed(image) => {
            let has_credit = deltas.iter().any(|(n, d)| *d < 0 && ceilings.contains_key(n));
            if image.is_none() || !has_credit {
                debug!(entity, resource, shard, "adjusted bucket is gone; nothing to adjust");
                return Ok(());
            }
            let Some(trim) = adjust(item_key, deltas, &ceilings, None, true)? else {
                return Ok(());
            };
            match update(&repo.table, &trim).await? {
                WriteOutcome::Contended => Err(Error::Unavailable("credit kept conflicting with transactions".into())),
                _ => Ok(()),
            }
        }
        WriteOutcome::Contended => Err(Error::Unavailable(
            "adjustment kept conflicting with transactions".into(),
        )),
    }
}

/// Groups `(entry, delta milli)` pairs by bucket item and writes them concurrently. A
/// delta that cannot be computed (overflow) is reported and nothing is written.
pub(crate) async fn write_grouped(
    repo: &RepoInner,
    entries: &[LeaseEntry],
    delta_of: impl Fn(&LeaseEntry) -> Result<i64>,
) -> Vec<Result<()>> {
    let mut groups: Vec<ItemGroup<'_>> = Vec::new();
    for e in entries {
        let key = (e.entity_id.clone(), e.resource.clone(), e.shard);
        let delta = match delta_of(e) {
            Ok(delta) => delta,
            Err(err) => return vec![Err(err)],
        };
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, deltas, es)) => {
                deltas.push((e.name.clone(), delta));
                es.push(e);
            }
            None => groups.push((key, vec![(e.name.clone(), delta)], vec![e])),
        }
    }
    let futures = groups
        .iter()
        .filter(|(_, deltas, _)| deltas.iter().any(|(_, d)| *d != 0))
        .map(|(key, deltas, es)| write_deltas(repo, key, deltas, es));
    join_all(futures).await
}

/// An admitted acquire.
///
/// The tokens are already debited. [`Lease::adjust`] records corrections (e.g. the real
/// token count of an LLM call); [`Lease::commit`] writes them. Dropping the lease
/// without committing, or calling [`Lease::rollback`], credits the acquired tokens back.
#[derive(Debug)]
pub struct Lease {
    repo: Arc<RepoInner>,
    entries: Vec<LeaseEntry>,
    adjustments: Mutex<HashMap<String, i64>>,
    finished: AtomicBool,
}

impl Lease {
    pub(crate) fn new(repo: Arc<RepoInner>, entries: Vec<LeaseEntry>) -> Lease {
        Lease {
            repo,
            entries,
            adjustments: Mutex::new(HashMap::new()),
            finished: AtomicBool::new(false),
        }
    }

    pub(crate) fn take_entries(&mut self) -> Vec<LeaseEntry> {
        self.finished.store(true, Ordering::SeqCst);
        std::mem::take(&mut self.entries)
    }

    /// Tokens consumed per declared limit (net of adjustments so far), for the acquiring
    /// entity.
    pub fn consumed(&self) -> HashMap<String, i64> {
        let adj = self.adjustments.lock().map(|a| a.clone()).unwrap_or_default();
        let Some(first) = self.entries.first() else {
            return HashMap::new();
        };
        self.entries
            .iter()
            .filter(|e| e.entity_id == first.entity_id)
            // Both terms are within ±MAX_AMOUNT (checked on acquire and adjust): no overflow.
            .map(|e| {
                (
                    e.name.clone(),
                    e.consumed.saturating_add(adj.get(&e.name).copied().unwrap_or(0)),
                )
            })
            .collect()
    }

    /// The entities debited (the acquiring entity, and its parent on cascade).
    pub fn entities(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for e in &self.entries {
            if !ids.contains(&e.entity_id.as_str()) {
                ids.push(&e.entity_id);
            }
        }
        ids
    }

    /// Records a correction in tokens per limit (positive = consumed more, negative =
    /// consumed less), written at [`Lease::commit`]. Never rejects; balances may go
    /// negative. Only limits named in the acquire can be adjusted; others are ignored
    /// with a warning, as zae-limiter does.
    ///
    /// The net adjustment of a limit must stay within ±[`MAX_AMOUNT`] tokens (its
    /// millitokens must fit an `i64`): otherwise nothing of this call is recorded and
    /// [`Error::InvalidLimit`] is returned.
    pub async fn adjust<I, S>(&self, deltas: I) -> Result<()>
    where
        I: IntoIterator<Item = (S, i64)>,
        S: AsRef<str>,
    {
        if self.finished.load(Ordering::SeqCst) {
            return Err(Error::LeaseExpired);
        }
        let mut adj = self
            .adjustments
            .lock()
            .map_err(|_| Error::Internal("lease lock poisoned".into()))?;
        let mut updated = adj.clone();
        for (name, delta) in deltas {
            let name = name.as_ref();
            if self.entries.iter().any(|e| e.name == name) {
                let net = updated.entry(name.to_string()).or_insert(0);
                *net = net
                    .checked_add(delta)
                    .filter(|v| (-MAX_AMOUNT..=MAX_AMOUNT).contains(v))
                    .ok_or_else(|| {
                        Error::InvalidLimit(format!(
                            "adjustment of {name:?} must stay between {} and {MAX_AMOUNT} tokens \
                             (its millitokens must fit a 64-bit integer): {net} + {delta}",
                            -MAX_AMOUNT
                        ))
                    })?;
            } else {
                warn!(limit = name, "adjust of a limit this lease did not consume; ignored");
            }
        }
        *adj = updated;
        Ok(())
    }

    /// Gives tokens back (`adjust` with negated amounts).
    pub async fn release<I, S>(&self, amounts: I) -> Result<()>
    where
        I: IntoIterator<Item = (S, i64)>,
        S: AsRef<str>,
    {
        let negated = amounts
            .into_iter()
            .map(|(n, a)| {
                let name = n.as_ref().to_string();
                match a.checked_neg() {
                    Some(negated) => Ok((name, negated)),
                    None => Err(Error::InvalidLimit(format!(
                        "release of {name:?} must be at most {MAX_AMOUNT} tokens, got {a}"
                    ))),
                }
            })
            .collect::<Result<Vec<(String, i64)>>>()?;
        self.adjust(negated).await
    }

    /// Writes the recorded adjustments: one `UpdateItem` per bucket item whose net
    /// adjustment is not zero (none otherwise). Adjustment writes are concurrent; a
    /// failed one is reported, not rolled back.
    pub async fn commit(self) -> Result<()> {
        if self.finished.swap(true, Ordering::SeqCst) {
            return Err(Error::LeaseExpired);
        }
        let adj = self.adjustments.lock().map(|a| a.clone()).unwrap_or_default();
        if adj.values().all(|d| *d == 0) {
            return Ok(());
        }
        let results = write_grouped(&self.repo, &self.entries, |e| {
            to_milli(adj.get(&e.name).copied().unwrap_or(0), "adjustment")
        })
        .await;
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(())
    }

    /// Credits the acquired tokens back (one self-trimming credit per bucket item) and
    /// ends the lease. Errors are logged, never returned, as in zae-limiter.
    pub async fn rollback(self) {
        if self.finished.swap(true, Ordering::SeqCst) {
            return;
        }
        rollback_entries(&self.repo, &self.entries).await;
    }
}

async fn rollback_entries(repo: &RepoInner, entries: &[LeaseEntry]) {
    for result in write_grouped(repo, entries, |e| to_milli(e.consumed, "consumed amount").map(|m| -m)).await {
        if let Err(err) = result {
            warn!(error = %err, "lease rollback failed; the debit stands");
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.finished.swap(true, Ordering::SeqCst) || self.entries.is_empty() {
            return;
        }
        let repo = self.repo.clone();
        let entries = std::mem::take(&mut self.entries);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move { rollback_entries(&repo, &entries).await });
            }
            Err(_) => warn!("lease dropped outside a tokio runtime; its tokens cannot be rolled back"),
        }
    }
}

mod futures_like {
    //! A minimal `join_all` on tokio (avoids a futures dependency).

    use std::future::Future;

    /// Awaits every future concurrently, returning results in order.
    pub(crate) async fn join_all<F, T>(futures: impl IntoIterator<Item = F>) -> Vec<T>
    where
        F: Future<Output = T>,
    {
        let futures: Vec<F> = futures.into_iter().collect();
        let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
        let mut results: Vec<Option<T>> = (0..pinned.len()).map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (i, fut) in pinned.iter_mut().enumerate() {
                if results[i].is_none() {
                    match fut.as_mut().poll(cx) {
                        std::task::Poll::Ready(v) => results[i] = Some(v),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        results
            .into_iter()
            .map(|r| r.expect("every future completed"))
            .collect()
    }
}

pub(crate) use futures_like::join_all as join_all_futures;
