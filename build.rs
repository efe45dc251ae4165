//! Compiles the gRPC protocol definitions in `proto/` into Rust (server side
//! only). Uses `protox`, a pure-Rust protobuf compiler, so no system `protoc`
//! is needed.

use std::error::Error;

/// Protocol files compiled into `src/server/proto.rs` via `include_proto!`.
const PROTOS: [&str; 3] = ["proto/tfplugin6.proto", "proto/goplugin.proto", "proto/health.proto"];

fn main() -> Result<(), Box<dyn Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
