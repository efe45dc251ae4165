//! `zae_limiter_stack` against the emulator: create, update in place, import, drift,
//! recovery from a failure part-way through create, deletion protection, bad input, and a
//! destroy that leaves nothing behind. zae-limiter 0.17.0 itself connects to the table.

use anyhow::{Context, ensure};
use testkit::Emulator;

use crate::harness::*;

const STACK: &str = "zae_limiter_stack.main";

/// One `zae_limiter_stack.main` named `name` with `body`, its provider pointed at
/// `endpoint` (the emulator, or a proxy in front of it).
pub(crate) fn named_stack_config(endpoint: &str, name: &str, body: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    zae = {{ source = "zae-limiter/zae" }}
  }}
}}

provider "zae" {{
  region       = "{}"
  endpoint_url = "{endpoint}"
}}

resource "zae_limiter_stack" "main" {{
  name = "{name}"
{body}
}}
"#,
        testkit::REGION
    )
}

/// Each `(body, error)`: a stack `name` with that body fails to plan with diagnostics
/// containing `error`, and nothing is created.
pub(crate) fn bad_input_cases(emulator: &Emulator, name: &str, cases: &[(String, &str)]) {
    let steps = cases
        .iter()
        .map(|(body, error)| {
            Step::Config(ConfigStep {
                hcl: named_stack_config(&emulator.endpoint(), name, body),
                expect_error: Some((*error).to_string()),
                ..ConfigStep::default()
            })
        })
        .collect();
    TestCase {
        steps,
        check_destroy: Some(nothing_left(name.to_string())),
        ..TestCase::default()
    }
    .run(emulator);
}

/// Suffixes of the six managed policies.
const POLICY_SUFFIXES: [&str; 6] = ["acq", "full", "read", "ns-acq", "ns-full", "ns-read"];

fn stack_config(emulator: &Emulator, body: &str) -> String {
    format!(
        "{}\nresource \"zae_limiter_stack\" \"main\" {{\n{body}\n}}\n",
        provider_config(emulator)
    )
}

fn dynamodb(ctx: &CheckContext<'_>) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(ctx.sdk_config())
}

fn iam(ctx: &CheckContext<'_>) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(ctx.sdk_config())
}

fn policy_arn(stack: &str, suffix: &str) -> String {
    format!("arn:aws:iam::{}:policy/{stack}-{suffix}", testkit::ACCOUNT_ID)
}

/// Nothing named after `stack` is left in DynamoDB or IAM.
pub(crate) fn nothing_left(stack: String) -> Check {
    check(move |ctx| {
        let tables = ctx.block_on(dynamodb(ctx).list_tables().send())?;
        ensure!(!tables.table_names().contains(&stack), "table {stack} still exists");
        let policies = ctx.block_on(
            iam(ctx)
                .list_policies()
                .scope(aws_sdk_iam::types::PolicyScopeType::Local)
                .send(),
        )?;
        let left: Vec<&str> = policies
            .policies()
            .iter()
            .filter_map(|p| p.policy_name())
            .filter(|n| n.starts_with(&format!("{stack}-")))
            .collect();
        ensure!(left.is_empty(), "policies still exist: {left:?}");
        Ok(())
    })
}

