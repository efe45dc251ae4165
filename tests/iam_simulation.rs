//! IAM policy simulation of the namespace-scoped policies (wire-format §9.4).
//!
//! A tenant administrator's session with the Python package zae-limiter 0.17.0
//! (`tests/iam_eval/tenant_session.py`) runs against the emulator while moto records every
//! request; each recorded DynamoDB call is mapped to IAM's authorization checks
//! (`iam_eval::dynamodb`) and evaluated (`iam_eval`) against the provider's documents for a
//! principal tagged `zael_namespace_id = <tenant id>`:
//!
//! * the hardened `-ns-full` allows every call of the session;
//! * the hardened `-ns-full` denies a tenant's writes to the shared `_/SYSTEM#` items (version
//!   record, namespace registry) and to another tenant's namespace, while zae-limiter 0.17.0's
//!   `-ns-full` allows the `_/SYSTEM#` ones;
//! * `-ns-acq` allows the acquire path and `-ns-read` the reads.

mod iam_eval;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use aws_sdk_dynamodb::types::{AttributeValue, KeyType};
use serde_json::{Value, json};
use terraform_provider_zae::aws::policy_document::{NAMESPACE_TAG_KEY, PolicyCompatibility, PolicyKind};

use iam_eval::dynamodb::{Check, KeySchemas, TableKeys};
use iam_eval::recording::{RecordedRequest, RecordingEmulator};
use iam_eval::{Decision, evaluate};

const TABLE: &str = "zae-iamsim";

/// The stack, its two tenants and the emulator.
struct Stack {
    table: zae_limiter::Table,
    schemas: KeySchemas,
    arn: String,
    tenant_a: String,
    tenant_b: String,
    // Dropped last: stops the emulator.
    emulator: RecordingEmulator,
}

/// How the version record is set up before the tenant session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VersionRecord {
    /// As the provider's `zae_stack` writes it: `lambda_version` NULL (the stack has no
    /// Lambda), `client_min_version = 0.0.0`.
    Provider,
    /// As `zae-limiter deploy` 0.17.0 leaves it: `lambda_version = 0.17.0`,
    /// `client_min_version = 0.0.0`. The package's feature gates ratchet the minimum up.
    Deployed,
    /// `client_min_version` already raised to 0.17.0 by the stack administrator: no gate
    /// writes the version record again.
    Ratcheted,
}

/// Creates the table with the provider's client crate, writes the version record and
/// registers `tenant-a` and `tenant-b`.
async fn stack(version: VersionRecord) -> Stack {
    let emulator = tokio::task::spawn_blocking(RecordingEmulator::start)
        .await
        .expect("emulator start");
    let config = emulator.sdk_config().await;
    let table = zae_limiter::Table::from_config(&config, TABLE);
    table.create_table().await.expect("create table");
    let lambda_version = (version != VersionRecord::Provider).then_some("0.17.0");
    table
        .write_version_record(lambda_version, "cli:0.17.0")
        .await
        .expect("version record");
    if version == VersionRecord::Ratcheted {
        table
            .client()
            .update_item()
            .table_name(TABLE)
            .key("PK", AttributeValue::S("_/SYSTEM#".into()))
            .key("SK", AttributeValue::S("#VERSION".into()))
            .update_expression("SET client_min_version = :m")
            .expression_attribute_values(":m", AttributeValue::S("0.17.0".into()))
            .send()
            .await
            .expect("raise client_min_version");
    }
    let tenant_a = table.register_namespace("tenant-a").await.expect("register tenant-a");
    let tenant_b = table.register_namespace("tenant-b").await.expect("register tenant-b");
    let described = table
        .client()
        .describe_table()
        .table_name(TABLE)
        .send()
        .await
        .expect("describe table");
    let described = described.table().expect("table description");
    let key = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement], kind: KeyType| {
        schema
            .iter()
            .find(|k| k.key_type() == &kind)
            .map(|k| k.attribute_name().to_owned())
    };
    let hash = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| key(schema, KeyType::Hash).expect("a hash key");
    let indexes = described
        .global_secondary_indexes()
        .iter()
        .map(|i| (i.index_name().unwrap().to_owned(), hash(i.key_schema())))
        .collect::<BTreeMap<_, _>>();
    assert_eq!(indexes.len(), 4, "GSI1..GSI4: {indexes:?}");
    let schemas = KeySchemas {
        region: testkit::REGION.into(),
        account: testkit::ACCOUNT_ID.into(),
        tables: BTreeMap::from([(
            TABLE.to_owned(),
            TableKeys {
                hash_key: hash(described.key_schema()),
                range_key: key(described.key_schema(), KeyType::Range),
                indexes,
            },
        )]),
    };
    Stack {
        table,
        arn: described.table_arn().expect("table ARN").to_owned(),
        schemas,
        tenant_a,
        tenant_b,
        emulator,
    }
}

