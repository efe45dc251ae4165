//! The stack's CloudWatch alarms against the emulator: the table's two always, the
//! aggregator's four only with it, 0.17.0's names, metrics and thresholds, actions to the
//! SNS topic; a deleted alarm is put back; import finds them; destroy leaves none.

use anyhow::{Context, ensure};
use testkit::Emulator;

use crate::harness::*;

const STACK: &str = "zae_limiter_stack.main";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:ops";

fn stack_config(emulator: &Emulator, name: &str, body: &str) -> String {
    crate::stack::named_stack_config(&emulator.endpoint(), name, body)
}

fn cloudwatch(ctx: &CheckContext<'_>) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(ctx.sdk_config())
}

/// The alarms whose names start with `{stack}-`, by name.
fn alarms_of(ctx: &CheckContext<'_>, stack: &str) -> anyhow::Result<Vec<aws_sdk_cloudwatch::types::MetricAlarm>> {
    let out = ctx.block_on(
        cloudwatch(ctx)
            .describe_alarms()
            .alarm_name_prefix(format!("{stack}-"))
            .send(),
    )?;
    Ok(out.metric_alarms().to_vec())
}

/// Exactly these alarm suffixes exist, each with the topic as its only action, and the
/// state's `alarm_arns` names them.
fn alarms_are(stack: &str, suffixes: &'static [&'static str], duration_ms: f64) -> Check {
    let stack = stack.to_string();
    check(move |ctx| {
        let alarms = alarms_of(ctx, &stack)?;
        let mut names: Vec<String> = alarms
            .iter()
            .filter_map(|a| a.alarm_name().map(str::to_owned))
            .collect();
        names.sort();
        let mut want: Vec<String> = suffixes.iter().map(|s| format!("{stack}-{s}")).collect();
        want.sort();
        ensure!(names == want, "alarms {names:?}, expected {want:?}");
        for a in &alarms {
            ensure!(
                a.alarm_actions() == [TOPIC],
                "{:?} actions {:?}",
                a.alarm_name(),
                a.alarm_actions()
            );
            ensure!(a.treat_missing_data() == Some("notBreaching"));
        }
        if let Some(d) = alarms
            .iter()
            .find(|a| a.alarm_name().is_some_and(|n| n.ends_with("-aggregator-duration")))
        {
            ensure!(
                d.threshold() == Some(duration_ms),
                "duration threshold {:?}",
                d.threshold()
            );
            ensure!(d.statistic().map(|s| s.as_str()) == Some("Average"));
            ensure!(d.dimensions().first().and_then(|x| x.value()) == Some(format!("{stack}-aggregator").as_str()));
        }
        let recorded = ctx
            .state
            .attr(STACK, "alarm_arns")?
            .as_object()
            .context("alarm_arns is not a map")?;
        let mut keys: Vec<String> = recorded.keys().cloned().collect();
        keys.sort();
        ensure!(keys == want, "alarm_arns keys {keys:?}");
        Ok(())
    })
}

#[test]
fn alarms_follow_the_aggregator_are_restored_imported_and_destroyed() {
    crate::aggregator::built_package();
    let emulator = Emulator::start();
    let name = unique_name("acc-alarms");
    let alarms =
        format!("  alarms {{\n    sns_topic_arn          = \"{TOPIC}\"\n    duration_threshold_pct = 50\n  }}");
    let with_aggregator = stack_config(
        &emulator,
        &name,
        &format!("  aggregator {{\n    timeout = 30\n  }}\n{alarms}"),
    );
    let without = stack_config(&emulator, &name, &alarms);
    let all: &[&str] = &[
        "read-throttle",
        "write-throttle",
        "aggregator-error-rate",
        "aggregator-duration",
        "stream-iterator-age",
        "aggregator-dlq-alarm",
    ];
    let delete_one = {
        let name = name.clone();
        check(move |ctx| {
            ctx.block_on(
                cloudwatch(ctx)
                    .delete_alarms()
                    .alarm_names(format!("{name}-write-throttle"))
                    .send(),
            )?;
            Ok(())
        })
    };
    TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: with_aggregator.clone(),
                checks: vec![alarms_are(&name, all, 15_000.0)],
                ..ConfigStep::default()
            }),
            Step::import(STACK, &name),
            Step::Config(ConfigStep {
                hcl: without.clone(),
                checks: vec![alarms_are(&name, &["read-throttle", "write-throttle"], 0.0), delete_one],
                expect_non_empty_plan: true,
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: without,
                checks: vec![alarms_are(&name, &["read-throttle", "write-throttle"], 0.0)],
                ..ConfigStep::default()
            }),
        ],
        check_destroy: Some({
            let name = name.clone();
            check(move |ctx| {
                let left = alarms_of(ctx, &name)?;
                ensure!(left.is_empty(), "alarms left: {left:?}");
                Ok(())
            })
        }),
        ..TestCase::default()
    }
    .run(&emulator);
}

#[test]
fn bad_alarm_input_names_the_attribute() {
    let emulator = Emulator::start();
    let name = unique_name("acc-alarms-bad");
    let cases: Vec<(String, &str)> = [
        (
            "  alarms {\n    sns_topic_arn = \"ops\"\n  }",
            "is not an SNS topic ARN",
        ),
        ("  alarms {\n    period = 45\n  }", "must be 10, 30 or a multiple of 60"),
        ("  alarms {\n    duration_threshold_pct = 0\n  }", "between 1 and 100"),
    ]
    .into_iter()
    .map(|(body, error)| (body.to_string(), error))
    .collect();
    crate::stack::bad_input_cases(&emulator, &name, &cases);
}
