//! Correctness under contention: many concurrent tasks hammering one bucket admit
//! exactly what the bucket allows, never more; entity configs created in parallel (as
//! Terraform applies `zae_limiter_limit`s) never lose a registry increment.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;
use common::Env;
use zae_limiter::admin::LimitWrite;
use zae_limiter::schema::config::ConfigLevel;
use zae_limiter::schema::registry;
use zae_limiter::{Error, Limit, RateLimiter, Repository};

const TASKS: usize = 64;
const CAPACITY: i64 = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_tasks_never_over_admit() {
    // The test emulator handles one request at a time, as atomic as DynamoDB (moto's own
    // threaded server is not: the Python package over-admits on it too).
    let env = Env::start("zl-contention").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_entity_configs_count_every_resource_in_the_registry() {
    const RESOURCES: usize = 24;
    let env = Env::start("zl-registry").await;
    let id = env.table.register_namespace("busy").await.unwrap();
    let admin = Arc::new(env.table.namespace(&id));
    // Each create is a TransactWriteItems: the new config item and `ADD #resource :one` on
    // the one #ENTITY_CONFIG_RESOURCES item every other create also updates.
    let mut handles = Vec::new();
    for i in 0..RESOURCES {
        let admin = admin.clone();
        handles.push(tokio::spawn(async move {
            let level = ConfigLevel::Entity {
                entity_id: "key-1".into(),
                resource: format!("model-{i}"),
            };
            let limit = Limit::per_minute("rpm", 10, None).unwrap();
            admin.create_limit(&level, &limit, None).await.unwrap()
        }));
    }
    for h in handles {
        assert!(matches!(h.await.unwrap(), LimitWrite::Written));
    }
    let registry = env
        .table
        .client()
        .get_item()
        .table_name(env.table.name())
        .set_key(Some(registry::entity_config_registry_key(&id)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("registry exists");
    let missing: Vec<String> = (0..RESOURCES)
        .map(|i| format!("model-{i}"))
        .filter(|r| registry.get(r).and_then(|v| v.as_n().ok()).map(String::as_str) != Some("1"))
        .collect();
    assert!(missing.is_empty(), "registry lost {missing:?}: {registry:?}");
}