/// The table is built exactly as zae-limiter defines it, with TTL and the given PITR period.
fn table_matches_definition(stack: String, pitr_days: Option<i32>) -> Check {
    check(move |ctx| {
        let ddb = dynamodb(ctx);
        let described = ctx.block_on(ddb.describe_table().table_name(&stack).send())?;
        let table = described.table().context("no table description")?;
        let mut gsis: Vec<&str> = table
            .global_secondary_indexes()
            .iter()
            .filter_map(|i| i.index_name())
            .collect();
        gsis.sort_unstable();
        ensure!(gsis == ["GSI1", "GSI2", "GSI3", "GSI4"], "GSIs are {gsis:?}");
        ensure!(
            table.local_secondary_indexes().len() == 5,
            "LSIs: {:?}",
            table.local_secondary_indexes()
        );
        ensure!(
            table.attribute_definitions().len() == 15,
            "attribute definitions: {}",
            table.attribute_definitions().len()
        );
        let stream = table.stream_specification().context("no stream")?;
        ensure!(
            stream.stream_enabled() && stream.stream_view_type().map(|v| v.as_str()) == Some("NEW_AND_OLD_IMAGES"),
            "stream is {stream:?}"
        );
        let billing = table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str().to_string());
        ensure!(
            billing.as_deref() == Some("PAY_PER_REQUEST"),
            "billing mode {billing:?}"
        );
        let ttl = ctx.block_on(ddb.describe_time_to_live().table_name(&stack).send())?;
        let ttl = ttl.time_to_live_description().context("no TTL description")?;
        ensure!(
            ttl.attribute_name() == Some("ttl"),
            "TTL attribute {:?}",
            ttl.attribute_name()
        );
        let pitr = ctx.block_on(ddb.describe_continuous_backups().table_name(&stack).send())?;
        let pitr = pitr
            .continuous_backups_description()
            .and_then(|c| c.point_in_time_recovery_description())
            .context("no PITR description")?;
        let enabled = pitr.point_in_time_recovery_status().map(|s| s.as_str()) == Some("ENABLED");
        match pitr_days {
            None => ensure!(!enabled, "PITR should be off"),
            Some(days) => {
                ensure!(enabled, "PITR should be on");
                ensure!(
                    pitr.recovery_period_in_days() == Some(days),
                    "PITR days {:?}",
                    pitr.recovery_period_in_days()
                );
            }
        }
        Ok(())
    })
}

/// The data-plane records of a deploy exist: version record and `default` namespace.
fn bootstrap_records_exist(stack: String) -> Check {
    check(move |ctx| {
        let ddb = dynamodb(ctx);
        let key = |sk: &str| {
            std::collections::HashMap::from([
                (
                    "PK".to_string(),
                    aws_sdk_dynamodb::types::AttributeValue::S("_/SYSTEM#".into()),
                ),
                ("SK".to_string(), aws_sdk_dynamodb::types::AttributeValue::S(sk.into())),
            ])
        };
        let version = ctx.block_on(ddb.get_item().table_name(&stack).set_key(Some(key("#VERSION"))).send())?;
        let item = version.item().context("no version record")?;
        ensure!(
            item.get("schema_version")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                == Some("0.10.0")
        );
        let ns = ctx.block_on(
            ddb.get_item()
                .table_name(&stack)
                .set_key(Some(key("#NAMESPACE#default")))
                .send(),
        )?;
        let ns = ns.item().context("no default namespace")?;
        let id = ns
            .get("namespace_id")
            .and_then(|v| v.as_s().ok())
            .context("no namespace id")?;
        let state_id = ctx.state.attr_str(STACK, "default_namespace_id")?;
        ensure!(
            id == state_id,
            "default namespace id {id} differs from state {state_id}"
        );
        Ok(())
    })
}

