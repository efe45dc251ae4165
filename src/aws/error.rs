//! [`AwsError`]: every failure of the AWS access layer, with the operation and resource it
//! concerns, and the classifications the retry and waiter helpers act on.

use std::fmt;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::error::operation::BuildError;

/// A boxed error source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result of the AWS access layer.
pub type Result<T, E = AwsError> = std::result::Result<T, E>;

/// Error codes that mean "the thing does not exist".
/// (`ResourceNotFound` without the suffix is what the emulator answers to DescribeTimeToLive.)
const NOT_FOUND_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "ResourceNotFound",
    "TableNotFoundException",
    "NoSuchEntity",
    "NoSuchEntityException",
    "NotFoundException",
];

/// Error codes that always mean "slow down".
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
    "TooManyRequestsException",
];

/// `LimitExceededException` is throttling only for the DynamoDB control plane ("Subscriber
/// limit exceeded: Only 10 tables can be created, updated, or deleted simultaneously");
/// IAM's `LimitExceeded` (e.g. five policy versions) is not.
const LIMIT_EXCEEDED_CODES: &[&str] = &["LimitExceededException", "LimitExceeded"];
const SIMULTANEOUS_LIMIT_MESSAGE: &str = "simultaneously";

/// Server-side failures worth another attempt.
const SERVER_ERROR_CODES: &[&str] = &[
    "InternalServerError",
    "InternalServerErrorException",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServiceFailure",
    "ServiceFailureException",
    "ConcurrentModification",
    "ConcurrentModificationException",
];

/// Message fragments AWS returns while a new IAM principal, role or policy attachment has not
/// yet propagated (the AWS provider retries these for its 2-minute propagation timeout).
const IAM_PROPAGATION_MESSAGES: &[&str] = &[
    "Invalid principal in policy",
    "cannot be assumed by",
    "The role defined for the function cannot be assumed",
    "The provided execution role does not have permissions",
];

/// What went wrong below the service: the request never produced an error response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The request could not be built (never sent; not retryable).
    Construction,
    /// The request timed out.
    Timeout,
    /// The request could not be dispatched (connection refused, DNS, TLS …).
    Dispatch,
    /// A response arrived but could not be parsed.
    Response,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Construction => "request construction failed",
            TransportKind::Timeout => "request timed out",
            TransportKind::Dispatch => "request dispatch failed",
            TransportKind::Response => "unreadable response",
        })
    }
}

