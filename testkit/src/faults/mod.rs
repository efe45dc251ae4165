//! Fault injection between an AWS client and the emulator.
//!
//! [`FaultProxy`] listens on a loopback port and forwards plain HTTP/1.1 to the emulator.
//! A [`FaultPlan`] of [`Rule`]s picks requests by signing service and operation (the
//! JSON protocol's `X-Amz-Target`, the query protocol's `Action=`) and by a matcher (the
//! n-th, the first n, every n-th, or with a seeded probability) and gives them a [`Fault`]:
//! a throttling error, an HTTP 500/503, a connection closed before the request reaches
//! the emulator or after (the dropped response), or a delay. The proxy counts what it saw
//! and injected per fault kind and operation ([`FaultStats`]).
//!
//! * `http`: the HTTP/1.1 message reader and writer.
//! * `rules`: classification, faults, rules, the seeded schedule, the counts.
//! * `proxy`: the listener and the connection threads.

mod http;
mod proxy;
mod rules;

pub use proxy::FaultProxy;
pub use rules::{Call, Fault, FaultPlan, FaultStats, Rule, SplitMix64, When};
