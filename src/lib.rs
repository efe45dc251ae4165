//! `terraform-provider-zae`: the zae-limiter stack as Terraform resources.
//!
//! # Layout
//! * [`framework`]: a small provider framework (schemas, values, diagnostics, planning,
//!   typed models, the `Provider`/`Resource`/`DataSource` traits and the typed
//!   `ModelResource`/`ModelDataSource` behind the `Typed` adapter), free of protobuf types.
//! * `server`: the plugin protocol v6 over gRPC (handshake, AutoMTLS, one file per RPC
//!   served, one table of the refused ones); the only place protobuf types are visible.
//! * `aws`: [`aws::AwsClients`] and small AWS access functions (finders, waiters,
//!   retries) the resources call.
//! * `provider`: the `zae` provider's configuration; builds the AWS clients.
//! * `resources`: one file per resource type, each a model and its operations.
//!
//! `ARCHITECTURE.md` maps the layers. References of the form `wire-format §x.y` point at
//! `docs/wire-format.md`, the project's reference of the items, keys and algorithms.

pub mod aws;
pub mod framework;
pub mod provider;
pub mod resources;
pub mod server;
