//! `zae_limiter_stack` with its aggregator and audit archive, against the emulator: every
//! piece created as zae-limiter deploys it (function, stream mapping with a matching audit
//! filter, DLQ, log group, least-privilege role, archive bucket), updated in place, found
//! again by an import, restored after changes made outside Terraform, refused where data
//! would be lost, and gone after destroy. The emulator stores functions but cannot run
//! them; the packaged bootstrap runs in zae-limiter-aggregator's own tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, ensure};
use terraform_provider_zae::aws::lambda::AGGREGATOR_FILTER_PATTERNS;
use testkit::Emulator;

use crate::harness::*;

const STACK: &str = "zae_limiter_stack.main";

/// Brings the built-in aggregator package up to date once per test run
/// (scripts/build-aggregator.sh: the glibc 2.34 `bootstrap` and its zip in the workspace
/// target dir, where the provider under test looks for it).
pub(crate) fn built_package() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let target = PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-zae"))
            .parent()
            .and_then(|p| p.parent())
            .expect("target dir")
            .to_path_buf();
        let status = Command::new(testkit::workspace_root().join("scripts/build-aggregator.sh"))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("run scripts/build-aggregator.sh");
        assert!(status.success(), "scripts/build-aggregator.sh failed");
    });
}

fn stack_config(emulator: &Emulator, name: &str, body: &str) -> String {
    crate::stack::named_stack_config(&emulator.endpoint(), name, body)
}

fn lambda(ctx: &CheckContext<'_>) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(ctx.sdk_config())
}

fn iam(ctx: &CheckContext<'_>) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(ctx.sdk_config())
}

fn s3(ctx: &CheckContext<'_>) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(ctx.sdk_config())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn function_name(stack: &str) -> String {
    format!("{stack}-aggregator")
}

/// The function runs the built-in package with 0.17.0's environment and these settings.
fn function_is(stack: &str, memory: i32, windows: &'static str, archive: bool, tracing: bool) -> Check {
    let stack = stack.to_string();
    check(move |ctx| {
        let out = ctx.block_on(lambda(ctx).get_function().function_name(function_name(&stack)).send())?;
        let f = out.configuration().context("no configuration")?;
        ensure!(
            f.runtime().map(|r| r.as_str()) == Some("provided.al2023"),
            "runtime {:?}",
            f.runtime()
        );
        ensure!(f.handler() == Some("bootstrap"), "handler {:?}", f.handler());
        ensure!(f.memory_size() == Some(memory), "memory {:?}", f.memory_size());
        let sha = ctx.state.attr_str(STACK, "aggregator_code_sha256")?;
        ensure!(
            f.code_sha256() == Some(sha),
            "code {:?} vs state {sha}",
            f.code_sha256()
        );
        let role = ctx.state.attr_str(STACK, "aggregator_role_arn")?;
        ensure!(role.ends_with(&format!(":role/{stack}-aggr")), "role {role}");
        ensure!(f.role() == Some(role), "function role {:?}", f.role());
        let mode = f
            .tracing_config()
            .and_then(|t| t.mode())
            .map(|m| m.as_str().to_string());
        let want_mode = if tracing { "Active" } else { "PassThrough" };
        ensure!(mode.as_deref() == Some(want_mode), "tracing {mode:?}");
        let env: BTreeMap<String, String> = f
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        ensure!(env.get("TABLE_NAME") == Some(&stack), "env {env:?}");
        ensure!(
            env.get("SNAPSHOT_WINDOWS").map(String::as_str) == Some(windows),
            "env {env:?}"
        );
        ensure!(
            env.get("ZAE_LIMITER_SCHEMA_VERSION").map(String::as_str) == Some("0.10.0"),
            "env {env:?}"
        );
        ensure!(env.get("ENABLE_ARCHIVAL").map(String::as_str) == Some(if archive { "true" } else { "false" }));
        if archive {
            let bucket = ctx.state.attr_str(STACK, "archive_bucket_name")?;
            ensure!(
                env.get("ARCHIVE_BUCKET_NAME").map(String::as_str) == Some(bucket),
                "env {env:?}"
            );
        }
        Ok(())
    })
}

/// The stream mapping is enabled with 0.17.0's batch settings, this provider's filters
/// and failures to the DLQ.
fn mapping_is_wired() -> Check {
    check(|ctx| {
        let uuid = ctx.state.attr_str(STACK, "event_source_mapping_id")?;
        let m = ctx.block_on(lambda(ctx).get_event_source_mapping().uuid(uuid).send())?;
        ensure!(m.state() == Some("Enabled"), "state {:?}", m.state());
        ensure!(m.batch_size() == Some(100) && m.maximum_batching_window_in_seconds() == Some(5));
        ensure!(m.event_source_arn() == Some(ctx.state.attr_str(STACK, "stream_arn")?));
        let filters: Vec<&str> = m
            .filter_criteria()
            .map(|c| c.filters().iter().filter_map(|f| f.pattern()).collect())
            .unwrap_or_default();
        ensure!(filters == AGGREGATOR_FILTER_PATTERNS, "filters {filters:?}");
        let destination = m
            .destination_config()
            .and_then(|d| d.on_failure())
            .and_then(|f| f.destination());
        ensure!(
            destination == Some(ctx.state.attr_str(STACK, "dlq_arn")?),
            "destination {destination:?}"
        );
        Ok(())
    })
}

