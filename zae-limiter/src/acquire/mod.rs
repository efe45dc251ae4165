//! Acquiring tokens: the rate limiter, leases and rate-limit errors (wire-format §5–§6).
//!
//! * [`RateLimiter::acquire`] first tries the speculative fast path (one conditional
//!   `UpdateItem`), falls back to the slow path (read config + META + bucket, then a
//!   create `Put` + owner `ConditionCheck`, or an `rf`-locked normal update, or the
//!   consumption-only retry), and cascades to the parent.
//! * [`Lease`] holds the debit; adjust, commit, or roll back (also on drop).
//! * [`RateLimited`] says how long to wait and what remains.

mod config;
mod fast;
mod io;
mod lease;
mod limiter;
mod math;
mod plan;
mod rate_limited;
mod requests;

pub use config::{ConfigSource, ResolvedConfig};
pub(crate) use config::{levels, resolve};
pub(crate) use io::{WriteOutcome, batch_get, take, update};
pub use lease::Lease;
pub use limiter::{Acquire, RateLimiter};
pub use math::{ShardParams, refill, shard_params};
pub(crate) use math::{expiry_epoch_seconds, ttl_seconds};
pub use rate_limited::{LimitStatus, RateLimited};
pub(crate) use requests::{TtlAction, param_sync};