/// Runs `repo = await Repository.{call}` (e.g. `connect('default', stack='x', ...)`) of
/// zae-limiter 0.17.0 in the dev virtualenv, with dummy credentials; an error unless it
/// succeeds.
pub(crate) fn python_repository(call: &str) -> anyhow::Result<()> {
    let script = format!(
        "import asyncio\nfrom zae_limiter import Repository\n\
         async def main():\n    repo = await Repository.{call}\n    print('@@repository ok@@')\n    \
         await repo.close()\nasyncio.run(main())\n"
    );
    let out = std::process::Command::new(testkit::dev_tool("python"))
        .arg("-c")
        .arg(&script)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success() && stdout.contains("@@repository ok@@"),
        "Repository.{call} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// zae-limiter 0.17.0's own `Repository.connect` succeeds on the table.
fn python_connects(stack: String, emulator_endpoint: String) -> Check {
    check(move |_ctx| {
        python_repository(&format!(
            "connect('default', stack='{stack}', endpoint_url='{emulator_endpoint}', region='{}')",
            testkit::REGION
        ))
    })
}

#[test]
fn stack_creates_updates_in_place_imports_and_destroys() {
    let emulator = Emulator::start();
    let name = unique_name("stack");
    let table_arn = format!(
        "arn:aws:dynamodb:{}:{}:table/{name}",
        testkit::REGION,
        testkit::ACCOUNT_ID
    );
    let mut created_checks = vec![
        attr_eq(STACK, "id", name.as_str()),
        attr_eq(STACK, "table_name", name.as_str()),
        attr_eq(STACK, "table_arn", table_arn.as_str()),
        attr_eq(STACK, "schema_version", "0.10.0"),
        attr_eq(STACK, "tags_all.Application", "zae-limiter"),
        attr_eq(STACK, "tags_all.team", "platform"),
        attr_starts_with(STACK, "stream_arn", &format!("{table_arn}/stream/")),
        table_matches_definition(name.clone(), Some(7)),
        bootstrap_records_exist(name.clone()),
        python_connects(name.clone(), emulator.endpoint()),
    ];
    for (suffix, attr) in POLICY_SUFFIXES.iter().zip([
        "acquire_only_policy_arn",
        "full_access_policy_arn",
        "read_only_policy_arn",
        "namespace_acquire_policy_arn",
        "namespace_full_access_policy_arn",
        "namespace_read_only_policy_arn",
    ]) {
        created_checks.push(attr_eq(STACK, attr, policy_arn(&name, suffix)));
    }
    // The update must happen in place: the table ARN and its stream stay the same.
    let same_table = table_arn.clone();
    let updated_checks = vec![
        attr_eq(STACK, "pitr_recovery_days", 0),
        attr_eq(STACK, "deletion_protection", true),
        attr_eq(STACK, "tags.team", "data"),
        attr_eq(STACK, "table_arn", same_table.as_str()),
        table_matches_definition(name.clone(), None),
        check({
            let name = name.clone();
            move |ctx| {
                let ddb = dynamodb(ctx);
                let t = ctx.block_on(ddb.describe_table().table_name(&name).send())?;
                ensure!(
                    t.table().and_then(|t| t.deletion_protection_enabled()) == Some(true),
                    "not protected"
                );
                let tags = ctx.block_on(ddb.list_tags_of_resource().resource_arn(&same_table).send())?;
                let team = tags
                    .tags()
                    .iter()
                    .find(|t| t.key() == "team")
                    .map(|t| t.value().to_string());
                ensure!(team.as_deref() == Some("data"), "team tag is {team:?}");
                Ok(())
            }
        }),
    ];
    TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: stack_config(
                    &emulator,
                    &format!("name = \"{name}\"\npitr_recovery_days = 7\ntags = {{ team = \"platform\" }}"),
                ),
                checks: created_checks,
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: stack_config(
                    &emulator,
                    &format!(
                        "name = \"{name}\"\npitr_recovery_days = 0\ndeletion_protection = true\n\
                         tags = {{ team = \"data\" }}"
                    ),
                ),
                checks: updated_checks,
                ..ConfigStep::default()
            }),
            Step::Import(ImportStep {
                resource_address: STACK.into(),
                by: ImportBy::Id(name.clone()),
                verify_ignore: vec!["timeouts".into()],
            }),
            // Protection off again so the runner's destroy can proceed.
            Step::Config(ConfigStep {
                hcl: stack_config(
                    &emulator,
                    &format!("name = \"{name}\"\npitr_recovery_days = 0\ntags = {{ team = \"data\" }}"),
                ),
                checks: vec![attr_eq(STACK, "deletion_protection", false)],
                ..ConfigStep::default()
            }),
        ],
        check_destroy: Some(nothing_left(name.clone())),
        ..TestCase::default()
    }
    .run_each_terraform(&emulator);
}

