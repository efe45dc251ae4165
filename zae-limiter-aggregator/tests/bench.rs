//! The aggregator benchmark (run by benches/aggregator.sh; `#[ignore]`d otherwise): one
//! 100-record batch of real stream records processed three times, each on its own copy
//! of the same table, each through its own request-counting proxy in front of the
//! emulator — 0.17.0's Python processor, this crate's `process`, and the packaged
//! `bootstrap` under the in-test Runtime API (cold start = spawn → first `/next`).

mod support;

use std::time::Instant;

use aws_sdk_dynamodb::Client;
use serde_json::Value;
use support::{Call, next_call, runtime_api, spawn_bootstrap, stream_event};
use testkit::faults::{FaultPlan, FaultProxy};
use zae_limiter::schema::usage::SnapshotWindow;
use zae_limiter::{Limit, RateLimiter, Repository, Table};
use zae_limiter_aggregator::{Config, NoArchive, StreamEvent, process};

const NS: &str = "tenant-bench";
const RESOURCE: &str = "gpt-4";
const BATCH: usize = 100;

async fn copy_table(client: &Client, from: &str, to: &Table) {
    to.create_table().await.unwrap();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(from)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in out.items() {
            client
                .put_item()
                .table_name(to.name())
                .set_item(Some(item.clone()))
                .send()
                .await
                .unwrap();
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return,
        }
    }
}

