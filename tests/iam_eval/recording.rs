//! The AWS emulator with moto's request recorder, and the reading of its recording.
//!
//! moto appends every recorded request to a file in its working directory (or
//! `MOTO_RECORDER_FILEPATH`), so this launcher runs `.dev/bin/emulator` in a temporary
//! directory of its own: parallel tests never share a recording and the worktree stays clean.
//! It is ready when the server logs its `Running on` line; the log is drained by a thread
//! for the emulator's whole life.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use serde_json::Value;

/// A running emulator whose requests can be recorded; killed on drop.
pub struct RecordingEmulator {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Its headers, as sent.
    pub headers: serde_json::Map<String, Value>,
    /// The request URL.
    pub url: String,
    /// The decoded body.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// A header's value, looked up case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }

    /// The DynamoDB operation (`GetItem`, ...) when this is a DynamoDB API call.
    pub fn dynamodb_operation(&self) -> Option<&str> {
        self.header("X-Amz-Target")?.strip_prefix("DynamoDB_20120810.")
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body of {} is not JSON ({e}): {:?}", self.url, self.body))
    }

    /// Another service's action (`sts:GetCallerIdentity`) or the URL, for reports.
    pub fn describe(&self) -> String {
        if let Some(target) = self.header("X-Amz-Target") {
            return target.to_owned();
        }
        let body = String::from_utf8_lossy(&self.body);
        body.split('&')
            .find_map(|p| p.strip_prefix("Action="))
            .map_or_else(|| self.url.clone(), str::to_owned)
    }
}

impl RecordingEmulator {
    /// Starts the emulator on a free loopback port and waits for it to listen.
    pub fn start() -> RecordingEmulator {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = testkit::free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut child = Command::new(testkit::dev_tool("emulator"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(dir.path())
            .env("MOTO_RECORDER_FILEPATH", dir.path().join("recording.jsonl"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the emulator");
        let stderr = child.stderr.take().expect("piped stderr");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("Running on")
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(());
                }
            }
        });
        let mut emulator = RecordingEmulator { child, addr, _dir: dir };
        if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let status = emulator.child.try_wait();
            panic!("the emulator did not start listening on {addr} (exit status: {status:?})");
        }
        emulator
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Environment variables that point an AWS SDK at the emulator.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", testkit::REGION.into()),
            ("AWS_DEFAULT_REGION", testkit::REGION.into()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
        ]
    }

    /// An SDK configuration for the emulator with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_types::region::Region::new(testkit::REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_credential_types::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "iam-simulation",
            ))
            .load()
            .await
    }

    /// Empties the recording and starts recording.
    pub fn start_recording(&self) {
        self.moto_api("POST", "/moto-api/recorder/reset-recording");
        self.moto_api("POST", "/moto-api/recorder/start-recording");
    }

    /// Stops recording and returns what was recorded, in arrival order.
    pub fn stop_recording(&self) -> Vec<RecordedRequest> {
        self.moto_api("POST", "/moto-api/recorder/stop-recording");
        let text = self.moto_api("GET", "/moto-api/recorder/download-recording");
        text.lines().filter(|l| !l.trim().is_empty()).map(parse_entry).collect()
    }

    /// One HTTP/1.0 request (no chunked responses); panics unless the status is 200.
    fn moto_api(&self, method: &str, path: &str) -> String {
        let mut stream = TcpStream::connect(self.addr).expect("connect to the emulator");
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
            self.addr
        );
        stream.write_all(request.as_bytes()).expect("send");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("read the response");
        let response = String::from_utf8(response).expect("UTF-8 response");
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head.split_whitespace().nth(1).unwrap_or("");
        assert_eq!(status, "200", "{method} {path}: {head}");
        body.to_owned()
    }
}

impl Drop for RecordingEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_entry(line: &str) -> RecordedRequest {
    let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("recording line ({e}): {line}"));
    let headers = entry["headers"].as_object().cloned().unwrap_or_default();
    let raw = entry["body"].as_str().unwrap_or_default();
    let body = if entry["body_encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap_or_else(|e| panic!("recorded body is not base64 ({e}): {raw}"))
    } else {
        raw.as_bytes().to_vec()
    };
    RecordedRequest {
        headers,
        url: entry["url"].as_str().unwrap_or_default().to_owned(),
        body,
    }
}