/// One recorded DynamoDB call: the session step it belongs to and IAM's checks for it.
#[derive(Debug)]
struct Call {
    step: String,
    operation: String,
    checks: Vec<Check>,
}

/// What a recorded session did.
struct Session {
    /// The script's report: namespace id and steps.
    report: Value,
    calls: Vec<Call>,
    /// Requests to other services (not governed by the DynamoDB policies).
    other_requests: Vec<String>,
}

impl Stack {
    /// Runs `tests/iam_eval/tenant_session.py` in `tenant-a` (with `extra` arguments) while
    /// recording, and maps the recording.
    fn record_session(&self, extra: &[&str]) -> Session {
        self.emulator.start_recording();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/iam_eval/tenant_session.py");
        let output = Command::new(testkit::dev_tool("python"))
            .arg(&script)
            .args([TABLE, "tenant-a"])
            .args(extra)
            .envs(self.emulator.aws_env())
            .output()
            .expect("run the tenant session");
        let recording = self.emulator.stop_recording();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "tenant session failed\n--- stderr ---\n{}\n--- stdout ---\n{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_str(stdout.lines().last().expect("a report line")).expect("JSON report");
        assert_eq!(report["namespace_id"], self.tenant_a.as_str());
        let (calls, other_requests) = self.map(&recording);
        Session {
            report,
            calls,
            other_requests,
        }
    }

    fn map(&self, recording: &[RecordedRequest]) -> (Vec<Call>, Vec<String>) {
        let mut calls = Vec::new();
        let mut other = Vec::new();
        for request in recording {
            let Some(operation) = request.dynamodb_operation() else {
                other.push(request.describe());
                continue;
            };
            let step = request
                .header("X-Zae-Step")
                .unwrap_or_else(|| panic!("{operation} without a step header: {request:?}"))
                .to_owned();
            let checks = self
                .schemas
                .checks(operation, &request.json())
                .unwrap_or_else(|e| panic!("step {step}: {e}"));
            calls.push(Call {
                step,
                operation: operation.to_owned(),
                checks,
            });
        }
        (calls, other)
    }

    fn policy(&self, kind: PolicyKind, compatibility: PolicyCompatibility) -> Value {
        kind.document_with(&self.arn, compatibility)
    }
}

/// Every check of `calls` that `policy` does not allow for a principal tagged with
/// `namespace_id`, described with its step, call and decision.
fn denied(calls: &[&Call], policy: &Value, namespace_id: &str) -> Vec<String> {
    let mut out = Vec::new();
    for call in calls {
        for check in &call.checks {
            let decision = decide(policy, check, namespace_id);
            if decision != Decision::Allowed {
                out.push(format!(
                    "step {:?}: {} -> {} on {} ({decision:?})",
                    call.step, check.detail, check.action, check.resource
                ));
            }
        }
    }
    out
}

/// The decision of `policy` on `check` for a principal tagged with `namespace_id`.
///
/// With `ZAE_IAM_SIM_DUMP=<file>`, every evaluation is also appended to that file as a JSON
/// line (policy, action, resource, context keys, decision), to compare the evaluator with
/// another IAM simulator (`tests/iam_eval/crosscheck.mjs`).
fn decide(policy: &Value, check: &Check, namespace_id: &str) -> Decision {
    let context = check.context().with_principal_tag(NAMESPACE_TAG_KEY, namespace_id);
    let decision = evaluate(&[policy], &context)
        .expect("the policy is in the evaluator's subset")
        .decision;
    if let Some(path) = std::env::var_os("ZAE_IAM_SIM_DUMP") {
        use std::io::Write;
        let mut context = serde_json::Map::new();
        context.insert(format!("aws:PrincipalTag/{NAMESPACE_TAG_KEY}"), json!(namespace_id));
        if let Some(keys) = &check.leading_keys {
            context.insert("dynamodb:LeadingKeys".into(), json!(keys));
        }
        let mut line = json!({
            "policy": policy, "action": check.action, "resource": check.resource, "context": context,
            "decision": format!("{decision:?}"), "detail": check.detail,
        })
        .to_string();
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("dump file");
        // One write per line: O_APPEND keeps parallel tests' lines whole.
        file.write_all(line.as_bytes()).expect("dump");
    }
    decision
}

