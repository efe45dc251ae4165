//! Generated protobuf and gRPC server code (see `build.rs`).
//!
//! Everything here is `pub(crate)` and must stay inside `crate::server`:
//! the rest of the crate works with framework types and never sees prost
//! messages. Lints are relaxed because the code is machine-written.

/// Terraform plugin protocol 6.10 (`tfplugin6`): messages and the
/// `provider_server::Provider` trait the RPC layer implements.
#[allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub, dead_code)]
pub(crate) mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

/// go-plugin's side services: controller, stdio and broker.
#[allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub, dead_code)]
pub(crate) mod plugin {
    tonic::include_proto!("plugin");
}

/// `grpc.health.v1`, which go-plugin clients ping.
#[allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub, dead_code)]
pub(crate) mod health {
    tonic::include_proto!("grpc.health.v1");
}
