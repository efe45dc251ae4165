//! Parity with zae-limiter 0.17.0's own aggregator processor: traffic by both clients on
//! table A, A's real stream records read back from the emulator, A copied to twin table
//! B, then the Python processor runs on A and this crate on B with the same records and
//! the same clock, and the two tables are compared item by item, attribute by attribute.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use zae_limiter::schema::attrs::n;
use zae_limiter::schema::usage::SnapshotWindow;
use zae_limiter::{Limit, RateLimiter, Repository, Table};
use zae_limiter_aggregator::{Config, NoArchive, StreamEvent, Summary, process};

type Item = HashMap<String, AttributeValue>;

const NS: &str = "tenant-alpha";
const RESOURCE: &str = "gpt-4";

/// Runs a Python script (with the emulator's environment); it must print one line
/// `@@RESULT@@<json>`.
fn python(emulator: &testkit::Emulator, script: &str) -> Value {
    let output = Command::new(testkit::dev_tool("python"))
        .arg("-c")
        .arg(script)
        .envs(emulator.aws_env())
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python failed\n--- script ---\n{script}\n--- stderr ---\n{stderr}"
    );
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("@@RESULT@@"))
        .unwrap_or_else(|| panic!("python printed no result\n{stdout}\n{stderr}"));
    serde_json::from_str(line).expect("python result is JSON")
}

/// `n` acquires by the Python client of `{"rpm": 1, "tpm": 50}`.
fn python_traffic(emulator: &testkit::Emulator, table: &str, entity: &str, count: usize) {
    let script = format!(
        r#"import asyncio, json
from zae_limiter import Repository, RateLimiter
async def main():
    repo = await Repository.connect({NS:?}, stack={table:?})
    limiter = RateLimiter(repository=repo)
    for _ in range({count}):
        async with limiter.acquire({entity:?}, {RESOURCE:?}, consume={{"rpm": 1, "tpm": 50}}):
            pass
    return True
print("@@RESULT@@" + json.dumps(asyncio.run(main())))
"#
    );
    python(emulator, &script);
}

/// Every stream record of `table` so far, in the Lambda event shape, as JSON text.
fn stream_event(emulator: &testkit::Emulator, table: &str) -> String {
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
print("@@RESULT@@" + json.dumps(json.dumps({{"Records": records}})))
"#
    );
    python(emulator, &script).as_str().expect("event text").to_string()
}

/// Runs 0.17.0's `process_stream_records` on `table` with `event` at `now_ms`.
fn python_process(emulator: &testkit::Emulator, table: &str, event: &str, now_ms: i64) -> Value {
    let path = std::env::temp_dir().join(format!("zl-agg-{table}-{}.json", std::process::id()));
    std::fs::write(&path, event).expect("write event");
    let script = format!(
        r#"import json, time as real_time
from zae_limiter_aggregator import processor
NOW = {now_ms}
class Clock:
    time = staticmethod(lambda: NOW / 1000)
    perf_counter = staticmethod(real_time.perf_counter)
processor.time_module = Clock
processor.calculate_snapshot_ttl = lambda days: NOW // 1000 + days * 86400
with open({path:?}) as f:
    event = json.load(f)
r = processor.process_stream_records(event["Records"], {table:?}, ["hourly", "daily", "monthly"], 90)
print("@@RESULT@@" + json.dumps([r.processed_count, r.snapshots_updated, r.refills_written, len(r.errors)]))
"#,
        path = path.display().to_string(),
    );
    let result = python(emulator, &script);
    let _ = std::fs::remove_file(&path);
    result
}

async fn scan(client: &Client, table: &str) -> BTreeMap<(String, String), Item> {
    let mut items = BTreeMap::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("scan");
        for item in out.items() {
            let key = |k: &str| item[k].as_s().expect("string key").clone();
            items.insert((key("PK"), key("SK")), item.clone());
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return items,
        }
    }
}

/// Twin tables with streams, the version record and namespace on A.
struct Twins {
    emulator: testkit::Emulator,
    client: Client,
    a: Table,
    b: Table,
    ns_id: String,
}

