//! Shared by the tests that run the packaged `bootstrap`: finding (or building) it
//! (the glibc 2.34 build of scripts/build-aggregator.sh), an in-test Lambda Runtime API,
//! and a stream event captured from the emulator.

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The workspace target dir (the parent of `CARGO_TARGET_TMPDIR`).
pub fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .to_path_buf()
}

/// `ZAE_AGGREGATOR_BOOTSTRAP` if set, else the debug glibc-2.34 build, brought up to date
/// with scripts/build-aggregator.sh (a quick no-op when nothing changed), so a test never
/// runs a stale binary. Tests of one binary run in parallel: the first one builds, the
/// others wait for it.
pub fn packaged_bootstrap() -> PathBuf {
    static PACKAGED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PACKAGED.get_or_init(find_or_build_bootstrap).clone()
}

fn find_or_build_bootstrap() -> PathBuf {
    if let Some(path) = std::env::var_os("ZAE_AGGREGATOR_BOOTSTRAP") {
        return PathBuf::from(path);
    }
    let path = target_dir().join("x86_64-unknown-linux-gnu/debug/bootstrap");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(root.join("scripts/build-aggregator.sh"))
        .env("CARGO_TARGET_DIR", target_dir())
        .status()
        .expect("run scripts/build-aggregator.sh");
    assert!(status.success(), "scripts/build-aggregator.sh failed");
    assert!(path.exists(), "{} missing", path.display());
    path
}

pub const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
/// How long any step may take before the test fails (a debug build on a busy machine).
pub const STEP: Duration = Duration::from_secs(90);

/// What the runtime asked or told the in-test Runtime API.
#[derive(Debug)]
pub enum Call {
    /// `GET /runtime/invocation/next` (the n-th, from 1).
    Next(usize),
    /// `POST /runtime/invocation/{id}/response`.
    Response(String, Value),
    /// `POST /runtime/invocation/{id}/error`.
    Error(String, String),
    /// `POST /runtime/init/error`.
    InitError(String),
}

/// A Lambda Runtime API (the endpoints Lambda serves a custom runtime) on
/// 127.0.0.1:0. The first `/next` is answered with `event`; later ones are held open,
/// as Lambda does while no invocation is queued.
pub async fn runtime_api(event: String) -> (String, mpsc::UnboundedReceiver<Call>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::unbounded_channel();
    let nexts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(serve(stream, event.clone(), tx.clone(), nexts.clone()));
        }
    });
    (addr, rx)
}

/// Serves one keep-alive connection.
async fn serve(
    stream: TcpStream,
    event: String,
    tx: mpsc::UnboundedSender<Call>,
    nexts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await.unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await.unwrap();
        let body = String::from_utf8(body).unwrap();
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = path.strip_prefix("/2018-06-01/runtime").unwrap_or(path).to_string();
        let (status, headers, reply) = match (method, path.as_str()) {
            ("GET", "/invocation/next") => {
                let n = nexts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                let _ = tx.send(Call::Next(n));
                if n > 1 {
                    std::future::pending::<()>().await;
                }
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 900_000;
                let headers = format!(
                    "Content-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {REQUEST_ID}\r\n\
                     Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                     Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:agg\r\n\
                     Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419\r\n"
                );
                ("200 OK", headers, event.clone())
            }
            ("POST", "/init/error") => {
                let _ = tx.send(Call::InitError(body));
                ("202 Accepted", String::new(), "{}".to_string())
            }
            ("POST", p) if p.ends_with("/response") => {
                let id = p.trim_start_matches("/invocation/").trim_end_matches("/response");
                let _ = tx.send(Call::Response(id.into(), serde_json::from_str(&body).unwrap()));
                ("202 Accepted", String::new(), "{}".to_string())
            }
            ("POST", p) if p.ends_with("/error") => {
                let id = p.trim_start_matches("/invocation/").trim_end_matches("/error");
                let _ = tx.send(Call::Error(id.into(), body));
                ("202 Accepted", String::new(), "{}".to_string())
            }
            _ => ("404 Not Found", String::new(), "{}".to_string()),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if stream.get_mut().write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

pub async fn next_call(rx: &mut mpsc::UnboundedReceiver<Call>) -> Call {
    tokio::time::timeout(STEP, rx.recv())
        .await
        .expect("the runtime called the Runtime API in time")
        .expect("server running")
}

/// Every stream record of `table`, in the Lambda event shape, read from the emulator's
/// DynamoDB Streams by boto3 (as tests/parity.rs does).
pub fn stream_event(emulator: &testkit::Emulator, table: &str) -> String {
    let script = format!(
        r#"import boto3, json
ddb = boto3.client("dynamodb")
streams = boto3.client("dynamodbstreams")
arn = ddb.describe_table(TableName={table:?})["Table"]["LatestStreamArn"]
records = []
for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    while it:
        out = streams.get_records(ShardIterator=it, Limit=1000)
        if not out["Records"]:
            break
        records.extend(out["Records"])
        it = out.get("NextShardIterator")
for r in records:
    r["dynamodb"].pop("ApproximateCreationDateTime", None)
    r.pop("userIdentity", None)
print(json.dumps({{"Records": records}}))
"#
    );
    let output = std::process::Command::new(testkit::dev_tool("python"))
        .arg("-c")
        .arg(script)
        .envs(emulator.aws_env())
        .output()
        .expect("run python");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The bootstrap child with the Lambda environment, `aws_env` (credentials and
/// endpoint, e.g. `Emulator::aws_env`), and `env` on top.
pub fn spawn_bootstrap(aws_env: &[(&str, String)], api: &str, env: &[(&str, &str)]) -> tokio::process::Child {
    tokio::process::Command::new(packaged_bootstrap())
        .envs(aws_env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "zae-limiter-aggregator")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/zae-limiter-aggregator")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/02/[$LATEST]e2e")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn bootstrap")
}
