//! Rust client for [zae-limiter](https://github.com/zeroae/zae-limiter): token-bucket
//! rate limiting on DynamoDB, wire-compatible with zae-limiter 0.17.0.
//!
//! A Python process running zae-limiter and a Rust process using this crate, pointed at
//! the same table, see the same namespaces, limits and buckets, and together enforce
//! the same limits.
//!
//! # Layout
//!
//! * [`schema`] — the table's wire format: keys, attribute names, item codecs. The
//!   workspace's single definition of every item (the Terraform provider uses it too).
//! * [`version`] — version constants and the version-record compatibility rule.
//! * [`validate`] and [`Limit`] — input rules and the limit model.
//! * [`admin`] — table-level and namespace-level administration on a [`Table`] handle:
//!   version record, namespace registry, limits at the three levels, entities.
//! * [`Repository`] / [`RateLimiter`] — connect to a namespace and acquire.
//! * [`Error`] — every failure, typed.
//!
//! References of the form `wire-format §x.y` point at the workspace's
//! `docs/wire-format.md`, which describes every item, key and algorithm implemented here.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo(aws_config: &aws_types::SdkConfig) -> Result<(), zae_limiter::Error> {
//! use zae_limiter::{RateLimiter, Repository};
//!
//! let repo = Repository::connect("prod-limiter", "tenant-alpha", aws_config).await?;
//! let limiter = RateLimiter::new(repo);
//! let lease = limiter.acquire("api-key-123", "gpt-4").consume([("rpm", 1), ("tpm", 500)]).await?;
//! // ... call the model, learn the real token count ...
//! lease.adjust([("tpm", 120)]).await?;
//! lease.commit().await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod acquire;
pub mod admin;
pub mod clock;
mod ddb;
pub mod error;
pub mod limit;
pub mod naming;
pub mod repository;
pub mod schema;
pub mod validate;
pub mod version;

pub use acquire::{Lease, RateLimited, RateLimiter};
pub use admin::Table;
pub use error::{Error, Result, ValidationError, ValidationKind};
pub use limit::Limit;
pub use repository::Repository;