impl Twins {
    async fn start(prefix: &str) -> Twins {
        let emulator = tokio::task::spawn_blocking(testkit::Emulator::start)
            .await
            .expect("emulator");
        let config = emulator.sdk_config().await;
        let a = Table::from_config(&config, format!("{prefix}-a"));
        let b = Table::from_config(&config, format!("{prefix}-b"));
        a.create_table().await.expect("create A");
        b.create_table().await.expect("create B");
        a.write_version_record(Some("0.17.0"), "cli:0.17.0").await.unwrap();
        let ns_id = a.register_namespace(NS).await.unwrap();
        a.namespace(&ns_id)
            .set_resource_limits(
                RESOURCE,
                &[
                    Limit::per_minute("rpm", 10, None).unwrap(),
                    Limit::per_minute("tpm", 1000, None).unwrap(),
                ],
                None,
            )
            .await
            .unwrap();
        Twins {
            client: a.client().clone(),
            emulator,
            a,
            b,
            ns_id,
        }
    }

    async fn rust_traffic(&self, entity: &str, count: usize) {
        let limiter = RateLimiter::new(Repository::connect_table(self.a.clone(), NS).await.unwrap());
        for _ in 0..count {
            let lease = limiter
                .acquire(entity, RESOURCE)
                .consume([("rpm", 1), ("tpm", 50)])
                .await
                .unwrap();
            lease.commit().await.unwrap();
        }
    }

    /// Two acquires, the second corrected down by 40 tpm at commit (a negative `tc` delta).
    async fn rust_refund(&self, entity: &str) {
        self.rust_traffic(entity, 1).await;
        let limiter = RateLimiter::new(Repository::connect_table(self.a.clone(), NS).await.unwrap());
        let lease = limiter
            .acquire(entity, RESOURCE)
            .consume([("rpm", 1), ("tpm", 50)])
            .await
            .unwrap();
        lease.adjust([("tpm", -40)]).await.unwrap();
        lease.commit().await.unwrap();
    }

    /// A direct write on shard 0 of `entity`'s bucket in A (a real MODIFY record).
    async fn touch(&self, entity: &str, update: &str, values: &[(&str, AttributeValue)]) {
        let pk = zae_limiter::schema::keys::pk_bucket(&self.ns_id, entity, RESOURCE, 0);
        self.client
            .update_item()
            .table_name(self.a.name())
            .key("PK", AttributeValue::S(pk))
            .key("SK", AttributeValue::S("#STATE".into()))
            .update_expression(update)
            .set_expression_attribute_values(
                (!values.is_empty()).then(|| values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()),
            )
            .send()
            .await
            .expect("touch");
    }

