//! Time to live on the zae-limiter TTL attribute (`ttl`, epoch seconds).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::TimeToLiveSpecification;
use zae_limiter::schema::table::TTL;

use super::resource;
use crate::aws::error::{AwsError, Result, SdkResultExt};
use crate::aws::log_call;
use crate::aws::retry::{RetryPolicy, retry_with};

/// What `DescribeTimeToLive` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtlDescription {
    /// `ENABLED`, `ENABLING`, `DISABLED` or `DISABLING`.
    pub status: String,
    /// The TTL attribute, when TTL is (being) enabled.
    pub attribute_name: Option<String>,
}

impl TtlDescription {
    /// True when TTL is enabled or being enabled.
    pub fn is_on(&self) -> bool {
        matches!(self.status.as_str(), "ENABLED" | "ENABLING")
    }

    /// True when TTL is on and uses the zae-limiter attribute.
    pub fn is_zae_ttl(&self) -> bool {
        self.is_on() && self.attribute_name.as_deref() == Some(TTL)
    }
}

/// Reads the table's TTL setting.
pub async fn describe_ttl(client: &Client, name: &str) -> Result<TtlDescription> {
    log_call("DescribeTimeToLive", &resource(name));
    let output = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .context("DescribeTimeToLive", resource(name))?;
    let description = output.time_to_live_description();
    Ok(TtlDescription {
        status: description
            .and_then(|d| d.time_to_live_status())
            .map_or_else(|| "DISABLED".to_owned(), |s| s.as_str().to_owned()),
        attribute_name: description.and_then(|d| d.attribute_name()).map(str::to_owned),
    })
}

fn conflict(name: &str, current: &TtlDescription) -> AwsError {
    AwsError::Conflict {
        operation: "UpdateTimeToLive",
        resource: resource(name),
        detail: format!(
            "TTL is {} on attribute {:?}, but zae-limiter needs it on {TTL:?}; disable it first \
             (DynamoDB allows one TTL change per hour)",
            current.status,
            current.attribute_name.as_deref().unwrap_or("?")
        ),
    }
}

/// Enables TTL on the zae-limiter attribute. Idempotent: a table whose TTL is already on (or
/// being turned on) for that attribute is left alone, and DynamoDB's "TimeToLive is already
/// enabled" answer counts as success. TTL on another attribute is an [`AwsError::Conflict`].
pub async fn enable_ttl(client: &Client, name: &str) -> Result<()> {
    let current = describe_ttl(client, name).await?;
    if current.is_zae_ttl() {
        return Ok(());
    }
    if current.is_on() {
        return Err(conflict(name, &current));
    }
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(TTL)
        .build()
        .map_err(|e| AwsError::build("UpdateTimeToLive", e))?;
    let result = retry_with(
        &RetryPolicy::CONTROL_PLANE,
        "UpdateTimeToLive",
        AwsError::is_retryable,
        || async {
            log_call("UpdateTimeToLive", &resource(name));
            client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(spec.clone())
                .send()
                .await
                .context("UpdateTimeToLive", resource(name))
        },
    )
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(err) if err.message_contains("already enabled") => {
            let now = describe_ttl(client, name).await?;
            if now.is_zae_ttl() {
                Ok(())
            } else {
                Err(conflict(name, &now))
            }
        }
        Err(err) => Err(err),
    }
}
