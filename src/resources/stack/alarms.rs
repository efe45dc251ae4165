//! The stack's CloudWatch alarms (wire-format §9.3), named, measured and thresholded as
//! zae-limiter 0.17.0's template does: read and write throttling on the table always; the
//! aggregator's errors, duration, stream iterator age and DLQ depth while the aggregator
//! exists. With `sns_topic_arn` every alarm notifies the topic, the DLQ alarm included
//! (0.17.0 gives that one no action, so the alarm meaning "batches were dropped" would
//! reach nobody).
//!
//! PutMetricAlarm creates or replaces by name: ensure puts every alarm whose settings
//! changed (or that a refresh found missing or edited) and deletes the ones no longer
//! wanted; each result is recorded in `alarm_arns`.

use std::collections::BTreeMap;

use super::model::{ALARM_NAMES, AlarmsModel, NAMES, StackModel};
use crate::aws::cloudwatch::{self, AlarmSettings};
use crate::aws::{AwsClients, lambda, sqs};
use crate::framework::validator::{IntBetween, StringCheck};
use crate::framework::{Attribute, AttributePath, Block, Diagnostics, Known, NestedBlock, Plan, Private};
use crate::resources::common::{OrDiagnostic, known};

/// The block name.
pub(super) const BLOCK: &str = "alarms";

/// Private-state key: a refresh found an alarm missing or edited.
const DRIFTED: &str = "alarms_drift";

/// The `alarms` block.
pub(super) fn block() -> NestedBlock {
    let n = ALARM_NAMES;
    let number = |name: &str, default: i64, min: i64, max: i64, description: &str| {
        Attribute::number(name)
            .default_value(default)
            .description(description.to_string())
            .validator(IntBetween { min, max })
    };
    NestedBlock::single(
        BLOCK,
        Block::new(
            "zae-limiter's CloudWatch alarms: table read/write throttling, and with the aggregator its errors, \
             duration, stream iterator age and DLQ messages. Omit the block for no alarms.",
        )
        .attribute(
            Attribute::string(n.sns_topic_arn)
                .optional()
                .description("The SNS topic every alarm notifies; null for alarms without actions.")
                .validator(StringCheck::new("Invalid SNS topic ARN", "an SNS topic ARN", |s| {
                    let parts: Vec<&str> = s.split(':').collect();
                    if parts.len() == 6 && parts[0] == "arn" && parts[2] == "sns" && !parts[5].is_empty() {
                        Ok(())
                    } else {
                        Err(format!(
                            "{s:?} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
                        ))
                    }
                })),
        )
        .attribute(number(
            n.duration_threshold_pct,
            80,
            1,
            100,
            "The duration alarm fires above this percentage of the aggregator's timeout (default 80).",
        ))
        .attribute(
            number(
                n.period,
                300,
                10,
                86_400,
                "Seconds per evaluation period: 10, 30 or a multiple of 60 (default 300).",
            )
            .validator(AlarmPeriod),
        )
        .attribute(number(
            n.evaluation_periods,
            2,
            1,
            100,
            "Periods evaluated (default 2; the DLQ alarm evaluates 1).",
        ))
        .attribute(number(
            n.error_threshold,
            1,
            0,
            1_000_000,
            "Aggregator errors per period above which it fires (default 1).",
        ))
        .attribute(number(
            n.iterator_age_threshold_ms,
            30_000,
            1,
            86_400_000,
            "Stream iterator age in ms above which the lag alarm fires (default 30000).",
        ))
        .attribute(number(
            n.throttle_threshold,
            1,
            0,
            1_000_000,
            "Throttled requests per period above which it fires (default 1).",
        ))
        .attribute(number(
            n.dlq_threshold,
            1,
            1,
            1_000_000,
            "DLQ messages at which the DLQ alarm fires (default 1).",
        )),
    )
}

/// CloudWatch periods: 10, 30, or a multiple of 60 seconds.
struct AlarmPeriod;

