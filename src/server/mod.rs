//! The plugin transport: how Terraform starts, finds and talks to this
//! provider.
//!
//! Terraform launches the binary with a few `PLUGIN_*` / `TF_*` environment
//! variables, reads one handshake line from its stdout
//! (`1|6|tcp|127.0.0.1:PORT|grpc|<server cert>`), then speaks gRPC to it:
//! the `tfplugin6.Provider` service (implemented by the RPC layer) plus
//! go-plugin's controller, stdio, broker and health services (here).
//!
//! * `handshake`: environment checks and the handshake line.
//! * `tls`: AutoMTLS (self-signed server cert, pinned P-521 client cert).
//! * `serve`: accept loops (with `TCP_NODELAY`) and the tonic server.
//! * `goplugin`, `health`: go-plugin's side services.
//! * `debug`: `--debug` mode for attaching Terraform to a running process.
//! * `logging`: go-hclog JSON lines on stderr.
//! * `proto`: generated code; prost types never leave this module tree.
//!
//! Entry point: [`serve()`] with a [`ProviderService`] and [`ServeOptions`]:
//!
//! ```ignore
//! let options = ServeOptions::from_args(std::env::args().skip(1))?;
//! serve(provider_service, options).await?; // then exit promptly
//! ```
//!
//! On error, print the error to stderr and exit with status 1 (for a human
//! running the binary, the error text is go-plugin's "This binary is a
//! plugin..." message).
//!
//! # For the RPC layer
//!
//! * Implement `proto::tfplugin6::provider_server::Provider` and wrap it with
//!   `ProviderService::new` (crate-private), e.g. behind a public
//!   `rpc::provider_service(..) -> ProviderService` for `main`.
//! * `StopProvider` (Ctrl-C in Terraform) should not stop the server: give
//!   the implementation its own [`ShutdownSignal`], trigger it in
//!   `stop_provider`, and let long-running work `select!` on
//!   [`ShutdownSignal::triggered`]. The process itself ends when Terraform
//!   calls `GRPCController.Shutdown`, which triggers the signal in
//!   [`ServeOptions::shutdown_signal`]; [`serve()`] then returns within about
//!   a second even if calls are still running.
//! * Never write to stdout: it carries the handshake line. Log with
//!   `tracing`; span fields (e.g. `tf_rpc`, `tf_resource_type`) appear as
//!   extra keys in Terraform's log.

mod convert;
mod debug;
mod goplugin;
mod handshake;
mod health;
mod logging;
mod proto;
pub mod rpc;
mod serve;
mod shutdown;
mod tls;

use std::convert::Infallible;

use tonic::body::Body;
use tonic::codegen::{Service, http};
use tonic::server::NamedService;
use tonic::service::Routes;

pub use handshake::HandshakeError;
pub use logging::{LogFormat, LoggingError, init_logging};
pub use shutdown::ShutdownSignal;
pub use tls::TlsError;

/// The provider's registry address, as used in `required_providers` and
/// `TF_REATTACH_PROVIDERS`.
pub const DEFAULT_PROVIDER_ADDRESS: &str = "registry.terraform.io/zae-limiter/zae";

/// Largest gRPC message accepted or sent by the provider service (big
/// states and schemas); tonic's default of 4 MiB is too small.
const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// How [`serve()`] runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    debug: bool,
    provider_address: String,
    shutdown: ShutdownSignal,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            debug: false,
            provider_address: DEFAULT_PROVIDER_ADDRESS.to_owned(),
            shutdown: ShutdownSignal::new(),
        }
    }
}