#[test]
fn stack_destroy_is_refused_at_plan_while_protected() {
    let emulator = Emulator::start();
    let name = unique_name("prot");
    let wd = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    wd.write_config(&stack_config(
        &emulator,
        &format!("name = \"{name}\"\ndeletion_protection = true"),
    ));
    let tf = wd.terraform();
    tf.apply().expect("apply");
    let err = tf
        .run_expect_failure(&["destroy", "-no-color", "-input=false", "-auto-approve"])
        .expect("destroy fails");
    assert!(err.contains("Stack is protected from deletion"), "{err}");
    assert!(
        err.contains("deletion_protection"),
        "the diagnostic names the attribute: {err}"
    );
    let state = tf.show_json().expect("state");
    assert!(
        state.addresses().contains(&STACK.to_string()),
        "the stack stays in state"
    );
    // Renaming would replace the table: refused the same way.
    wd.write_config(&stack_config(
        &emulator,
        &format!("name = \"{name}-x\"\ndeletion_protection = true"),
    ));
    let err = tf.plan_expect_error().expect("plan fails");
    let flat = err.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("cannot be replaced"), "{err}");
    wd.write_config(&stack_config(
        &emulator,
        &format!("name = \"{name}\"\ndeletion_protection = false"),
    ));
    tf.apply().expect("apply turns protection off");
    tf.destroy().expect("destroy");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ddb = aws_sdk_dynamodb::Client::new(&rt.block_on(emulator.sdk_config()));
    let tables = rt.block_on(ddb.list_tables().send()).expect("list tables");
    assert!(!tables.table_names().contains(&name), "table still exists");
}

#[test]
fn stack_drift_is_detected_and_repaired() {
    let emulator = Emulator::start();
    let name = unique_name("drift");
    let wd = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    wd.write_config(&stack_config(&emulator, &format!("name = \"{name}\"")));
    let tf = wd.terraform();
    tf.apply().expect("apply");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sdk = rt.block_on(emulator.sdk_config());
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);

    // A policy deleted and another edited by hand: an in-place update restores both.
    rt.block_on(iam.delete_policy().policy_arn(policy_arn(&name, "read")).send())
        .expect("delete policy");
    let other = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    rt.block_on(
        iam.create_policy_version()
            .policy_arn(policy_arn(&name, "full"))
            .policy_document(other)
            .set_as_default(true)
            .send(),
    )
    .expect("edit policy");
    match tf.plan().expect("plan") {
        Plan::Changes { text } => {
            assert!(text.contains("will be updated in-place"), "{text}");
            assert!(text.contains("read_only_policy_arn"), "{text}");
            assert!(text.contains("full_access_policy_arn"), "{text}");
            assert!(text.contains("Managed policy changed outside Terraform"), "{text}");
        }
        Plan::NoChanges => panic!("a deleted policy must show in the plan"),
    }
    tf.apply().expect("apply restores the policies");
    assert!(
        matches!(tf.plan().expect("plan"), Plan::NoChanges),
        "plan after repair is empty"
    );
    let restored = rt
        .block_on(iam.get_policy().policy_arn(policy_arn(&name, "read")).send())
        .expect("policy back");
    assert!(restored.policy().is_some());

    // The version record deleted by hand: zae-limiter clients could no longer connect, so
    // the plan shows it and the apply writes it again.
    let version_key = std::collections::HashMap::from([
        (
            "PK".to_string(),
            aws_sdk_dynamodb::types::AttributeValue::S("_/SYSTEM#".into()),
        ),
        (
            "SK".to_string(),
            aws_sdk_dynamodb::types::AttributeValue::S("#VERSION".into()),
        ),
    ]);
    rt.block_on(
        ddb.delete_item()
            .table_name(&name)
            .set_key(Some(version_key.clone()))
            .send(),
    )
    .expect("delete version record");
    match tf.plan().expect("plan") {
        Plan::Changes { text } => {
            assert!(text.contains("schema_version"), "{text}");
            assert!(text.contains("zae-limiter record missing"), "{text}");
        }
        Plan::NoChanges => panic!("a deleted version record must show in the plan"),
    }
    tf.apply().expect("apply writes the version record");
    let record = rt
        .block_on(ddb.get_item().table_name(&name).set_key(Some(version_key)).send())
        .expect("get");
    assert!(record.item().is_some(), "version record restored");
    assert!(matches!(tf.plan().expect("plan"), Plan::NoChanges));

    // The table deleted by hand: the next plan creates the stack again.
    rt.block_on(ddb.delete_table().table_name(&name).send())
        .expect("delete table");
    match tf.plan().expect("plan") {
        Plan::Changes { text } => assert!(text.contains("will be created"), "{text}"),
        Plan::NoChanges => panic!("a deleted table must show in the plan"),
    }
    // Its policies are still there; clear them so the re-create can make new ones.
    for suffix in POLICY_SUFFIXES {
        let _ = rt.block_on(iam.delete_policy().policy_arn(policy_arn(&name, suffix)).send());
    }
    tf.apply().expect("apply re-creates");
    assert!(matches!(tf.plan().expect("plan"), Plan::NoChanges));
    tf.destroy().expect("destroy");
}

