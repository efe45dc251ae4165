//! The AWS access layer the resources call.
//!
//! Small async functions over the AWS SDK clients, free of Terraform types, in the
//! finder / status / waiter style of the AWS provider:
//!
//! * [`clients`]: [`AwsClients`], the SDK clients every resource receives.
//! * [`error`]: [`AwsError`], which names the operation and resource of every failure and
//!   classifies it (not found, throttling, IAM propagation, retryable).
//! * [`retry`]: bounded retries with exponential backoff and full jitter.
//! * [`waiter`]: [`waiter::wait_for_state`] / [`waiter::wait_for_absence`], the
//!   `StateChangeConf` of this provider.
//! * [`table`]: the zae-limiter DynamoDB table (wire-format §2.1): create, find, check against the
//!   definition ([`table::info`]), TTL ([`table::ttl`]), point-in-time recovery
//!   ([`table::pitr`]), deletion protection, tags ([`table::tagging`]), delete.
//! * [`tags`]: the tag diff shared by DynamoDB and IAM tagging.
//! * [`policy_document`]: the six managed policy documents (wire-format §9.4) and their semantic
//!   comparison.
//! * [`iam_policy`]: IAM managed policies: find, create, update (with version pruning),
//!   delete.
//! * [`iam_principal`]: tags of IAM roles and users (the TBAC namespace tag).
//! * [`sts`]: the caller's account, ARN and partition.
//! * [`iam_role`]: IAM roles for the stack's Lambda functions: trust policy, inline and
//!   managed policies, delete.
//! * [`role_policy`]: the inline policies of the aggregator's execution role.
//! * [`lambda`]: the aggregator function (create from a zip, update, waiters) and its event
//!   source mapping on the table stream.
//! * [`sqs`]: the aggregator's dead-letter queue.
//! * [`logs`]: CloudWatch Logs log groups and their retention.
//! * [`cloudwatch`]: the stack's metric alarms.
//! * [`s3`]: the audit archive bucket (SSE-S3, public access blocked, Glacier IR lifecycle),
//!   emptied before it is deleted.
//!
//! Every AWS call is logged at `debug` level under the `terraform_provider_zae::aws` target.

pub mod clients;
pub mod cloudwatch;
pub mod error;
pub mod iam_policy;
pub mod iam_principal;
pub mod iam_role;
pub mod lambda;
pub mod logs;
pub mod policy_document;
pub mod retry;
pub mod role_policy;
pub mod s3;
pub mod sqs;
pub mod sts;
pub mod table;
pub mod tags;
pub mod waiter;

pub use clients::AwsClients;
pub use error::{AwsError, Result};

/// `tracing` target of every log line of this layer.
pub(crate) const LOG_TARGET: &str = "terraform_provider_zae::aws";

/// Logs an AWS call before it is sent.
pub(crate) fn log_call(operation: &'static str, resource: &dyn std::fmt::Display) {
    tracing::debug!(target: LOG_TARGET, operation, resource = %resource, "calling AWS");
}
