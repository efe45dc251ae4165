//! Small helpers around the DynamoDB SDK: applying expression parameters, recognising
//! conditional-check failures and transaction cancellations, and retrying transaction
//! conflicts with full jitter.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::Error;

/// `None` for an empty map (DynamoDB rejects empty expression maps).
pub(crate) fn non_empty<V>(map: HashMap<String, V>) -> Option<HashMap<String, V>> {
    if map.is_empty() { None } else { Some(map) }
}

/// Maps an SDK builder error (missing required field) to [`Error::Internal`].
pub(crate) fn built<T>(result: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, Error> {
    result.map_err(|e| Error::Internal(format!("cannot build DynamoDB request: {e}")))
}

/// The error code of an SDK error (`ConditionalCheckFailedException`, …).
pub(crate) fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// Whether the SDK error is a failed condition expression.
pub(crate) fn is_condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    error_code(err) == Some("ConditionalCheckFailedException")
}

/// Whether the SDK error is a transaction conflict (the write did not apply).
pub(crate) fn is_transaction_conflict<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    error_code(err) == Some("TransactionConflictException")
}

/// Cancellation reason codes of a `TransactionCanceledException`
/// (`None` for any other error).
pub(crate) fn cancellation_codes<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<String>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match err {
        SdkError::ServiceError(service) => match service.err() {
            TransactWriteItemsError::TransactionCanceledException(e) => Some(
                e.cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None").to_string())
                    .collect(),
            ),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a transaction was cancelled because its FIRST item's condition failed (the
/// item the caller conditioned; later items are registry counters).
pub(crate) fn first_item_condition_failed<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> bool {
    cancellation_codes(err).is_some_and(|codes| codes.first().map(String::as_str) == Some("ConditionalCheckFailed"))
}

/// The `Update` of a `TransactWriteItems` for `req` on `table`.
pub(crate) fn transact_update(
    table: &str,
    req: crate::schema::version_record::UpdateRequest,
) -> Result<aws_sdk_dynamodb::types::Update, Error> {
    built(
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(table)
            .set_key(Some(req.key))
            .update_expression(req.update_expression)
            .set_condition_expression(req.condition_expression)
            .set_expression_attribute_names(non_empty(req.names))
            .set_expression_attribute_values(non_empty(req.values))
            .build(),
    )
}

/// The item images attached to a `TransactionCanceledException`'s reasons.
pub(crate) fn cancellation_items<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Vec<Option<HashMap<String, AttributeValue>>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match err {
        SdkError::ServiceError(service) => match service.err() {
            TransactWriteItemsError::TransactionCanceledException(e) => {
                e.cancellation_reasons().iter().map(|r| r.item().cloned()).collect()
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Full-jitter backoff: uniform in `[0, base × 2^attempt)`.
pub(crate) fn jitter(base: Duration, attempt: u32) -> Duration {
    use rand::Rng as _;
    let ceiling = base.saturating_mul(1u32 << attempt.min(16));
    let nanos = rand::rng().random_range(0..=ceiling.as_nanos().max(1) as u64);
    Duration::from_nanos(nanos)
}

/// Number of re-sends after a transaction conflict (zae-limiter retries 3 times).
pub(crate) const CONFLICT_RETRIES: u32 = 3;
/// Base delay of the conflict backoff.
pub(crate) const CONFLICT_BASE: Duration = Duration::from_millis(25);
