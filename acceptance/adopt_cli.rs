//! Moving a stack that `zae-limiter deploy` built under Terraform: the pieces are created
//! here as 0.17.0's CloudFormation template names and configures them (table, records with
//! `lambda_version = 0.17.0`, the six policies with 0.17.0's documents, role `{stack}-aggr`,
//! log group, DLQ, a Python `{stack}-aggregator` with 0.17.0's filters, the six alarms),
//! then `terraform import`: the first plan may only update in place (nothing destroyed or
//! replaced), the apply converges to an empty plan, and destroy leaves nothing.

use std::collections::BTreeMap;

use anyhow::ensure;
use terraform_provider_zae::aws::cloudwatch::{self, AlarmSettings};
use terraform_provider_zae::aws::iam_role::{self, RoleSettings};
use terraform_provider_zae::aws::lambda::{
    self, EventSourceMappingSettings, FunctionSettings, ZAE_0170_FILTER_PATTERNS,
};
use terraform_provider_zae::aws::policy_document::PolicyCompatibility;
use terraform_provider_zae::aws::role_policy::{AggregatorGrants, CodeKind, DYNAMODB_ACCESS};
use terraform_provider_zae::aws::{iam_policy, logs, sqs, table};
use testkit::Emulator;

use crate::harness::*;

const STACK: &str = "zae_limiter_stack.main";

/// Builds what a 0.17.0 deploy of `stack` leaves behind (the parts the provider manages).
async fn deploy_like_the_cli(config: &aws_config::SdkConfig, stack: &str) {
    let ddb = aws_sdk_dynamodb::Client::new(config);
    let iam = aws_sdk_iam::Client::new(config);
    let lambda_client = aws_sdk_lambda::Client::new(config);
    let settings = table::TableSettings {
        name: stack.into(),
        pitr_recovery_days: 35,
        deletion_protection: false,
        tags: BTreeMap::from([("Application".into(), "zae-limiter".into())]),
    };
    table::create_table(&ddb, &settings).await.expect("CreateTable");
    let info = table::wait_table_active(&ddb, stack, std::time::Duration::from_secs(60))
        .await
        .expect("table ACTIVE");
    table::ttl::enable_ttl(&ddb, stack).await.expect("TTL");
    table::pitr::set_pitr(&ddb, stack, 35).await.expect("PITR");
    let data = zae_limiter::admin::Table::new(ddb.clone(), stack);
    data.write_version_record(Some("0.17.0"), "cli:0.17.0")
        .await
        .expect("version record");
    data.register_namespace("default").await.expect("default namespace");
    for (kind, _) in terraform_provider_zae::resources::stack::POLICY_ATTRIBUTES {
        let document = kind.document_json_with(&info.arn, PolicyCompatibility::ZaeLimiter0170);
        iam_policy::create_policy(
            &iam,
            &kind.policy_name(stack),
            kind.description(),
            &document,
            &BTreeMap::new(),
        )
        .await
        .expect("CreatePolicy");
    }
    let role = iam_role::create_role(&iam, &RoleSettings::for_lambda(format!("{stack}-aggr")))
        .await
        .expect("CreateRole");
    let queue = sqs::create_queue(&aws_sdk_sqs::Client::new(config), &sqs::QueueSettings::dlq(stack))
        .await
        .expect("CreateQueue");
    let function = lambda::aggregator_function_name(stack);
    let group = logs::lambda_log_group_name(&function);
    let logs_client = aws_sdk_cloudwatchlogs::Client::new(config);
    logs::create_log_group(&logs_client, &group, &BTreeMap::new())
        .await
        .expect("log group");
    logs::put_retention(&logs_client, &group, Some(30))
        .await
        .expect("retention");
    let grants = AggregatorGrants {
        table_arn: info.arn.clone(),
        stream_arn: info.stream_arn.clone().expect("stream"),
        dlq_arn: queue.arn.clone(),
        log_group_arn: String::new(),
        archive_bucket_arn: None,
        tracing: false,
        code: CodeKind::Python,
    };
    let (_, dynamodb_access) = grants
        .inline_policies()
        .into_iter()
        .find(|(n, _)| *n == DYNAMODB_ACCESS)
        .unwrap();
    iam_role::put_inline_policy(&iam, &role.name, DYNAMODB_ACCESS, &dynamodb_access)
        .await
        .expect("inline policy");
    let mut settings = FunctionSettings::new(&function, &role.arn);
    settings.runtime = "python3.12".into();
    settings.handler = "zae_limiter_aggregator.handler.handler".into();
    settings.environment = BTreeMap::from([
        ("TABLE_NAME".into(), stack.into()),
        ("SNAPSHOT_WINDOWS".into(), "hourly,daily".into()),
        ("SNAPSHOT_TTL_DAYS".into(), "90".into()),
        ("ZAE_LIMITER_SCHEMA_VERSION".into(), "0.10.0".into()),
        ("ENABLE_ARCHIVAL".into(), "false".into()),
        ("ARCHIVE_BUCKET_NAME".into(), String::new()),
    ]);
    let placeholder = zae_limiter_aggregator::package::zip_bootstrap(b"raise NotImplementedError").unwrap();
    lambda::create_function(&lambda_client, &settings, &placeholder)
        .await
        .expect("CreateFunction");
    let mut mapping = EventSourceMappingSettings::aggregator(&function, grants.stream_arn.clone(), Some(queue.arn));
    mapping.filter_patterns = ZAE_0170_FILTER_PATTERNS.iter().map(|p| (*p).to_owned()).collect();
    lambda::create_event_source_mapping(&lambda_client, &mapping)
        .await
        .expect("CreateEventSourceMapping");
    let cw = aws_sdk_cloudwatch::Client::new(config);
    let alarm =
        |suffix: &str, namespace: &str, metric: &str, statistic: &str, dimension: (&str, &str), threshold: f64| {
            AlarmSettings {
                name: format!("{stack}-{suffix}"),
                description: String::new(),
                namespace: namespace.into(),
                metric: metric.into(),
                statistic: statistic.into(),
                dimension: (dimension.0.into(), dimension.1.into()),
                period: 300,
                evaluation_periods: 2,
                threshold,
                comparison: "GreaterThanThreshold".into(),
                actions: Vec::new(),
                tags: BTreeMap::new(),
            }
        };
    for a in [
        alarm(
            "read-throttle",
            "AWS/DynamoDB",
            "ReadThrottleEvents",
            "Sum",
            ("TableName", stack),
            1.0,
        ),
        alarm(
            "write-throttle",
            "AWS/DynamoDB",
            "WriteThrottleEvents",
            "Sum",
            ("TableName", stack),
            1.0,
        ),
        alarm(
            "aggregator-error-rate",
            "AWS/Lambda",
            "Errors",
            "Sum",
            ("FunctionName", &function),
            1.0,
        ),
        alarm(
            "aggregator-duration",
            "AWS/Lambda",
            "Duration",
            "Average",
            ("FunctionName", &function),
            48000.0,
        ),
        alarm(
            "stream-iterator-age",
            "AWS/Lambda",
            "IteratorAge",
            "Maximum",
            ("FunctionName", &function),
            30000.0,
        ),
    ] {
        cloudwatch::put_alarm(&cw, &a).await.expect("PutMetricAlarm");
    }
}

