//! The signal that stops the gRPC server.
//!
//! It is the framework's one-shot [`StopSignal`](crate::framework::stop::StopSignal): the
//! transport triggers its own instance on `GRPCController.Shutdown` (or Ctrl-C in debug
//! mode), while the RPC layer keeps a separate instance for `StopProvider`.

/// A cloneable one-shot "stop now" flag; see [`crate::framework::stop::StopSignal`].
pub type ShutdownSignal = crate::framework::stop::StopSignal;
