//! Golden tests: the compatibility vectors (docs/wire-format.md §13: V0–V6, E1–E3, E18 and the registries/audit
//! events around them), run once through zae-limiter 0.17.0 and once through this crate
//! on two tables of one emulator. Every item must match attribute for attribute — names,
//! types and values — once the parts the spec lists as variable are normalised
//! (namespace ids, timestamps, `rf`, ULIDs, entity generations/incarnations; TTLs are
//! compared relative to their base instant).

mod common;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use common::Env;
use serde_json::{Value, json};
use zae_limiter::admin::NewEntity;
use zae_limiter::{Limit, RateLimiter, Repository, Table};

type Item = HashMap<String, AttributeValue>;

fn typed(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(b) => json!({"NULL": b}),
        AttributeValue::Ss(l) => {
            let mut l = l.clone();
            l.sort();
            json!({"SS": l})
        }
        AttributeValue::L(l) => json!({"L": l.iter().map(typed).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": m.iter().map(|(k, v)| (k.clone(), typed(v))).collect::<BTreeMap<_, _>>()}),
        other => json!({"?": format!("{other:?}")}),
    }
}

fn n(item: &Item, k: &str) -> i64 {
    item[k].as_n().unwrap().parse().unwrap()
}

/// Normalises one table's items into `"{PK} | {SK}" → typed item`.
fn normalise(items: &[Item], ns_ids: &HashMap<String, String>) -> BTreeMap<String, BTreeMap<String, Value>> {
    let sub_ns = |s: &str| {
        let mut out = s.to_string();
        for (id, name) in ns_ids {
            out = out.replace(id.as_str(), &format!("<ns:{name}>"));
        }
        out
    };
    let mut result = BTreeMap::new();
    for item in items {
        let sk = item["SK"].as_s().unwrap().clone();
        let mut norm = BTreeMap::new();
        for (k, v) in item {
            let mut value = typed(v);
            if let AttributeValue::S(s) = v {
                value = json!({"S": sub_ns(s)});
            }
            match k.as_str() {
                "created_at" | "updated_at" | "timestamp" | "deleted_at" => {
                    let s = v.as_s().unwrap();
                    assert_eq!(s.len(), 20, "{k} = {s}");
                    assert!(s.ends_with('Z') && s.as_bytes()[10] == b'T', "{k} = {s}");
                    value = json!({"S": "<time>"});
                }
                "rf" => value = json!({"N": "<ms>"}),
                "pgen" => value = json!({"N": "<pgen>"}),
                "pinc" => {
                    assert_eq!(v.as_s().unwrap().len(), 16);
                    value = json!({"S": "<pinc>"});
                }
                "event_id" => {
                    assert_eq!(v.as_s().unwrap().len(), 26);
                    value = json!({"S": "<ulid>"});
                }
                "ttl" if sk == "#STATE" => value = json!({"N": (n(item, "ttl") - n(item, "rf") / 1000).to_string()}),
                "ttl" => {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs() as i64;
                    let delta = n(item, "ttl") - now;
                    assert!(
                        (7_776_000 - 120..=7_776_000).contains(&delta),
                        "audit ttl offset {delta}"
                    );
                    value = json!({"N": "<now+90d>"});
                }
                _ => {}
            }
            norm.insert(k.clone(), value);
        }
        let sk_norm = if sk.starts_with("#AUDIT#") {
            "#AUDIT#<ulid>".to_string()
        } else {
            sub_ns(&sk)
        };
        let mut key = format!("{} | {}", sub_ns(item["PK"].as_s().unwrap()), sk_norm);
        if let Some(action) = item.get("action").and_then(|a| a.as_s().ok()) {
            let details = item.get("details").map(typed).unwrap_or(Value::Null);
            key.push_str(&format!(" ({action} {details})"));
        }
        assert!(!result.contains_key(&key), "two items normalise to {key}");
        norm.insert("SK".into(), json!({"S": sk_norm}));
        result.insert(key, norm);
    }
    result
}

async fn namespace_ids(table: &Table) -> HashMap<String, String> {
    let mut ids: HashMap<String, String> = table
        .list_namespaces()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    for r in table.list_orphan_namespaces().await.unwrap() {
        ids.insert(r.id, r.name);
    }
    ids
}

const PY_SCENARIO: &str = r#"from zae_limiter.repository import Repository as R
r = R(name=STACK, _skip_deprecation_warning=True)
await r.set_version_record(schema_version="0.10.0", lambda_version="0.17.0", updated_by="cli:0.17.0")
await r.register_namespace("default")
await r.register_namespace("tenant-alpha")
repo = await Repository.connect("tenant-alpha", stack=STACK)
limiter = RateLimiter(repository=repo)
await repo.set_system_defaults([Limit.per_minute("rpm", 100)])
await repo.set_limits("user-1", [Limit.per_minute("rpm", 10)], resource="gpt-4")
for _ in range(2):
    async with limiter.acquire("user-1", "gpt-4", consume={"rpm": 1}):
        pass
async with limiter.acquire("user-2", "gpt-4", consume={"rpm": 1}):
    pass
await repo.create_entity("proj-1")
await repo.create_entity("key-1", parent_id="proj-1", cascade=True, metadata={"tier": "gold"})
async with limiter.acquire("key-1", "api", consume={"rpm": 1}):
    pass
await repo.set_resource_defaults("embed", [Limit.per_second("rps", 5, burst=20)])
await repo.set_limits("user-3", [Limit.per_hour("tph", 1000)], resource="_default_")
await repo.set_limits("user-4", [Limit.per_hour("tph", 1000)], resource="embed")
await repo.delete_limits("user-4", resource="embed")
await repo.set_limits("user-1", [Limit.per_minute("rpm", 20)], resource="gpt-4")
await r.register_namespace("scratch")
await r.delete_namespace("scratch")
return None"#;

async fn rust_scenario(table: &Table) {
    table.write_version_record(Some("0.17.0"), "cli:0.17.0").await.unwrap();
    table.register_namespace("default").await.unwrap();
    table.register_namespace("tenant-alpha").await.unwrap();
    let repo = Repository::connect_table(table.clone(), "tenant-alpha").await.unwrap();
    let ns = repo.admin();
    let limiter = RateLimiter::new(repo);
    ns.set_system_limits(&[Limit::per_minute("rpm", 100, None).unwrap()], None, None)
        .await
        .unwrap();
    ns.set_entity_limits("user-1", "gpt-4", &[Limit::per_minute("rpm", 10, None).unwrap()], None)
        .await
        .unwrap();
    for _ in 0..2 {
        limiter
            .acquire("user-1", "gpt-4")
            .consume([("rpm", 1)])
            .await
            .unwrap()
            .commit()
            .await
            .unwrap();
    }
    limiter
        .acquire("user-2", "gpt-4")
        .consume([("rpm", 1)])
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
    ns.create_entity(&NewEntity::new("proj-1"), None).await.unwrap();
    let mut key1 = NewEntity::new("key-1").with_parent("proj-1", true);
    key1.metadata.insert("tier".into(), "gold".into());
    ns.create_entity(&key1, None).await.unwrap();
    limiter
        .acquire("key-1", "api")
        .consume([("rpm", 1)])
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
    ns.set_resource_limits("embed", &[Limit::per_second("rps", 5, Some(20)).unwrap()], None)
        .await
        .unwrap();
    ns.set_entity_limits(
        "user-3",
        "_default_",
        &[Limit::per_hour("tph", 1000, None).unwrap()],
        None,
    )
    .await
    .unwrap();
    ns.set_entity_limits("user-4", "embed", &[Limit::per_hour("tph", 1000, None).unwrap()], None)
        .await
        .unwrap();
    ns.delete_entity_limits("user-4", "embed", None).await.unwrap();
    ns.set_entity_limits("user-1", "gpt-4", &[Limit::per_minute("rpm", 20, None).unwrap()], None)
        .await
        .unwrap();
    table.register_namespace("scratch").await.unwrap();
    table.delete_namespace("scratch").await.unwrap();
}

#[tokio::test]
async fn items_match_zae_limiter_attribute_for_attribute() {
    let env = Env::start("zl-golden-py").await;
    env.python(PY_SCENARIO);
    let py_items = env.scan().await;

    let rs_table = Table::from_config(&env.config, "zl-golden-rs");
    rs_table.create_table().await.unwrap();
    rust_scenario(&rs_table).await;
    let rs_items = common::scan(rs_table.client(), rs_table.name()).await;

    let py = normalise(&py_items, &namespace_ids(&env.table).await);
    let rs = normalise(&rs_items, &namespace_ids(&rs_table).await);

    let py_keys: Vec<&String> = py.keys().collect();
    let rs_keys: Vec<&String> = rs.keys().collect();
    assert_eq!(rs_keys, py_keys, "the two libraries wrote different item sets");
    let mut mismatches = Vec::new();
    for (key, py_item) in &py {
        let rs_item = &rs[key];
        if rs_item != py_item {
            mismatches.push(format!(
                "{key}\n  python: {}\n  rust:   {}",
                serde_json::to_string(py_item).unwrap(),
                serde_json::to_string(rs_item).unwrap()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} item(s) differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );

    // Spot checks against the literal vectors of docs/wire-format.md §13 (after normalisation).
    let v4 = &rs["<ns:tenant-alpha>/BUCKET#user-1#gpt-4#0 | #STATE"];
    assert_eq!(
        v4["b_rpm_tk"],
        json!({"N": "8000"}),
        "V5: two acquires of a 10 rpm entity limit"
    );
    assert_eq!(
        v4["b_rpm_cp"],
        json!({"N": "20000"}),
        "set_limits re-parameterised the existing bucket"
    );
    assert_eq!(v4["vu"], json!({"N": "0"}), "and forced one slow pass");
    assert!(!v4.contains_key("ttl"), "V4: entity config ⇒ no TTL");
    let v6 = &rs["<ns:tenant-alpha>/BUCKET#user-2#gpt-4#0 | #STATE"];
    assert_eq!(v6["ttl"], json!({"N": "420"}), "V6: system 100 rpm ⇒ ttl = now + 420");
    let e1 = &rs["<ns:tenant-alpha>/BUCKET#key-1#api#0 | #STATE"];
    assert_eq!(e1["parent_id"], json!({"S": "proj-1"}));
    assert_eq!(e1["cascade"], json!({"BOOL": true}));
    assert!(
        rs.contains_key("<ns:tenant-alpha>/BUCKET#proj-1#api#0 | #STATE"),
        "E2: parent bucket created"
    );
    assert_eq!(rs.len(), py.len());
    assert!(rs.len() >= 25, "scenario wrote {} items", rs.len());
}
