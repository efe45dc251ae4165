//! The crate's error type.
//!
//! One enum, [`Error`], covers every failure a caller can act on differently: invalid
//! input, missing infrastructure, version incompatibility, rate limiting, features this
//! client does not implement, and DynamoDB failures (after the SDK's own throttling
//! retries). Messages follow zae-limiter 0.17.0's wording where it has one.

use std::fmt;

use crate::acquire::RateLimited;

/// Which validation rule family rejected an input (zae-limiter's `ValidationError`
/// subclasses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationKind {
    /// `InvalidIdentifierError`: entity ids, parent ids, principals.
    Identifier,
    /// `InvalidNameError`: limit names and resource names.
    Name,
    /// Plain `ValidationError`: anything else (e.g. the reserved namespace `_`).
    Other,
}

/// An input rejected by zae-limiter's validation rules.
///
/// Displays as zae-limiter does: `Invalid {field}: {reason}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Rule family.
    pub kind: ValidationKind,
    /// Name of the field that failed (`entity_id`, `resource`, `name`, …).
    pub field: String,
    /// The rejected value, truncated to 50 characters plus `...` like zae-limiter does.
    pub value: String,
    /// Why it was rejected.
    pub reason: String,
}

impl ValidationError {
    /// Builds an error, truncating `value` the way zae-limiter does.
    pub fn new(kind: ValidationKind, field: &str, value: &str, reason: impl Into<String>) -> Self {
        let value = if value.chars().count() > 50 {
            let head: String = value.chars().take(50).collect();
            format!("{head}...")
        } else {
            value.to_string()
        };
        ValidationError {
            kind,
            field: field.to_string(),
            value,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ValidationError {}

/// Every error this crate returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An entity id, resource, limit name, namespace name or principal broke a rule.
    #[error(transparent)]
    Validation(#[from] ValidationError),

    /// A limit's parameters are invalid (zae-limiter raises `ValueError` for these).
    #[error("invalid limit: {0}")]
    InvalidLimit(String),

    /// The DynamoDB table does not exist (`InfrastructureNotFoundError`).
    #[error("Infrastructure not found for stack '{table}': the DynamoDB table does not exist")]
    TableNotFound {
        /// Table (= stack) name.
        table: String,
    },

    /// The table has no version record `_/SYSTEM#` / `#VERSION`
    /// (`InfrastructureNotFoundError` in zae-limiter's `connect`).
    #[error(
        "Infrastructure not found for stack '{table}': the table has no version record \
         (run 'zae-limiter deploy' or apply the Terraform stack)"
    )]
    VersionRecordMissing {
        /// Table (= stack) name.
        table: String,
    },

    /// The namespace is not registered, or is deleted / being purged.
    #[error("Namespace '{namespace}' not found. Register it first or check for typos.")]
    NamespaceNotFound {
        /// Namespace name (or id, for id-based operations).
        namespace: String,
    },

    /// A namespace operation is invalid in the namespace's current state.
    #[error("{message}")]
    NamespaceState {
        /// Human-readable explanation.
        message: String,
        /// Namespace name, when known.
        namespace: String,
        /// The conflicting state (`active`, `purging`, `re-registered`).
        state: String,
    },

    /// The version record forbids this client (`VersionMismatchError`).
    #[error(
        "Version mismatch: client={client_version}, schema={schema_version}, lambda={}. {message}",
        lambda_version.as_deref().unwrap_or("unknown")
    )]
    VersionMismatch {
        /// The version this client reports ([`crate::version::CLIENT_VERSION`]).
        client_version: String,
        /// `schema_version` of the record.
        schema_version: String,
        /// `lambda_version` of the record.
        lambda_version: Option<String>,
        /// What is wrong.
        message: String,
        /// Whether deploying newer Lambda code would fix it.
        can_auto_update: bool,
    },

    /// The schema's major version differs from the client's (`IncompatibleSchemaError`).
    #[error("Incompatible schema: client {client_version} is not compatible with schema {schema_version}. {message}")]
    IncompatibleSchema {
        /// The version this client reports.
        client_version: String,
        /// `schema_version` of the record.
        schema_version: String,
        /// What is wrong.
        message: String,
    },

    /// An entity with this id already exists (`EntityExistsError`).
    #[error("Entity already exists: {entity_id}")]
    EntityExists {
        /// The entity id.
        entity_id: String,
    },

    /// The entity does not exist (`EntityNotFoundError`).
    #[error("Entity not found: {entity_id}")]
    EntityNotFound {
        /// The entity id.
        entity_id: String,
    },

    /// The request would exceed one or more limits (`RateLimitExceeded`).
    #[error(transparent)]
    RateLimited(Box<RateLimited>),

    /// The resource is disabled for this entity (`ResourceDisabled`).
    #[error("Resource '{resource}' is disabled for entity '{entity_id}' (level: {level})")]
    ResourceDisabled {
        /// Entity whose bucket is disabled.
        entity_id: String,
        /// Resource.
        resource: String,
        /// Where the flag was found (`bucket`, `entity`, `resource`).
        level: String,
    },

    /// No limits are configured for this entity/resource at any level.
    #[error(
        "No limits configured for entity '{entity_id}' and resource '{resource}' \
         (entity, resource and system levels are all empty)"
    )]
    NoLimits {
        /// Entity id.
        entity_id: String,
        /// Resource.
        resource: String,
    },

    /// The table uses a zae-limiter feature this client does not implement; the operation
    /// is refused rather than risk misreading or corrupting its state.
    #[error(
        "unsupported zae-limiter feature {feature} on {location}: \
         this client implements the core profile only and refuses to read it"
    )]
    Unsupported {
        /// The feature (e.g. `session window (w_ limit)`).
        feature: String,
        /// Which item carries it.
        location: String,
    },

    /// A stored item cannot be decoded.
    #[error("corrupt item {pk} / {sk}: {reason}")]
    CorruptItem {
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The namespace registry contradicts itself: the forward record `#NAMESPACE#{name}`
    /// and the reverse record `#NSID#{id}` disagree on name, id or status, or one id is
    /// claimed by two names. Registry items can be edited by anyone allowed to write
    /// `_/SYSTEM#`, so operations that act on a namespace id (tagging, recovering, purging,
    /// importing) refuse to go on rather than act on another namespace's data.
    #[error(
        "The namespace registry disagrees with itself: {detail}. Forward record: {forward}. \
         Reverse record: {reverse}. Nothing was changed; repair or remove the wrong record first."
    )]
    RegistryMismatch {
        /// The forward record, as `SK` plus what it says (or "absent").
        forward: String,
        /// The reverse record, as `SK` plus what it says (or "absent").
        reverse: String,
        /// What disagrees.
        detail: String,
    },

    /// A computation on amounts, balances, limit parameters or timestamps does not fit a
    /// 64-bit integer (e.g. an adjustment whose millitokens overflow, or a stored balance
    /// so far in debt that its refill cannot be expressed). Refused rather than wrapped.
    #[error("arithmetic overflow: {0}")]
    Overflow(String),

    /// The operation could not complete (e.g. DynamoDB kept returning unprocessed items).
    #[error("rate limiter unavailable: {0}")]
    Unavailable(String),

    /// A request could not be built (a bug in this crate; never expected).
    #[error("internal error: {0}")]
    Internal(String),

    /// A lease was used after it was committed or rolled back (`LeaseExpiredError`).
    #[error("Lease is no longer active")]
    LeaseExpired,

    /// DynamoDB returned an error (after the SDK's retries).
    #[error("DynamoDB {operation} failed: {source}")]
    DynamoDb {
        /// The API call (`UpdateItem`, `TransactWriteItems`, …).
        operation: &'static str,
        /// The service error.
        #[source]
        source: Box<aws_sdk_dynamodb::Error>,
    },
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an SDK error from `operation`, mapping a missing table to
    /// [`Error::TableNotFound`].
    pub(crate) fn dynamo<E>(operation: &'static str, table: &str, err: E) -> Error
    where
        E: Into<aws_sdk_dynamodb::Error>,
    {
        let source: aws_sdk_dynamodb::Error = err.into();
        if matches!(source, aws_sdk_dynamodb::Error::ResourceNotFoundException(_)) {
            return Error::TableNotFound {
                table: table.to_string(),
            };
        }
        Error::DynamoDb {
            operation,
            source: Box::new(source),
        }
    }

    /// The rate-limit details when this is [`Error::RateLimited`].
    pub fn rate_limited(&self) -> Option<&RateLimited> {
        match self {
            Error::RateLimited(r) => Some(r),
            _ => None,
        }
    }

    /// Whether a DynamoDB `AccessDeniedException` caused this error.
    pub fn is_access_denied(&self) -> bool {
        match self {
            Error::DynamoDb { source, .. } => {
                let text = format!("{source:?}");
                text.contains("AccessDenied")
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_error_formats_like_zae_limiter_and_truncates() {
        let long = "x".repeat(60);
        let e = ValidationError::new(ValidationKind::Identifier, "entity_id", &long, "cannot be empty");
        assert_eq!(e.to_string(), "Invalid entity_id: cannot be empty");
        assert_eq!(e.value.len(), 53);
        assert!(e.value.ends_with("..."));
    }

    #[test]
    fn version_mismatch_message_names_unknown_lambda() {
        let e = Error::VersionMismatch {
            client_version: "0.14.0".into(),
            schema_version: "0.10.0".into(),
            lambda_version: None,
            message: "Please upgrade.".into(),
            can_auto_update: false,
        };
        assert_eq!(
            e.to_string(),
            "Version mismatch: client=0.14.0, schema=0.10.0, lambda=unknown. Please upgrade."
        );
    }
}
