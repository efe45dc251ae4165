//! Correctness under contention: many concurrent tasks hammering one bucket admit
//! exactly what the bucket allows, never more.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;
use common::Env;
use zae_limiter::{Error, Limit, RateLimiter, Repository};

const TASKS: usize = 64;
const CAPACITY: i64 = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_tasks_never_over_admit() {
    // moto applies concurrent requests non-atomically (the Python package over-admits on
    // it too), so this test runs on the serialized emulator, which is as atomic as DynamoDB.
    let env = Env::start_serialized("zl-contention").await;
    env.table
        .write_version_record(Some("0.17.0"), "cli:0.17.0")
        .await
        .unwrap();
    let id = env.table.register_namespace("hot").await.unwrap();
    // 150 per day: the refill during the test (a few seconds) is below one token.
    env.table
        .namespace(&id)
        .set_resource_limits("api", &[Limit::per_day("rpd", CAPACITY, None).unwrap()], None)
        .await
        .unwrap();
    let limiter = Arc::new(RateLimiter::new(
        Repository::connect_table(env.table.clone(), "hot").await.unwrap(),
    ));
    let admitted = Arc::new(AtomicI64::new(0));
    let contended = Arc::new(AtomicI64::new(0));

    // No bucket exists yet: the first wave races on the create, then on the fast path.
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let limiter = limiter.clone();
        let admitted = admitted.clone();
        let contended = contended.clone();
        handles.push(tokio::spawn(async move {
            loop {
                match limiter.acquire("shared-key", "api").consume([("rpd", 1)]).await {
                    Ok(lease) => {
                        lease.commit().await.unwrap();
                        admitted.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(Error::RateLimited(rl)) if rl.contended => {
                        contended.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(Error::RateLimited(_)) => return,
                    Err(other) => panic!("unexpected error: {other}"),
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let admitted = admitted.load(Ordering::SeqCst);
    assert_eq!(
        admitted,
        CAPACITY,
        "admitted {admitted} of capacity {CAPACITY} (contended retries: {})",
        contended.load(Ordering::SeqCst)
    );

    // The bucket agrees: exactly CAPACITY tokens consumed, balance below one token.
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
    assert_eq!(num("b_rpd_tc"), CAPACITY * 1000);
    assert!(
        num("b_rpd_tk") < 1000 && num("b_rpd_tk") >= 0,
        "tk = {}",
        num("b_rpd_tk")
    );
}