fn dynamodb_requests(proxy: &FaultProxy) -> (u64, String) {
    let stats = proxy.stats();
    let ops: Vec<String> = stats
        .requests
        .iter()
        .filter(|(op, _)| op.starts_with("dynamodb:"))
        .map(|(op, n)| format!("{}={n}", op.trim_start_matches("dynamodb:")))
        .collect();
    let total = stats
        .requests
        .iter()
        .filter(|(op, _)| op.starts_with("dynamodb:"))
        .map(|(_, n)| n)
        .sum();
    (total, ops.join(" "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: benches/aggregator.sh"]
async fn bench_a_100_record_batch() {
    let emulator = tokio::task::spawn_blocking(testkit::Emulator::start).await.unwrap();
    let sdk = emulator.sdk_config().await;
    let source = Table::from_config(&sdk, "zl-agg-bench-src");
    source.create_table().await.unwrap();
    source.write_version_record(Some("0.17.0"), "cli:0.17.0").await.unwrap();
    let ns_id = source.register_namespace(NS).await.unwrap();
    source
        .namespace(&ns_id)
        .set_resource_limits(
            RESOURCE,
            &[
                Limit::per_minute("rpm", 1_000, None).unwrap(),
                Limit::per_minute("tpm", 100_000, None).unwrap(),
            ],
            None,
        )
        .await
        .unwrap();
    let limiter = RateLimiter::new(Repository::connect_table(source.clone(), NS).await.unwrap());
    for i in 0..BATCH + 5 {
        let lease = limiter
            .acquire(&format!("user-{}", i % 10), RESOURCE)
            .consume([("rpm", 1), ("tpm", 50)])
            .await
            .unwrap();
        lease.commit().await.unwrap();
    }
    let client = source.client().clone();
    let mut event: Value = serde_json::from_str(&stream_event(&emulator, source.name())).unwrap();
    let records = event["Records"].as_array_mut().unwrap();
    let keep = records.split_off(records.len() - BATCH);
    *records = keep;
    let text = event.to_string();

    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut report = Vec::new();

    // 0.17.0's processor, in-process time measured around process_stream_records.
    let py_table = Table::from_config(&sdk, "zl-agg-bench-py");
    copy_table(&client, source.name(), &py_table).await;
    let path = std::env::temp_dir().join(format!("zl-agg-bench-{}.json", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let proxy = FaultProxy::start(emulator.addr(), FaultPlan::none());
    let script = format!(
        r#"import json, time
from zae_limiter_aggregator import processor
with open({path:?}) as f:
    event = json.load(f)
t = time.perf_counter()
r = processor.process_stream_records(event["Records"], {table:?}, ["hourly", "daily", "monthly"], 90)
print(json.dumps([time.perf_counter() - t, r.processed_count, r.snapshots_updated, len(r.errors)]))
"#,
        path = path.display().to_string(),
        table = py_table.name()
    );
    let started = Instant::now();
    let output = std::process::Command::new(testkit::dev_tool("python"))
        .arg("-c")
        .arg(&script)
        .envs(proxy.aws_env())
        .output()
        .unwrap();
    let py_total = started.elapsed();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // The processor logs on stdout too; the result is the last line.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let py: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    let (requests, ops) = dynamodb_requests(&proxy);
    report.push(format!(
        "python 0.17.0 processor: {:.1} ms in process_stream_records ({py_total:.1?} with interpreter start), \
         {requests} DynamoDB requests ({ops}); [processed, snapshots, errors] = [{}, {}, {}]",
        py[0].as_f64().unwrap() * 1000.0,
        py[1],
        py[2],
        py[3]
    ));
    let _ = std::fs::remove_file(&path);
    drop(proxy);

    // This crate's process, through its own proxy.
    let rs_table = Table::from_config(&sdk, "zl-agg-bench-rs");
    copy_table(&client, source.name(), &rs_table).await;
    let proxy = FaultProxy::start(emulator.addr(), FaultPlan::none());
    let rs_client = Client::new(&proxy.sdk_config().await);
    let parsed = StreamEvent::from_json(&text).unwrap();
    let config = Config {
        table_name: rs_table.name().to_string(),
        windows: vec![SnapshotWindow::Hourly, SnapshotWindow::Daily, SnapshotWindow::Monthly],
        ttl_days: 90,
    };
    let started = Instant::now();
    let summary = process::<NoArchive>(&rs_client, &config, &parsed.records, "bench", now_ms, None).await;
    let elapsed = started.elapsed();
    let (requests, ops) = dynamodb_requests(&proxy);
    report.push(format!(
        "rust process(): {:.1} ms, {requests} DynamoDB requests ({ops}); \
         [processed, snapshots, errors] = [{}, {}, {}]",
        elapsed.as_secs_f64() * 1000.0,
        summary.processed,
        summary.snapshots_updated,
        summary.errors.len()
    ));
    assert_eq!(summary.processed, BATCH as u64);
    drop(proxy);

    // The packaged bootstrap: cold start and one invocation.
    let boot_table = Table::from_config(&sdk, "zl-agg-bench-boot");
    copy_table(&client, source.name(), &boot_table).await;
    let proxy = FaultProxy::start(emulator.addr(), FaultPlan::none());
    let (api, mut calls) = runtime_api(text.clone()).await;
    let started = Instant::now();
    let child = spawn_bootstrap(
        &proxy.aws_env(),
        &api,
        &[
            ("TABLE_NAME", boot_table.name()),
            ("SNAPSHOT_WINDOWS", "hourly,daily,monthly"),
        ],
    );
    assert!(matches!(next_call(&mut calls).await, Call::Next(1)));
    let cold_start = started.elapsed();
    let body = match next_call(&mut calls).await {
        Call::Response(_, body) => body,
        other => panic!("expected a response, got {other:?}"),
    };
    let invocation = started.elapsed() - cold_start;
    drop(child);
    let (requests, ops) = dynamodb_requests(&proxy);
    report.push(format!(
        "bootstrap: cold start (spawn → first /next) {:.1} ms, invocation (event → response) {:.1} ms, \
         {requests} DynamoDB requests ({ops}); body {}",
        cold_start.as_secs_f64() * 1000.0,
        invocation.as_secs_f64() * 1000.0,
        body["body"]
    ));
    let binary = std::fs::read(support::packaged_bootstrap()).unwrap();
    let zip = zae_limiter_aggregator::package::zip_bootstrap(&binary).unwrap();
    report.push(format!(
        "package: bootstrap {} bytes, zip {} bytes ({})",
        binary.len(),
        zip.len(),
        support::packaged_bootstrap().display()
    ));
    for line in report {
        println!("BENCH {line}");
    }
}
