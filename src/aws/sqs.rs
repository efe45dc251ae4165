//! SQS queues: the aggregator's dead-letter queue (`AggregatorDLQ`, spec §9.3): create with
//! zae-limiter 0.17.0's attributes, find (URL and ARN), update attributes, delete.
//!
//! The event source mapping sends batches that failed all retries to this queue
//! (`DestinationConfig.OnFailure`), so the queue's ARN is what the mapping needs and its URL
//! is what SQS calls take.

use std::collections::HashMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;

use super::error::{AwsError, Result, SdkResultExt};
use super::log_call;
use super::retry::{RetryPolicy, send_with_retry};
use super::tags::Tags;

/// The DLQ's `MessageRetentionPeriod`: 14 days, SQS's maximum.
pub const DLQ_MESSAGE_RETENTION_SECONDS: i32 = 1_209_600;
/// The DLQ's `VisibilityTimeout`: 5 minutes.
pub const DLQ_VISIBILITY_TIMEOUT_SECONDS: i32 = 300;

/// Error codes SQS answers for a queue that does not exist (the JSON protocol's short code
/// and the query-compatible one).
const QUEUE_MISSING_CODES: &[&str] = &["QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"];

/// The DLQ's name for a stack: `{stack}-aggregator-dlq`.
pub fn dlq_name(stack: &str) -> String {
    format!("{stack}-aggregator-dlq")
}

/// What the stack decides about a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// Queue name.
    pub name: String,
    /// Seconds a message is kept (60..=1209600).
    pub message_retention_seconds: i32,
    /// Seconds a received message stays invisible (0..=43200).
    pub visibility_timeout_seconds: i32,
    /// Tags, set at creation.
    pub tags: Tags,
}

impl QueueSettings {
    /// The aggregator DLQ of zae-limiter 0.17.0: 14 days retention, 300 s visibility,
    /// `Application=zae-limiter`.
    pub fn dlq(stack: &str) -> Self {
        QueueSettings {
            name: dlq_name(stack),
            message_retention_seconds: DLQ_MESSAGE_RETENTION_SECONDS,
            visibility_timeout_seconds: DLQ_VISIBILITY_TIMEOUT_SECONDS,
            tags: Tags::from([("Application".to_owned(), "zae-limiter".to_owned())]),
        }
    }

    /// The attributes CreateQueue and SetQueueAttributes send.
    pub fn attributes(&self) -> HashMap<QueueAttributeName, String> {
        HashMap::from([
            (
                QueueAttributeName::MessageRetentionPeriod,
                self.message_retention_seconds.to_string(),
            ),
            (
                QueueAttributeName::VisibilityTimeout,
                self.visibility_timeout_seconds.to_string(),
            ),
        ])
    }
}

/// A queue as SQS describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    /// Queue URL (what SQS calls take).
    pub url: String,
    /// Queue ARN (what policies and the event source mapping take).
    pub arn: String,
    /// `MessageRetentionPeriod`, seconds.
    pub message_retention_seconds: Option<i32>,
    /// `VisibilityTimeout`, seconds.
    pub visibility_timeout_seconds: Option<i32>,
}

fn resource(name: &str) -> String {
    format!("SQS queue \"{name}\"")
}

fn queue_missing(err: &AwsError) -> bool {
    err.is_not_found() || err.code().is_some_and(|c| QUEUE_MISSING_CODES.contains(&c))
}

/// Creates the queue and returns its URL and ARN. CreateQueue is idempotent for equal
/// attributes; a queue of that name with other attributes fails with `QueueAlreadyExists`
/// (use [`update_queue`]). SQS refuses a name deleted less than 60 s ago
/// (`QueueDeletedRecently`); that is retried for the control-plane budget.
pub async fn create_queue(client: &Client, settings: &QueueSettings) -> Result<QueueInfo> {
    let name = settings.name.as_str();
    let tags: HashMap<String, String> = settings.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let request = client
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(settings.attributes()))
        .set_tags((!tags.is_empty()).then_some(tags));
    let retryable = |err: &AwsError| {
        err.is_retryable()
            || err.has_code("QueueDeletedRecently")
            || err.has_code("AWS.SimpleQueueService.QueueDeletedRecently")
    };
    let output = send_with_retry(
        &RetryPolicy::CONTROL_PLANE,
        "CreateQueue",
        &resource(name),
        retryable,
        &request,
        |r| r.send(),
    )
    .await?;
    let url = output.queue_url().ok_or_else(|| AwsError::InvalidResponse {
        operation: "CreateQueue",
        resource: resource(name),
        detail: "no QueueUrl in the response".into(),
    })?;
    describe_queue(client, name, url)
        .await?
        .ok_or_else(|| AwsError::InvalidResponse {
            operation: "GetQueueAttributes",
            resource: resource(name),
            detail: "the queue just created is missing".into(),
        })
}

