//! End to end without AWS: the packaged `bootstrap` (the glibc 2.34 build) runs as a
//! child process against an in-test Lambda Runtime API server, is fed a DynamoDB stream
//! event captured from the emulator, and writes its snapshots to the emulator's table
//! and its audit archive to the emulator's bucket. (The emulator cannot invoke Lambdas
//! without Docker, so the test plays Lambda's part.)

mod support;

use std::collections::HashMap;
use std::io::Read;
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use support::{Call, REQUEST_ID, next_call, runtime_api, spawn_bootstrap, stream_event};
use zae_limiter::{Limit, RateLimiter, Repository, Table};

const NS: &str = "tenant-e2e";
const RESOURCE: &str = "gpt-4";
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_packaged_bootstrap_processes_a_captured_stream_event() {
    let emulator = tokio::task::spawn_blocking(testkit::Emulator::start).await.unwrap();
    let sdk = emulator.sdk_config().await;
    let table = Table::from_config(&sdk, "zl-agg-e2e");
    table.create_table().await.unwrap();
    table.write_version_record(Some("0.17.0"), "cli:0.17.0").await.unwrap();
    let ns_id = table.register_namespace(NS).await.unwrap();
    let ns = table.namespace(&ns_id);
    ns.set_resource_limits(
        RESOURCE,
        &[
            Limit::per_minute("rpm", 10, None).unwrap(),
            Limit::per_minute("tpm", 1000, None).unwrap(),
        ],
        None,
    )
    .await
    .unwrap();
    ns.create_entity(&zae_limiter::admin::NewEntity::new("acme"), None)
        .await
        .unwrap();
    let limiter = RateLimiter::new(Repository::connect_table(table.clone(), NS).await.unwrap());
    for _ in 0..3 {
        let lease = limiter
            .acquire("acme", RESOURCE)
            .consume([("rpm", 1), ("tpm", 50)])
            .await
            .unwrap();
        lease.commit().await.unwrap();
    }
    // Deleting the audit items gives the REMOVE records a TTL expiry would.
    let client = table.client().clone();
    let items = client.scan().table_name(table.name()).send().await.unwrap();
    let audit: Vec<HashMap<String, AttributeValue>> = items
        .items()
        .iter()
        .filter(|i| i["SK"].as_s().is_ok_and(|sk| sk.starts_with("#AUDIT#")))
        .map(|i| {
            [("PK", i["PK"].clone()), ("SK", i["SK"].clone())]
                .map(|(k, v)| (k.to_string(), v))
                .into()
        })
        .collect();
    assert!(!audit.is_empty(), "the admin writes left audit items");
    for key in &audit {
        client
            .delete_item()
            .table_name(table.name())
            .set_key(Some(key.clone()))
            .send()
            .await
            .unwrap();
    }
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    s3.create_bucket().bucket("zl-agg-e2e-archive").send().await.unwrap();

    let event = stream_event(&emulator, table.name());
    let records = serde_json::from_str::<Value>(&event).unwrap()["Records"]
        .as_array()
        .unwrap()
        .len();

    let (api, mut calls) = runtime_api(event).await;
    let started = Instant::now();
    let mut child = spawn_bootstrap(
        &emulator.aws_env(),
        &api,
        &[
            ("TABLE_NAME", table.name()),
            ("SNAPSHOT_WINDOWS", "hourly,daily,monthly"),
            ("ENABLE_ARCHIVAL", "true"),
            ("ARCHIVE_BUCKET_NAME", "zl-agg-e2e-archive"),
        ],
    );
    assert!(matches!(next_call(&mut calls).await, Call::Next(1)));
    let cold_start = started.elapsed();
    let response = match next_call(&mut calls).await {
        Call::Response(id, body) => {
            assert_eq!(id, REQUEST_ID);
            body
        }
        other => panic!("expected a response, got {other:?}"),
    };
    let handled = started.elapsed();
    // The runtime then waits for the next invocation.
    assert!(matches!(next_call(&mut calls).await, Call::Next(2)));
    child.kill().await.unwrap();
    let output = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!(
        "bootstrap: cold start (spawn → first /next) {cold_start:?}, first invocation answered at {handled:?}, \
         {records} records"
    );

    // The summary: every record processed, snapshots written, the audit events archived.
    let body = &response["body"];
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body["processed"], records as u64, "{response}");
    assert_eq!(body["errors"], serde_json::json!([]), "{response}");
    assert_eq!(body["events_archived"], audit.len() as u64, "{response}");
    let snapshots = body["snapshots_updated"].as_u64().unwrap();
    // 3 acquires × 2 limits × 3 windows, at least (the first acquire may be an INSERT).
    assert!(snapshots >= 2 * 2 * 3, "{response}");

    // The table: snapshot items for the three windows.
    let items = client
        .scan()
        .table_name(table.name())
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let mut windows: Vec<String> = items
        .items()
        .iter()
        .filter_map(|i| i.get("window").and_then(|w| w.as_s().ok()).cloned())
        .collect();
    windows.sort();
    windows.dedup();
    assert_eq!(windows, ["daily", "hourly", "monthly"], "snapshot items");

    // The bucket: one gzip JSON Lines object with one line per audit event.
    let objects = s3.list_objects_v2().bucket("zl-agg-e2e-archive").send().await.unwrap();
    let keys: Vec<&str> = objects.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("audit/year="), "{keys:?}");
    assert!(keys[0].contains(&format!("audit-{REQUEST_ID}-")), "{keys:?}");
    let object = s3
        .get_object()
        .bucket("zl-agg-e2e-archive")
        .key(keys[0])
        .send()
        .await
        .unwrap();
    assert_eq!(object.content_type(), Some("application/x-ndjson"));
    assert_eq!(object.content_encoding(), Some("gzip"));
    let gz = object.body.collect().await.unwrap().into_bytes();
    let mut lines = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut lines)
        .unwrap();
    assert_eq!(lines.lines().count(), audit.len(), "{lines}");
    for line in lines.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        assert!(event["event_id"].is_string(), "{line}");
    }

    // The logs: JSON lines on stdout, the summary among them.
    let log_lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}")))
        .collect();
    assert!(
        log_lines
            .iter()
            .any(|l| l["message"] == "Batch processing completed" && l["processed"] == records as u64),
        "{stdout}"
    );
}