impl crate::framework::validator::Validator for AlarmPeriod {
    fn description(&self) -> String {
        "10, 30 or a multiple of 60".into()
    }

    fn validate(&self, value: &crate::framework::Value, path: &AttributePath, diags: &mut Diagnostics) {
        if let Some(n) = value.as_i64()
            && !(n == 10 || n == 30 || n % 60 == 0)
        {
            diags.attribute_error(
                path.clone(),
                "Invalid alarm period",
                format!("{path} must be 10, 30 or a multiple of 60 seconds, got {n}."),
            );
        }
    }
}

/// One alarm of the template, before the stack's names and settings are filled in.
struct Template {
    suffix: &'static str,
    description: &'static str,
    namespace: &'static str,
    metric: &'static str,
    statistic: &'static str,
    comparison: &'static str,
}

const READ_THROTTLE: Template = Template {
    suffix: "read-throttle",
    description: "Alert when DynamoDB read requests are throttled",
    namespace: "AWS/DynamoDB",
    metric: "ReadThrottleEvents",
    statistic: "Sum",
    comparison: "GreaterThanThreshold",
};
const WRITE_THROTTLE: Template = Template {
    suffix: "write-throttle",
    description: "Alert when DynamoDB write requests are throttled",
    metric: "WriteThrottleEvents",
    ..READ_THROTTLE
};
const ERROR_RATE: Template = Template {
    suffix: "aggregator-error-rate",
    description: "Alert when Lambda error rate exceeds 1%",
    namespace: "AWS/Lambda",
    metric: "Errors",
    statistic: "Sum",
    comparison: "GreaterThanThreshold",
};
const DURATION: Template = Template {
    suffix: "aggregator-duration",
    description: "",
    metric: "Duration",
    statistic: "Average",
    ..ERROR_RATE
};
const ITERATOR_AGE: Template = Template {
    suffix: "stream-iterator-age",
    description: "Alert when stream processing lag exceeds 30 seconds",
    metric: "IteratorAge",
    statistic: "Maximum",
    ..ERROR_RATE
};
const DLQ: Template = Template {
    suffix: "aggregator-dlq-alarm",
    description: "Alert when messages appear in the aggregator DLQ",
    namespace: "AWS/SQS",
    metric: "ApproximateNumberOfMessagesVisible",
    statistic: "Sum",
    comparison: "GreaterThanOrEqualToThreshold",
};

/// The alarms `state` asks for: the table's, plus the aggregator's when `state` has one.
pub(super) fn wanted(state: &StackModel) -> Result<Vec<AlarmSettings>, Diagnostics> {
    let Some(alarms) = &state.alarms else {
        return Ok(Vec::new());
    };
    let tags = known(&state.tags_all, NAMES.tags_all)?.clone();
    let actions: Vec<String> = alarms.sns_topic_arn.iter().cloned().collect();
    let period = i32::try_from(alarms.period).unwrap_or(300);
    let periods = i32::try_from(alarms.evaluation_periods).unwrap_or(2);
    let alarm =
        |t: &Template, dimension: (&str, &str), threshold: f64, evaluation_periods: i32, description: String| {
            AlarmSettings {
                name: format!("{}-{}", state.name, t.suffix),
                description: if description.is_empty() {
                    t.description.to_string()
                } else {
                    description
                },
                namespace: t.namespace.to_string(),
                metric: t.metric.to_string(),
                statistic: t.statistic.to_string(),
                dimension: (dimension.0.to_string(), dimension.1.to_string()),
                period,
                evaluation_periods,
                threshold,
                comparison: t.comparison.to_string(),
                actions: actions.clone(),
                tags: tags.clone(),
            }
        };
    let table = ("TableName", state.name.as_str());
    let throttle = alarms.throttle_threshold as f64;
    let mut out = vec![
        alarm(&READ_THROTTLE, table, throttle, periods, String::new()),
        alarm(&WRITE_THROTTLE, table, throttle, periods, String::new()),
    ];
    if let Some(aggregator) = &state.aggregator {
        let function = lambda::aggregator_function_name(&state.name);
        let queue = sqs::dlq_name(&state.name);
        let on_function = ("FunctionName", function.as_str());
        let duration_ms = duration_threshold_ms(aggregator.timeout, alarms.duration_threshold_pct);
        out.extend([
            alarm(
                &ERROR_RATE,
                on_function,
                alarms.error_threshold as f64,
                periods,
                String::new(),
            ),
            alarm(
                &DURATION,
                on_function,
                duration_ms as f64,
                periods,
                format!("Alert when Lambda duration exceeds threshold ({duration_ms}ms)"),
            ),
            alarm(
                &ITERATOR_AGE,
                on_function,
                alarms.iterator_age_threshold_ms as f64,
                periods,
                String::new(),
            ),
            alarm(
                &DLQ,
                ("QueueName", queue.as_str()),
                alarms.dlq_threshold as f64,
                1,
                String::new(),
            ),
        ]);
    }
    Ok(out)
}

