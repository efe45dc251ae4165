//! The AWS SDK clients a configured provider hands to every resource and data source.
//!
//! Built by [`crate::provider`] from the provider configuration; resources only see this
//! struct, so they depend on the AWS layer and never on the provider module.

use std::collections::BTreeMap;

use super::sts::{self, CallerIdentity};

/// Everything a resource needs to reach AWS.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// IAM.
    pub iam: aws_sdk_iam::Client,
    /// STS.
    pub sts: aws_sdk_sts::Client,
    /// Lambda (the aggregator function and its event source mapping).
    pub lambda: aws_sdk_lambda::Client,
    /// SQS (the aggregator's dead-letter queue).
    pub sqs: aws_sdk_sqs::Client,
    /// CloudWatch Logs (the aggregator's log group).
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// S3 (the audit archive bucket); path-style addressing when a custom endpoint is set.
    pub s3: aws_sdk_s3::Client,
    /// CloudWatch (the stack's alarms).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// The region in use.
    pub region: String,
    /// The caller, when credentials were validated at configure time.
    pub identity: Option<CallerIdentity>,
    /// `default_tags` from the provider configuration.
    pub default_tags: BTreeMap<String, String>,
}

impl AwsClients {
    /// The caller's identity, looked up now when it was not validated at configure time.
    pub async fn caller_identity(&self) -> super::Result<CallerIdentity> {
        match &self.identity {
            Some(identity) => Ok(identity.clone()),
            None => sts::caller_identity(&self.sts).await,
        }
    }
}
