//! The runtime glue of the `bootstrap` binary: what is built once per cold start
//! (configuration, SDK clients, the archive sink) and one invocation's work.
//!
//! The event is decoded straight from the invocation payload into [`StreamEvent`]
//! (this crate's own serde types, attribute order kept) rather than through
//! `aws_lambda_events`, whose `dynamodb` feature pulls in chrono and serde_dynamo and
//! whose attribute maps are unordered (the archive writes keys in stored order).

use aws_config::BehaviorVersion;

use crate::handler::{Config, ConfigError, process};
use crate::record::StreamEvent;
use crate::s3_sink::S3Sink;

/// Everything an invocation needs, built once per cold start.
#[derive(Debug, Clone)]
pub struct Aggregator {
    dynamodb: aws_sdk_dynamodb::Client,
    config: Config,
    sink: Option<S3Sink>,
}

impl Aggregator {
    /// Reads the 0.17.0 environment (`TABLE_NAME`, `SNAPSHOT_WINDOWS`,
    /// `SNAPSHOT_TTL_DAYS`, `ENABLE_ARCHIVAL`, `ARCHIVE_BUCKET_NAME`) through `lookup`
    /// and builds the DynamoDB and S3 clients from the default credential / region
    /// chain. When `AWS_ENDPOINT_URL` is set (an emulator), S3 is addressed path-style.
    pub async fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Aggregator, ConfigError> {
        let config = Config::from_env(&lookup)?;
        let bucket = Config::archive_bucket(&lookup);
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let sink = bucket.map(|bucket| {
            let s3 = aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(lookup("AWS_ENDPOINT_URL").is_some_and(|u| !u.is_empty()))
                .build();
            S3Sink::new(aws_sdk_s3::Client::from_conf(s3), bucket)
        });
        tracing::info!(
            table_name = config.table_name,
            archive_bucket = sink.as_ref().map(S3Sink::bucket),
            "Aggregator initialised"
        );
        Ok(Aggregator { dynamodb, config, sink })
    }

    /// The configuration read at start.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// One invocation at `now_ms`: processes the batch and returns 0.17.0's response
    /// (`{"statusCode": 200, "body": {...}}`). Data and write errors are in the body's
    /// `errors`, never an invocation error.
    pub async fn handle(&self, event: &StreamEvent, request_id: &str, now_ms: i64) -> serde_json::Value {
        let summary = process(
            &self.dynamodb,
            &self.config,
            &event.records,
            request_id,
            now_ms,
            self.sink.as_ref(),
        )
        .await;
        tracing::info!(
            processed = summary.processed,
            snapshots_updated = summary.snapshots_updated,
            refills_written = summary.refills_written,
            events_archived = summary.events_archived,
            errors = summary.errors.len(),
            skipped_buckets = summary.skipped_buckets,
            "Batch processing completed"
        );
        summary.response()
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
