//! The plugin transport: go-plugin handshake, AutoMTLS and the gRPC server.
mod proto;