/// The created role holds exactly these inline policies.
fn role_policies_are(stack: &str, expected: &'static [&'static str]) -> Check {
    let role = format!("{stack}-aggr");
    check(move |ctx| {
        let listed = ctx.block_on(iam(ctx).list_role_policies().role_name(&role).send())?;
        let mut names: Vec<&str> = listed.policy_names().iter().map(String::as_str).collect();
        names.sort_unstable();
        let mut want = expected.to_vec();
        want.sort_unstable();
        ensure!(names == want, "inline policies {names:?}, expected {want:?}");
        let attached = ctx.block_on(iam(ctx).list_attached_role_policies().role_name(&role).send())?;
        ensure!(
            attached.attached_policies().is_empty(),
            "managed policies attached: {attached:?}"
        );
        Ok(())
    })
}

/// The log group exists with this retention.
fn log_retention_is(stack: &str, days: i32) -> Check {
    let group = format!("/aws/lambda/{stack}-aggregator");
    check(move |ctx| {
        let logs = aws_sdk_cloudwatchlogs::Client::new(ctx.sdk_config());
        let out = ctx.block_on(logs.describe_log_groups().log_group_name_prefix(&group).send())?;
        let found = out
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(group.as_str()));
        let retention = found.context("log group missing")?.retention_in_days();
        ensure!(retention == Some(days), "retention {retention:?}");
        Ok(())
    })
}

/// The archive bucket is encrypted, private and transitions to Glacier IR.
fn archive_bucket_is_private() -> Check {
    check(|ctx| {
        let bucket = ctx.state.attr_str(STACK, "archive_bucket_name")?;
        let s3 = s3(ctx);
        let enc = ctx.block_on(s3.get_bucket_encryption().bucket(bucket).send())?;
        let algo = enc
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map(|d| d.sse_algorithm().as_str().to_string());
        ensure!(algo.as_deref() == Some("AES256"), "encryption {algo:?}");
        let block = ctx.block_on(s3.get_public_access_block().bucket(bucket).send())?;
        let c = block
            .public_access_block_configuration()
            .context("no public access block")?;
        ensure!(c.block_public_acls() == Some(true) && c.restrict_public_buckets() == Some(true));
        Ok(())
    })
}

/// zae-limiter 0.17.0's `Repository.open(auto_update=True)` (which deploys its own
/// aggregator when the version record asks for another) leaves the built-in aggregator's
/// code alone: the record's `lambda_version` is null. The step's refresh then proves the
/// version record unchanged too (its `lambda_version` is read back into state).
fn python_auto_update_keeps_the_code(stack: &str, endpoint: String) -> Check {
    let stack = stack.to_string();
    check(move |ctx| {
        crate::stack::python_repository(&format!(
            "open('default', stack='{stack}', endpoint_url='{endpoint}', region='{}', auto_update=True)",
            testkit::REGION
        ))?;
        let f = ctx.block_on(lambda(ctx).get_function().function_name(function_name(&stack)).send())?;
        let sha = f.configuration().and_then(|c| c.code_sha256());
        let state = ctx.state.attr_str(STACK, "aggregator_code_sha256")?;
        ensure!(
            sha == Some(state),
            "auto_update replaced the code: {sha:?}, state {state}"
        );
        Ok(())
    })
}

/// The function, DLQ, role and log group carry `Team = team` and no `Old` tag.
fn pieces_tagged(stack: &str, team: &'static str) -> Check {
    let stack = stack.to_string();
    check(move |ctx| {
        let ok = |tags: BTreeMap<String, String>, what: &str| {
            ensure!(
                tags.get("Team").map(String::as_str) == Some(team) && !tags.contains_key("Old"),
                "{what} tags {tags:?}"
            );
            Ok(())
        };
        let f = ctx.block_on(lambda(ctx).get_function().function_name(function_name(&stack)).send())?;
        ok(f.tags().cloned().unwrap_or_default().into_iter().collect(), "function")?;
        let sqs = aws_sdk_sqs::Client::new(ctx.sdk_config());
        let url = ctx.state.attr_str(STACK, "dlq_url")?;
        let q = ctx.block_on(sqs.list_queue_tags().queue_url(url).send())?;
        ok(q.tags().cloned().unwrap_or_default().into_iter().collect(), "queue")?;
        let r = ctx.block_on(iam(ctx).list_role_tags().role_name(format!("{stack}-aggr")).send())?;
        ok(
            r.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
            "role",
        )?;
        let logs = aws_sdk_cloudwatchlogs::Client::new(ctx.sdk_config());
        let arn = format!(
            "arn:aws:logs:{}:{}:log-group:/aws/lambda/{stack}-aggregator",
            testkit::REGION,
            testkit::ACCOUNT_ID
        );
        let l = ctx.block_on(logs.list_tags_for_resource().resource_arn(arn).send())?;
        ok(l.tags().cloned().unwrap_or_default().into_iter().collect(), "log group")
    })
}