fn steps_failed(report: &Value) -> Vec<String> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["ok"] != true)
        .map(|s| format!("{}: {}", s["step"], s["error"]))
        .collect()
}

/// A check in short: action, index and leading keys with the tenant id spelt `{ns}` and cut
/// after the key type (`UpdateItem {ns}/BUCKET#`), for the coverage summary.
fn shape(check: &Check, namespace_id: &str) -> String {
    let keys = check.leading_keys.as_ref().map_or_else(
        || "-".to_owned(),
        |keys| {
            let short = keys.iter().map(|k| {
                let k = match k.strip_prefix(namespace_id) {
                    Some(rest) => format!("{{ns}}{rest}"),
                    None => k.clone(),
                };
                k.find('#').map_or(k.clone(), |i| k[..=i].to_owned())
            });
            short.collect::<Vec<_>>().join(",")
        },
    );
    let index = check
        .resource
        .rsplit_once("/index/")
        .map_or_else(String::new, |(_, i)| format!(" {i}"));
    format!("{}{index} {keys}", check.action.trim_start_matches("dynamodb:"))
}

fn all(calls: &[Call]) -> Vec<&Call> {
    calls.iter().collect()
}

/// The done-when of issue 8, finding 1: everything a tenant administrator does with the
/// package is allowed by the hardened `-ns-full`; the same calls are denied to a principal
/// of another namespace (so the evaluation depends on the tag).
#[tokio::test(flavor = "multi_thread")]
async fn every_tenant_operation_of_the_python_client_is_allowed_by_the_hardened_ns_full() {
    let stack = stack(VersionRecord::Ratcheted).await;
    let session = tokio::task::block_in_place(|| stack.record_session(&[]));
    let failed = steps_failed(&session.report);
    assert!(failed.is_empty(), "tenant steps failed: {failed:#?}");

    let checks: usize = session.calls.iter().map(|c| c.checks.len()).sum();
    let mut operations: BTreeMap<String, usize> = BTreeMap::new();
    let mut actions: BTreeSet<(String, bool)> = BTreeSet::new();
    let mut shapes: BTreeMap<String, usize> = BTreeMap::new();
    for call in &session.calls {
        *operations.entry(call.operation.clone()).or_default() += 1;
        for check in &call.checks {
            actions.insert((check.action.clone(), check.resource.contains("/index/")));
            *shapes.entry(shape(check, &stack.tenant_a)).or_default() += 1;
        }
    }
    let steps = session.report["steps"].as_array().unwrap().len();
    println!(
        "recorded {} DynamoDB calls ({checks} IAM checks) in {steps} tenant steps\noperations {operations:#?}\n\
         checks (action [index] leading keys) {shapes:#?}\nother requests {:?}",
        session.calls.len(),
        session.other_requests
    );
    // The session exercises every kind of call the policies distinguish.
    for op in [
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "TransactWriteItems",
    ] {
        assert!(operations.contains_key(op), "no {op} recorded: {operations:?}");
    }
    assert!(actions.contains(&("dynamodb:Query".into(), true)), "no index query");

    let hardened = stack.policy(PolicyKind::NamespaceFullAccess, PolicyCompatibility::Hardened);
    let denied_a = denied(&all(&session.calls), &hardened, &stack.tenant_a);
    assert!(
        denied_a.is_empty(),
        "the hardened -ns-full denies tenant operations:\n{}",
        denied_a.join("\n")
    );

    // The same calls made by a principal of tenant-b: every check on tenant-a's keys is denied.
    let own_checks = session
        .calls
        .iter()
        .flat_map(|c| &c.checks)
        .filter(|c| {
            c.leading_keys.as_ref().is_some_and(|keys| {
                keys.iter()
                    .any(|k| k == &stack.tenant_a || k.starts_with(&format!("{}/", stack.tenant_a)))
            })
        })
        .count();
    let denied_b = denied(&all(&session.calls), &hardened, &stack.tenant_b);
    assert_eq!(denied_b.len(), own_checks, "{denied_b:#?}");
    assert!(
        own_checks > checks / 2,
        "{own_checks} of {checks} checks touch tenant-a's keys"
    );
}

