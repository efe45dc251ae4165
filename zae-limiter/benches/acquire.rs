//! Acquire benchmark on the emulator: DynamoDB requests and capacity units per acquire
//! on each path, counted by an SDK interceptor, beside zae-limiter's published figures;
//! latency; and client CPU per acquire against the Python package on the same emulator.
//!
//! Run with `cargo bench -p zae-limiter --bench acquire` (needs the dev environment).
//! Capacity units are computed from the requests with DynamoDB's rules (the emulator
//! reports none): 1 WCU per single-item write (items here are < 1 KB), 2 WCU per
//! transaction item, 0.5 RCU per eventually consistent key read.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use zae_limiter::admin::NewEntity;
use zae_limiter::{Limit, RateLimiter, Repository, Table};

#[derive(Debug, Default)]
struct Tally {
    ops: BTreeMap<String, u64>,
    /// Read capacity units.
    read_units: f64,
    /// Write capacity units.
    write_units: f64,
}

#[derive(Debug, Clone, Default)]
struct Counter(Arc<Mutex<Tally>>);

impl Counter {
    fn take(&self) -> Tally {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "request-counter"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::operation::{
            batch_get_item::BatchGetItemInput, get_item::GetItemInput, transact_write_items::TransactWriteItemsInput,
        };
        let op = cfg.load::<Metadata>().map(|m| m.name().to_string()).unwrap_or_default();
        let input = context.input();
        let (read_units, write_units) = match op.as_str() {
            "UpdateItem" | "PutItem" | "DeleteItem" => (0.0, 1.0),
            "TransactWriteItems" => {
                let n = input
                    .downcast_ref::<TransactWriteItemsInput>()
                    .map_or(0, |i| i.transact_items().len());
                (0.0, 2.0 * n as f64)
            }
            "BatchGetItem" => {
                let keys: usize = input
                    .downcast_ref::<BatchGetItemInput>()
                    .and_then(|i| i.request_items())
                    .map_or(0, |m| m.values().map(|k| k.keys().len()).sum());
                (0.5 * keys as f64, 0.0)
            }
            "GetItem" => {
                let consistent = input
                    .downcast_ref::<GetItemInput>()
                    .and_then(|i| i.consistent_read())
                    .unwrap_or(false);
                (if consistent { 1.0 } else { 0.5 }, 0.0)
            }
            "Query" => (0.5, 0.0),
            _ => (0.0, 0.0),
        };
        let mut t = self.0.lock().unwrap();
        *t.ops.entry(op).or_default() += 1;
        t.read_units += read_units;
        t.write_units += write_units;
        Ok(())
    }
}