impl ServeOptions {
    /// Plugin mode (launched by Terraform), default provider address.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses command-line arguments (without the program name). The only
    /// flag is `--debug` (Go-style `-debug` works too).
    pub fn from_args<I, S>(args: I) -> Result<Self, ServeError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut options = Self::default();
        for arg in args {
            let arg = arg.into();
            match arg.as_str() {
                "--debug" | "-debug" => options.debug = true,
                _ => return Err(ServeError::UnknownArgument(arg)),
            }
        }
        Ok(options)
    }

    /// Serve in `--debug` mode: foreground, no magic cookie, prints the
    /// `TF_REATTACH_PROVIDERS` value, runs until Ctrl-C.
    pub fn debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// Overrides the provider address printed in debug mode.
    pub fn provider_address(mut self, address: impl Into<String>) -> Self {
        self.provider_address = address.into();
        self
    }

    /// Uses `shutdown` to stop the server: [`serve()`] returns shortly after
    /// it is triggered. Terraform's `GRPCController.Shutdown` triggers it in
    /// plugin mode; Ctrl-C triggers it in debug mode.
    pub fn with_shutdown(mut self, shutdown: ShutdownSignal) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Whether debug mode is on.
    pub fn is_debug(&self) -> bool {
        self.debug
    }

    /// The signal that stops the server.
    pub fn shutdown_signal(&self) -> &ShutdownSignal {
        &self.shutdown
    }
}

/// The `tfplugin6.Provider` gRPC service, ready to be served.
///
/// Opaque on purpose: it is built inside `crate::server` (by the RPC layer)
/// from an implementation of the generated `Provider` trait, so generated
/// types never leak out of this module.
#[derive(Debug, Clone)]
pub struct ProviderService {
    routes: Routes,
}

impl ProviderService {
    /// Wraps an implementation of the generated `tfplugin6` `Provider` trait.
    #[allow(dead_code)] // Used by the RPC layer.
    pub(crate) fn new<T>(provider: T) -> Self
    where
        T: proto::tfplugin6::provider_server::Provider,
    {
        let server = proto::tfplugin6::provider_server::ProviderServer::new(provider)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Self::from_service(server)
    }

    /// Wraps any named tonic service (tests use a stand-in).
    pub(crate) fn from_service<S>(service: S) -> Self
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        Self {
            routes: Routes::new(service),
        }
    }

    /// The routes, for adding the go-plugin services next to the provider.
    pub(crate) fn into_routes(self) -> Routes {
        self.routes
    }
}

/// Why [`serve()`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The environment is not a Terraform plugin launch (or is incompatible).
    /// For a human running the binary, the message is go-plugin's usual
    /// "This binary is a plugin..." text: print it and exit with status 1.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// AutoMTLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The listening socket could not be created.
    #[error("failed to listen on {address}: {source}")]
    Listen {
        /// The address or socket path.
        address: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The handshake line (or debug instructions) could not be written.
    #[error("failed to write the plugin handshake to stdout: {0}")]
    Announce(#[source] std::io::Error),
    /// SIGINT could not be ignored.
    #[error("failed to install the SIGINT handler: {0}")]
    Signal(#[source] std::io::Error),
    /// The gRPC server failed.
    #[error("the gRPC server failed: {0}")]
    Transport(#[source] tonic::transport::Error),
    /// A command-line argument was not understood.
    #[error("unknown argument `{0}` (the only option is --debug)")]
    UnknownArgument(String),
}

/// Serves `provider` until Terraform (or Ctrl-C in debug mode) stops it.
///
/// Plugin mode checks the magic cookie and protocol version, installs the
/// go-hclog JSON logger (unless a subscriber is already set), sets up
/// AutoMTLS when `PLUGIN_CLIENT_CERT` is present, ignores SIGINT, prints the
/// handshake line and serves until `GRPCController.Shutdown`. Returns
/// `Ok(())` on a normal shutdown; the caller should then exit promptly.
pub async fn serve(provider: ProviderService, options: ServeOptions) -> Result<(), ServeError> {
    if options.debug {
        debug::run(provider, options).await
    } else {
        serve::serve_plugin(provider, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_enable_debug_or_fail_clearly() {
        assert!(!ServeOptions::from_args(Vec::<String>::new()).expect("none").is_debug());
        assert!(ServeOptions::from_args(["--debug"]).expect("debug").is_debug());
        assert!(ServeOptions::from_args(["-debug"]).expect("debug").is_debug());
        let err = ServeOptions::from_args(["--verbose"]).expect_err("unknown");
        assert!(err.to_string().contains("--verbose"), "{err}");
    }

    #[test]
    fn default_address_is_the_registry_one() {
        let options = ServeOptions::new().debug(true);
        assert_eq!(options.provider_address, DEFAULT_PROVIDER_ADDRESS);
        assert!(!options.shutdown_signal().is_triggered());
    }
}