/// `-ns-acq` is enough for an application that only acquires (and reads availability);
/// `-ns-read` for the read-only steps.
#[tokio::test(flavor = "multi_thread")]
async fn acquire_and_read_subsets_fit_ns_acq_and_ns_read() {
    let stack = stack(VersionRecord::Ratcheted).await;
    let session = tokio::task::block_in_place(|| stack.record_session(&[]));
    assert!(steps_failed(&session.report).is_empty());
    let acquire_steps = |step: &str| {
        step == "connect"
            || step.starts_with("acquire(")
            || [
                "check_availability",
                "available",
                "time_until_available",
                "is_available",
            ]
            .contains(&step)
    };
    let acquire: Vec<&Call> = session.calls.iter().filter(|c| acquire_steps(&c.step)).collect();
    assert!(acquire.len() >= 20, "{} acquire-path calls", acquire.len());
    let ns_acq = stack.policy(PolicyKind::NamespaceAcquire, PolicyCompatibility::Hardened);
    let denied_acq = denied(&acquire, &ns_acq, &stack.tenant_a);
    assert!(denied_acq.is_empty(), "-ns-acq denies:\n{}", denied_acq.join("\n"));
    // -ns-acq is no admin policy: the limit and entity writes of the session are denied.
    let admin: Vec<&Call> = session
        .calls
        .iter()
        .filter(|c| c.step.starts_with("set_limits"))
        .collect();
    assert!(!denied(&admin, &ns_acq, &stack.tenant_a).is_empty());

    let read_steps = |step: &str| {
        step == "connect"
            || step.starts_with("get_")
            || step.starts_with("list_")
            || [
                "check_availability",
                "available",
                "time_until_available",
                "is_available",
            ]
            .contains(&step)
    };
    let reads: Vec<&Call> = session.calls.iter().filter(|c| read_steps(&c.step)).collect();
    let ns_read = stack.policy(PolicyKind::NamespaceReadOnly, PolicyCompatibility::Hardened);
    let denied_read = denied(&reads, &ns_read, &stack.tenant_a);
    assert!(denied_read.is_empty(), "-ns-read denies:\n{}", denied_read.join("\n"));
    let writes: Vec<&Call> = acquire.into_iter().filter(|c| c.step.starts_with("acquire(")).collect();
    assert!(!denied(&writes, &ns_read, &stack.tenant_a).is_empty());
}

/// A forged registry write, as raw requests: the version record, `tenant-b`'s forward and
/// reverse namespace records, a fresh namespace record, and `tenant-b`'s own items.
fn forged_writes(stack: &Stack) -> Vec<(String, Value)> {
    let b = &stack.tenant_b;
    let key = |pk: &str, sk: &str| json!({"PK": {"S": pk}, "SK": {"S": sk}});
    let mut out = Vec::new();
    let shared = [
        ("#VERSION".to_owned()),
        ("#NAMESPACE#tenant-b".to_owned()),
        (format!("#NSID#{b}")),
        ("#NAMESPACE#squatter".to_owned()),
    ];
    for sk in &shared {
        let k = key("_/SYSTEM#", sk);
        let mut item = k.clone();
        item["namespace_id"] = json!({"S": &stack.tenant_a});
        out.push(("PutItem".to_owned(), json!({"TableName": TABLE, "Item": item})));
        out.push((
            "UpdateItem".to_owned(),
            json!({"TableName": TABLE, "Key": k, "UpdateExpression": "SET namespace_id = :a"}),
        ));
        out.push(("DeleteItem".to_owned(), json!({"TableName": TABLE, "Key": k})));
    }
    out.push((
        "TransactWriteItems".to_owned(),
        json!({"TransactItems": [
            {"Put": {"TableName": TABLE, "Item": key("_/SYSTEM#", "#NAMESPACE#squatter")}},
            {"Put": {"TableName": TABLE, "Item": key("_/SYSTEM#", "#NSID#squatter1")}}]}),
    ));
    out.push((
        "BatchWriteItem".to_owned(),
        json!({"RequestItems": {TABLE: [{"DeleteRequest": {"Key": key("_/SYSTEM#", &format!("#NSID#{b}"))}}]}}),
    ));
    out
}