/// 0.17.0's `LambdaDurationThreshold`: timeout × 1000 × pct / 100, in ms.
fn duration_threshold_ms(timeout_seconds: i64, pct: i64) -> i64 {
    timeout_seconds.saturating_mul(1000).saturating_mul(pct) / 100
}

fn names_of(settings: &[AlarmSettings]) -> Vec<String> {
    settings.iter().map(|a| a.name.clone()).collect()
}

/// The alarms' part of the plan: null without the block; the prior ARNs while the same
/// alarms are wanted and none drifted, unknown otherwise.
pub(super) fn plan(plan: &mut Plan<'_, AwsClients, StackModel>) {
    let drifted = !plan.prior_private.names(DRIFTED).is_empty();
    plan.planned_private.remove(DRIFTED);
    let Some(planned) = plan.planned.as_mut() else { return };
    if planned.alarms.is_null() {
        planned.alarm_arns = Known::Null;
        return;
    }
    let same_set = plan.prior.as_ref().is_some_and(|prior| {
        let before: Vec<&String> = prior.alarm_arns.value().map(|m| m.keys().collect()).unwrap_or_default();
        let aggregator_same = prior.aggregator.is_some() != planned.aggregator.is_null();
        prior.alarms.is_some() && aggregator_same && !before.is_empty()
    });
    if drifted {
        plan.diagnostics.attribute_warning(
            AttributePath::root(BLOCK),
            "Alarm changed outside Terraform",
            "An alarm is missing or was edited; this apply puts it back.",
        );
    }
    planned.alarm_arns = match (&plan.prior, same_set && !drifted) {
        (Some(prior), true) => prior.alarm_arns.clone(),
        _ => Known::Unknown,
    };
}

/// Puts the wanted alarms that changed since `prior` (all when `force`), deletes the
/// unwanted ones recorded in `state`, and records the ARNs.
pub(super) async fn ensure(
    clients: &AwsClients,
    prior: Option<&StackModel>,
    plan: &StackModel,
    state: &mut StackModel,
) -> Result<(), Diagnostics> {
    let target = StackModel {
        alarms: plan.alarms.clone(),
        aggregator: state.aggregator.clone(),
        tags_all: plan.tags_all.clone(),
        ..state.clone()
    };
    let wanted = wanted(&target)?;
    let before = match prior {
        Some(p) => wanted_or_none(p),
        None => Vec::new(),
    };
    let recorded: BTreeMap<String, String> = state.alarm_arns.value().cloned().unwrap_or_default();
    let force = plan.alarm_arns.is_unknown();
    let mut changed = false;
    for alarm in &wanted {
        let unchanged = before.iter().any(|b| b == alarm) && recorded.contains_key(&alarm.name);
        if !unchanged || force {
            cloudwatch::put_alarm(&clients.cloudwatch, alarm)
                .await
                .or_error_at(BLOCK, "Cannot put the CloudWatch alarm")?;
            changed = true;
        }
    }
    let unwanted: Vec<String> = recorded
        .keys()
        .filter(|n| !wanted.iter().any(|w| &w.name == *n))
        .cloned()
        .collect();
    if !unwanted.is_empty() {
        cloudwatch::delete_alarms(&clients.cloudwatch, &unwanted)
            .await
            .or_error_at(BLOCK, "Cannot delete the CloudWatch alarms")?;
        changed = true;
    }
    state.alarms = plan.alarms.clone();
    state.alarm_arns = match (&state.alarms, changed) {
        (None, _) => Known::Null,
        // Nothing put or deleted: the recorded ARNs are the alarms'.
        (Some(_), false) => Known::Value(recorded),
        (Some(_), true) => Known::Value(arns_of(clients, &names_of(&wanted)).await?),
    };
    Ok(())
}