#[test]
fn stack_failure_part_way_through_create_is_recoverable() {
    let emulator = Emulator::start();
    let name = unique_name("half");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sdk = rt.block_on(emulator.sdk_config());
    let iam = aws_sdk_iam::Client::new(&sdk);
    // Someone else owns a policy with the name of the stack's third policy.
    let squatter = policy_arn(&name, "read");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    rt.block_on(
        iam.create_policy()
            .policy_name(format!("{name}-read"))
            .policy_document(doc)
            .send(),
    )
    .expect("create squatting policy");

    let wd = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    wd.write_config(&stack_config(&emulator, &format!("name = \"{name}\"")));
    let tf = wd.terraform();
    let err = tf.apply_expect_error().expect("apply fails");
    assert!(err.contains("Cannot create the managed policy"), "{err}");
    assert!(
        err.contains(&format!("{name}-read")),
        "the diagnostic names the policy: {err}"
    );

    // State records what exists: the table and the first two policies.
    let state = tf.show_json().expect("state");
    assert_eq!(state.attr_str(STACK, "table_name").expect("table"), name);
    assert_eq!(
        state.attr_str(STACK, "acquire_only_policy_arn").expect("acq"),
        policy_arn(&name, "acq")
    );
    assert_eq!(
        state.attr_str(STACK, "full_access_policy_arn").expect("full"),
        policy_arn(&name, "full")
    );
    assert!(state.attr(STACK, "read_only_policy_arn").expect("attr").is_null());

    // Once the conflict is gone, the next apply finishes the job...
    rt.block_on(iam.delete_policy().policy_arn(&squatter).send())
        .expect("remove squatter");
    tf.apply().expect("second apply");
    assert!(matches!(tf.plan().expect("plan"), Plan::NoChanges), "converged");
    let state = tf.show_json().expect("state");
    assert_eq!(state.attr_str(STACK, "read_only_policy_arn").expect("read"), squatter);
    // ...and destroy removes everything: nothing is orphaned.
    tf.destroy().expect("destroy");
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let tables = rt.block_on(ddb.list_tables().send()).expect("tables");
    assert!(!tables.table_names().contains(&name));
    let left = rt
        .block_on(
            iam.list_policies()
                .scope(aws_sdk_iam::types::PolicyScopeType::Local)
                .send(),
        )
        .expect("list");
    let left: Vec<_> = left
        .policies()
        .iter()
        .filter_map(|p| p.policy_name())
        .filter(|n| n.starts_with(&name))
        .collect();
    assert!(left.is_empty(), "orphaned policies: {left:?}");
}