/// No piece of `stack`'s aggregator or archive is left.
pub(crate) fn no_aggregator_left(stack: String, bucket: Option<String>) -> Check {
    check(move |ctx| {
        let functions = ctx.block_on(lambda(ctx).list_functions().send())?;
        ensure!(
            !functions
                .functions()
                .iter()
                .any(|f| f.function_name() == Some(function_name(&stack).as_str())),
            "function left"
        );
        let mappings = ctx.block_on(lambda(ctx).list_event_source_mappings().send())?;
        let stream_prefix = format!("table/{stack}/stream");
        ensure!(
            !mappings
                .event_source_mappings()
                .iter()
                .any(|m| m.event_source_arn().is_some_and(|a| a.contains(&stream_prefix))),
            "event source mapping left"
        );
        let role = ctx.block_on(iam(ctx).get_role().role_name(format!("{stack}-aggr")).send());
        ensure!(role.is_err(), "role {stack}-aggr left");
        let sqs = aws_sdk_sqs::Client::new(ctx.sdk_config());
        let queue = ctx.block_on(sqs.get_queue_url().queue_name(format!("{stack}-aggregator-dlq")).send());
        ensure!(queue.is_err(), "DLQ left");
        let logs = aws_sdk_cloudwatchlogs::Client::new(ctx.sdk_config());
        let group = format!("/aws/lambda/{stack}-aggregator");
        let groups = ctx.block_on(logs.describe_log_groups().log_group_name_prefix(&group).send())?;
        ensure!(groups.log_groups().is_empty(), "log group left");
        if let Some(bucket) = &bucket {
            let head = ctx.block_on(s3(ctx).head_bucket().bucket(bucket).send());
            ensure!(head.is_err(), "bucket {bucket} left");
        }
        Ok(())
    })
}

#[test]
fn aggregator_and_archive_create_update_import_and_destroy() {
    built_package();
    let emulator = Emulator::start();
    let name = unique_name("acc-aggr");
    let with_archive = stack_config(
        &emulator,
        &name,
        r#"  tags = { Team = "a", Old = "x" }
  aggregator {
    snapshot_windows   = ["hourly", "daily", "monthly"]
    log_retention_days = 14
    tracing            = true
  }
  audit_archive {
    force_destroy = true
  }"#,
    );
    let updated = stack_config(
        &emulator,
        &name,
        r#"  tags = { Team = "b" }
  aggregator {
    memory_size      = 512
    snapshot_windows = ["daily"]
    tracing          = true
  }"#,
        // (The emulator ignores TracingConfig in UpdateFunctionConfiguration, so tracing is
        // set at creation here.)
    );
    let bucket = std::rc::Rc::new(std::cell::RefCell::new(None::<String>));
    let seen = bucket.clone();
    TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: with_archive,
                checks: vec![
                    attr_eq(STACK, "aggregator.memory_size", 256),
                    attr_eq(
                        STACK,
                        "log_group_name",
                        format!("/aws/lambda/{name}-aggregator").as_str(),
                    ),
                    attr_null(STACK, "lambda_version"),
                    attr_starts_with(STACK, "archive_bucket_name", &format!("{name}-audit-")),
                    attr_set(STACK, "dlq_url"),
                    function_is(&name, 256, "hourly,daily,monthly", true, true),
                    mapping_is_wired(),
                    role_policies_are(
                        &name,
                        &["DynamoDBAccess", "LogsAccess", "S3ArchiveAccess", "XRayAccess"],
                    ),
                    log_retention_is(&name, 14),
                    archive_bucket_is_private(),
                    python_auto_update_keeps_the_code(&name, emulator.endpoint()),
                    check(move |ctx| {
                        *seen.borrow_mut() = Some(ctx.state.attr_str(STACK, "archive_bucket_name")?.to_string());
                        Ok(())
                    }),
                ],
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: updated,
                checks: vec![
                    attr_null(STACK, "archive_bucket_name"),
                    function_is(&name, 512, "daily", false, true),
                    mapping_is_wired(),
                    role_policies_are(&name, &["DynamoDBAccess", "LogsAccess", "XRayAccess"]),
                    log_retention_is(&name, 30),
                    pieces_tagged(&name, "b"),
                    {
                        let bucket = bucket.clone();
                        check(move |ctx| {
                            let name = bucket.borrow().clone().context("no bucket name seen")?;
                            let head = ctx.block_on(s3(ctx).head_bucket().bucket(&name).send());
                            ensure!(head.is_err(), "bucket {name} still exists after removing audit_archive");
                            Ok(())
                        })
                    },
                ],
                ..ConfigStep::default()
            }),
            Step::import(STACK, &name),
        ],
        check_destroy: Some(no_aggregator_left(name.clone(), None)),
        ..TestCase::default()
    }
    .run(&emulator);
}