#[test]
fn a_stack_built_by_zae_limiter_deploy_is_imported_without_destructive_changes() {
    crate::aggregator::built_package();
    let emulator = Emulator::start();
    let name = unique_name("cli-stack");
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = rt.block_on(emulator.sdk_config());
        rt.block_on(deploy_like_the_cli(&config, &name));
    }
    let hcl = format!(
        "{}\nresource \"zae_limiter_stack\" \"main\" {{\n  name                 = \"{name}\"\n  \
         policy_compatibility = \"0.17.0\"\n  aggregator {{}}\n  alarms {{}}\n}}\n",
        provider_config(&emulator)
    );
    let wd = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    wd.write_config(&hcl);
    let tf = wd.terraform();
    let outcome = (|| -> anyhow::Result<()> {
        tf.import(STACK, &name)?;
        let (plan, file) = tf.plan_json()?;
        let changes = plan["resource_changes"].as_array().cloned().unwrap_or_default();
        ensure!(changes.len() == 1, "resource changes: {changes:?}");
        let actions = &changes[0]["change"]["actions"];
        ensure!(
            *actions == serde_json::json!(["update"]),
            "the first plan after import does {actions}"
        );
        tf.apply_plan(&file)?;
        ensure!(
            matches!(tf.plan()?, Plan::NoChanges),
            "the plan after the first apply is not empty"
        );
        let state = tf.show_json()?;
        ensure!(
            state
                .attr_str(STACK, "aggregator_role_arn")?
                .ends_with(&format!(":role/{name}-aggr"))
        );
        ensure!(
            state.attr(STACK, "lambda_version")?.is_null(),
            "lambda_version after taking over"
        );
        tf.destroy()?;
        Ok(())
    })();
    if let Err(err) = outcome {
        panic!("{}", crate::harness::steps::report(&err));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = rt.block_on(emulator.sdk_config());
    let tables = rt
        .block_on(aws_sdk_dynamodb::Client::new(&config).list_tables().send())
        .unwrap();
    assert!(!tables.table_names().contains(&name), "table left");
    let functions = rt
        .block_on(aws_sdk_lambda::Client::new(&config).list_functions().send())
        .unwrap();
    assert!(
        functions.functions().is_empty(),
        "functions left: {:?}",
        functions.functions()
    );
}
