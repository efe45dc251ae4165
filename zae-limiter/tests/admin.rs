//! Administration against the emulator, cross-checked with the zae-limiter package.

mod common;

use common::Env;
use zae_limiter::admin::NewEntity;
use zae_limiter::schema::config::OnUnavailable;
use zae_limiter::schema::namespace::NamespaceStatus;
use zae_limiter::{Error, Limit};

#[tokio::test]
async fn bootstrap_namespaces_and_limits_are_readable_by_python() {
    let env = Env::start("zl-admin").await;
    let t = &env.table;
    t.write_version_record(Some("0.17.0"), "cli:0.17.0").await.unwrap();
    let default_id = t.register_namespace("default").await.unwrap();
    let alpha = t.register_namespace("tenant-alpha").await.unwrap();
    assert_eq!(
        t.register_namespace("tenant-alpha").await.unwrap(),
        alpha,
        "register is idempotent"
    );
    assert_ne!(default_id, alpha);
    assert_eq!(alpha.len(), 11);

    let ns = t.namespace(&alpha);
    ns.set_system_limits(
        &[Limit::per_minute("rpm", 100, None).unwrap()],
        Some(OnUnavailable::Allow),
        None,
    )
    .await
    .unwrap();
    ns.set_resource_limits(
        "gpt-4",
        &[Limit::per_minute("tpm", 10_000, None).unwrap()],
        Some("ci-bot"),
    )
    .await
    .unwrap();
    ns.set_entity_limits(
        "user-1",
        "gpt-4",
        &[Limit::per_minute("rpm", 10, Some(20)).unwrap()],
        None,
    )
    .await
    .unwrap();
    ns.create_entity(&NewEntity::new("child").with_parent("parent", true), None)
        .await
        .unwrap();

    let seen = env.python(
        r#"repo = await Repository.connect("tenant-alpha", stack=STACK)
sys_limits, on_unav = await repo.get_system_defaults()
res = await repo.get_resource_defaults("gpt-4")
ent = await repo.get_limits("user-1", resource="gpt-4")
child = await repo.get_entity("child")
events = await repo.get_audit_events("$SYSTEM")
registry = await repo.list_resources_with_defaults()
return {
  "system": [l.to_dict() for l in sys_limits], "on_unavailable": on_unav,
  "resource": [l.to_dict() for l in res], "entity": [l.to_dict() for l in ent],
  "child": [child.parent_id, child.cascade], "audit": [e.action for e in events],
  "principal": events[0].principal, "registry": registry,
  "namespaces": sorted(n["name"] for n in await repo.list_namespaces()),
}"#,
    );
    assert_eq!(
        seen["system"],
        serde_json::json!([{"name":"rpm","capacity":100,"refill_amount":100,"refill_period_seconds":60}])
    );
    assert_eq!(seen["on_unavailable"], "allow");
    assert_eq!(seen["resource"][0]["capacity"], 10_000);
    assert_eq!(
        seen["entity"],
        serde_json::json!([{"name":"rpm","capacity":20,"refill_amount":10,"refill_period_seconds":60}])
    );
    assert_eq!(seen["child"], serde_json::json!(["parent", true]));
    assert_eq!(seen["audit"], serde_json::json!(["limits_set"]));
    assert_eq!(seen["principal"], "arn:aws:sts::123456789012:user/moto");
    assert_eq!(seen["registry"], serde_json::json!(["gpt-4"]));
    assert_eq!(seen["namespaces"], serde_json::json!(["default", "tenant-alpha"]));

    // Read back through the crate.
    let sys = ns.get_system_limits().await.unwrap().unwrap();
    assert_eq!(sys.on_unavailable, Some(OnUnavailable::Allow));
    assert_eq!(
        ns.get_entity_limits("user-1", "gpt-4").await.unwrap().unwrap().limits[0].capacity(),
        20
    );
    assert!(matches!(
        ns.create_entity(&NewEntity::new("child"), None).await,
        Err(Error::EntityExists { .. })
    ));
    assert!(ns.delete_entity_limits("user-1", "gpt-4", None).await.unwrap());
    assert!(!ns.delete_entity_limits("user-1", "gpt-4", None).await.unwrap());
    assert!(ns.get_entity_limits("user-1", "gpt-4").await.unwrap().is_none());
    assert!(ns.delete_resource_limits("gpt-4", None).await.unwrap());
    assert!(ns.list_resources_with_limits().await.unwrap().is_empty());
    let registry = env.python(
        r#"repo = await Repository.connect("tenant-alpha", stack=STACK)
return [await repo.list_resources_with_entity_configs(), await repo.list_resources_with_defaults()]"#,
    );
    assert_eq!(registry, serde_json::json!([[], []]));
}

