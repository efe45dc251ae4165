//! Interoperability with the zae-limiter 0.17.0 Python package on the same table: each
//! library registers, configures and consumes, and the other sees the same state and
//! enforces the same limits.

mod common;

use common::Env;
use serde_json::json;
use zae_limiter::admin::NewEntity;
use zae_limiter::{Error, Limit, RateLimiter, Repository};

/// Python snippet: `n` acquires of `consume` for `entity` on `resource`, returning
/// `[admitted, rejected]`.
fn py_acquire(ns: &str, entity: &str, resource: &str, consume: &str, n: usize) -> String {
    format!(
        r#"repo = await Repository.connect({ns:?}, stack=STACK)
limiter = RateLimiter(repository=repo)
ok = rejected = 0
for _ in range({n}):
    try:
        async with limiter.acquire({entity:?}, {resource:?}, consume={consume}):
            ok += 1
    except RateLimitExceeded:
        rejected += 1
return [ok, rejected]"#
    )
}

async fn bootstrap(env: &Env, ns: &str) -> String {
    env.table
        .write_version_record(Some("0.17.0"), "cli:0.17.0")
        .await
        .unwrap();
    env.table.register_namespace(ns).await.unwrap()
}

#[tokio::test]
async fn capacity_five_is_shared_across_both_libraries() {
    let env = Env::start("zl-interop-5").await;
    let id = bootstrap(&env, "tenant-alpha").await;
    env.table
        .namespace(&id)
        .set_resource_limits("gpt-4", &[Limit::per_hour("rph", 5, None).unwrap()], None)
        .await
        .unwrap();

    let repo = Repository::connect_table(env.table.clone(), "tenant-alpha")
        .await
        .unwrap();
    let limiter = RateLimiter::new(repo);
    // Rust: two acquires (the first creates the bucket, the second takes the fast path).
    for _ in 0..2 {
        let lease = limiter
            .acquire("api-key-123", "gpt-4")
            .consume([("rph", 1)])
            .await
            .unwrap();
        lease.commit().await.unwrap();
    }
    // Python: three pass, the fourth (= sixth overall) is rejected.
    assert_eq!(
        env.python(&py_acquire("tenant-alpha", "api-key-123", "gpt-4", r#"{"rph": 1}"#, 4)),
        json!([3, 1])
    );
    // Rust rejects the next one too, with a wait and the remaining balance.
    let err = limiter
        .acquire("api-key-123", "gpt-4")
        .consume([("rph", 1)])
        .await
        .unwrap_err();
    let Error::RateLimited(rl) = err else {
        panic!("expected RateLimited, got {err}")
    };
    assert!(
        rl.retry_after_seconds > 0.0 && rl.retry_after_seconds <= 720.001,
        "{rl}"
    );
    assert_eq!(rl.remaining().collect::<Vec<_>>(), vec![("rph", 0)]);
    assert_eq!(rl.statuses[0].capacity, 5);
    assert!(
        rl.to_string()
            .starts_with("Rate limit exceeded for api-key-123/gpt-4: [rph]. Retry after ")
    );
    // Both libraries report the same balance.
    let avail = limiter.available("api-key-123", "gpt-4").await.unwrap();
    assert_eq!(avail["rph"], 0);
    let py = env.python(
        r#"repo = await Repository.connect("tenant-alpha", stack=STACK)
return await RateLimiter(repository=repo).available("api-key-123", "gpt-4")"#,
    );
    assert_eq!(py, json!({"rph": 0}));
}

#[tokio::test]
async fn python_configured_cascade_is_enforced_by_rust() {
    let env = Env::start("zl-interop-cascade").await;
    let out = env.python(
        r#"from zae_limiter.repository import Repository as R
r = R(name=STACK, _skip_deprecation_warning=True)
await r.set_version_record(schema_version="0.10.0", lambda_version="0.17.0", updated_by="cli:0.17.0")
await r.register_namespace("team")
repo = await Repository.connect("team", stack=STACK)
await repo.set_system_defaults([Limit.per_hour("rph", 4)])
await repo.create_entity("proj", name="Project")
await repo.create_entity("key-py", parent_id="proj", cascade=True)
await repo.create_entity("key-rs", parent_id="proj", cascade=True)
limiter = RateLimiter(repository=repo)
for _ in range(2):
    async with limiter.acquire("key-py", "api", consume={"rph": 1}):
        pass
return (await limiter.available("proj", "api"))["rph"]"#,
    );
    assert_eq!(out, json!(2), "python debited the parent twice");

    let limiter = RateLimiter::new(Repository::connect_table(env.table.clone(), "team").await.unwrap());
    for _ in 0..2 {
        let lease = limiter.acquire("key-rs", "api").consume([("rph", 1)]).await.unwrap();
        assert_eq!(lease.entities(), vec!["key-rs", "proj"], "cascade debits the parent");
        lease.commit().await.unwrap();
    }
    // The parent is exhausted: Rust's child (which has room) is rejected because of it.
    let err = limiter
        .acquire("key-rs", "api")
        .consume([("rph", 1)])
        .await
        .unwrap_err();
    let rl = err.rate_limited().expect("rate limited");
    assert!(rl.violations().any(|s| s.entity_id == "proj"), "{rl}");
    assert_eq!(
        limiter.available("key-rs", "api").await.unwrap()["rph"],
        2,
        "rejection rolled the child back"
    );
    // And Python agrees.
    assert_eq!(
        env.python(&py_acquire("team", "key-py", "api", r#"{"rph": 1}"#, 1)),
        json!([0, 1])
    );
}

#[tokio::test]
async fn adjustments_and_rollbacks_are_visible_to_python() {
    let env = Env::start("zl-interop-adjust").await;
    let id = bootstrap(&env, "llm").await;
    let ns = env.table.namespace(&id);
    ns.set_entity_limits(
        "api-key-1",
        "_default_",
        &[
            Limit::per_minute("rpm", 10, None).unwrap(),
            Limit::per_minute("tpm", 10_000, None).unwrap(),
        ],
        None,
    )
    .await
    .unwrap();
    ns.create_entity(&NewEntity::new("api-key-1"), None).await.unwrap();
    let limiter = RateLimiter::new(Repository::connect_table(env.table.clone(), "llm").await.unwrap());

    let lease = limiter
        .acquire("api-key-1", "gpt-4")
        .consume([("rpm", 1), ("tpm", 500)])
        .await
        .unwrap();
    lease.adjust([("tpm", 1200 - 500)]).await.unwrap();
    lease.commit().await.unwrap();

    // Dropped without commit: rolled back.
    let lease = limiter
        .acquire("api-key-1", "gpt-4")
        .consume([("rpm", 1), ("tpm", 3000)])
        .await
        .unwrap();
    drop(lease);
    // Explicit rollback.
    let lease = limiter
        .acquire("api-key-1", "gpt-4")
        .consume([("rpm", 2)])
        .await
        .unwrap();
    lease.rollback().await;
    // The drop's rollback runs on a spawned task: wait for it by polling the table.
    let mut seen = serde_json::Value::Null;
    for _ in 0..50 {
        seen = env.python(
            r#"repo = await Repository.connect("llm", stack=STACK)
buckets = await repo.get_buckets("api-key-1", resource="gpt-4")
return {b.limit_name: b.total_consumed_milli for b in buckets}"#,
        );
        if seen["tpm"] == json!(1_200_000) {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(
        seen["tpm"],
        json!(1_200_000),
        "only the committed, adjusted lease remains: {seen}"
    );
    assert_eq!(seen["rpm"], json!(1000));
    // Python reads the same balances Rust does (entity config: no refill within the test
    // beyond what both compute from the same rf).
    let rust = limiter.available("api-key-1", "gpt-4").await.unwrap();
    assert!(rust["tpm"] >= 8800 && rust["tpm"] <= 10_000, "{rust:?}");
    assert!(rust["rpm"] >= 9, "{rust:?}");
}

#[tokio::test]
async fn connect_errors_are_typed() {
    let env = Env::start("zl-interop-errors").await;
    let missing = zae_limiter::Table::from_config(&env.config, "no-such-table");
    assert!(matches!(
        Repository::connect_table(missing, "x").await,
        Err(Error::TableNotFound { .. })
    ));
    assert!(matches!(
        Repository::connect_table(env.table.clone(), "nope").await,
        Err(Error::NamespaceNotFound { .. })
    ));
    env.table.register_namespace("ns").await.unwrap();
    assert!(matches!(
        Repository::connect_table(env.table.clone(), "ns").await,
        Err(Error::VersionRecordMissing { .. })
    ));
    env.table
        .write_version_record(Some("0.17.0"), "cli:0.17.0")
        .await
        .unwrap();
    Repository::connect_table(env.table.clone(), "ns").await.unwrap();
    // A table ratcheted to 0.17.0 (soft limits in use) is refused: this client reports 0.14.0.
    env.python(
        r#"from zae_limiter.repository import Repository as R
repo = await Repository.connect("ns", stack=STACK)
await repo.set_system_defaults([Limit.per_minute("tpm", 100, soft=True)])
return None"#,
    );
    let err = Repository::connect_table(env.table.clone(), "ns").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionMismatch {
                can_auto_update: false,
                ..
            }
        ),
        "{err}"
    );
    // Deleted namespaces are not found.
    env.table.delete_namespace("ns").await.unwrap();
    assert!(matches!(
        Repository::connect_table(env.table.clone(), "ns").await,
        Err(Error::NamespaceNotFound { .. })
    ));
}

#[tokio::test]
async fn lowering_a_limit_clamps_existing_buckets_on_the_next_acquire() {
    let env = Env::start("zl-interop-lower").await;
    let id = bootstrap(&env, "shrink").await;
    let ns = env.table.namespace(&id);
    ns.set_entity_limits("k", "api", &[Limit::per_hour("rph", 10, None).unwrap()], None)
        .await
        .unwrap();
    let limiter = RateLimiter::new(Repository::connect_table(env.table.clone(), "shrink").await.unwrap());
    limiter
        .acquire("k", "api")
        .consume([("rph", 1)])
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
    assert_eq!(limiter.available("k", "api").await.unwrap()["rph"], 9);

    // Python lowers the limit to 2/h: the existing bucket is re-parameterised (vu = 0).
    env.python(
        r#"repo = await Repository.connect("shrink", stack=STACK)
await repo.set_limits("k", [Limit.per_hour("rph", 2)], resource="api")
return None"#,
    );
    // Rust's next acquire takes the slow path (vu), clamps 9 → 2 and debits one.
    limiter
        .acquire("k", "api")
        .consume([("rph", 1)])
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
    limiter
        .acquire("k", "api")
        .consume([("rph", 1)])
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
    assert!(
        limiter
            .acquire("k", "api")
            .consume([("rph", 1)])
            .await
            .unwrap_err()
            .rate_limited()
            .is_some()
    );
    assert_eq!(
        env.python(&py_acquire("shrink", "k", "api", r#"{"rph": 1}"#, 1)),
        json!([0, 1])
    );
    let py = env.python(
        r##"repo = await Repository.connect("shrink", stack=STACK)
c = await repo._get_client()
key = {"PK": {"S": repo.namespace_id + "/BUCKET#k#api#0"}, "SK": {"S": "#STATE"}}
item = (await c.get_item(TableName=STACK, Key=key))["Item"]
return ["vu" in item, item["b_rph_cp"]["N"], item["b_rph_tc"]["N"]]"##,
    );
    assert_eq!(
        py,
        json!([false, "2000", "3000"]),
        "vu removed by the slow pass; 3 admitted in total"
    );

    // The reverse direction: Rust raises it, Python's next acquire sees the new ceiling.
    ns.set_entity_limits("k", "api", &[Limit::per_hour("rph", 4, None).unwrap()], None)
        .await
        .unwrap();
    let out = env.python(
        r#"repo = await Repository.connect("shrink", stack=STACK)
b = (await repo.get_buckets("k", resource="api"))
return [x.capacity_milli for x in b if x.limit_name == "rph"]"#,
    );
    assert_eq!(out, json!([4000]));
}

#[tokio::test]
async fn tables_using_unimplemented_features_are_refused_not_misread() {
    let env = Env::start("zl-interop-unsupported").await;
    bootstrap(&env, "sched").await;
    // A parameter schedule is not version-gated, so this client still connects …
    env.python(
        r#"from zae_limiter.schedule import ScheduleEntry
repo = await Repository.connect("sched", stack=STACK)
half_rate = ScheduleEntry(cron="* * * * *", scale=0.5)
await repo.set_resource_defaults("api", [Limit.per_minute("rpm", 100).with_schedule((half_rate,))])
limiter = RateLimiter(repository=repo)
async with limiter.acquire("e1", "api", consume={"rpm": 1}):
    pass
return None"#,
    );
    let repo = Repository::connect_table(env.table.clone(), "sched").await.unwrap();
    let limiter = RateLimiter::new(repo.clone());
    // … but refuses to read the scheduled config or materialise the scheduled bucket.
    let err = limiter.acquire("e2", "api").consume([("rpm", 1)]).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    let err = limiter.acquire("e1", "api").consume([("rpm", 1)]).await;
    // e1's bucket carries `vu`: the fast path may admit inside the window (the server
    // decides), otherwise the slow path must refuse. Either way nothing is misread.
    if let Err(err) = err {
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    }
    assert!(matches!(
        repo.admin().get_resource_limits("api").await,
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        limiter.available("e1", "api").await,
        Err(Error::Unsupported { .. })
    ));
}
