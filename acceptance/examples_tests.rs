//! The configurations under `examples/` work as documented: applied against the emulator
//! with every Terraform of the harness, they converge (empty final plan), import back
//! cleanly and destroy everything they created.

use std::path::Path;

use anyhow::ensure;
use testkit::Emulator;

use crate::harness::*;

/// The `.tf` files of `examples/<name>`, concatenated into one configuration.
fn example_config(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "tf"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .tf files in {}", dir.display());
    files
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())))
        .collect::<Vec<_>>()
        .join("\n")
}

const STACK: &str = "zae_limiter_stack.main";

const POLICY_OUTPUTS: [(&str, &str); 6] = [
    ("acquire_only_policy_arn", "acq"),
    ("full_access_policy_arn", "full"),
    ("read_only_policy_arn", "read"),
    ("namespace_acquire_policy_arn", "ns-acq"),
    ("namespace_full_access_policy_arn", "ns-full"),
    ("namespace_read_only_policy_arn", "ns-read"),
];

#[test]
fn example_stack_applies_imports_and_destroys() {
    crate::aggregator::built_package();
    let emulator = Emulator::start();
    let name = unique_name("example");
    let table_arn = format!(
        "arn:aws:dynamodb:{}:{}:table/{name}",
        testkit::REGION,
        testkit::ACCOUNT_ID
    );

    let mut checks = vec![
        attr_eq(STACK, "name", name.as_str()),
        attr_eq(STACK, "pitr_recovery_days", 7),
        attr_eq(STACK, "deletion_protection", false),
        attr_eq(STACK, "tags.Environment", "demo"),
        output_eq("table_name", name.as_str()),
        output_eq("table_arn", table_arn.as_str()),
        check(|ctx| {
            let stream = ctx.state.output("stream_arn")?.as_str().unwrap_or_default();
            ensure!(stream.contains("/stream/"), "stream_arn output is {stream:?}");
            Ok(())
        }),
    ];
    for (output, suffix) in POLICY_OUTPUTS {
        let arn = format!("arn:aws:iam::{}:policy/{name}-{suffix}", testkit::ACCOUNT_ID);
        checks.push(output_eq(output, arn));
    }
    let table = name.clone();
    checks.push(check(move |ctx| {
        let ddb = aws_sdk_dynamodb::Client::new(ctx.sdk_config());
        let described = ctx.block_on(ddb.describe_table().table_name(&table).send())?;
        let status = described
            .table()
            .and_then(|t| t.table_status())
            .map(|s| s.as_str().to_string());
        ensure!(status.as_deref() == Some("ACTIVE"), "table {table} is {status:?}");
        Ok(())
    }));

    checks.push(attr_eq(STACK, "aggregator.log_retention_days", 14));
    checks.push(check(|ctx| {
        let function = ctx
            .state
            .output("aggregator_function_arn")?
            .as_str()
            .unwrap_or_default();
        ensure!(
            function.ends_with("-aggregator"),
            "aggregator_function_arn output is {function:?}"
        );
        let bucket = ctx.state.output("archive_bucket_name")?.as_str().unwrap_or_default();
        ensure!(bucket.contains("-audit-"), "archive_bucket_name output is {bucket:?}");
        Ok(())
    }));

    let gone = name.clone();
    let aggregator_gone = crate::aggregator::no_aggregator_left(name.clone(), None);
    let stack_gone = crate::stack::nothing_left(gone);
    TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: example_config("stack"),
                checks,
                ..ConfigStep::default()
            }),
            Step::Import(ImportStep {
                resource_address: STACK.into(),
                by: ImportBy::Id(name.clone()),
                verify_ignore: vec!["timeouts".into()],
            }),
            Step::Import(ImportStep {
                resource_address: STACK.into(),
                by: ImportBy::IdentityFromState,
                verify_ignore: vec!["timeouts".into()],
            }),
        ],
        vars: vec![
            ("endpoint_url".into(), emulator.endpoint()),
            ("region".into(), testkit::REGION.into()),
            ("stack_name".into(), name.clone()),
        ],
        check_destroy: Some(check(move |ctx| {
            stack_gone(ctx)?;
            aggregator_gone(ctx)
        })),
        ..TestCase::default()
    }
    .run_each_terraform(&emulator);
}

/// examples/production: PITR, the aggregator with tracing, the archive, alarms to SNS, roles
/// with a boundary and a name format; applies, re-plans empty, imports, destroys to nothing
/// (deletion protection off for the test, so that the destroy can run).
#[test]
fn example_production_applies_and_replans_empty() {
    crate::aggregator::built_package();
    let emulator = Emulator::start();
    let name = unique_name("prod");
    let topic = format!("arn:aws:sns:{}:{}:ops-alerts", testkit::REGION, testkit::ACCOUNT_ID);
    let boundary = format!("arn:aws:iam::{}:policy/PowerUserBoundary", testkit::ACCOUNT_ID);
    let app_role = format!("arn:aws:iam::{}:role/{name}-app-PowerUser", testkit::ACCOUNT_ID);
    let b = boundary.clone();
    let role = format!("{name}-admin-PowerUser");
    let checks = vec![
        attr_eq(STACK, "pitr_recovery_days", 35),
        attr_eq(STACK, "aggregator.tracing", true),
        attr_eq(STACK, "tags_all.Environment", "production"),
        output_eq("app_role_arn", app_role.as_str()),
        check(move |ctx| {
            let alarms = ctx.state.output("alarm_arns")?.as_object().cloned().unwrap_or_default();
            ensure!(alarms.len() == 6, "alarms {alarms:?}");
            let iam = aws_sdk_iam::Client::new(ctx.sdk_config());
            let got = ctx.block_on(iam.get_role().role_name(&role).send())?;
            let arn = got
                .role()
                .and_then(|r| r.permissions_boundary())
                .and_then(|p| p.permissions_boundary_arn());
            ensure!(arn == Some(b.as_str()), "boundary of {role}: {arn:?}");
            Ok(())
        }),
    ];
    let aggregator_gone = crate::aggregator::no_aggregator_left(name.clone(), None);
    let stack_gone = crate::stack::nothing_left(name.clone());
    TestCase {
        steps: vec![Step::Config(ConfigStep {
            hcl: example_config("production"),
            checks,
            ..ConfigStep::default()
        })],
        vars: vec![
            ("endpoint_url".into(), emulator.endpoint()),
            ("region".into(), testkit::REGION.into()),
            ("stack_name".into(), name.clone()),
            ("deletion_protection".into(), "false".into()),
            ("alarm_topic_arn".into(), topic),
            ("permission_boundary".into(), boundary),
        ],
        check_destroy: Some(check(move |ctx| {
            stack_gone(ctx)?;
            aggregator_gone(ctx)
        })),
        ..TestCase::default()
    }
    .run(&emulator);
}
