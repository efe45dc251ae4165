//! CloudWatch Logs log groups: the aggregator's `/aws/lambda/{function}` group with its
//! retention (`AggregatorLogGroup`, spec §9.3): create (idempotent), set retention, find,
//! delete.
//!
//! The group is created before the function (CloudFormation's `DependsOn`), so Lambda
//! writes into a group whose retention the stack controls instead of creating one that
//! keeps logs forever.

use std::collections::HashMap;

use aws_sdk_cloudwatchlogs::Client;

use super::error::{AwsError, DeleteOutcome, Result, SdkResultExt};
use super::log_call;
use super::retry::{RetryPolicy, send_with_retry};
use super::tags::Tags;

/// The retention periods (days) CloudWatch Logs accepts; also the values of the stack's
/// `LogRetentionDays` parameter.
pub const VALID_RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/// The stack's default `LogRetentionDays`.
pub const DEFAULT_RETENTION_DAYS: i32 = 30;

/// Upper bound on DescribeLogGroups pages (50 groups per page).
const MAX_PAGES: usize = 100;

/// A log group as CloudWatch Logs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroup {
    /// Log group name, e.g. `/aws/lambda/zae-aggregator`.
    pub name: String,
    /// Its ARN (ending in `:*` as DescribeLogGroups reports it).
    pub arn: Option<String>,
    /// Retention in days; `None` = never expire.
    pub retention_in_days: Option<i32>,
}

/// The log group Lambda writes a function's logs to: `/aws/lambda/{function_name}`.
pub fn lambda_log_group_name(function_name: &str) -> String {
    format!("/aws/lambda/{function_name}")
}

/// Checks a retention period against [`VALID_RETENTION_DAYS`].
pub fn validate_retention_days(days: i32) -> Result<()> {
    if VALID_RETENTION_DAYS.contains(&days) {
        Ok(())
    } else {
        Err(AwsError::InvalidInput {
            what: "log retention".into(),
            detail: format!("{days} days: CloudWatch Logs accepts one of {VALID_RETENTION_DAYS:?}"),
        })
    }
}

fn resource(name: &str) -> String {
    format!("log group \"{name}\"")
}

/// Retried for log group writes: throttling, server errors, and `OperationAbortedException`
/// ("multiple concurrent requests to update the same resource were in conflict").
fn logs_retryable(err: &AwsError) -> bool {
    err.is_retryable() || err.has_code("OperationAbortedException")
}

/// Creates the log group; an existing group of that name is accepted (`Ok(false)`), a new
/// one gives `Ok(true)`. Tags are only set on a new group.
pub async fn create_log_group(client: &Client, name: &str, tags: &Tags) -> Result<bool> {
    let tags: HashMap<String, String> = tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let request = client
        .create_log_group()
        .log_group_name(name)
        .set_tags((!tags.is_empty()).then_some(tags));
    let created = send_with_retry(
        &RetryPolicy::CONTROL_PLANE,
        "CreateLogGroup",
        &resource(name),
        logs_retryable,
        &request,
        |r| r.send(),
    )
    .await;
    match created {
        Ok(_) => Ok(true),
        Err(err) if err.has_code("ResourceAlreadyExistsException") => {
            tracing::debug!(target: super::LOG_TARGET, log_group = name, "log group exists already");
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

/// Sets the retention (`Some(days)`, one of [`VALID_RETENTION_DAYS`]) or removes it so
/// events never expire (`None`).
pub async fn put_retention(client: &Client, name: &str, days: Option<i32>) -> Result<()> {
    match days {
        Some(days) => {
            validate_retention_days(days)?;
            let request = client
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days);
            send_with_retry(
                &RetryPolicy::CONTROL_PLANE,
                "PutRetentionPolicy",
                &resource(name),
                logs_retryable,
                &request,
                |r| r.send(),
            )
            .await?;
        }
        None => {
            log_call("DeleteRetentionPolicy", &resource(name));
            client
                .delete_retention_policy()
                .log_group_name(name)
                .send()
                .await
                .context("DeleteRetentionPolicy", resource(name))?;
        }
    }
    Ok(())
}

/// Reads the log group of exactly this name; `None` when it does not exist.
///
/// DescribeLogGroups matches by prefix, so the pages are searched for the exact name.
pub async fn find_log_group(client: &Client, name: &str) -> Result<Option<LogGroup>> {
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        log_call("DescribeLogGroups", &resource(name));
        let page = match client
            .describe_log_groups()
            .log_group_name_prefix(name)
            .set_next_token(token.take())
            .send()
            .await
            .context("DescribeLogGroups", resource(name))
        {
            Ok(page) => page,
            Err(err) if err.is_not_found() => return Ok(None),
            Err(err) => return Err(err),
        };
        if let Some(group) = page.log_groups().iter().find(|g| g.log_group_name() == Some(name)) {
            return Ok(Some(LogGroup {
                name: name.to_owned(),
                arn: group.arn().map(str::to_owned),
                retention_in_days: group.retention_in_days(),
            }));
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(None),
        }
    }
    Err(AwsError::InvalidResponse {
        operation: "DescribeLogGroups",
        resource: resource(name),
        detail: format!("more than {MAX_PAGES} pages of log groups share the prefix"),
    })
}

/// Deletes the log group and its events; `Ok(false)` when it did not exist.
pub async fn delete_log_group(client: &Client, name: &str) -> Result<bool> {
    log_call("DeleteLogGroup", &resource(name));
    client
        .delete_log_group()
        .log_group_name(name)
        .send()
        .await
        .context("DeleteLogGroup", resource(name))
        .deleted()
}

/// Brings the log group's tags to `desired` (ListTagsForResource, UntagResource,
/// TagResource on `arn`, the group's ARN with or without the `:*` DescribeLogGroups adds).
pub async fn sync_log_group_tags(client: &Client, arn: &str, desired: &Tags) -> Result<super::tags::TagDiff> {
    let arn = arn.strip_suffix(":*").unwrap_or(arn);
    log_call("ListTagsForResource", &resource(arn));
    let listed = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .context("ListTagsForResource", resource(arn))?;
    let current: Tags = listed
        .tags()
        .map(|t| t.clone().into_iter().collect())
        .unwrap_or_default();
    super::tags::sync(
        &current,
        desired,
        |keys| async move {
            log_call("UntagResource", &resource(arn));
            client
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(keys))
                .send()
                .await
                .context("UntagResource", resource(arn))?;
            Ok(())
        },
        |set| async move {
            log_call("TagResource", &resource(arn));
            client
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(set.into_iter().collect()))
                .send()
                .await
                .context("TagResource", resource(arn))?;
            Ok(())
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_updates_are_retried() {
        use crate::aws::error::tests::service_error;
        assert!(logs_retryable(&service_error(
            "OperationAbortedException",
            "Multiple concurrent requests to update the same resource were in conflict."
        )));
        assert!(logs_retryable(&service_error("ThrottlingException", "slow down")));
        assert!(!logs_retryable(&service_error("InvalidParameterException", "bad")));
    }

    #[test]
    fn lambda_log_groups_are_named_after_the_function() {
        assert_eq!(lambda_log_group_name("zae-aggregator"), "/aws/lambda/zae-aggregator");
    }

    #[test]
    fn retention_must_be_one_of_the_cloudwatch_values() {
        assert!(validate_retention_days(DEFAULT_RETENTION_DAYS).is_ok());
        assert!(validate_retention_days(3653).is_ok());
        let err = validate_retention_days(31).unwrap_err();
        assert!(err.to_string().contains("31 days"), "{err}");
        assert!(validate_retention_days(0).is_err());
    }
}