#[test]
fn stack_bad_input_is_reported_at_validate_against_the_attribute() {
    let emulator = Emulator::start();
    let wd = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    let tf = wd.terraform();
    let cases = [
        ("name = \"rate_limits\"", "Contains underscore", "name"),
        ("name = \"9lives\"", "Must start with a letter", "name"),
        (&*format!("name = \"{}\"", "a".repeat(56)), "Too long", "name"),
        (
            "name = \"ok-name\"\npitr_recovery_days = 36",
            "between 0 and 35, got 36",
            "pitr_recovery_days",
        ),
        (
            "name = \"ok-name\"\ntags = { \"aws:owner\" = \"x\" }",
            "reserved prefix",
            "tags",
        ),
        (
            "name = \"ok-name\"\nbogus = 1",
            "An argument named \"bogus\" is not expected here",
            "bogus",
        ),
        (
            "name = \"ok-name\"\ntimeouts {\n create = \"ten\"\n}",
            "is not a duration",
            "create",
        ),
    ];
    for (body, message, attribute) in cases {
        wd.write_config(&stack_config(&emulator, body));
        let err = tf.validate_expect_error().expect("validate fails");
        let flat = err.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(message), "{body}: expected {message:?} in {err}");
        assert!(
            err.contains(&format!("{attribute} ")),
            "{body}: the diagnostic points at {attribute}: {err}"
        );
    }
    // Nothing was created by any of them.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ddb = aws_sdk_dynamodb::Client::new(&rt.block_on(emulator.sdk_config()));
    assert!(
        rt.block_on(ddb.list_tables().send())
            .expect("tables")
            .table_names()
            .is_empty()
    );
}

#[test]
fn stack_import_refuses_a_table_that_is_not_a_zae_limiter_table() {
    let emulator = Emulator::start();
    let name = unique_name("foreign");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ddb = aws_sdk_dynamodb::Client::new(&rt.block_on(emulator.sdk_config()));
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    rt.block_on(
        ddb.create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send(),
    )
    .expect("create foreign table");
    let wd = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    wd.write_config(&stack_config(&emulator, &format!("name = \"{name}\"")));
    let err = wd.terraform().import_expect_error(STACK, &name).expect("import fails");
    assert!(err.contains("Not a zae-limiter table"), "{err}");
    let err = wd
        .terraform()
        .import_expect_error(STACK, "missing-stack")
        .expect("import fails");
    assert!(err.contains("Stack not found"), "{err}");
}

/// IAM policy names are global to the account: a stack of the same name in another region
/// owns policies named like this stack's. Import (whose state has no policy ARNs yet) must
/// refuse to adopt such a policy, and leave it as it is.
#[test]
fn stack_import_refuses_a_same_named_policy_of_another_region() {
    use terraform_provider_zae::aws::policy_document::PolicyKind;
    use terraform_provider_zae::aws::table::{self, TableSettings};

    let emulator = Emulator::start();
    let name = unique_name("twin");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sdk = rt.block_on(emulator.sdk_config());
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let settings = TableSettings {
        name: name.clone(),
        pitr_recovery_days: 0,
        deletion_protection: false,
        tags: Default::default(),
    };
    rt.block_on(table::create_table(&ddb, &settings))
        .expect("create the table");
    let twin_table = format!("arn:aws:dynamodb:eu-west-1:{}:table/{name}", testkit::ACCOUNT_ID);
    let twin_document = PolicyKind::AcquireOnly.document_json(&twin_table);
    rt.block_on(
        iam.create_policy()
            .policy_name(PolicyKind::AcquireOnly.policy_name(&name))
            .policy_document(&twin_document)
            .send(),
    )
    .expect("create the twin's policy");

    let wd = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    wd.write_config(&stack_config(&emulator, &format!("name = \"{name}\"")));
    let err = wd.terraform().import_expect_error(STACK, &name).expect("import fails");
    assert!(err.contains("Managed policy belongs to another table"), "{err}");
    assert!(err.contains(&twin_table), "{err}");

    let policy = rt
        .block_on(iam.get_policy().policy_arn(policy_arn(&name, "acq")).send())
        .expect("the twin's policy is still there");
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .expect("version")
        .to_string();
    let document = rt
        .block_on(
            iam.get_policy_version()
                .policy_arn(policy_arn(&name, "acq"))
                .version_id(version)
                .send(),
        )
        .expect("its document");
    let text = document.policy_version().and_then(|v| v.document()).unwrap_or_default();
    assert!(text.contains("eu-west-1"), "the twin's policy was rewritten: {text}");
}

