//! The zae-limiter aggregator as a library: what zae-limiter 0.17.0's aggregator Lambda
//! does with a batch of DynamoDB stream records (spec §7), core profile.
//!
//! * [`record`] — the Lambda event's stream records, attribute order kept.
//! * [`bucket`] — a bucket MODIFY taken apart.
//! * [`snapshot`] — usage snapshots per window (§7.2).
//! * [`refill`] — proactive drip refill and negative clamps under the `rf` lock (§7.3).
//! * [`shard`] — proactive shard doubling and shard-count propagation with clones (§7.3).
//! * [`archive`] — audit archival to gzip JSON Lines objects (§7.4).
//! * [`env`] — the function's environment variables, for the aggregator and the provider (§7.1).
//! * [`handler`] — one invocation → 0.17.0's summary body.
//! * [`lambda`] — the `bootstrap` binary's cold start and invocation; [`s3_sink`] — S3 archive.
//! * [`package`] — the deterministic Lambda zip holding `bootstrap`.
//!
//! Every item is written through `zae_limiter::schema`. Buckets carrying 0.15+
//! features (schedules, calendar/session quotas, soft limits, bypass) are never
//! rewritten: they still feed usage snapshots, and are counted in
//! [`handler::Summary::skipped_buckets`].

#![warn(missing_docs)]

pub mod archive;
pub mod bucket;
pub mod env;
pub mod handler;
pub mod lambda;
pub mod package;
pub mod record;
pub mod refill;
pub mod s3_sink;
pub mod shard;
pub mod snapshot;

pub use handler::{Config, NoArchive, Summary, process};
pub use record::{BatchRecord, StreamEvent, StreamRecord};
