//! Table tags: list and converge, never touching `aws:` tags.

use aws_sdk_dynamodb::Client;

use super::definition::sdk_tags;
use crate::aws::error::{AwsError, Result, SdkResultExt};
use crate::aws::log_call;
use crate::aws::retry::{RetryPolicy, retry_with};
use crate::aws::tags::{TagDiff, Tags, without_aws_managed};

/// Upper bound on `ListTagsOfResource` pages (50 tags per resource fit in one page).
const MAX_PAGES: usize = 20;

fn resource(arn: &str) -> String {
    format!("DynamoDB resource {arn}")
}

fn retryable(err: &AwsError) -> bool {
    err.is_retryable() || err.has_code("ResourceInUseException")
}

/// The table's tags, without AWS-managed (`aws:`) ones.
pub async fn list_tags(client: &Client, arn: &str) -> Result<Tags> {
    let mut tags = Tags::new();
    let mut next_token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        log_call("ListTagsOfResource", &resource(arn));
        let page = client
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(next_token.take())
            .send()
            .await
            .context("ListTagsOfResource", resource(arn))?;
        tags.extend(page.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())));
        match page.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => return Ok(without_aws_managed(tags)),
        }
    }
    Err(AwsError::InvalidResponse {
        operation: "ListTagsOfResource",
        resource: resource(arn),
        detail: format!("more than {MAX_PAGES} pages of tags"),
    })
}

/// Makes the table's tags equal `desired` (pass [`super::effective_tags`]): tags new or
/// changed values, untags removed keys, leaves `aws:` tags alone. Returns what it changed.
pub async fn sync_tags(client: &Client, arn: &str, desired: &Tags) -> Result<TagDiff> {
    let current = list_tags(client, arn).await?;
    let diff = TagDiff::between(&current, desired);
    // Keys whose value changes are removed first, then set again: DynamoDB overwrites a
    // key on TagResource, but the moto emulator appends a second tag with the same key.
    let mut untag = diff.remove.clone();
    untag.extend(diff.set.keys().filter(|k| current.contains_key(*k)).cloned());
    if !untag.is_empty() {
        retry_with(&RetryPolicy::CONTROL_PLANE, "UntagResource", retryable, || async {
            log_call("UntagResource", &resource(arn));
            client
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(untag.clone()))
                .send()
                .await
                .context("UntagResource", resource(arn))
        })
        .await?;
    }
    if !diff.set.is_empty() {
        let tags = sdk_tags(&diff.set, "TagResource")?;
        retry_with(&RetryPolicy::CONTROL_PLANE, "TagResource", retryable, || async {
            log_call("TagResource", &resource(arn));
            client
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .context("TagResource", resource(arn))
        })
        .await?;
    }
    Ok(diff)
}