/// The queue's URL; `None` when no queue has that name.
pub async fn find_queue_url(client: &Client, name: &str) -> Result<Option<String>> {
    log_call("GetQueueUrl", &resource(name));
    match client
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .context("GetQueueUrl", resource(name))
    {
        Ok(output) => Ok(output.queue_url().map(str::to_owned)),
        Err(err) if queue_missing(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Finds a queue by name: URL, ARN and attributes; `None` when it does not exist.
pub async fn find_queue(client: &Client, name: &str) -> Result<Option<QueueInfo>> {
    match find_queue_url(client, name).await? {
        Some(url) => describe_queue(client, name, &url).await,
        None => Ok(None),
    }
}

/// The attributes of the queue at `url`; `None` when it does not exist (any more).
pub async fn describe_queue(client: &Client, name: &str, url: &str) -> Result<Option<QueueInfo>> {
    log_call("GetQueueAttributes", &resource(name));
    let output = match client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .context("GetQueueAttributes", resource(name))
    {
        Ok(output) => output,
        Err(err) if queue_missing(&err) => return Ok(None),
        Err(err) => return Err(err),
    };
    let attributes = output.attributes().cloned().unwrap_or_default();
    let number = |key: &QueueAttributeName| attributes.get(key).and_then(|v| v.parse().ok());
    let arn = attributes
        .get(&QueueAttributeName::QueueArn)
        .cloned()
        .ok_or_else(|| AwsError::InvalidResponse {
            operation: "GetQueueAttributes",
            resource: resource(name),
            detail: "no QueueArn attribute".into(),
        })?;
    Ok(Some(QueueInfo {
        url: url.to_owned(),
        arn,
        message_retention_seconds: number(&QueueAttributeName::MessageRetentionPeriod),
        visibility_timeout_seconds: number(&QueueAttributeName::VisibilityTimeout),
    }))
}

/// Sets the queue's retention and visibility timeout to `settings`.
pub async fn update_queue(client: &Client, url: &str, settings: &QueueSettings) -> Result<()> {
    let name = settings.name.as_str();
    let request = client
        .set_queue_attributes()
        .queue_url(url)
        .set_attributes(Some(settings.attributes()));
    send_with_retry(
        &RetryPolicy::CONTROL_PLANE,
        "SetQueueAttributes",
        &resource(name),
        AwsError::is_retryable,
        &request,
        |r| r.send(),
    )
    .await?;
    Ok(())
}

/// Deletes the queue at `url` (and its messages); `Ok(false)` when it did not exist.
pub async fn delete_queue(client: &Client, url: &str) -> Result<bool> {
    log_call("DeleteQueue", &resource(url));
    match client
        .delete_queue()
        .queue_url(url)
        .send()
        .await
        .context("DeleteQueue", resource(url))
    {
        Ok(_) => Ok(true),
        Err(err) if queue_missing(&err) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Brings the queue's tags to `desired` (ListQueueTags, UntagQueue, TagQueue).
pub async fn sync_queue_tags(client: &Client, url: &str, desired: &Tags) -> Result<super::tags::TagDiff> {
    log_call("ListQueueTags", &resource(url));
    let listed = client
        .list_queue_tags()
        .queue_url(url)
        .send()
        .await
        .context("ListQueueTags", resource(url))?;
    let current: Tags = listed
        .tags()
        .map(|t| t.clone().into_iter().collect())
        .unwrap_or_default();
    super::tags::sync(
        &current,
        desired,
        |keys| async move {
            log_call("UntagQueue", &resource(url));
            client
                .untag_queue()
                .queue_url(url)
                .set_tag_keys(Some(keys))
                .send()
                .await
                .context("UntagQueue", resource(url))?;
            Ok(())
        },
        |set| async move {
            log_call("TagQueue", &resource(url));
            client
                .tag_queue()
                .queue_url(url)
                .set_tags(Some(set.into_iter().collect()))
                .send()
                .await
                .context("TagQueue", resource(url))?;
            Ok(())
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::error::tests::service_error;

    #[test]
    fn the_dlq_has_the_0_17_0_attributes() {
        let dlq = QueueSettings::dlq("zae");
        assert_eq!(dlq.name, "zae-aggregator-dlq");
        let attributes = dlq.attributes();
        assert_eq!(attributes[&QueueAttributeName::MessageRetentionPeriod], "1209600");
        assert_eq!(attributes[&QueueAttributeName::VisibilityTimeout], "300");
        assert_eq!(dlq.tags.get("Application").map(String::as_str), Some("zae-limiter"));
    }

    #[test]
    fn both_spellings_of_a_missing_queue_are_not_found() {
        assert!(queue_missing(&service_error("QueueDoesNotExist", "gone")));
        assert!(queue_missing(&service_error(
            "AWS.SimpleQueueService.NonExistentQueue",
            "gone"
        )));
        assert!(!queue_missing(&service_error("AccessDenied", "no")));
    }
}
