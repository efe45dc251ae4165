//! Acquires under injected faults: 64 concurrent acquirers reach the emulator through
//! `testkit::faults::FaultProxy`, which throttles, fails (HTTP 500/503), drops connections
//! before or after the emulator saw the request, or delays a seeded share of the DynamoDB
//! requests. Whatever the fault, the bucket never admits more than its capacity, and it
//! accounts for every token it admitted; without faults it admits exactly its capacity.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use common::Env;
use testkit::faults::{Fault, FaultPlan, FaultProxy, Rule};
use zae_limiter::{Error, Limit, RateLimiter, Repository, Table};

const TASKS: usize = 64;
/// Tokens per day: the refill during a test run (seconds) stays below one token.
const CAPACITY: i64 = 100;
/// Attempts per task before it gives up on an unexpected error streak (a safety net:
/// each task normally stops at its first non-contended rejection).
const MAX_ROUNDS: usize = 400;
const SEED: u64 = 0x5EED_0008;
/// Share of DynamoDB requests faulted.
const P: f64 = 0.15;

#[derive(Debug, Default)]
struct Outcome {
    admitted: i64,
    rejected: i64,
    contended: i64,
    errors: i64,
    /// `b_rpd_tc` of the bucket: millitokens the bucket recorded as consumed.
    consumed_milli: i64,
    /// `b_rpd_tk`: the balance.
    balance_milli: i64,
    faults: u64,
}