#[test]
fn aggregator_pieces_changed_outside_terraform_are_restored() {
    built_package();
    let emulator = Emulator::start();
    let name = unique_name("acc-aggr-drift");
    let config = stack_config(&emulator, &name, "  aggregator {}\n  audit_archive {}");
    let tamper = {
        let name = name.clone();
        check(move |ctx| {
            let uuid = ctx.state.attr_str(STACK, "event_source_mapping_id")?;
            ctx.block_on(lambda(ctx).delete_event_source_mapping().uuid(uuid).send())?;
            ctx.block_on(
                lambda(ctx)
                    .update_function_configuration()
                    .function_name(function_name(&name))
                    .memory_size(1024)
                    .send(),
            )?;
            ctx.block_on(
                iam(ctx)
                    .delete_role_policy()
                    .role_name(format!("{name}-aggr"))
                    .policy_name("LogsAccess")
                    .send(),
            )?;
            let bucket = ctx.state.attr_str(STACK, "archive_bucket_name")?;
            ctx.block_on(s3(ctx).delete_public_access_block().bucket(bucket).send())?;
            Ok(())
        })
    };
    let put_object = check(|ctx| {
        let bucket = ctx.state.attr_str(STACK, "archive_bucket_name")?;
        ctx.block_on(
            s3(ctx)
                .put_object()
                .bucket(bucket)
                .key("audit/year=2026/month=12/day=08/audit-test.jsonl.gz")
                .body(aws_sdk_s3::primitives::ByteStream::from_static(b"archived"))
                .send(),
        )?;
        Ok(())
    });
    TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: config.clone(),
                checks: vec![tamper],
                expect_non_empty_plan: true,
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: config.clone(),
                checks: vec![
                    function_is(&name, 256, "hourly,daily", true, false),
                    mapping_is_wired(),
                    role_policies_are(&name, &["DynamoDBAccess", "LogsAccess", "S3ArchiveAccess"]),
                    archive_bucket_is_private(),
                    put_object,
                ],
                ..ConfigStep::default()
            }),
            // Removing the archive would delete the archived object: refused.
            Step::Config(ConfigStep {
                hcl: stack_config(&emulator, &name, "  aggregator {}"),
                expect_error: Some("Audit archive is not empty".into()),
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: stack_config(
                    &emulator,
                    &name,
                    "  aggregator {}\n  audit_archive {\n    force_destroy = true\n  }",
                ),
                checks: vec![attr_eq(STACK, "audit_archive.force_destroy", true)],
                ..ConfigStep::default()
            }),
        ],
        check_destroy: Some(no_aggregator_left(name.clone(), None)),
        ..TestCase::default()
    }
    .run(&emulator);
}

#[test]
fn bad_aggregator_input_names_the_attribute() {
    let emulator = Emulator::start();
    let name = unique_name("acc-aggr-bad");
    let cases: Vec<(String, &str)> = [
        ("  audit_archive {}", "Audit archive needs the aggregator"),
        (
            "  aggregator {\n    snapshot_windows = [\"weekly\"]\n  }",
            "snapshot_windows",
        ),
        ("  aggregator {\n    snapshot_windows = []\n  }", "No snapshot window"),
        (
            "  aggregator {\n    log_retention_days = 15\n  }",
            "log_retention_days must be one of",
        ),
        (
            "  aggregator {\n    package_path = \"/tmp/x.zip\"\n  }",
            "Missing package version",
        ),
        (
            "  aggregator {\n    package_version = \"0.17.0\"\n  }",
            "Package version without a package",
        ),
        (
            "  aggregator {\n    role_arn = \"my-role\"\n  }",
            "is not an IAM role ARN",
        ),
        ("  aggregator {\n    memory_size = 64\n  }", "between 128 and 10240"),
    ]
    .into_iter()
    .map(|(body, error)| (body.to_string(), error))
    .collect();
    crate::stack::bad_input_cases(&emulator, &name, &cases);
}
