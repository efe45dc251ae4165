//! CloudWatch metric alarms: the stack's alarms (wire-format §9.3). PutMetricAlarm creates
//! or replaces an alarm by name, so a retried or repeated put is harmless; find by names
//! (DescribeAlarms), delete by names.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricAlarm, Statistic, Tag};

use super::error::{AwsError, Result, SdkResultExt};
use super::log_call;
use super::retry::{RetryPolicy, send_with_retry};
use super::tags::Tags;

/// DescribeAlarms and DeleteAlarms take at most this many names per call.
const NAMES_PER_CALL: usize = 100;

/// What the stack decides about one alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSettings {
    /// Alarm name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Metric namespace, e.g. `AWS/Lambda`.
    pub namespace: String,
    /// Metric name, e.g. `Errors`.
    pub metric: String,
    /// `Sum`, `Average`, `Maximum`, …
    pub statistic: String,
    /// The one dimension (name, value), e.g. (`FunctionName`, the function).
    pub dimension: (String, String),
    /// Seconds per period.
    pub period: i32,
    /// Periods evaluated.
    pub evaluation_periods: i32,
    /// Threshold.
    pub threshold: f64,
    /// `GreaterThanThreshold`, `GreaterThanOrEqualToThreshold`, …
    pub comparison: String,
    /// Actions when the alarm fires (an SNS topic ARN), none for an alarm without actions.
    pub actions: Vec<String>,
    /// Tags, set when the alarm is created.
    pub tags: Tags,
}

/// An alarm as CloudWatch describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmInfo {
    /// Alarm name.
    pub name: String,
    /// Alarm ARN.
    pub arn: String,
    /// The settings it has (tags are not described: empty).
    pub settings: AlarmSettings,
}

fn resource(name: &str) -> String {
    format!("CloudWatch alarm \"{name}\"")
}

/// Creates the alarm, or replaces the one of that name.
pub async fn put_alarm(client: &Client, settings: &AlarmSettings) -> Result<()> {
    let name = settings.name.as_str();
    let dimension = Dimension::builder()
        .name(&settings.dimension.0)
        .value(&settings.dimension.1)
        .build();
    let tags: Vec<Tag> = settings
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let request = client
        .put_metric_alarm()
        .alarm_name(name)
        .alarm_description(&settings.description)
        .namespace(&settings.namespace)
        .metric_name(&settings.metric)
        .statistic(Statistic::from(settings.statistic.as_str()))
        .dimensions(dimension)
        .period(settings.period)
        .evaluation_periods(settings.evaluation_periods)
        .threshold(settings.threshold)
        .comparison_operator(ComparisonOperator::from(settings.comparison.as_str()))
        .treat_missing_data("notBreaching")
        .set_alarm_actions(Some(settings.actions.clone()))
        .set_tags((!tags.is_empty()).then_some(tags));
    send_with_retry(
        &RetryPolicy::CONTROL_PLANE,
        "PutMetricAlarm",
        &resource(name),
        AwsError::is_retryable,
        &request,
        |r| r.send(),
    )
    .await?;
    Ok(())
}

fn info(alarm: &MetricAlarm) -> Option<AlarmInfo> {
    let name = alarm.alarm_name()?.to_owned();
    let dimension = alarm
        .dimensions()
        .first()
        .map(|d| {
            (
                d.name().unwrap_or_default().to_owned(),
                d.value().unwrap_or_default().to_owned(),
            )
        })
        .unwrap_or_default();
    Some(AlarmInfo {
        arn: alarm.alarm_arn().unwrap_or_default().to_owned(),
        settings: AlarmSettings {
            name: name.clone(),
            description: alarm.alarm_description().unwrap_or_default().to_owned(),
            namespace: alarm.namespace().unwrap_or_default().to_owned(),
            metric: alarm.metric_name().unwrap_or_default().to_owned(),
            statistic: alarm.statistic().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            dimension,
            period: alarm.period().unwrap_or_default(),
            evaluation_periods: alarm.evaluation_periods().unwrap_or_default(),
            threshold: alarm.threshold().unwrap_or_default(),
            comparison: alarm
                .comparison_operator()
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            actions: alarm.alarm_actions().to_vec(),
            tags: Tags::new(),
        },
        name,
    })
}

/// The metric alarms among `names` that exist.
pub async fn find_alarms(client: &Client, names: &[String]) -> Result<Vec<AlarmInfo>> {
    let mut found = Vec::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        let label = chunk.join(", ");
        log_call("DescribeAlarms", &label);
        let out = client
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .max_records(NAMES_PER_CALL as i32)
            .send()
            .await
            .context("DescribeAlarms", label)?;
        found.extend(out.metric_alarms().iter().filter_map(info));
    }
    Ok(found)
}

/// Deletes the alarms named (absent ones are fine).
pub async fn delete_alarms(client: &Client, names: &[String]) -> Result<()> {
    for chunk in names.chunks(NAMES_PER_CALL) {
        let label = chunk.join(", ");
        let request = client.delete_alarms().set_alarm_names(Some(chunk.to_vec()));
        send_with_retry(
            &RetryPolicy::CONTROL_PLANE,
            "DeleteAlarms",
            &label,
            AwsError::is_retryable,
            &request,
            |r| r.send(),
        )
        .await?;
    }
    Ok(())
}