#[tokio::test]
async fn namespace_lifecycle_delete_recover_purge() {
    let env = Env::start("zl-ns-life").await;
    let t = &env.table;
    t.write_version_record(None, "").await.unwrap();
    let id = t.register_namespace("doomed").await.unwrap();
    let ns = t.namespace(&id);
    ns.set_system_limits(&[Limit::per_second("rps", 5, None).unwrap()], None, None)
        .await
        .unwrap();
    ns.create_entity(&NewEntity::new("e1"), None).await.unwrap();

    assert!(matches!(t.purge_namespace(&id).await, Err(Error::NamespaceState { ref state, .. }) if state == "active"));
    t.delete_namespace("doomed").await.unwrap();
    assert_eq!(t.resolve_namespace("doomed").await.unwrap(), None);
    let reverse = t.get_namespace_by_id(&id).await.unwrap().unwrap();
    assert_eq!(reverse.status, NamespaceStatus::Deleted);
    assert!(reverse.deleted_at.is_some());
    assert_eq!(t.list_orphan_namespaces().await.unwrap().len(), 1);

    assert_eq!(t.recover_namespace(&id).await.unwrap(), "doomed");
    assert_eq!(t.resolve_namespace("doomed").await.unwrap(), Some(id.clone()));
    assert!(
        matches!(t.recover_namespace(&id).await, Err(Error::NamespaceState { ref state, .. }) if state == "active")
    );

    // Python sees the recovered namespace and its data.
    let limits = env.python(
        r#"repo = await Repository.connect("doomed", stack=STACK)
return [l.name for l in await repo.get_system_limits()]"#,
    );
    assert_eq!(limits, serde_json::json!(["rps"]));

    t.delete_namespace("doomed").await.unwrap();
    let report = t.purge_namespace(&id).await.unwrap();
    assert!(report.found);
    assert!(report.items_deleted >= 4, "config, META and audit events: {report:?}");
    assert!(t.get_namespace_by_id(&id).await.unwrap().is_none());
    let leftover: Vec<_> = env
        .scan()
        .await
        .into_iter()
        .filter(|i| common::s(i, "PK").starts_with(&format!("{id}/")))
        .collect();
    assert!(leftover.is_empty(), "purge left {leftover:?}");
    assert!(!t.purge_namespace(&id).await.unwrap().found);
    assert!(matches!(t.register_namespace("_").await, Err(Error::Validation(_))));
}

#[tokio::test]
async fn python_written_state_is_readable_by_the_crate() {
    let env = Env::start("zl-admin-py").await;
    let out = env.python(
        r#"repo = await Repository.connect("default", stack=STACK) if False else None
from zae_limiter.repository import Repository as R
r = R(name=STACK, _skip_deprecation_warning=True)
await r.set_version_record(schema_version="0.10.0", lambda_version="0.17.0", updated_by="cli:0.17.0")
ns_id = await r.register_namespace("py-ns")
repo = await Repository.connect("py-ns", stack=STACK)
await repo.set_system_defaults([Limit.per_minute("rpm", 7)], on_unavailable="block")
await repo.set_limits("e1", [Limit.per_hour("tph", 50, burst=60)], resource="_default_")
return ns_id"#,
    );
    let id = out.as_str().unwrap();
    let t = &env.table;
    let record = t.get_version_record(true).await.unwrap().unwrap();
    assert_eq!(record.lambda_version.as_deref(), Some("0.17.0"));
    assert_eq!(record.client_min_version.as_deref(), Some("0.0.0"));
    assert_eq!(t.resolve_namespace("py-ns").await.unwrap().as_deref(), Some(id));
    let ns = t.namespace(id);
    let sys = ns.get_system_limits().await.unwrap().unwrap();
    assert_eq!(sys.limits, vec![Limit::per_minute("rpm", 7, None).unwrap()]);
    assert_eq!(sys.on_unavailable, Some(OnUnavailable::Block));
    let ent = ns.get_entity_limits("e1", "_default_").await.unwrap().unwrap();
    assert_eq!(ent.limits, vec![Limit::per_hour("tph", 50, Some(60)).unwrap()]);

    // A deploy rewrite never lowers a ratcheted minimum.
    env.python(
        r##"from zae_limiter.repository import Repository as R
r = R(name=STACK, _skip_deprecation_warning=True)
c = await r._get_client()
await c.update_item(TableName=STACK, Key={"PK": {"S": "_/SYSTEM#"}, "SK": {"S": "#VERSION"}},
    UpdateExpression="SET client_min_version = :m", ExpressionAttributeValues={":m": {"S": "0.17.0"}})
return None"##,
    );
    t.write_version_record(Some("0.17.0"), "cli:0.17.0").await.unwrap();
    assert_eq!(
        t.get_version_record(true)
            .await
            .unwrap()
            .unwrap()
            .client_min_version
            .as_deref(),
        Some("0.17.0")
    );
}
