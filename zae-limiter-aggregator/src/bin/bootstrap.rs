//! The aggregator Lambda (`provided.al2023` custom runtime): JSON log lines on stdout,
//! clients built once per cold start, each invocation's DynamoDB stream batch handed to
//! [`zae_limiter_aggregator::process`] and answered with 0.17.0's summary.

use std::io::Write;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing_subscriber::EnvFilter;
use zae_limiter_aggregator::StreamEvent;
use zae_limiter_aggregator::lambda::{Aggregator, now_ms};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let aggregator = match Aggregator::from_env(|k| std::env::var(k).ok()).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "Invalid configuration");
            report_init_error(&e.to_string()).await;
            return Err(e.into());
        }
    };
    let aggregator = &aggregator;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| async move {
        let response = aggregator
            .handle(&event.payload, &event.context.request_id, now_ms())
            .await;
        Ok::<_, Error>(response)
    }))
    .await
}

/// JSON lines on stdout (Lambda's JSON log format); the level from
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`.
fn init_logging() {
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .map(|l| l.to_lowercase())
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_ansi(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .init();
}

/// Posts `message` to the Runtime API's `/runtime/init/error` (best effort: a failure
/// is printed, the process exits with an error either way).
async fn report_init_error(message: &str) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let body = serde_json::json!({ "errorType": "Runtime.InvalidConfiguration", "errorMessage": message }).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: Runtime.InvalidConfiguration\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let result = async {
        let mut stream = tokio::net::TcpStream::connect(&api).await?;
        stream.write_all(request.as_bytes()).await?;
        // Wait for the status line and headers only: a server may keep the connection open.
        let mut reply = Vec::new();
        let mut chunk = [0u8; 512];
        while !reply.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await? {
                0 => break,
                n => reply.extend_from_slice(&chunk[..n]),
            }
        }
        Ok::<_, std::io::Error>(())
    }
    .await;
    if let Err(e) = result {
        let _ = writeln!(std::io::stderr(), "could not report the init error: {e}");
    }
}