    /// Reads A's stream, copies A into B, runs both processors; returns (Python
    /// `[processed, snapshots, refills, errors]`, Rust summary).
    async fn run(&self, extra_records: &[Value], now_ms: i64) -> (Value, Summary) {
        let text = stream_event(&self.emulator, self.a.name());
        let mut event: Value = serde_json::from_str(&text).unwrap();
        event["Records"]
            .as_array_mut()
            .unwrap()
            .extend(extra_records.iter().cloned());
        let text = event.to_string();
        for item in scan(&self.client, self.a.name()).await.into_values() {
            self.client
                .put_item()
                .table_name(self.b.name())
                .set_item(Some(item))
                .send()
                .await
                .expect("copy");
        }
        let started = std::time::Instant::now();
        let py = python_process(&self.emulator, self.a.name(), &text, now_ms);
        let python_elapsed = started.elapsed();
        let started = std::time::Instant::now();
        let parsed = StreamEvent::from_json(&text).unwrap();
        let config = Config {
            table_name: self.b.name().to_string(),
            windows: vec![SnapshotWindow::Hourly, SnapshotWindow::Daily, SnapshotWindow::Monthly],
            ttl_days: 90,
        };
        let rust = process::<NoArchive>(&self.client, &config, &parsed.records, "req-1", now_ms, None).await;
        eprintln!(
            "{} records: python processor (with interpreter start) {python_elapsed:?}, rust {:?}",
            parsed.records.len(),
            started.elapsed()
        );
        (py, rust)
    }
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Asserts A and B hold the same items, except `except` keys; returns the tables.
async fn assert_twins_equal(
    t: &Twins,
    except: &[(String, String)],
) -> (BTreeMap<(String, String), Item>, BTreeMap<(String, String), Item>) {
    let a = scan(&t.client, t.a.name()).await;
    let b = scan(&t.client, t.b.name()).await;
    let keys_a: Vec<_> = a.keys().collect();
    let keys_b: Vec<_> = b.keys().collect();
    assert_eq!(keys_a, keys_b, "same items");
    for (key, item_a) in &a {
        if except.contains(key) {
            continue;
        }
        let item_b = &b[key];
        let names: std::collections::BTreeSet<&String> = item_a.keys().chain(item_b.keys()).collect();
        for name in names {
            assert_eq!(item_a.get(name), item_b.get(name), "{key:?} attribute {name}");
        }
    }
    (a, b)
}

#[tokio::test]
async fn snapshots_refill_doubling_propagation_and_a_malformed_record_match_the_reference() {
    let t = Twins::start("zl-agg-parity").await;
    // Traffic by both clients: 9 of 10 rpm each, so a refill is due.
    t.rust_traffic("rust-user", 9).await;
    python_traffic(&t.emulator, t.a.name(), "py-user", 9);
    // Two more buckets: one whose wcu runs low (proactive doubling), one a client
    // doubled twice (propagation: a clone, then an update of it and two more clones).
    t.rust_traffic("hot", 2).await;
    t.rust_traffic("grow", 2).await;
    t.rust_refund("refund-user").await;
    // Owners with META: "owned" grows and gets its clone; "moved" grows after a move
    // bumped its META's generation, so both processors' clone transactions cancel.
    for entity in ["owned", "moved"] {
        t.a.namespace(&t.ns_id)
            .create_entity(&zae_limiter::admin::NewEntity::new(entity), None)
            .await
            .unwrap();
        t.rust_traffic(entity, 2).await;
    }
    t.client
        .update_item()
        .table_name(t.a.name())
        .key("PK", AttributeValue::S(format!("{}/ENTITY#moved", t.ns_id)))
        .key("SK", AttributeValue::S("#META".into()))
        .update_expression("SET pgen = :g")
        .expression_attribute_values(":g", n(7))
        .send()
        .await
        .unwrap();
    // Limits lowered under a bucket: the client's parameter sync rewrites cp/ra (and
    // stamps vu) without consumption; the balance is above the new ceiling.
    t.rust_traffic("sync-user", 2).await;
    t.a.namespace(&t.ns_id)
        .set_entity_limits(
            "sync-user",
            RESOURCE,
            &[
                Limit::per_minute("rpm", 5, None).unwrap(),
                Limit::per_minute("tpm", 1000, None).unwrap(),
            ],
            None,
        )
        .await
        .unwrap();
    let now_ms = (wall_ms() / 1000 + 3) * 1000;
    t.touch(
        "hot",
        "SET b_wcu_tk = :low, rf = :now",
        &[(":low", n(100_000)), (":now", n(now_ms))],
    )
    .await;
    t.touch("grow", "SET shard_count = :c", &[(":c", n(2))]).await;
    t.touch("grow", "SET shard_count = :c", &[(":c", n(4))]).await;
    t.touch("owned", "SET shard_count = :c", &[(":c", n(2))]).await;
    t.touch("moved", "SET shard_count = :c", &[(":c", n(2))]).await;
    let pk = |e: &str| format!("{}/BUCKET#{e}#{RESOURCE}#0", t.ns_id);
    let malformed = json!({"eventName": "MODIFY", "dynamodb": {
        "NewImage": {"PK": {"S": pk("rust-user")}, "SK": {"S": "#STATE"}, "entity_id": {"S": "rust-user"},
                     "b_rpm_tc": {"N": "abc"}},
        "OldImage": {"PK": {"S": pk("rust-user")}, "SK": {"S": "#STATE"}, "b_rpm_tc": {"N": "0"}}}});

    let (py, rust) = t.run(&[malformed], now_ms).await;

    assert_eq!(
        py,
        json!([
            rust.processed,
            rust.snapshots_updated,
            rust.refills_written,
            rust.errors.len()
        ]),
        "summary counts (Python: processed, snapshots, refills, errors); Rust errors: {:?}",
        rust.errors
    );
    assert_eq!(rust.errors.len(), 1, "the malformed record only");
    assert!(rust.refills_written >= 2, "{rust:?}");
    assert_eq!(rust.shards_doubled, 1);
    let (_, b) = assert_twins_equal(&t, &[]).await;
    // What the comparison covered: a snapshot per window per client, the doubling, the clones.
    for window in ["hourly", "daily", "monthly"] {
        for entity in ["rust-user", "py-user"] {
            let snap = b
                .values()
                .find(|i| {
                    i["PK"].as_s().unwrap().ends_with(&format!("/ENTITY#{entity}"))
                        && i.get("window").and_then(|w| w.as_s().ok()).map(String::as_str) == Some(window)
                })
                .unwrap_or_else(|| panic!("{entity} {window} snapshot"));
            assert_eq!(
                snap["rpm"],
                n(8),
                "{entity} {window}: 9 acquires, the first created the bucket"
            );
        }
    }
    let refund = b
        .values()
        .find(|i| i.get("window").is_some() && i["PK"].as_s().unwrap().ends_with("/ENTITY#refund-user"))
        .expect("refund-user snapshot");
    assert_eq!(
        (refund["tpm"].clone(), refund["total_events"].clone()),
        (n(10), n(3)),
        "+50, then -40"
    );
    let grow = &b[&(pk("grow"), "#STATE".to_string())];
    assert_eq!(
        (grow["b_rpm_tk"].clone(), grow["b_tpm_tk"].clone()),
        (n(2500), n(250_000)),
        "clamped to the 4-shard share"
    );
    assert_eq!(
        b[&(pk("rust-user"), "#STATE".to_string())]["rf"],
        n(now_ms),
        "refilled under the rf lock"
    );
    let synced = &b[&(pk("sync-user"), "#STATE".to_string())];
    assert_eq!(
        (synced["b_rpm_cp"].clone(), synced["b_rpm_tk"].clone()),
        (n(5000), n(5000)),
        "clamped to the lowered ceiling: {synced:?}"
    );
    assert!(
        synced.contains_key("vu"),
        "the clamp was written under the vu pin: {synced:?}"
    );
    let shard1 = |e: &str| (format!("{}/BUCKET#{e}#{RESOURCE}#1", t.ns_id), "#STATE".to_string());
    assert!(
        b[&(pk("owned"), "#STATE".to_string())].contains_key("pinc"),
        "the owner stamp is pinned"
    );
    assert!(b.contains_key(&shard1("owned")), "owner unchanged: cloned");
    assert!(
        !b.contains_key(&shard1("moved")),
        "owner moved since the image: no clone"
    );
    let hot = &b[&(pk("hot"), "#STATE".to_string())];
    assert_eq!(hot["shard_count"], n(2));
    for shard in 1..4 {
        let clone = &b[&(
            format!("{}/BUCKET#grow#{RESOURCE}#{shard}", t.ns_id),
            "#STATE".to_string(),
        )];
        assert_eq!(clone["shard_count"], n(4));
    }
}

#[tokio::test]
async fn a_bucket_with_0_15_features_is_counted_and_never_rewritten() {
    let t = Twins::start("zl-agg-skip").await;
    t.rust_traffic("soft-user", 1).await;
    t.rust_traffic("plain-user", 9).await;
    // A soft stamp (0.17 soft limits) on one bucket, then consumption on it by Python.
    let deadline = wall_ms() + 3_600_000;
    t.touch("soft-user", "SET b_rpm_soft = :d", &[(":d", n(deadline))])
        .await;
    // Soft: never enforced, so 12 in total overdraw the 10 rpm and count `rpm#od`.
    python_traffic(&t.emulator, t.a.name(), "soft-user", 11);
    let now_ms = (wall_ms() / 1000 + 3) * 1000;
    let before = scan(&t.client, t.a.name()).await;

    let (py, rust) = t.run(&[], now_ms).await;

    let soft_key = (
        format!("{}/BUCKET#soft-user#{RESOURCE}#0", t.ns_id),
        "#STATE".to_string(),
    );
    let (a, b) = assert_twins_equal(&t, std::slice::from_ref(&soft_key)).await;
    assert_eq!(b[&soft_key], before[&soft_key], "the core profile never rewrites it");
    assert_ne!(a[&soft_key], before[&soft_key], "0.17.0 refills it");
    assert_eq!(rust.skipped_buckets, 1);
    let overdrawn = b
        .values()
        .find(|i| i.get("window").is_some() && i["PK"].as_s().unwrap().ends_with("/ENTITY#soft-user"))
        .expect("soft-user snapshot");
    assert_eq!(overdrawn.get("rpm#od"), Some(&n(2)), "{overdrawn:?}");
    assert_eq!(
        py,
        json!([
            rust.processed,
            rust.snapshots_updated,
            rust.refills_written + 1,
            rust.errors.len()
        ]),
        "same snapshots; one refill fewer"
    );
}

/// `(key, body, content type, content encoding)` of a stored object.
type Stored = (String, Vec<u8>, String, String);

/// Captures what the archiver stores.
#[derive(Default)]
struct MemorySink(std::sync::Mutex<Vec<Stored>>);

impl zae_limiter_aggregator::archive::ArchiveSink for MemorySink {
    async fn put_object(&self, key: &str, body: Vec<u8>, ct: &str, ce: &str) -> Result<(), String> {
        self.0.lock().unwrap().push((key.into(), body, ct.into(), ce.into()));
        Ok(())
    }
}

#[tokio::test]
async fn archive_objects_match_the_reference() {
    use std::io::Read;

    let t = Twins::start("zl-agg-archive").await;
    // A second audit event by the Python client, with text JSON must escape.
    python(
        &t.emulator,
        &format!(
            r#"import asyncio, json
from zae_limiter import Repository
async def main():
    repo = await Repository.connect({NS:?}, stack={table:?})
    await repo.create_entity("acme", name="Caf\u00e9 \u2615 \"q\"", metadata={{"tier": "gold\n", "x": "\U0001F600"}})
    return True
print("@@RESULT@@" + json.dumps(asyncio.run(main())))
"#,
            table = t.a.name()
        ),
    );
    // Deleting the audit items produces the REMOVE records a TTL expiry would.
    let audit: Vec<(String, String)> = scan(&t.client, t.a.name())
        .await
        .into_keys()
        .filter(|(_, sk)| sk.starts_with("#AUDIT#"))
        .collect();
    assert_eq!(audit.len(), 2, "{audit:?}");
    for (pk, sk) in &audit {
        t.client
            .delete_item()
            .table_name(t.a.name())
            .key("PK", AttributeValue::S(pk.clone()))
            .key("SK", AttributeValue::S(sk.clone()))
            .send()
            .await
            .unwrap();
    }
    let text = stream_event(&t.emulator, t.a.name());
    let path = std::env::temp_dir().join(format!("zl-agg-archive-{}.json", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let py = python(
        &t.emulator,
        &format!(
            r#"import gzip, json
from zae_limiter_aggregator.archiver import archive_audit_events
class S3:
    calls = []
    def put_object(self, **kw):
        self.calls.append(kw)
with open({path:?}) as f:
    records = json.load(f)["Records"]
s3 = S3()
r = archive_audit_events(records, "bucket", s3, request_id="req-1")
c = s3.calls[0]
print("@@RESULT@@" + json.dumps([r.events_archived, len(r.errors), c["Key"], c["ContentType"],
      c["ContentEncoding"], gzip.decompress(c["Body"]).decode()]))
"#,
            path = path.display().to_string()
        ),
    );
    let _ = std::fs::remove_file(&path);

    let event = StreamEvent::from_json(&text).unwrap();
    let records: Vec<&zae_limiter_aggregator::StreamRecord> = event
        .records
        .iter()
        .filter_map(|r| match r {
            zae_limiter_aggregator::BatchRecord::Record(r) => Some(r),
            zae_limiter_aggregator::BatchRecord::Malformed => None,
        })
        .collect();
    let sink = MemorySink::default();
    let result = zae_limiter_aggregator::archive::archive(&sink, &records, "req-1", (1970, 1, 1)).await;
    let (key, body, ct, ce) = sink.0.lock().unwrap()[0].clone();
    let mut lines = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut lines)
        .unwrap();
    assert_eq!(
        py,
        json!([result.events_archived, result.errors.len(), key, ct, ce, lines]),
        "events, errors, key, headers, JSON Lines"
    );
    assert!(lines.contains(r#"Caf\u00e9 \u2615 \"q\""#), "{lines}");
    assert!(lines.contains(r#"\ud83d\ude00"#), "{lines}");
}

#[tokio::test]
async fn write_failures_are_counted_like_the_reference_never_raised() {
    let t = Twins::start("zl-agg-fail").await;
    t.rust_traffic("user", 9).await;
    let text = stream_event(&t.emulator, t.a.name());
    let now_ms = (wall_ms() / 1000 + 3) * 1000;
    // Both processors pointed at a table that does not exist: every write fails.
    let py = python_process(&t.emulator, "zl-agg-missing", &text, now_ms);
    let config = Config {
        table_name: "zl-agg-missing".into(),
        windows: vec![SnapshotWindow::Hourly, SnapshotWindow::Daily, SnapshotWindow::Monthly],
        ttl_days: 90,
    };
    let parsed = StreamEvent::from_json(&text).unwrap();
    let rust = process::<NoArchive>(&t.client, &config, &parsed.records, "req-1", now_ms, None).await;
    assert_eq!(
        py,
        json!([
            rust.processed,
            rust.snapshots_updated,
            rust.refills_written,
            rust.errors.len()
        ]),
        "{:?}",
        rust.errors
    );
    // 8 records × 2 limits × 3 windows snapshot failures + the failed refill.
    assert_eq!(rust.errors.len(), 8 * 2 * 3 + 1, "{:?}", rust.errors);
    assert!(
        rust.errors[0].starts_with("Error updating snapshot: "),
        "{}",
        rust.errors[0]
    );
}
