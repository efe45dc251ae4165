//! Sending acquire writes and reads: single-item calls, transactions and batch gets,
//! with zae-limiter's retry rules (transaction conflicts: 3 re-sends with full jitter
//! from 25 ms; unprocessed batch keys: 3 re-sends with backoff from 50 ms). Throttling
//! is retried by the SDK's standard retry policy.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure};
use tracing::debug;

use super::requests::{UpdateSpec, Write, transact_item};
use crate::admin::Table;
use crate::ddb::{
    CONFLICT_BASE, CONFLICT_RETRIES, built, cancellation_codes, cancellation_items, is_condition_failed,
    is_transaction_conflict, jitter, non_empty,
};
use crate::error::{Error, Result};
use crate::schema::attrs::{Item, get_s};

/// Outcome of one conditional write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WriteOutcome {
    /// Applied; the `ALL_NEW` image for updates.
    Done(Option<Item>),
    /// The condition failed; the `ALL_OLD` image when the item exists.
    ConditionFailed(Option<Item>),
    /// Transaction conflicts outlasted the retries (nothing applied).
    Contended,
}

/// Outcome of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TxOutcome {
    /// Applied.
    Done,
    /// Cancelled: reason code and `ALL_OLD` image per item.
    Canceled(Vec<(String, Option<Item>)>),
    /// Conflicts outlasted the retries.
    Contended,
}

/// Sends one `UpdateItem` (`ReturnValues = ALL_NEW`).
pub(crate) async fn update(table_handle: &Table, spec: &UpdateSpec) -> Result<WriteOutcome> {
    let table = table_handle.name();
    let mut attempt = 0;
    loop {
        let result = table_handle
            .client()
            .update_item()
            .table_name(table)
            .set_key(Some(spec.key.clone()))
            .update_expression(&spec.update)
            .set_condition_expression(spec.condition.clone())
            .set_expression_attribute_names(non_empty(spec.names.clone()))
            .set_expression_attribute_values(non_empty(spec.values.clone()))
            .return_values(ReturnValue::AllNew)
            .set_return_values_on_condition_check_failure(
                spec.old_on_failure
                    .then_some(ReturnValuesOnConditionCheckFailure::AllOld),
            )
            .send()
            .await;
        match result {
            Ok(out) => return Ok(WriteOutcome::Done(out.attributes)),
            Err(err) if is_condition_failed(&err) => {
                let image = err.as_service_error().and_then(|e| match e {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => {
                        c.item().cloned()
                    }
                    _ => None,
                });
                return Ok(WriteOutcome::ConditionFailed(image.filter(|i| !i.is_empty())));
            }
            Err(err) if is_transaction_conflict(&err) => {
                if attempt >= CONFLICT_RETRIES {
                    return Ok(WriteOutcome::Contended);
                }
                tokio::time::sleep(jitter(CONFLICT_BASE, attempt)).await;
                attempt += 1;
            }
            Err(err) => return Err(Error::dynamo("UpdateItem", table, err)),
        }
    }
}

/// Sends one conditional `PutItem`.
pub(crate) async fn put(table_handle: &Table, item: Item, condition: &str) -> Result<WriteOutcome> {
    let table = table_handle.name();
    let mut attempt = 0;
    loop {
        let result = table_handle
            .client()
            .put_item()
            .table_name(table)
            .set_item(Some(item.clone()))
            .condition_expression(condition)
            .send()
            .await;
        match result {
            Ok(_) => return Ok(WriteOutcome::Done(None)),
            Err(err) if is_condition_failed(&err) => return Ok(WriteOutcome::ConditionFailed(None)),
            Err(err) if is_transaction_conflict(&err) => {
                if attempt >= CONFLICT_RETRIES {
                    return Ok(WriteOutcome::Contended);
                }
                tokio::time::sleep(jitter(CONFLICT_BASE, attempt)).await;
                attempt += 1;
            }
            Err(err) => return Err(Error::dynamo("PutItem", table, err)),
        }
    }
}