fn wanted_or_none(state: &StackModel) -> Vec<AlarmSettings> {
    wanted(state).unwrap_or_default()
}

/// The ARNs of the alarms named, as CloudWatch reports them.
async fn arns_of(clients: &AwsClients, names: &[String]) -> Result<BTreeMap<String, String>, Diagnostics> {
    let found = cloudwatch::find_alarms(&clients.cloudwatch, names)
        .await
        .or_error_at(BLOCK, "Cannot read the CloudWatch alarms")?;
    Ok(found.into_iter().map(|a| (a.name, a.arn)).collect())
}

/// Deletes every alarm recorded in `state`.
pub(super) async fn delete(clients: &AwsClients, state: &mut StackModel) -> Result<(), Diagnostics> {
    if let Some(arns) = state.alarm_arns.value() {
        let names: Vec<String> = arns.keys().cloned().collect();
        cloudwatch::delete_alarms(&clients.cloudwatch, &names)
            .await
            .or_error_at(BLOCK, "Cannot delete the CloudWatch alarms")?;
    }
    state.alarm_arns = Known::Null;
    Ok(())
}

/// Refreshes the alarms: the ARNs of those that exist, and a drift flag when one is
/// missing or its settings differ from what the stack puts (tags aside).
pub(super) async fn read(
    clients: &AwsClients,
    state: &mut StackModel,
    private: &mut Private,
    importing: bool,
) -> Result<(), Diagnostics> {
    if state.alarms.is_none() && importing {
        adopt(clients, state).await?;
    }
    if state.alarms.is_none() {
        private.remove(DRIFTED);
        return Ok(());
    }
    let wanted = wanted_or_none(state);
    let found = cloudwatch::find_alarms(&clients.cloudwatch, &names_of(&wanted))
        .await
        .or_error_at(BLOCK, "Cannot read the CloudWatch alarms")?;
    let drifted: Vec<String> = wanted
        .iter()
        .filter(|w| {
            !found.iter().any(|f| {
                f.name == w.name
                    && AlarmSettings {
                        tags: w.tags.clone(),
                        ..f.settings.clone()
                    } == **w
            })
        })
        .map(|w| w.name.clone())
        .collect();
    private.set_names(DRIFTED, &drifted);
    state.alarm_arns = Known::Value(found.into_iter().map(|a| (a.name, a.arn)).collect());
    Ok(())
}