fn other_tenant_writes(stack: &Stack) -> Vec<(String, Value)> {
    let b = &stack.tenant_b;
    let key = |pk: String, sk: &str| json!({"PK": {"S": pk}, "SK": {"S": sk}});
    vec![
        (
            "PutItem".to_owned(),
            json!({"TableName": TABLE, "Item": key(format!("{b}/SYSTEM#"), "#CONFIG")}),
        ),
        (
            "UpdateItem".to_owned(),
            json!({"TableName": TABLE, "Key": key(format!("{b}/BUCKET#e#gpt-4#0"), "#STATE")}),
        ),
        (
            "DeleteItem".to_owned(),
            json!({"TableName": TABLE, "Key": key(format!("{b}/ENTITY#e"), "#META")}),
        ),
        (
            "TransactWriteItems".to_owned(),
            json!({"TransactItems": [
                {"Update": {"TableName": TABLE, "Key": key(format!("{}/BUCKET#e#r#0", stack.tenant_a), "#STATE")}},
                {"Update": {"TableName": TABLE, "Key": key(format!("{b}/BUCKET#e#r#0"), "#STATE")}}]}),
        ),
    ]
}

/// The decisions of one policy for raw requests, per check.
fn decisions(stack: &Stack, requests: &[(String, Value)], policy: &Value) -> Vec<(String, Decision)> {
    let mut out = Vec::new();
    for (operation, body) in requests {
        for check in stack.schemas.checks(operation, body).expect("mappable request") {
            out.push((check.detail.clone(), decide(policy, &check, &stack.tenant_a)));
        }
    }
    out
}

/// The IAM simulator case of the issue: an `-ns-full` principal writing `_/SYSTEM#` is
/// denied by the default (hardened) document and allowed by zae-limiter 0.17.0's; writes to
/// another tenant's namespace are denied by both; shared reads stay allowed by both.
#[tokio::test(flavor = "multi_thread")]
async fn forged_registry_writes_are_denied_by_the_hardened_ns_full_only() {
    let stack = stack(VersionRecord::Ratcheted).await;
    let hardened = stack.policy(PolicyKind::NamespaceFullAccess, PolicyCompatibility::Hardened);
    let legacy = stack.policy(PolicyKind::NamespaceFullAccess, PolicyCompatibility::ZaeLimiter0170);

    let forged = forged_writes(&stack);
    let under_hardened = decisions(&stack, &forged, &hardened);
    assert_eq!(under_hardened.len(), 15);
    for (detail, decision) in &under_hardened {
        assert_eq!(*decision, Decision::ImplicitDeny, "hardened: {detail}");
    }
    for (detail, decision) in decisions(&stack, &forged, &legacy) {
        assert_eq!(decision, Decision::Allowed, "0.17.0 allows the forged write {detail}");
    }
    for kind in [PolicyKind::NamespaceAcquire, PolicyKind::NamespaceReadOnly] {
        let policy = stack.policy(kind, PolicyCompatibility::Hardened);
        for (detail, decision) in decisions(&stack, &forged, &policy) {
            assert_eq!(decision, Decision::ImplicitDeny, "{kind:?}: {detail}");
        }
    }

    let other = other_tenant_writes(&stack);
    for policy in [&hardened, &legacy] {
        let result = decisions(&stack, &other, policy);
        assert_eq!(result.len(), 5);
        // Only the transaction member on tenant-a's own bucket passes.
        let allowed: Vec<_> = result.iter().filter(|(_, d)| *d == Decision::Allowed).collect();
        assert_eq!(allowed.len(), 1, "{result:#?}");
        assert!(allowed[0].0.contains(&format!("PK={}/BUCKET#", stack.tenant_a)));
    }

    let reads = vec![
        (
            "GetItem".to_owned(),
            json!({"TableName": TABLE, "Key": {"PK": {"S": "_/SYSTEM#"}, "SK": {"S": "#VERSION"}}}),
        ),
        (
            "Query".to_owned(),
            json!({"TableName": TABLE, "KeyConditionExpression": "PK = :p",
                "ExpressionAttributeValues": {":p": {"S": "_/SYSTEM#"}}}),
        ),
    ];
    for policy in [&hardened, &legacy] {
        for (detail, decision) in decisions(&stack, &reads, policy) {
            assert_eq!(decision, Decision::Allowed, "{detail}");
        }
    }
}

