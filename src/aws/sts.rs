//! Who the provider is: account, ARN and partition of the calling credentials.

use aws_sdk_sts::Client;

use super::error::{AwsError, Result, SdkResultExt};
use super::log_call;

/// The caller as `GetCallerIdentity` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// 12-digit account id.
    pub account_id: String,
    /// ARN of the calling principal.
    pub arn: String,
    /// Unique id of the calling principal.
    pub user_id: Option<String>,
    /// Partition from the ARN: `aws`, `aws-cn`, `aws-us-gov`, …
    pub partition: String,
}

/// The partition field of an ARN (`arn:PARTITION:service:…`).
pub fn partition_of(arn: &str) -> Option<&str> {
    let mut fields = arn.split(':');
    match (fields.next(), fields.next()) {
        (Some("arn"), Some(partition)) if !partition.is_empty() => Some(partition),
        _ => None,
    }
}

/// Calls `GetCallerIdentity`.
pub async fn caller_identity(client: &Client) -> Result<CallerIdentity> {
    log_call("GetCallerIdentity", &"caller");
    let output = client
        .get_caller_identity()
        .send()
        .await
        .context("GetCallerIdentity", "caller")?;
    let invalid = |detail: &str| AwsError::InvalidResponse {
        operation: "GetCallerIdentity",
        resource: "caller".into(),
        detail: detail.to_owned(),
    };
    let arn = output.arn().ok_or_else(|| invalid("no Arn"))?.to_owned();
    let partition = partition_of(&arn)
        .ok_or_else(|| invalid("the Arn has no partition"))?
        .to_owned();
    Ok(CallerIdentity {
        account_id: output.account().ok_or_else(|| invalid("no Account"))?.to_owned(),
        user_id: output.user_id().map(str::to_owned),
        arn,
        partition,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_partition() {
        assert_eq!(partition_of("arn:aws:sts::123456789012:assumed-role/r/s"), Some("aws"));
        assert_eq!(partition_of("arn:aws-cn:iam::1:user/u"), Some("aws-cn"));
        assert_eq!(partition_of("arn:aws-us-gov:iam::1:root"), Some("aws-us-gov"));
        assert_eq!(partition_of("nope"), None);
        assert_eq!(partition_of("arn::iam"), None);
    }
}