/// Sends ≥ 2 writes as one `TransactWriteItems` (the SDK adds a client request token).
pub(crate) async fn transact(table_handle: &Table, writes: &[Write]) -> Result<TxOutcome> {
    let table = table_handle.name();
    let mut attempt = 0;
    loop {
        let items = writes
            .iter()
            .cloned()
            .map(|w| transact_item(table, w))
            .collect::<Result<Vec<_>>>()?;
        let result = table_handle
            .client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => return Ok(TxOutcome::Done),
            Err(err) => {
                if let Some(codes) = cancellation_codes(&err) {
                    if codes.iter().any(|c| c == "ConditionalCheckFailed") {
                        let images = cancellation_items(&err);
                        let reasons = codes
                            .into_iter()
                            .enumerate()
                            .map(|(i, c)| (c, images.get(i).cloned().flatten().filter(|m| !m.is_empty())))
                            .collect();
                        return Ok(TxOutcome::Canceled(reasons));
                    }
                    if codes.iter().any(|c| c == "TransactionConflict") {
                        if attempt >= CONFLICT_RETRIES {
                            return Ok(TxOutcome::Contended);
                        }
                        debug!(attempt, "transaction conflict; retrying");
                        tokio::time::sleep(jitter(CONFLICT_BASE, attempt)).await;
                        attempt += 1;
                        continue;
                    }
                }
                if is_transaction_conflict(&err) {
                    if attempt >= CONFLICT_RETRIES {
                        return Ok(TxOutcome::Contended);
                    }
                    tokio::time::sleep(jitter(CONFLICT_BASE, attempt)).await;
                    attempt += 1;
                    continue;
                }
                return Err(Error::dynamo("TransactWriteItems", table, err));
            }
        }
    }
}

/// Sends one write on its own or several as a transaction.
pub(crate) async fn commit(table_handle: &Table, writes: &[Write]) -> Result<TxOutcome> {
    if writes.len() != 1 {
        return transact(table_handle, writes).await;
    }
    let outcome = match &writes[0] {
        Write::Put { item, condition } => put(table_handle, item.clone(), condition).await?,
        Write::Update(spec) => update(table_handle, spec).await?,
        Write::Check { .. } => return transact(table_handle, writes).await,
    };
    Ok(match outcome {
        WriteOutcome::Done(_) => TxOutcome::Done,
        WriteOutcome::ConditionFailed(img) => TxOutcome::Canceled(vec![("ConditionalCheckFailed".into(), img)]),
        WriteOutcome::Contended => TxOutcome::Contended,
    })
}

const BATCH_GET_RETRIES: u32 = 3;
const BATCH_GET_BASE: Duration = Duration::from_millis(50);

/// `BatchGetItem` (eventually consistent) of up to 100 keys; returns items by `(PK, SK)`.
pub(crate) async fn batch_get(table_handle: &Table, keys: Vec<Item>) -> Result<HashMap<(String, String), Item>> {
    let table = table_handle.name();
    let mut found = HashMap::new();
    let mut dedup: Vec<Item> = Vec::new();
    for k in keys {
        if !dedup.contains(&k) {
            dedup.push(k);
        }
    }
    let mut pending = dedup;
    let mut attempt = 0;
    while !pending.is_empty() {
        let request = built(
            KeysAndAttributes::builder()
                .set_keys(Some(pending.clone()))
                .consistent_read(false)
                .build(),
        )?;
        let out = table_handle
            .client()
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(|e| Error::dynamo("BatchGetItem", table, e))?;
        for item in out.responses.and_then(|mut r| r.remove(table)).unwrap_or_default() {
            let pk = get_s(&item, "PK").unwrap_or_default().to_string();
            let sk = get_s(&item, "SK").unwrap_or_default().to_string();
            found.insert((pk, sk), item);
        }
        pending = out
            .unprocessed_keys
            .and_then(|mut u| u.remove(table))
            .map(|k| k.keys)
            .unwrap_or_default();
        if !pending.is_empty() {
            if attempt >= BATCH_GET_RETRIES {
                return Err(Error::Unavailable(format!(
                    "BatchGetItem left {} key(s) unprocessed",
                    pending.len()
                )));
            }
            tokio::time::sleep(jitter(BATCH_GET_BASE, attempt)).await;
            attempt += 1;
        }
    }
    Ok(found)
}

/// Looks a key up in a [`batch_get`] result.
pub(crate) fn take(found: &mut HashMap<(String, String), Item>, key: &Item) -> Option<Item> {
    let pk = get_s(key, "PK")?.to_string();
    let sk = get_s(key, "SK")?.to_string();
    found.remove(&(pk, sk))
}