/// Runs 64 acquirers through a proxy injecting `fault` into a share `P` of the DynamoDB
/// requests (`None`: no faults, the control).
async fn run(name: &str, fault: Option<Fault>) -> Outcome {
    let env = Env::start(name).await;
    env.table
        .write_version_record(Some("0.17.0"), "cli:0.17.0")
        .await
        .unwrap();
    let id = env.table.register_namespace("hot").await.unwrap();
    env.table
        .namespace(&id)
        .set_resource_limits("api", &[Limit::per_day("rpd", CAPACITY, None).unwrap()], None)
        .await
        .unwrap();

    let plan = match fault {
        Some(f) => FaultPlan::seeded(SEED).rule(Rule::new(f).service("dynamodb").probability(P)),
        None => FaultPlan::none(),
    };
    let proxy = FaultProxy::start(env.emulator.addr(), plan);
    // The limiter (and its SDK client, with the default standard retries) goes through the
    // proxy from the start: the namespace lookup is faulted too.
    let proxied = Table::from_config(&proxy.sdk_config().await, env.table.name());
    let repo = loop {
        match Repository::connect_table(proxied.clone(), "hot").await {
            Ok(repo) => break repo,
            Err(e) => eprintln!("connect failed under faults, again: {e}"),
        }
    };
    let limiter = Arc::new(RateLimiter::new(repo));
    let counters: Arc<[AtomicI64; 4]> = Arc::new(Default::default());
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let limiter = limiter.clone();
        let counters = counters.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..MAX_ROUNDS {
                match limiter.acquire("shared-key", "api").consume([("rpd", 1)]).await {
                    Ok(lease) => {
                        // The tokens are debited at acquire; a failed commit (nothing
                        // to adjust here) does not give them back.
                        let _ = lease.commit().await;
                        counters[0].fetch_add(1, Ordering::SeqCst);
                    }
                    Err(Error::RateLimited(rl)) if rl.contended => {
                        counters[2].fetch_add(1, Ordering::SeqCst);
                    }
                    Err(Error::RateLimited(_)) => {
                        counters[1].fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    // An error the SDK's retries did not absorb: the caller tries again.
                    Err(_) => {
                        counters[3].fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let item = env
        .table
        .client()
        .get_item()
        .table_name(env.table.name())
        .key("PK", AttributeValue::S(format!("{id}/BUCKET#shared-key#api#0")))
        .key("SK", AttributeValue::S("#STATE".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("bucket exists");
    let num = |k: &str| item[k].as_n().unwrap().parse::<i64>().unwrap();
    let outcome = Outcome {
        admitted: counters[0].load(Ordering::SeqCst),
        rejected: counters[1].load(Ordering::SeqCst),
        contended: counters[2].load(Ordering::SeqCst),
        errors: counters[3].load(Ordering::SeqCst),
        consumed_milli: num("b_rpd_tc"),
        balance_milli: num("b_rpd_tk"),
        faults: proxy.stats().total_injected(),
    };
    println!(
        "FAULTS-CLIENT {:<24} capacity {CAPACITY} admitted {} rejected {} contended {} errors {} \
         consumed {} balance {} faults injected {}",
        fault.map(|f| f.label()).unwrap_or_else(|| "none".into()),
        outcome.admitted,
        outcome.rejected,
        outcome.contended,
        outcome.errors,
        outcome.consumed_milli as f64 / 1000.0,
        outcome.balance_milli as f64 / 1000.0,
        outcome.faults
    );
    outcome
}

/// What every fault class must keep: no over-admission, a consistent bucket, every task
/// finished by a real rejection.
fn assert_safe(o: &Outcome, may_lose_tokens: bool) {
    assert!(o.admitted <= CAPACITY, "over-admitted: {o:?}");
    assert!(o.balance_milli >= 0, "negative balance: {o:?}");
    assert!(
        o.consumed_milli <= CAPACITY * 1000,
        "consumed more than capacity: {o:?}"
    );
    assert!(
        o.admitted * 1000 <= o.consumed_milli,
        "admitted tokens the bucket did not record: {o:?}"
    );
    // Tokens consumed + balance = capacity (refill below one token during the test).
    assert!(
        (o.consumed_milli + o.balance_milli - CAPACITY * 1000).abs() < 1000,
        "bucket out of balance: {o:?}"
    );
    assert_eq!(o.rejected, TASKS as i64, "every task ends on a rejection: {o:?}");
    if !may_lose_tokens {
        // The fault never let a write through unseen: every recorded token was admitted.
        assert_eq!(o.admitted * 1000, o.consumed_milli, "tokens lost: {o:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn control_without_faults_admits_exactly_capacity() {
    let o = run("zl-faults-none", None).await;
    assert_safe(&o, false);
    assert_eq!(o.admitted, CAPACITY, "{o:?}");
    assert_eq!((o.faults, o.errors), (0, 0), "{o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_never_over_admits() {
    let o = run("zl-faults-throttle", Some(Fault::Throttle)).await;
    assert!(o.faults > 0, "{o:?}");
    assert_safe(&o, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn provisioned_throughput_exceeded_never_over_admits() {
    let o = run("zl-faults-pte", Some(Fault::ProvisionedThroughputExceeded)).await;
    assert!(o.faults > 0, "{o:?}");
    assert_safe(&o, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_500_never_over_admits() {
    let o = run("zl-faults-500", Some(Fault::Status(500))).await;
    assert!(o.faults > 0, "{o:?}");
    assert_safe(&o, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_503_never_over_admits() {
    let o = run("zl-faults-503", Some(Fault::Status(503))).await;
    assert!(o.faults > 0, "{o:?}");
    assert_safe(&o, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resets_before_forwarding_never_over_admit() {
    let o = run("zl-faults-reset-before", Some(Fault::ResetBeforeForward)).await;
    assert!(o.faults > 0, "{o:?}");
    assert_safe(&o, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropped_responses_never_over_admit() {
    // A write the emulator applied but whose answer was lost debits tokens nobody was
    // admitted for: the bucket may under-admit, never over-admit.
    let o = run("zl-faults-reset-after", Some(Fault::ResetAfterForward)).await;
    assert!(o.faults > 0, "{o:?}");
    assert_safe(&o, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delays_never_over_admit() {
    let o = run("zl-faults-delay", Some(Fault::Delay(Duration::from_millis(30)))).await;
    assert!(o.faults > 0, "{o:?}");
    assert_safe(&o, false);
    assert_eq!(o.admitted, CAPACITY, "delays lose nothing: {o:?}");
}