/// The `-ns-full` document a check reads from IAM, as JSON.
fn ns_full_document(ctx: &CheckContext<'_>, stack: &str) -> anyhow::Result<serde_json::Value> {
    let iam = iam(ctx);
    let arn = policy_arn(stack, "ns-full");
    let policy = ctx.block_on(iam.get_policy().policy_arn(&arn).send())?;
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .context("no default version")?
        .to_string();
    let document = ctx.block_on(iam.get_policy_version().policy_arn(&arn).version_id(version).send())?;
    let raw = document
        .policy_version()
        .and_then(|v| v.document())
        .context("no document")?;
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8()?;
    Ok(serde_json::from_str(&decoded)?)
}

/// Which actions of the `-ns-full` document may touch the shared `_/*` items.
fn shared_actions(document: &serde_json::Value) -> Vec<String> {
    let mut actions = Vec::new();
    for statement in document["Statement"].as_array().into_iter().flatten() {
        let keys = &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
        if keys.as_array().is_some_and(|k| k.iter().any(|v| v == "_/*")) {
            let listed = statement["Action"].as_array().into_iter().flatten();
            actions.extend(listed.filter_map(|a| a.as_str().map(str::to_owned)));
        }
    }
    actions.sort();
    actions
}

fn shared_writes_allowed(stack: String, allowed: bool) -> Check {
    check(move |ctx| {
        let actions = shared_actions(&ns_full_document(ctx, &stack)?);
        ensure!(!actions.is_empty(), "the tenant admin cannot read the shared items");
        let writes = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"];
        let writes_shared = actions.iter().any(|a| writes.contains(&a.as_str()));
        ensure!(writes_shared == allowed, "shared actions of ns-full: {actions:?}");
        Ok(())
    })
}

/// By default the tenant administrator policy may only read `_/*`; `policy_compatibility =
/// "0.17.0"` restores zae-limiter's documents in place (and import recognises them).
#[test]
fn stack_policies_are_hardened_by_default_and_compatible_on_request() {
    let emulator = Emulator::start();
    let name = unique_name("harden");
    TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: stack_config(&emulator, &format!("name = \"{name}\"")),
                checks: vec![
                    attr_eq(STACK, "policy_compatibility", "hardened"),
                    shared_writes_allowed(name.clone(), false),
                ],
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: stack_config(
                    &emulator,
                    &format!("name = \"{name}\"\npolicy_compatibility = \"0.17.0\""),
                ),
                checks: vec![
                    attr_eq(STACK, "policy_compatibility", "0.17.0"),
                    attr_eq(STACK, "namespace_full_access_policy_arn", policy_arn(&name, "ns-full")),
                    shared_writes_allowed(name.clone(), true),
                ],
                ..ConfigStep::default()
            }),
            Step::Import(ImportStep {
                resource_address: STACK.into(),
                by: ImportBy::Id(name.clone()),
                verify_ignore: vec!["timeouts".into()],
            }),
        ],
        check_destroy: Some(nothing_left(name.clone())),
        ..TestCase::default()
    }
    .run(&emulator);
}