/// A failure of the AWS access layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AwsError {
    /// AWS answered the request with an error response.
    #[error(
        "{operation} on {resource} failed: {}: {}",
        .code.as_deref().unwrap_or("UnknownError"),
        .message.as_deref().unwrap_or("(no message)")
    )]
    Service {
        /// API operation, e.g. `CreateTable`.
        operation: &'static str,
        /// The resource the call was about, e.g. `table "zae"`.
        resource: String,
        /// AWS error code, e.g. `ResourceNotFoundException`.
        code: Option<String>,
        /// AWS error message.
        message: Option<String>,
        /// HTTP status of the error response.
        http_status: Option<u16>,
        /// The SDK error.
        #[source]
        source: BoxError,
    },

    /// The request failed without an error response from AWS.
    #[error("{operation} on {resource} failed: {kind}: {detail}")]
    Transport {
        /// API operation.
        operation: &'static str,
        /// The resource the call was about.
        resource: String,
        /// Which stage failed.
        kind: TransportKind,
        /// The full error chain, rendered.
        detail: String,
        /// The SDK error.
        #[source]
        source: BoxError,
    },

    /// A retried operation still failed when its time budget ran out.
    #[error("{operation} still failing after {attempts} attempts over {elapsed:?}: {last}")]
    RetriesExhausted {
        /// What was retried.
        operation: String,
        /// How many attempts were made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The error of the last attempt.
        #[source]
        last: Box<AwsError>,
    },

    /// Terraform asked the provider to stop (`StopProvider`, e.g. Ctrl-C) while a retry loop
    /// or waiter was between attempts; it gave up with what it had.
    #[error("stopped {what}: Terraform asked the provider to stop; {last}")]
    Stopped {
        /// What was under way, e.g. `retrying CreateTable` or `waiting for table "zae"`.
        what: String,
        /// The last outcome seen: an error or a state, rendered.
        last: String,
    },

    /// A waiter ran out of time before the resource reached a target state.
    #[error("timed out after {timeout:?} waiting for {what} to become {target}; last state seen: {last_state}")]
    WaitTimeout {
        /// What was awaited, e.g. `DynamoDB table "zae"`.
        what: String,
        /// The target state(s), rendered.
        target: String,
        /// The last state the status function reported (`not found` when it was missing).
        last_state: String,
        /// The waiter's timeout.
        timeout: Duration,
    },

    /// A waiter saw a state that is neither pending nor a target.
    #[error("{what} entered unexpected state {state} while waiting for {target}")]
    UnexpectedState {
        /// What was awaited.
        what: String,
        /// The state seen.
        state: String,
        /// The target state(s), rendered.
        target: String,
    },

    /// A resource was repeatedly not found while waiting for it to reach a state.
    #[error("{what} does not exist (not found {checks} times in a row while waiting for {target})")]
    Gone {
        /// What was awaited.
        what: String,
        /// The target state(s), rendered.
        target: String,
        /// Consecutive not-found results.
        checks: u32,
    },

    /// AWS answered successfully but with something this provider cannot use.
    #[error("{operation} on {resource} returned an unusable response: {detail}")]
    InvalidResponse {
        /// API operation.
        operation: &'static str,
        /// The resource the call was about.
        resource: String,
        /// What was wrong.
        detail: String,
    },

    /// The change cannot be made in the resource's current state (e.g. a policy that is
    /// still attached to principals).
    #[error("{operation} on {resource} refused: {detail}")]
    Conflict {
        /// The operation that was refused.
        operation: &'static str,
        /// The resource.
        resource: String,
        /// Why, and what to do about it.
        detail: String,
    },

    /// An argument was rejected before any call was made.
    #[error("invalid {what}: {detail}")]
    InvalidInput {
        /// The argument.
        what: String,
        /// Why it is invalid.
        detail: String,
    },
}

impl AwsError {
    /// Wraps an SDK error with the operation and resource it concerns.
    pub fn from_sdk<E>(operation: &'static str, resource: impl Into<String>, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let resource = resource.into();
        let kind = match &err {
            SdkError::ServiceError(_) => None,
            SdkError::ConstructionFailure(_) => Some(TransportKind::Construction),
            SdkError::TimeoutError(_) => Some(TransportKind::Timeout),
            SdkError::DispatchFailure(_) => Some(TransportKind::Dispatch),
            SdkError::ResponseError(_) => Some(TransportKind::Response),
            _ => Some(TransportKind::Response),
        };
        match kind {
            None => AwsError::Service {
                operation,
                resource,
                code: err.code().map(str::to_owned),
                message: err.message().map(str::to_owned),
                http_status: err.raw_response().map(|r| r.status().as_u16()),
                source: Box::new(err),
            },
            Some(kind) => AwsError::Transport {
                operation,
                resource,
                kind,
                detail: DisplayErrorContext(&err).to_string(),
                source: Box::new(err),
            },
        }
    }

    /// A request builder rejected its input (a required field was missing).
    pub fn build(operation: &'static str, err: BuildError) -> Self {
        AwsError::InvalidInput {
            what: format!("{operation} request"),
            detail: err.to_string(),
        }
    }

    /// The innermost error: the last attempt's error for [`AwsError::RetriesExhausted`],
    /// `self` otherwise.
    pub fn innermost(&self) -> &AwsError {
        let mut err = self;
        while let AwsError::RetriesExhausted { last, .. } = err {
            err = last;
        }
        err
    }