#[tokio::test]
async fn an_invalid_configuration_is_reported_to_init_error() {
    let emulator = tokio::task::spawn_blocking(testkit::Emulator::start).await.unwrap();
    let (api, mut calls) = runtime_api("{}".into()).await;
    let mut child = spawn_bootstrap(&emulator.aws_env(), &api, &[("SNAPSHOT_WINDOWS", "hourly,weekly")]);
    match next_call(&mut calls).await {
        Call::InitError(body) => {
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["errorType"], "Runtime.InvalidConfiguration");
            assert!(
                body["errorMessage"].as_str().unwrap().contains("SNAPSHOT_WINDOWS"),
                "{body}"
            );
        }
        other => panic!("expected an init error, got {other:?}"),
    }
    let status = tokio::time::timeout(support::STEP, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success(), "the runtime exits after an init error");
}

#[tokio::test]
async fn an_event_that_is_not_a_stream_batch_is_an_invocation_error() {
    let emulator = tokio::task::spawn_blocking(testkit::Emulator::start).await.unwrap();
    let (api, mut calls) = runtime_api(r#""not an event""#.into()).await;
    let _child = spawn_bootstrap(&emulator.aws_env(), &api, &[]);
    assert!(matches!(next_call(&mut calls).await, Call::Next(1)));
    match next_call(&mut calls).await {
        Call::Error(id, body) => {
            assert_eq!(id, REQUEST_ID);
            assert!(body.contains("errorType"), "{body}");
        }
        other => panic!("expected an invocation error, got {other:?}"),
    }
}
