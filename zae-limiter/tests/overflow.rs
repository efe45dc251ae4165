//! Boundary amounts against a real table: an acquire, adjustment or release whose
//! millitokens do not fit a 64-bit integer is refused with an error, and the bucket is
//! left as it was (a wrapped amount would be a credit the speculative condition admits).

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::Env;
use zae_limiter::limit::MAX_AMOUNT;
use zae_limiter::{Error, Limit, RateLimiter, Repository};

/// `b_rpm_tk` / `b_rpm_tc` of `entity`'s bucket for `api` (shard 0).
async fn balance(env: &Env, ns: &str, entity: &str) -> (i64, i64) {
    let item = env
        .table
        .client()
        .get_item()
        .table_name(env.table.name())
        .key("PK", AttributeValue::S(format!("{ns}/BUCKET#{entity}#api#0")))
        .key("SK", AttributeValue::S("#STATE".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("bucket exists");
    let num = |k: &str| item[k].as_n().unwrap().parse::<i64>().unwrap();
    (num("b_rpm_tk"), num("b_rpm_tc"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amounts_whose_millitokens_overflow_are_refused_not_admitted() {
    let env = Env::start("zl-overflow").await;
    env.table
        .write_version_record(Some("0.17.0"), "cli:0.17.0")
        .await
        .unwrap();
    let id = env.table.register_namespace("edge").await.unwrap();
    env.table
        .namespace(&id)
        .set_resource_limits("api", &[Limit::per_day("rpm", 10, None).unwrap()], None)
        .await
        .unwrap();
    let limiter = RateLimiter::new(Repository::connect_table(env.table.clone(), "edge").await.unwrap());

    // A first acquire creates the bucket, so later ones take the speculative path.
    limiter
        .acquire("user-1", "api")
        .consume([("rpm", 1)])
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
    assert_eq!(balance(&env, &id, "user-1").await, (9000, 1000));

    // ×1000 wraps these to negative debits: `ADD tk +x` under `tk >= -x`, always admitted.
    for amount in [MAX_AMOUNT + 1, i64::MAX / 1000 * 2, i64::MAX] {
        match limiter.acquire("user-1", "api").consume([("rpm", amount)]).await {
            Err(Error::InvalidLimit(msg)) => assert!(msg.contains("must be at most"), "{msg}"),
            Err(other) => panic!("{amount}: expected InvalidLimit, got {other}"),
            Ok(lease) => panic!("{amount}: admitted, consumed {:?}", lease.consumed()),
        }
    }
    assert_eq!(balance(&env, &id, "user-1").await, (9000, 1000), "bucket untouched");

    // The largest representable amount is an ordinary rejection with a finite wait.
    let err = limiter
        .acquire("user-1", "api")
        .consume([("rpm", MAX_AMOUNT)])
        .await
        .unwrap_err();
    let rl = err.rate_limited().expect("rate limited");
    assert!(rl.violations().count() == 1 && rl.retry_after_seconds > 1e15, "{rl:?}");
    assert_eq!(balance(&env, &id, "user-1").await, (9000, 1000));

    // Adjustments: a net beyond ±MAX_AMOUNT is refused and records nothing; releasing
    // i64::MIN (whose negation overflows) too.
    let lease = limiter.acquire("user-1", "api").consume([("rpm", 2)]).await.unwrap();
    lease.adjust([("rpm", MAX_AMOUNT)]).await.unwrap();
    assert!(matches!(lease.adjust([("rpm", 1)]).await, Err(Error::InvalidLimit(_))));
    assert!(matches!(
        lease.adjust([("rpm", i64::MIN)]).await,
        Err(Error::InvalidLimit(_))
    ));
    assert!(matches!(
        lease.release([("rpm", i64::MIN)]).await,
        Err(Error::InvalidLimit(_))
    ));
    assert_eq!(lease.consumed()["rpm"], 2 + MAX_AMOUNT);
    lease.adjust([("rpm", -MAX_AMOUNT)]).await.unwrap();
    lease.release([("rpm", 1)]).await.unwrap();
    lease.commit().await.unwrap();
    assert_eq!(balance(&env, &id, "user-1").await, (8000, 2000), "net: 2 - 1 tokens");
}