    /// The AWS error code, if AWS answered with one.
    pub fn code(&self) -> Option<&str> {
        match self.innermost() {
            AwsError::Service { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The AWS error message, if AWS answered with one.
    pub fn message(&self) -> Option<&str> {
        match self.innermost() {
            AwsError::Service { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of AWS's error response.
    pub fn http_status(&self) -> Option<u16> {
        match self.innermost() {
            AwsError::Service { http_status, .. } => *http_status,
            _ => None,
        }
    }

    /// True when AWS answered with `code`.
    pub fn has_code(&self, code: &str) -> bool {
        self.code() == Some(code)
    }

    /// True when AWS's message contains `fragment`.
    pub fn message_contains(&self, fragment: &str) -> bool {
        self.message().is_some_and(|m| m.contains(fragment))
    }

    /// The resource does not exist (DynamoDB `ResourceNotFoundException`, IAM
    /// `NoSuchEntity`, …), or a waiter found it gone.
    pub fn is_not_found(&self) -> bool {
        matches!(self.innermost(), AwsError::Gone { .. }) || self.code().is_some_and(|c| NOT_FOUND_CODES.contains(&c))
    }

    /// AWS asked us to slow down. Includes DynamoDB's control-plane
    /// `LimitExceededException` ("… can be created, updated, or deleted simultaneously").
    pub fn is_throttling(&self) -> bool {
        let Some(code) = self.code() else {
            return false;
        };
        THROTTLING_CODES.contains(&code)
            || (LIMIT_EXCEEDED_CODES.contains(&code) && self.message_contains(SIMULTANEOUS_LIMIT_MESSAGE))
            || self.http_status() == Some(429)
    }

    /// An IAM eventual-consistency failure: a principal, role or attachment created moments
    /// ago is not visible yet. Worth retrying for about two minutes.
    pub fn is_iam_propagation(&self) -> bool {
        self.message()
            .is_some_and(|m| IAM_PROPAGATION_MESSAGES.iter().any(|f| m.contains(f)))
    }

    /// Worth another attempt: throttling, server errors, timeouts and connection failures.
    /// IAM propagation is *not* included; callers that expect it add
    /// [`AwsError::is_iam_propagation`].
    pub fn is_retryable(&self) -> bool {
        if matches!(self, AwsError::RetriesExhausted { .. }) {
            return false;
        }
        match self {
            AwsError::Transport { kind, .. } => *kind != TransportKind::Construction,
            AwsError::Service { .. } => {
                self.is_throttling()
                    || self.code().is_some_and(|c| SERVER_ERROR_CODES.contains(&c))
                    || self.http_status().is_some_and(|s| s >= 500)
            }
            _ => false,
        }
    }
}

/// How a delete went: `Ok(true)` when it deleted the object, `Ok(false)` when the object
/// was already gone (a delete retried after a lost response, or removed by hand).
pub trait DeleteOutcome {
    /// Maps "not found" to `Ok(false)` and success to `Ok(true)`; other errors stay errors.
    fn deleted(self) -> Result<bool>;
}

impl<T> DeleteOutcome for Result<T> {
    fn deleted(self) -> Result<bool> {
        match self {
            Ok(_) => Ok(true),
            Err(err) if err.is_not_found() => Ok(false),
            Err(err) => Err(err),
        }
    }
}

/// Adds operation and resource context to SDK results: `client.x().send().await.context("X", &r)?`.
pub trait SdkResultExt<T> {
    /// Converts the SDK error into an [`AwsError`] naming `operation` and `resource`.
    fn context(self, operation: &'static str, resource: impl fmt::Display) -> Result<T>;
}

impl<T, E> SdkResultExt<T> for std::result::Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn context(self, operation: &'static str, resource: impl fmt::Display) -> Result<T> {
        self.map_err(|e| {
            let err = AwsError::from_sdk(operation, resource.to_string(), e);
            tracing::debug!(target: super::LOG_TARGET, operation, error = %err, "AWS call failed");
            err
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A service error as the SDK would report it.
    pub(crate) fn service_error(code: &str, message: &str) -> AwsError {
        service_error_with_status(code, message, 400)
    }

    /// A service error with an explicit HTTP status.
    pub(crate) fn service_error_with_status(code: &str, message: &str, status: u16) -> AwsError {
        AwsError::Service {
            operation: "Test",
            resource: "thing \"x\"".into(),
            code: Some(code.into()),
            message: Some(message.into()),
            http_status: Some(status),
            source: "test".into(),
        }
    }

    fn transport(kind: TransportKind) -> AwsError {
        AwsError::Transport {
            operation: "Test",
            resource: "thing".into(),
            kind,
            detail: "boom".into(),
            source: "boom".into(),
        }
    }

    #[test]
    fn display_names_operation_resource_code_and_message() {
        let err = service_error("ResourceNotFoundException", "Requested resource not found");
        assert_eq!(
            err.to_string(),
            "Test on thing \"x\" failed: ResourceNotFoundException: Requested resource not found"
        );
    }

    #[test]
    fn stopped_is_neither_retryable_nor_not_found() {
        let err = AwsError::Stopped {
            what: "retrying CreateTable".into(),
            last: "last error: throttled".into(),
        };
        assert!(!err.is_retryable());
        assert!(!err.is_not_found());
        assert_eq!(
            err.to_string(),
            "stopped retrying CreateTable: Terraform asked the provider to stop; last error: throttled"
        );
    }

    #[test]
    fn not_found_codes() {
        assert!(service_error("ResourceNotFoundException", "x").is_not_found());
        assert!(service_error("NoSuchEntity", "x").is_not_found());
        assert!(service_error("TableNotFoundException", "x").is_not_found());
        assert!(service_error("ResourceNotFound", "Table not found").is_not_found());
        assert!(!service_error("ValidationException", "x").is_not_found());
        let gone = AwsError::Gone {
            what: "t".into(),
            target: "ACTIVE".into(),
            checks: 3,
        };
        assert!(gone.is_not_found());
    }

    #[test]
    fn throttling_codes() {
        for code in [
            "ThrottlingException",
            "Throttling",
            "RequestLimitExceeded",
            "TooManyRequestsException",
        ] {
            assert!(service_error(code, "slow down").is_throttling(), "{code}");
            assert!(service_error(code, "slow down").is_retryable(), "{code}");
        }
        assert!(service_error("ProvisionedThroughputExceededException", "x").is_throttling());
        assert!(service_error_with_status("Whatever", "x", 429).is_throttling());
    }

    #[test]
    fn limit_exceeded_is_throttling_only_for_simultaneous_operations() {
        let ddb = service_error(
            "LimitExceededException",
            "Subscriber limit exceeded: Only 10 tables can be created, updated, or deleted simultaneously",
        );
        assert!(ddb.is_throttling());
        assert!(ddb.is_retryable());
        let iam = service_error("LimitExceeded", "A managed policy can have up to 5 versions.");
        assert!(!iam.is_throttling());
        assert!(!iam.is_retryable());
    }

    #[test]
    fn iam_propagation_messages() {
        let e = service_error(
            "MalformedPolicyDocument",
            "Invalid principal in policy: \"AWS\":\"arn:…\"",
        );
        assert!(e.is_iam_propagation());
        assert!(!e.is_retryable(), "propagation is opt-in");
        let e = service_error(
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda.",
        );
        assert!(e.is_iam_propagation());
        assert!(!service_error("AccessDenied", "nope").is_iam_propagation());
    }

    #[test]
    fn server_errors_and_transport_failures_are_retryable() {
        assert!(service_error_with_status("InternalServerError", "x", 500).is_retryable());
        assert!(service_error_with_status("Odd", "x", 503).is_retryable());
        assert!(service_error("ConcurrentModification", "x").is_retryable());
        assert!(!service_error("ValidationException", "x").is_retryable());
        assert!(transport(TransportKind::Timeout).is_retryable());
        assert!(transport(TransportKind::Dispatch).is_retryable());
        assert!(transport(TransportKind::Response).is_retryable());
        assert!(!transport(TransportKind::Construction).is_retryable());
    }

    #[test]
    fn classification_looks_through_exhausted_retries() {
        let err = AwsError::RetriesExhausted {
            operation: "CreateTable".into(),
            attempts: 4,
            elapsed: Duration::from_secs(1),
            last: Box::new(service_error("ResourceNotFoundException", "gone")),
        };
        assert!(err.is_not_found());
        assert_eq!(err.code(), Some("ResourceNotFoundException"));
        assert!(!err.is_retryable(), "an exhausted retry is final");
        assert!(err.to_string().contains("after 4 attempts"));
        assert!(err.to_string().contains("ResourceNotFoundException: gone"));
    }
}
