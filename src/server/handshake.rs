//! The go-plugin handshake: environment checks on start-up and the one line
//! the plugin prints on stdout to tell Terraform where to connect.

use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

/// Environment variable Terraform sets to prove it launched the plugin.
pub(crate) const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// Value Terraform puts in [`MAGIC_COOKIE_KEY`] for every provider.
pub(crate) const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// Comma-separated list of plugin protocol versions the client speaks.
const PROTOCOL_VERSIONS_KEY: &str = "PLUGIN_PROTOCOL_VERSIONS";
/// PEM certificate of the client when Terraform wants AutoMTLS.
const CLIENT_CERT_KEY: &str = "PLUGIN_CLIENT_CERT";

/// go-plugin's own protocol version (first field of the handshake line).
const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol major version this provider speaks.
pub(crate) const APP_PROTOCOL_VERSION: u32 = 6;

/// Shown when the binary is started by hand instead of by Terraform.
const NOT_A_PLUGIN_MESSAGE: &str = "This binary is a plugin. These are not meant to be executed directly.\n\
     Please execute the program that consumes these plugins, which will\n\
     load any plugins automatically";

/// Why the process environment does not allow a plugin handshake.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The magic cookie is missing or wrong: a human ran the binary.
    #[error("{NOT_A_PLUGIN_MESSAGE}")]
    NotLaunchedByTerraform,
    /// Terraform offered only protocol versions this provider cannot speak.
    #[error(
        "incompatible plugin protocol: Terraform offered protocol version(s) `{offered}` \
         ({PROTOCOL_VERSIONS_KEY}), but this provider speaks only version \
         {APP_PROTOCOL_VERSION}; use Terraform 1.0 or newer"
    )]
    UnsupportedProtocol {
        /// The raw value of `PLUGIN_PROTOCOL_VERSIONS`.
        offered: String,
    },
}

/// What the plugin learned from the environment Terraform set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PluginEnv {
    /// PEM text of Terraform's client certificate; `None` means plaintext.
    pub(crate) client_cert_pem: Option<String>,
}

impl PluginEnv {
    /// Reads and checks the process environment.
    pub(crate) fn from_process_env() -> Result<Self, HandshakeError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Checks an environment given as a lookup function (for tests).
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, HandshakeError> {
        if lookup(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
            return Err(HandshakeError::NotLaunchedByTerraform);
        }
        // go-plugin falls back to the plugin's default version when the list
        // is absent, so only a present list without "6" is an error.
        let offered = lookup(PROTOCOL_VERSIONS_KEY).filter(|v| !v.trim().is_empty());
        if let Some(offered) = offered.filter(|list| !offers_our_version(list)) {
            return Err(HandshakeError::UnsupportedProtocol { offered });
        }
        let client_cert_pem = lookup(CLIENT_CERT_KEY).filter(|pem| !pem.trim().is_empty());
        Ok(Self { client_cert_pem })
    }
}

/// Whether a comma-separated version list contains [`APP_PROTOCOL_VERSION`].
fn offers_our_version(list: &str) -> bool {
    list.split(',')
        .filter_map(|v| v.trim().parse::<u32>().ok())
        .any(|v| v == APP_PROTOCOL_VERSION)
}

/// Where the gRPC server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListenAddr {
    /// A TCP socket (always loopback here).
    Tcp(SocketAddr),
    /// A unix domain socket path.
    Unix(PathBuf),
}

impl ListenAddr {
    /// go-plugin's network name: `tcp` or `unix`.
    pub(crate) fn network(&self) -> &'static str {
        match self {
            Self::Tcp(_) => "tcp",
            Self::Unix(_) => "unix",
        }
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "{addr}"),
            Self::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Builds the handshake line (without the trailing newline):
/// `CORE|APP|network|address|grpc|server-cert`, where `server-cert` is the
/// DER certificate in base64 without padding, or empty for plaintext.
pub(crate) fn handshake_line(addr: &ListenAddr, server_cert_der: Option<&[u8]>) -> String {
    let cert = server_cert_der
        .map(|der| STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!(
        "{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|{}|{addr}|grpc|{cert}",
        addr.network()
    )
}

/// Prints the handshake line on stdout, once, and flushes it so Terraform
/// sees it immediately.
pub(crate) fn announce(line: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn missing_or_wrong_cookie_is_rejected_with_the_go_plugin_message() {
        for lookup in [
            env(&[]),
            env(&[(MAGIC_COOKIE_KEY, "nope")]),
            env(&[("PLUGIN_PROTOCOL_VERSIONS", "6")]),
        ] {
            let err = PluginEnv::from_lookup(lookup).expect_err("must be rejected");
            assert!(matches!(err, HandshakeError::NotLaunchedByTerraform));
            let text = err.to_string();
            assert!(text.starts_with("This binary is a plugin."), "{text}");
            assert!(text.contains("load any plugins automatically"), "{text}");
        }
    }

    #[test]
    fn accepts_terraform_environment_with_and_without_tls() {
        let plain = PluginEnv::from_lookup(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_PROTOCOL_VERSIONS", "5,6"),
        ]))
        .expect("valid");
        assert_eq!(plain.client_cert_pem, None);

        let tls = PluginEnv::from_lookup(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_PROTOCOL_VERSIONS", "6"),
            ("PLUGIN_CLIENT_CERT", "-----BEGIN CERTIFICATE-----"),
        ]))
        .expect("valid");
        assert_eq!(tls.client_cert_pem.as_deref(), Some("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn absent_version_list_is_accepted() {
        PluginEnv::from_lookup(env(&[(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)]))
            .expect("go-plugin treats an absent list as the default version");
    }

    #[test]
    fn version_list_without_6_is_a_clear_error() {
        let err = PluginEnv::from_lookup(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_PROTOCOL_VERSIONS", "4,5"),
        ]))
        .expect_err("5 only");
        assert!(matches!(err, HandshakeError::UnsupportedProtocol { .. }));
        assert!(err.to_string().contains("`4,5`"), "{err}");
        assert!(offers_our_version(" 5 , 6 "));
        assert!(!offers_our_version("60,x"));
    }

    #[test]
    fn tcp_line_with_certificate_uses_unpadded_base64() {
        let addr = ListenAddr::Tcp("127.0.0.1:40123".parse().expect("addr"));
        // 4 bytes would need "==" padding in standard base64.
        let line = handshake_line(&addr, Some(&[0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(line, "1|6|tcp|127.0.0.1:40123|grpc|3q2+7w");
    }

    #[test]
    fn plaintext_line_ends_with_an_empty_certificate_field() {
        let addr = ListenAddr::Unix(PathBuf::from("/tmp/plugin.sock"));
        assert_eq!(handshake_line(&addr, None), "1|6|unix|/tmp/plugin.sock|grpc|");
    }
}
