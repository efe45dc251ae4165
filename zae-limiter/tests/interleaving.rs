//! Registries stay exact when two admin callers interleave (finding 6).
//!
//! Caller A runs on a table handle whose pause hook stops it at one [`PausePoint`],
//! between what it saw and the write depending on it; caller B runs to completion
//! meanwhile on a plain handle; then A continues. Afterwards the entity-config registry
//! counts exactly the entity configs that exist, and the resource registry names exactly
//! the resources whose config exists.

mod common;

use std::future::Future;

use common::Env;
use common::gate::Gate;
use zae_limiter::admin::LimitWrite;
use zae_limiter::admin::hooks::PausePoint;
use zae_limiter::schema::config::ConfigLevel;
use zae_limiter::schema::registry;
use zae_limiter::{Limit, Table};

const RESOURCE: &str = "gpt-4";

fn rpm(n: i64) -> Limit {
    Limit::per_minute("rpm", n, None).unwrap()
}

fn entity_level(entity_id: &str) -> ConfigLevel {
    ConfigLevel::Entity {
        entity_id: entity_id.into(),
        resource: RESOURCE.into(),
    }
}

/// A namespace on a fresh emulator, and caller A's handle on the same table, paused by
/// `gate`.
async fn setup(table: &str, gate: &std::sync::Arc<Gate>) -> (Env, String, Table) {
    let env = Env::start(table).await;
    let id = env.table.register_namespace("race").await.unwrap();
    let paused = env.table.clone().with_pause_hook(gate.hook());
    (env, id, paused)
}

/// Runs `a` until it reaches the gate, runs `b` to completion, then lets `a` finish;
/// returns `a`'s result.
async fn interleave<A, B>(gate: &Gate, a: A, b: B) -> A::Output
where
    A: Future + Send + 'static,
    A::Output: Send + 'static,
    B: Future<Output = ()>,
{
    let a = tokio::spawn(a);
    gate.arrived().await;
    b.await;
    gate.release().await;
    a.await.expect("caller A panicked")
}