/// The same forgeries made through the package's own API by the tenant's client: each step
/// issues at least one write the hardened `-ns-full` denies, and 0.17.0's allows every
/// call of the version-record and registration steps.
#[tokio::test(flavor = "multi_thread")]
async fn the_package_s_registry_writes_by_a_tenant_are_denied() {
    let stack = stack(VersionRecord::Ratcheted).await;
    let session = tokio::task::block_in_place(|| stack.record_session(&["forge", "tenant-b"]));
    let failed = steps_failed(&session.report);
    assert!(failed.is_empty(), "{failed:#?}");
    let hardened = stack.policy(PolicyKind::NamespaceFullAccess, PolicyCompatibility::Hardened);
    let legacy = stack.policy(PolicyKind::NamespaceFullAccess, PolicyCompatibility::ZaeLimiter0170);
    for step in [
        "forge: set_version_record",
        "forge: register_namespace",
        "forge: delete_namespace(other tenant)",
    ] {
        let calls: Vec<&Call> = session.calls.iter().filter(|c| c.step == step).collect();
        assert!(!calls.is_empty(), "{step}: no calls recorded");
        let denied_hardened = denied(&calls, &hardened, &stack.tenant_a);
        assert!(
            denied_hardened
                .iter()
                .any(|d| d.contains("_/SYSTEM#") && !d.contains("GetItem ")),
            "{step}: hardened denies no shared write: {denied_hardened:#?}"
        );
        let denied_legacy = denied(&calls, &legacy, &stack.tenant_a);
        assert!(denied_legacy.is_empty(), "{step}: 0.17.0 denies {denied_legacy:#?}");
    }
    // The forgeries really happened on the emulator (it enforces no IAM).
    let record = stack.table.get_version_record(true).await.unwrap().unwrap();
    assert_eq!(record.client_min_version.as_deref(), Some("9.0.0"));
}

/// Finding: on a stack whose version record is as `zae-limiter deploy` 0.17.0 writes it
/// (`client_min_version = 0.0.0`), the package's feature gates (soft limits, `reset_after`,
/// bypass, cascade policy, parent moves, top-up) raise `client_min_version` with an
/// `UpdateItem` on `_/SYSTEM#` / `#VERSION` the first time a tenant uses one of them. The
/// hardened `-ns-full` denies exactly that write, so the tenant's call fails until the stack
/// administrator raises the minimum (the `Ratcheted` set-up of the other tests). 0.17.0's
/// document allows it.
#[tokio::test(flavor = "multi_thread")]
async fn a_feature_gate_ratchet_is_the_only_shared_write_of_a_tenant_session() {
    let stack = stack(VersionRecord::Deployed).await;
    let session = tokio::task::block_in_place(|| stack.record_session(&[]));
    assert!(steps_failed(&session.report).is_empty());
    let hardened = stack.policy(PolicyKind::NamespaceFullAccess, PolicyCompatibility::Hardened);
    let legacy = stack.policy(PolicyKind::NamespaceFullAccess, PolicyCompatibility::ZaeLimiter0170);
    let denied_hardened = denied(&all(&session.calls), &hardened, &stack.tenant_a);
    println!(
        "denied by the hardened -ns-full on a freshly deployed stack:\n{}",
        denied_hardened.join("\n")
    );
    assert!(!denied_hardened.is_empty());
    for line in &denied_hardened {
        assert!(
            line.contains("UpdateItem PK=_/SYSTEM# SK=#VERSION -> dynamodb:UpdateItem"),
            "unexpected denial: {line}"
        );
    }
    assert!(denied(&all(&session.calls), &legacy, &stack.tenant_a).is_empty());
    let record = stack.table.get_version_record(true).await.unwrap().unwrap();
    assert_eq!(record.client_min_version.as_deref(), Some("0.17.0"));
}

/// On a stack as the provider creates it (no Lambda, so `lambda_version` is NULL) the
/// package refuses the gated features itself (`VersionMismatchError`, before any write), so
/// no tenant call reaches the version record and the hardened `-ns-full` allows every call.
#[tokio::test(flavor = "multi_thread")]
async fn on_a_provider_stack_the_gated_features_fail_in_the_client_and_every_call_is_allowed() {
    let stack = stack(VersionRecord::Provider).await;
    let session = tokio::task::block_in_place(|| stack.record_session(&[]));
    let failed = steps_failed(&session.report);
    println!(
        "steps refused by the client on a provider stack:\n{}",
        failed.join("\n")
    );
    assert!(!failed.is_empty());
    for line in &failed {
        assert!(line.contains("VersionMismatchError"), "{line}");
    }
    let hardened = stack.policy(PolicyKind::NamespaceFullAccess, PolicyCompatibility::Hardened);
    let denied_a = denied(&all(&session.calls), &hardened, &stack.tenant_a);
    assert!(denied_a.is_empty(), "{}", denied_a.join("\n"));
    let record = stack.table.get_version_record(true).await.unwrap().unwrap();
    assert_eq!(record.client_min_version.as_deref(), Some("0.0.0"));
}
