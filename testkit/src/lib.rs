//! Test support shared by the workspace's integration and acceptance tests.
//!
//! * [`Emulator`] starts the AWS emulator (moto from the dev virtualenv, served by
//!   `scripts/emulator.py`) on a free loopback port and stops it when dropped.
//! * [`dev_tool`] finds the tools `scripts/dev-setup.sh` installs (`terraform`, `python`),
//!   failing with a message that says how to install them: tests that need them are never
//!   silently skipped.
//! * [`faults`]: [`faults::FaultProxy`], a loopback proxy in front of the emulator that
//!   injects throttling, HTTP 5xx, dropped connections and delays by rule.

pub mod faults;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Region every test uses against the emulator.
pub const REGION: &str = "us-east-1";
/// The emulator's fixed account id.
pub const ACCOUNT_ID: &str = "123456789012";

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives one level below the workspace root")
        .to_path_buf()
}

/// Path of a tool installed by `scripts/dev-setup.sh` under `.dev/`.
///
/// `name` is `terraform`, `emulator`, `moto_server` or `python`. Panics with set-up instructions when
/// the tool is missing.
pub fn dev_tool(name: &str) -> PathBuf {
    let dev = workspace_root().join(".dev");
    let path = match name {
        "python" => dev.join("venv/bin/python"),
        other => dev.join("bin").join(other),
    };
    if !path.exists() {
        panic!(
            "{} is missing: run `scripts/dev-setup.sh` first (it installs Terraform, the AWS \
             emulator and zae-limiter into .dev/)",
            path.display()
        );
    }
    path
}

/// The Terraform CLI the acceptance tests drive: `TF_ACC_TERRAFORM_PATH` when set,
/// otherwise the pinned Terraform 1.15 shim from the dev environment.
pub fn terraform_path() -> PathBuf {
    match std::env::var_os("TF_ACC_TERRAFORM_PATH") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => dev_tool("terraform"),
    }
}

/// A running AWS emulator on `127.0.0.1:<free port>`; killed on drop.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    addr: SocketAddr,
}

impl Emulator {
    /// Starts the emulator (`.dev/bin/emulator`, which runs `scripts/emulator.py`: moto's
    /// server with DynamoDB's per-request atomicity) on a free loopback port and waits
    /// until it answers HTTP.
    ///
    /// moto's own threaded server lets overlapping requests interleave, so two concurrent
    /// conditional writes on one item can both pass and two transactions can each lose the
    /// other's counter increment; DynamoDB never does. Terraform applies resources in
    /// parallel, so every test gets the atomic emulator: connections stay concurrent,
    /// request handling is serialized.
    pub fn start() -> Emulator {
        let emulator = dev_tool("emulator");
        let port = free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let child = Command::new(&emulator)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", emulator.display()));
        let mut emulator = Emulator { child, addr };
        emulator.wait_ready(Duration::from_secs(60));
        emulator
    }

    /// `http://127.0.0.1:PORT`, the endpoint URL for every AWS service.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The emulator's address (what a [`faults::FaultProxy`] forwards to).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the emulator listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Wipes all emulated AWS state.
    pub fn reset(&self) {
        let status = self.http("POST", "/moto-api/reset");
        assert_eq!(status, 200, "emulator reset failed");
    }

    /// An SDK configuration pointing every client at the emulator with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config_for(&self.endpoint()).await
    }

    /// Environment variables that point an AWS SDK (Rust, Python or the provider) at the
    /// emulator.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        aws_env_for(&self.endpoint())
    }

    fn wait_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut backoff = Duration::from_millis(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the emulator exited during start-up: {status}");
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok()
                && self.http("GET", "/moto-api/data.json") == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the emulator did not answer on {} within {limit:?}",
                self.addr
            );
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_millis(250));
        }
    }

    /// One plain HTTP/1.1 request; returns the status code (0 when the connection fails).
    fn http(&self, method: &str, path: &str) -> u16 {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)) else {
            return 0;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return 0;
        }
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let head = String::from_utf8_lossy(&response[..response.len().min(64)]).into_owned();
        head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SDK configuration pointing every client at `endpoint` with dummy credentials and
/// region [`REGION`].
pub async fn sdk_config_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "testkit",
        ))
        .load()
        .await
}

/// Environment variables that point an AWS SDK at `endpoint` with dummy credentials.
pub fn aws_env_for(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", REGION.into()),
        ("AWS_DEFAULT_REGION", REGION.into()),
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
    ]
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot bind a loopback port")
}