/// On import: when the table's read-throttle alarm exists, the stack has alarms; the block
/// is read back from the alarms found (topic, period, periods, thresholds; the duration
/// percentage from the aggregator's timeout), 0.17.0's defaults for any not found.
async fn adopt(clients: &AwsClients, state: &mut StackModel) -> Result<(), Diagnostics> {
    let probe = StackModel {
        alarms: Some(defaults()),
        tags_all: Known::Value(BTreeMap::new()),
        ..state.clone()
    };
    let names = names_of(&wanted(&probe)?);
    let found = cloudwatch::find_alarms(&clients.cloudwatch, &names)
        .await
        .or_error_at(BLOCK, "Cannot read the CloudWatch alarms")?;
    let by = |t: &Template| {
        let name = format!("{}-{}", state.name, t.suffix);
        found.iter().find(|a| a.name == name).map(|a| &a.settings)
    };
    let Some(table) = by(&READ_THROTTLE) else { return Ok(()) };
    let mut block = AlarmsModel {
        sns_topic_arn: table.actions.first().cloned(),
        period: i64::from(table.period),
        evaluation_periods: i64::from(table.evaluation_periods),
        throttle_threshold: table.threshold as i64,
        ..defaults()
    };
    if let Some(a) = by(&ERROR_RATE) {
        block.error_threshold = a.threshold as i64;
    }
    if let Some(a) = by(&ITERATOR_AGE) {
        block.iterator_age_threshold_ms = a.threshold as i64;
    }
    if let Some(a) = by(&DLQ) {
        block.dlq_threshold = a.threshold as i64;
    }
    if let (Some(a), Some(aggregator)) = (by(&DURATION), state.aggregator.as_ref())
        && aggregator.timeout > 0
    {
        block.duration_threshold_pct =
            (a.threshold as i64).saturating_mul(100) / aggregator.timeout.saturating_mul(1000);
    }
    state.alarms = Some(block);
    Ok(())
}

/// The default `alarms` block (0.17.0's values).
fn defaults() -> AlarmsModel {
    AlarmsModel {
        sns_topic_arn: None,
        duration_threshold_pct: 80,
        period: 300,
        evaluation_periods: 2,
        error_threshold: 1,
        iterator_age_threshold_ms: 30_000,
        throttle_threshold: 1,
        dlq_threshold: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::stack::AggregatorModel;

    fn stack(aggregator: bool, topic: Option<&str>) -> StackModel {
        StackModel {
            name: "prod".into(),
            tags_all: Known::Value(BTreeMap::new()),
            alarms: Some(AlarmsModel {
                sns_topic_arn: topic.map(str::to_owned),
                ..defaults()
            }),
            aggregator: aggregator.then(|| AggregatorModel {
                timeout: 60,
                ..AggregatorModel::default()
            }),
            ..StackModel::default()
        }
    }

    #[test]
    fn the_table_alarms_always_and_the_aggregator_alarms_with_it() {
        let names = |s: &StackModel| names_of(&wanted(s).unwrap());
        assert_eq!(
            names(&stack(false, None)),
            ["prod-read-throttle", "prod-write-throttle"]
        );
        assert_eq!(
            names(&stack(true, None)),
            [
                "prod-read-throttle",
                "prod-write-throttle",
                "prod-aggregator-error-rate",
                "prod-aggregator-duration",
                "prod-stream-iterator-age",
                "prod-aggregator-dlq-alarm"
            ]
        );
    }

    #[test]
    fn settings_follow_the_0_17_0_template() {
        let all = wanted(&stack(true, Some("arn:aws:sns:us-east-1:1:ops"))).unwrap();
        let by = |suffix: &str| all.iter().find(|a| a.name.ends_with(suffix)).unwrap();
        let duration = by("aggregator-duration");
        assert_eq!(duration.threshold, 48_000.0, "60 s x 80 %");
        assert_eq!(
            duration.description,
            "Alert when Lambda duration exceeds threshold (48000ms)"
        );
        assert_eq!(
            (
                duration.statistic.as_str(),
                duration.period,
                duration.evaluation_periods
            ),
            ("Average", 300, 2)
        );
        let dlq = by("aggregator-dlq-alarm");
        assert_eq!(
            dlq.dimension,
            ("QueueName".to_string(), "prod-aggregator-dlq".to_string())
        );
        assert_eq!(
            (dlq.comparison.as_str(), dlq.evaluation_periods),
            ("GreaterThanOrEqualToThreshold", 1)
        );
        assert_eq!(by("stream-iterator-age").threshold, 30_000.0);
        assert_eq!(by("read-throttle").dimension.1, "prod");
        assert!(all.iter().all(|a| a.actions == ["arn:aws:sns:us-east-1:1:ops"]));
        assert!(wanted(&stack(true, None)).unwrap().iter().all(|a| a.actions.is_empty()));
    }
}
