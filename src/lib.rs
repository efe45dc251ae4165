//! `terraform-provider-zae`: the zae-limiter stack as Terraform resources.
//!
//! # Layout
//! * [`framework`]: a small provider framework (schemas, values, diagnostics, planning,
//!   the `Provider`/`Resource`/`DataSource` traits), free of protobuf types.
//! * `server`: the plugin protocol v6 over gRPC (handshake, AutoMTLS, one file per RPC);
//!   the only place generated protobuf types are visible.
//! * `aws`: small AWS access functions (finders, waiters, retries) the resources call.
//! * `provider`: the `zae` provider's configuration and AWS clients.
//! * `resources`: one file per resource type.

pub mod aws;
pub mod framework;
pub mod provider;
pub mod resources;
pub mod server;