/// The entity-config registry's count for [`RESOURCE`] (0 when absent).
async fn registry_count(env: &Env, ns: &str) -> i64 {
    let item = env
        .table
        .client()
        .get_item()
        .table_name(env.table.name())
        .set_key(Some(registry::entity_config_registry_key(ns)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default();
    item.get(RESOURCE).map_or(0, |v| v.as_n().unwrap().parse().unwrap())
}

/// How many of `entities` have an entity config for [`RESOURCE`].
async fn entity_configs(env: &Env, ns: &str, entities: &[&str]) -> i64 {
    let admin = env.table.namespace(ns);
    let mut count = 0;
    for e in entities {
        if admin.get_entity_limits(e, RESOURCE).await.unwrap().is_some() {
            count += 1;
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_config_replace_after_a_concurrent_delete_is_counted() {
    let gate = Gate::new(PausePoint::EntityConfigReplace);
    let (env, ns, paused) = setup("zl-race-replace", &gate).await;
    let admin = env.table.namespace(&ns);
    admin
        .set_entity_limits("user-1", RESOURCE, &[rpm(10)], None)
        .await
        .unwrap();
    assert_eq!(registry_count(&env, &ns).await, 1);

    // A replaces the existing config; its create finds the item, then it stops. B deletes
    // the config (and takes its count back) before A's replace.
    let a_admin = paused.namespace(&ns);
    let a = async move { a_admin.set_entity_limits("user-1", RESOURCE, &[rpm(20)], None).await };
    let b = async {
        assert!(admin.delete_entity_limits("user-1", RESOURCE, None).await.unwrap());
    };
    interleave(&gate, a, b).await.unwrap();

    let stored = admin.get_entity_limits("user-1", RESOURCE).await.unwrap();
    assert_eq!(
        stored.map(|s| s.limits),
        Some(vec![rpm(20)]),
        "A's config is what remains"
    );
    assert_eq!(
        registry_count(&env, &ns).await,
        entity_configs(&env, &ns, &["user-1"]).await,
        "the registry counts every entity config exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_limit_added_after_a_concurrent_removal_of_the_item_is_counted() {
    let gate = Gate::new(PausePoint::EntityLimitAdd);
    let (env, ns, paused) = setup("zl-race-add", &gate).await;
    let admin = env.table.namespace(&ns);
    let level = entity_level("user-1");
    admin.create_limit(&level, &rpm(10), None).await.unwrap();
    assert_eq!(registry_count(&env, &ns).await, 1);

    // A adds `tpm` to the existing item; its create finds the item, then it stops. B
    // removes `rpm`, the item's last limit, which deletes the item and its count.
    let tpm = Limit::per_minute("tpm", 500, None).unwrap();
    let a_admin = paused.namespace(&ns);
    let a_level = level.clone();
    let a_limit = tpm.clone();
    let a = async move { a_admin.create_limit(&a_level, &a_limit, None).await };
    let b = async {
        assert!(admin.remove_limit(&level, "rpm", None).await.unwrap());
    };
    assert_eq!(interleave(&gate, a, b).await.unwrap(), LimitWrite::Written);

    let stored = admin.get_entity_limits("user-1", RESOURCE).await.unwrap();
    assert_eq!(stored.map(|s| s.limits), Some(vec![tpm]));
    assert_eq!(
        registry_count(&env, &ns).await,
        entity_configs(&env, &ns, &["user-1"]).await,
        "the registry counts every entity config exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_limit_create_still_reports_an_existing_limit() {
    let gate = Gate::new(PausePoint::EntityLimitAdd);
    let (env, ns, paused) = setup("zl-race-exists", &gate).await;
    let admin = env.table.namespace(&ns);
    let level = entity_level("user-1");
    admin.create_limit(&level, &rpm(10), None).await.unwrap();
    // B creates `tpm` while A, creating the same limit, stands between its create and
    // its add: A finds the limit there and writes nothing.
    let tpm = Limit::per_minute("tpm", 500, None).unwrap();
    let a_admin = paused.namespace(&ns);
    let (a_level, a_limit) = (level.clone(), Limit::per_minute("tpm", 7, None).unwrap());
    let a = async move { a_admin.create_limit(&a_level, &a_limit, None).await };
    let b = async {
        assert_eq!(
            admin.create_limit(&level, &tpm, None).await.unwrap(),
            LimitWrite::Written
        );
    };
    assert_eq!(
        interleave(&gate, a, b).await.unwrap(),
        LimitWrite::AlreadyExists(Some(tpm))
    );
    assert_eq!(registry_count(&env, &ns).await, 1);
}

/// Whether the resource registry names [`RESOURCE`], and whether its config exists.
async fn resource_state(env: &Env, ns: &str) -> (bool, bool) {
    let admin = env.table.namespace(ns);
    let listed = admin
        .list_resources_with_limits()
        .await
        .unwrap()
        .contains(&RESOURCE.to_string());
    let exists = admin.get_resource_limits(RESOURCE).await.unwrap().is_some();
    (listed, exists)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_registry_removal_after_a_concurrent_set_keeps_the_resource() {
    let gate = Gate::new(PausePoint::ResourceRegistry);
    let (env, ns, paused) = setup("zl-race-res-del", &gate).await;
    let admin = env.table.namespace(&ns);
    admin.set_resource_limits(RESOURCE, &[rpm(10)], None).await.unwrap();
    assert_eq!(resource_state(&env, &ns).await, (true, true));

    // A deletes the config and stops before the registry `DELETE`; B sets it again.
    let a_admin = paused.namespace(&ns);
    let a = async move { a_admin.delete_resource_limits(RESOURCE, None).await };
    let b = async {
        admin.set_resource_limits(RESOURCE, &[rpm(20)], None).await.unwrap();
    };
    assert!(interleave(&gate, a, b).await.unwrap());
    assert_eq!(
        resource_state(&env, &ns).await,
        (true, true),
        "(listed, config exists): the registry names the resource whose config exists"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_registry_add_after_a_concurrent_delete_is_dropped() {
    let gate = Gate::new(PausePoint::ResourceRegistry);
    let (env, ns, paused) = setup("zl-race-res-add", &gate).await;
    let admin = env.table.namespace(&ns);

    // A writes the config and stops before the registry `ADD`; B deletes it.
    let a_admin = paused.namespace(&ns);
    let a = async move { a_admin.set_resource_limits(RESOURCE, &[rpm(10)], None).await };
    let b = async {
        assert!(admin.delete_resource_limits(RESOURCE, None).await.unwrap());
    };
    interleave(&gate, a, b).await.unwrap();
    assert_eq!(
        resource_state(&env, &ns).await,
        (false, false),
        "(listed, config exists): no registry entry without a config"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_limit_removal_after_a_concurrent_create_keeps_the_resource() {
    // The per-limit writers (the provider's `zae_limiter_limit`) take the same registry
    // path: removing the last limit deletes the item, then updates the registry.
    let gate = Gate::new(PausePoint::ResourceRegistry);
    let (env, ns, paused) = setup("zl-race-res-limit", &gate).await;
    let admin = env.table.namespace(&ns);
    let level = ConfigLevel::Resource(RESOURCE.into());
    admin.create_limit(&level, &rpm(10), None).await.unwrap();

    let a_admin = paused.namespace(&ns);
    let a_level = level.clone();
    let a = async move { a_admin.remove_limit(&a_level, "rpm", None).await };
    let tpm = Limit::per_minute("tpm", 500, None).unwrap();
    let b = async {
        assert_eq!(
            admin.create_limit(&level, &tpm, None).await.unwrap(),
            LimitWrite::Written
        );
    };
    assert!(interleave(&gate, a, b).await.unwrap());
    assert_eq!(resource_state(&env, &ns).await, (true, true));
}