fn cpu_time() -> Duration {
    // utime + stime of every thread of this process, in clock ticks (USER_HZ = 100).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after.split_whitespace().filter_map(|f| f.parse().ok()).collect();
    let ticks = fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

struct Row {
    path: &'static str,
    n: usize,
    tally: Tally,
    p50: Duration,
    p95: Duration,
    published: &'static str,
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

async fn measure<F, Fut>(path: &'static str, n: usize, published: &'static str, counter: &Counter, mut op: F) -> Row
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    counter.take();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        op(i).await;
        samples.push(t.elapsed());
    }
    let tally = counter.take();
    Row {
        path,
        n,
        p50: percentile(&mut samples, 0.5),
        p95: percentile(&mut samples, 0.95),
        tally,
        published,
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let emulator = testkit::Emulator::start();
    let sdk = emulator.sdk_config().await;
    let counter = Counter::default();
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(counter.clone())
        .build();
    let table =
        Table::new(aws_sdk_dynamodb::Client::from_conf(conf), "zl-bench").with_sts(aws_sdk_sts::Client::new(&sdk));
    table.create_table().await.unwrap();
    table.write_version_record(Some("0.17.0"), "cli:0.17.0").await.unwrap();
    let ns_id = table.register_namespace("bench").await.unwrap();
    let ns = table.namespace(&ns_id);
    ns.set_system_limits(&[Limit::per_second("rps", 1_000_000, None).unwrap()], None, None)
        .await
        .unwrap();
    ns.set_resource_limits("tight", &[Limit::per_hour("rph", 1, None).unwrap()], None)
        .await
        .unwrap();
    ns.set_resource_limits("drip", &[Limit::per_second("rps", 1000, Some(1)).unwrap()], None)
        .await
        .unwrap();
    ns.create_entity(&NewEntity::new("parent"), None).await.unwrap();
    ns.create_entity(&NewEntity::new("child").with_parent("parent", true), None)
        .await
        .unwrap();
    let limiter = RateLimiter::new(Repository::connect_table(table.clone(), "bench").await.unwrap());
    let acquire = |entity: String, resource: &'static str, name: &'static str| {
        let limiter = limiter.clone();
        async move {
            let result = limiter.acquire(&entity, resource).consume([(name, 1)]).await;
            if let Ok(lease) = result {
                lease.commit().await.unwrap();
            }
        }
    };
    // Warm-up: create the buckets the steady-state paths use.
    acquire("hot".into(), "api", "rps").await;
    acquire("child".into(), "api", "rps").await;
    acquire("exhausted".into(), "tight", "rph").await;
    acquire("dripper".into(), "drip", "rps").await;

    const N: usize = 200;
    let mut rows = Vec::new();
    rows.push(
        measure(
            "first acquire (create: Put + ConditionCheck)",
            N,
            "1 / 1 (acquire()); +3 RCU cache miss",
            &counter,
            |i| acquire(format!("new-{i}"), "api", "rps"),
        )
        .await,
    );

    rows.push(
        measure(
            "speculative hit (warm bucket)",
            N,
            "0 / 1 (p50 moto 9 ms)",
            &counter,
            |_| acquire("hot".into(), "api", "rps"),
        )
        .await,
    );
    rows.push(
        measure(
            "fast reject (exhausted, refill won't help)",
            N,
            "0 / 1 (anchors: 0 / 0)",
            &counter,
            |_| acquire("exhausted".into(), "tight", "rph"),
        )
        .await,
    );
    rows.push(
        measure(
            "normal path (refill fallback, rf-locked update)",
            N,
            "2.5 / 2",
            &counter,
            |_| acquire("dripper".into(), "drip", "rps"),
        )
        .await,
    );
    rows.push(
        measure(
            "cascade speculative hit (child + parent)",
            N,
            "0 / 2 (p50 moto 22 ms)",
            &counter,
            |_| acquire("child".into(), "api", "rps"),
        )
        .await,
    );
    println!();
    println!("zae-limiter Rust client — requests and capacity per acquire (emulator: moto, {N} acquires per path)");
    println!(
        "{:<48} {:>6} {:>6} {:>9} {:>9}  {:<38} requests per acquire",
        "path", "RCU", "WCU", "p50", "p95", "published RCU / WCU (0.17.0 docs)"
    );
    for r in &rows {
        let per = |v: f64| v / r.n as f64;
        let ops: Vec<String> = r
            .tally
            .ops
            .iter()
            .map(|(k, v)| format!("{k} {:.2}", *v as f64 / r.n as f64))
            .collect();
        println!(
            "{:<48} {:>6.2} {:>6.2} {:>7.2}ms {:>7.2}ms  {:<38} {}",
            r.path,
            per(r.tally.read_units),
            per(r.tally.write_units),
            r.p50.as_secs_f64() * 1e3,
            r.p95.as_secs_f64() * 1e3,
            r.published,
            ops.join(", ")
        );
    }

    // Client CPU per acquire: Rust vs Python, both on the speculative hit path.
    const CPU_N: usize = 500;
    let before = cpu_time();
    let wall = Instant::now();
    for _ in 0..CPU_N {
        acquire("hot".into(), "api", "rps").await;
    }
    let rust_cpu = (cpu_time() - before).as_secs_f64() * 1e3 / CPU_N as f64;
    let rust_wall = wall.elapsed().as_secs_f64() * 1e3 / CPU_N as f64;
    let script = format!(
        r#"import asyncio, time, json
from zae_limiter import Repository, RateLimiter
async def main():
    limiter = RateLimiter(repository=await Repository.connect("bench", stack="zl-bench"))
    for _ in range(20):
        async with limiter.acquire("hot-py", "api", consume={{"rps": 1}}):
            pass
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range({CPU_N}):
        async with limiter.acquire("hot-py", "api", consume={{"rps": 1}}):
            pass
    print(json.dumps([(time.process_time() - c0) * 1000 / {CPU_N}, (time.perf_counter() - w0) * 1000 / {CPU_N}]))
asyncio.run(main())
"#
    );
    let out = Command::new(testkit::dev_tool("python"))
        .arg("-c")
        .arg(&script)
        .envs(emulator.aws_env())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let py: Vec<f64> = text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    println!();
    println!("client CPU per acquire (speculative hit, {CPU_N} sequential acquires, same emulator)");
    println!("{:<28} {:>12} {:>14}", "client", "CPU ms/acq", "wall ms/acq");
    println!("{:<28} {:>12.3} {:>14.3}", "Rust (this crate)", rust_cpu, rust_wall);
    match py.as_slice() {
        [cpu, wall] => println!("{:<28} {:>12.3} {:>14.3}", "Python zae-limiter 0.17.0", cpu, wall),
        _ => println!("Python measurement failed: {}", String::from_utf8_lossy(&out.stderr)),
    }
    println!("(Rust CPU from /proc/self/stat at 10 ms tick resolution; includes the tokio runtime and the AWS SDK.)");
    println!(
        "(Latencies are the emulator's: moto's TransactWriteItems slows down as the table's stream history grows, \
         so the create path runs first, on a fresh table.)"
    );
}
