//! `--debug` mode: serve in the foreground without Terraform launching us,
//! and print the `TF_REATTACH_PROVIDERS` value that lets Terraform attach.
//!
//! Useful to run the provider under a debugger or with full logs. The
//! server runs plaintext (reattach has no TLS) on a unix socket (TCP on other
//! platforms) until Ctrl-C.

use std::io::{self, Write as _};

use serde_json::json;

use super::handshake::{APP_PROTOCOL_VERSION, ListenAddr};
use super::logging::{self, LogFormat};
use super::serve;
use super::{ProviderService, ServeError, ServeOptions};

/// Runs the provider in debug mode until Ctrl-C.
pub(crate) async fn run(provider: ProviderService, options: ServeOptions) -> Result<(), ServeError> {
    if let Err(err) = logging::init_logging(LogFormat::Human) {
        tracing::debug!(error = %err, "keeping the already installed logger");
    }
    let shutdown = options.shutdown.clone();
    // Terraform may send Shutdown after each run; the debug server outlives
    // those runs, so only Ctrl-C (or the caller's signal) stops it.
    let routes = serve::routes(provider, &shutdown, false);
    stop_on_ctrl_c(shutdown.clone());

    #[cfg(unix)]
    {
        let socket = SocketFile::new();
        let listener = tokio::net::UnixListener::bind(&socket.path).map_err(|source| ServeError::Listen {
            address: socket.path.display().to_string(),
            source,
        })?;
        let addr = ListenAddr::Unix(socket.path.clone());
        print_instructions(&options.provider_address, &addr).map_err(ServeError::Announce)?;
        let incoming = serve::spawn_accept_loop(listener, |stream| async { Some(stream) }, shutdown.clone());
        let result = serve::run(routes, incoming, shutdown).await;
        drop(socket);
        result
    }
    #[cfg(not(unix))]
    {
        let listener = serve::bind_loopback().await?;
        let local = listener.local_addr().map_err(|source| ServeError::Listen {
            address: "127.0.0.1:0".to_owned(),
            source,
        })?;
        print_instructions(&options.provider_address, &ListenAddr::Tcp(local)).map_err(ServeError::Announce)?;
        serve::serve_tcp(routes, listener, None, shutdown).await
    }
}

/// Triggers `shutdown` on the first Ctrl-C.
fn stop_on_ctrl_c(shutdown: super::ShutdownSignal) {
    tokio::spawn(async move {
        match tokio::signal::ctrl_c().await {
            Ok(()) => {
                tracing::info!("Ctrl-C received; stopping the provider");
                shutdown.trigger();
            }
            Err(err) => tracing::warn!(error = %err, "cannot listen for Ctrl-C"),
        }
    });
}

/// The value of `TF_REATTACH_PROVIDERS` for a provider served at `addr`.
pub(crate) fn reattach_json(provider_address: &str, pid: u32, addr: &ListenAddr) -> String {
    json!({
        provider_address: {
            "Protocol": "grpc",
            "ProtocolVersion": APP_PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": {
                "Network": addr.network(),
                "String": addr.to_string(),
            },
        }
    })
    .to_string()
}

/// Tells the human how to point Terraform at this process.
fn print_instructions(provider_address: &str, addr: &ListenAddr) -> io::Result<()> {
    let reattach = reattach_json(provider_address, std::process::id(), addr);
    let mut stdout = io::stdout().lock();
    writeln!(
        stdout,
        "Provider {provider_address} is running in debug mode (pid {pid}).\n\
         To use it, export this in the shell where you run Terraform:\n\n\
         \texport TF_REATTACH_PROVIDERS='{reattach}'\n\n\
         Terraform then talks to this process instead of starting the provider.\n\
         Press Ctrl-C here to stop it.",
        pid = std::process::id(),
    )?;
    stdout.flush()
}

/// A unix socket path in the temp directory, removed again on drop.
#[cfg(unix)]
struct SocketFile {
    path: std::path::PathBuf,
}

#[cfg(unix)]
impl SocketFile {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!("terraform-provider-zae-{}-{nanos:09}.sock", std::process::id());
        Self {
            path: std::env::temp_dir().join(name),
        }
    }
}

#[cfg(unix)]
impl Drop for SocketFile {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => tracing::warn!(
                path = %self.path.display(),
                error = %err,
                "could not remove the debug socket"
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::Value;

    use super::*;

    #[test]
    fn reattach_value_has_the_shape_terraform_expects() {
        let addr = ListenAddr::Unix(PathBuf::from("/tmp/zae.sock"));
        let raw = reattach_json("registry.terraform.io/zae-limiter/zae", 4242, &addr);
        let value: Value = serde_json::from_str(&raw).expect("JSON");
        assert_eq!(
            value,
            json!({
                "registry.terraform.io/zae-limiter/zae": {
                    "Protocol": "grpc",
                    "ProtocolVersion": 6,
                    "Pid": 4242,
                    "Test": true,
                    "Addr": { "Network": "unix", "String": "/tmp/zae.sock" }
                }
            })
        );
    }

    #[test]
    fn tcp_reattach_address_is_host_and_port() {
        let addr = ListenAddr::Tcp("127.0.0.1:5555".parse().expect("addr"));
        let value: Value = serde_json::from_str(&reattach_json("example.com/a/b", 1, &addr)).expect("JSON");
        assert_eq!(value["example.com/a/b"]["Addr"]["Network"], "tcp");
        assert_eq!(value["example.com/a/b"]["Addr"]["String"], "127.0.0.1:5555");
    }
}
