//! Rust client for zae-limiter: wire-compatible token-bucket rate limiting on DynamoDB.

pub mod schema;
