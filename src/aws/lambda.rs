//! Lambda functions and event source mappings: the stack's aggregator (`AggregatorFunction`
//! and `AggregatorEventSourceMapping`, spec §7.1/§9.3).
//!
//! Functions: create from zip bytes ([`create_function`], retrying "the role cannot be
//! assumed" while a new role propagates), find ([`find_function`], GetFunction), update code
//! and configuration, wait until `State` is `Active` and `LastUpdateStatus` is `Successful`,
//! tag, delete.
//!
//! Event source mappings: create from the table's stream ([`create_event_source_mapping`],
//! `StartingPosition LATEST`), find by UUID or by function and source, update, wait for
//! `Enabled`/`Disabled`, delete and wait until gone.
//!
//! Every request is built by a pure `*_request` function, so what is sent can be checked
//! without a Lambda endpoint (the emulator cannot run functions, and real Lambda is not
//! available to tests).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::operation::create_event_source_mapping::builders::CreateEventSourceMappingFluentBuilder;
use aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder;
use aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingOutput;
use aws_sdk_lambda::operation::update_event_source_mapping::builders::UpdateEventSourceMappingFluentBuilder;
use aws_sdk_lambda::operation::update_function_configuration::builders::UpdateFunctionConfigurationFluentBuilder;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, DeadLetterConfig, DestinationConfig, Environment, EventSourceMappingConfiguration,
    EventSourcePosition, Filter, FilterCriteria, FunctionCode, FunctionConfiguration, OnFailure, Runtime,
    TracingConfig, TracingMode,
};

use super::error::{AwsError, DeleteOutcome, Result, SdkResultExt};
use super::log_call;
use super::retry::{RetryPolicy, retry_with, send_with_retry};
use super::tags::Tags;
use super::waiter::{WaitSpec, wait_for_absence, wait_for_state};

/// The runtime of the provider's aggregator (a Rust `bootstrap` binary).
pub const DEFAULT_RUNTIME: &str = "provided.al2023";
/// The handler of a `provided.*` runtime function.
pub const DEFAULT_HANDLER: &str = "bootstrap";
/// The stack's default `LambdaMemorySize`, MB.
pub const DEFAULT_MEMORY_MB: i32 = 256;
/// The stack's default `LambdaTimeout`, seconds.
pub const DEFAULT_TIMEOUT_SECONDS: i32 = 60;

/// The aggregator's event filters in zae-limiter 0.17.0 (spec §7.1): bucket state changes,
/// and audit items removed, whose `AUDIT#` prefix on the full PK never matches namespaced
/// keys (`{ns}/AUDIT#…`, spec §7.4), so 0.17.0 archives nothing. Kept to recognise a stack
/// that `zae-limiter deploy` built.
pub const ZAE_0170_FILTER_PATTERNS: [&str; 2] = [
    r##"{"eventName":["MODIFY"],"dynamodb":{"NewImage":{"SK":{"S":["#STATE"]}}}}"##,
    r##"{"eventName":["REMOVE"],"dynamodb":{"OldImage":{"PK":{"S":[{"prefix":"AUDIT#"}]}}}}"##,
];

/// The filters this provider deploys: 0.17.0's bucket filter, and an audit filter that
/// matches. Audit sort keys always start with `#AUDIT#`; only removals by DynamoDB's TTL
/// (`userIdentity` = the `dynamodb.amazonaws.com` service) are archived, so an explicit
/// delete (a namespace purge: the operator asked for the data to go) is not copied to S3.
pub const AGGREGATOR_FILTER_PATTERNS: [&str; 2] = [
    r##"{"eventName":["MODIFY"],"dynamodb":{"NewImage":{"SK":{"S":["#STATE"]}}}}"##,
    r##"{"eventName":["REMOVE"],"userIdentity":{"type":["Service"],"principalId":["dynamodb.amazonaws.com"]},"dynamodb":{"OldImage":{"SK":{"S":[{"prefix":"#AUDIT#"}]}}}}"##,
];

/// The aggregator function's name for a stack: `{stack}-aggregator`.
pub fn aggregator_function_name(stack: &str) -> String {
    format!("{stack}-aggregator")
}

/// Lambda's `ResourceConflictException` while another update of the function is in progress
/// ("The operation cannot be performed at this time. An update is in progress …").
fn update_in_progress(err: &AwsError) -> bool {
    err.has_code("ResourceConflictException") && err.message_contains("in progress")
}

/// Retried for function and mapping writes: throttling, server errors, IAM propagation
/// ("The role defined for the function cannot be assumed by Lambda", "The provided
/// execution role does not have permissions …") and an update still in progress.
fn lambda_retryable(err: &AwsError) -> bool {
    err.is_retryable() || err.is_iam_propagation() || update_in_progress(err)
}

fn function_resource(name: &str) -> String {
    format!("Lambda function \"{name}\"")
}

fn mapping_resource(uuid: &str) -> String {
    format!("event source mapping {uuid}")
}

/// What the stack decides about a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSettings {
    /// Function name.
    pub name: String,
    /// Execution role ARN.
    pub role_arn: String,
    /// Runtime, e.g. [`DEFAULT_RUNTIME`].
    pub runtime: String,
    /// Handler, e.g. [`DEFAULT_HANDLER`].
    pub handler: String,
    /// Instruction set, e.g. `x86_64` or `arm64`; `None` = Lambda's default (x86_64).
    pub architecture: Option<String>,
    /// Memory, MB (128..=10240).
    pub memory_mb: i32,
    /// Timeout, seconds (1..=900).
    pub timeout_seconds: i32,
    /// Environment variables.
    pub environment: BTreeMap<String, String>,
    /// X-Ray tracing: `Active` when true, `PassThrough` otherwise.
    pub tracing_active: bool,
    /// Dead-letter target (SQS queue or SNS topic ARN) for failed asynchronous invocations.
    pub dead_letter_target_arn: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Tags, set at creation.
    pub tags: Tags,
}

impl FunctionSettings {
    /// A `provided.al2023` / `bootstrap` function with the stack's default memory and
    /// timeout, no environment, tracing off, no DLQ.
    pub fn new(name: impl Into<String>, role_arn: impl Into<String>) -> Self {
        FunctionSettings {
            name: name.into(),
            role_arn: role_arn.into(),
            runtime: DEFAULT_RUNTIME.to_owned(),
            handler: DEFAULT_HANDLER.to_owned(),
            architecture: None,
            memory_mb: DEFAULT_MEMORY_MB,
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            environment: BTreeMap::new(),
            tracing_active: false,
            dead_letter_target_arn: None,
            description: None,
            tags: Tags::new(),
        }
    }

    /// Checks memory and timeout against Lambda's limits before any call.
    pub fn validate(&self) -> Result<()> {
        if !(128..=10_240).contains(&self.memory_mb) {
            return Err(AwsError::InvalidInput {
                what: "Lambda memory size".into(),
                detail: format!("{} MB: Lambda accepts 128-10240", self.memory_mb),
            });
        }
        if !(1..=900).contains(&self.timeout_seconds) {
            return Err(AwsError::InvalidInput {
                what: "Lambda timeout".into(),
                detail: format!("{} s: Lambda accepts 1-900", self.timeout_seconds),
            });
        }
        Ok(())
    }

    fn environment(&self) -> Environment {
        let variables: HashMap<String, String> = self.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Environment::builder().set_variables(Some(variables)).build()
    }

    fn tracing(&self) -> TracingConfig {
        let mode = if self.tracing_active {
            TracingMode::Active
        } else {
            TracingMode::PassThrough
        };
        TracingConfig::builder().mode(mode).build()
    }

    fn dead_letter(&self) -> DeadLetterConfig {
        // An empty target removes a previous one on update.
        DeadLetterConfig::builder()
            .target_arn(self.dead_letter_target_arn.clone().unwrap_or_default())
            .build()
    }
}

/// A function as GetFunction describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// Function name.
    pub name: String,
    /// Function ARN (unqualified).
    pub arn: String,
    /// Execution role ARN.
    pub role_arn: Option<String>,
    /// Runtime.
    pub runtime: Option<String>,
    /// Handler.
    pub handler: Option<String>,
    /// Instruction sets.
    pub architectures: Vec<String>,
    /// Memory, MB.
    pub memory_mb: Option<i32>,
    /// Timeout, seconds.
    pub timeout_seconds: Option<i32>,
    /// Environment variables.
    pub environment: BTreeMap<String, String>,
    /// `Active` or `PassThrough`.
    pub tracing_mode: Option<String>,
    /// Dead-letter target ARN.
    pub dead_letter_target_arn: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// SHA-256 of the deployment package, base64.
    pub code_sha256: Option<String>,
    /// `Pending`, `Active`, `Inactive` or `Failed`.
    pub state: Option<String>,
    /// Why the function is in its state.
    pub state_reason: Option<String>,
    /// `InProgress`, `Successful` or `Failed`.
    pub last_update_status: Option<String>,
    /// Why the last update has its status.
    pub last_update_status_reason: Option<String>,
    /// Tags.
    pub tags: Tags,
}

impl FunctionInfo {
    fn from_configuration(config: &FunctionConfiguration, fallback_name: &str, tags: Tags) -> Self {
        let empty = String::new();
        FunctionInfo {
            name: config.function_name().unwrap_or(fallback_name).to_owned(),
            arn: config.function_arn().unwrap_or(&empty).to_owned(),
            role_arn: config.role().map(str::to_owned),
            runtime: config.runtime().map(|r| r.as_str().to_owned()),
            handler: config.handler().map(str::to_owned),
            architectures: config.architectures().iter().map(|a| a.as_str().to_owned()).collect(),
            memory_mb: config.memory_size(),
            timeout_seconds: config.timeout(),
            environment: config
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            tracing_mode: config
                .tracing_config()
                .and_then(|t| t.mode())
                .map(|m| m.as_str().to_owned()),
            dead_letter_target_arn: config
                .dead_letter_config()
                .and_then(|d| d.target_arn())
                .filter(|arn| !arn.is_empty())
                .map(str::to_owned),
            description: config.description().filter(|d| !d.is_empty()).map(str::to_owned),
            code_sha256: config.code_sha256().map(str::to_owned),
            state: config.state().map(|s| s.as_str().to_owned()),
            state_reason: config.state_reason().map(str::to_owned),
            last_update_status: config.last_update_status().map(|s| s.as_str().to_owned()),
            last_update_status_reason: config.last_update_status_reason().map(str::to_owned),
            tags,
        }
    }
}

/// The CreateFunction request for `settings` and the zip package `zip`.
pub fn create_function_request(
    client: &Client,
    settings: &FunctionSettings,
    zip: &[u8],
) -> CreateFunctionFluentBuilder {
    let tags: HashMap<String, String> = settings.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    client
        .create_function()
        .function_name(&settings.name)
        .role(&settings.role_arn)
        .runtime(Runtime::from(settings.runtime.as_str()))
        .handler(&settings.handler)
        .set_architectures(settings.architecture.as_deref().map(|a| vec![Architecture::from(a)]))
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
        .memory_size(settings.memory_mb)
        .timeout(settings.timeout_seconds)
        .environment(settings.environment())
        .tracing_config(settings.tracing())
        .set_dead_letter_config(
            settings
                .dead_letter_target_arn
                .as_ref()
                .map(|arn| DeadLetterConfig::builder().target_arn(arn).build()),
        )
        .set_description(settings.description.clone())
        .set_tags((!tags.is_empty()).then_some(tags))
}

/// Creates the function from a zip package. A role created moments ago is retried for the
/// IAM propagation budget ("The role defined for the function cannot be assumed by
/// Lambda"). The function starts `Pending`: follow with [`wait_function_active`].
pub async fn create_function(client: &Client, settings: &FunctionSettings, zip: &[u8]) -> Result<FunctionInfo> {
    settings.validate()?;
    let name = settings.name.as_str();
    let request = create_function_request(client, settings, zip);
    let output = send_with_retry(
        &RetryPolicy::IAM_PROPAGATION,
        "CreateFunction",
        &function_resource(name),
        lambda_retryable,
        &request,
        |r| r.send(),
    )
    .await?;
    let config = FunctionConfiguration::builder()
        .set_function_name(output.function_name().map(str::to_owned))
        .set_function_arn(output.function_arn().map(str::to_owned))
        .set_role(output.role().map(str::to_owned))
        .set_runtime(output.runtime().cloned())
        .set_handler(output.handler().map(str::to_owned))
        .set_architectures(Some(output.architectures().to_vec()))
        .set_memory_size(output.memory_size())
        .set_timeout(output.timeout())
        .set_environment(output.environment().cloned())
        .set_tracing_config(output.tracing_config().cloned())
        .set_dead_letter_config(output.dead_letter_config().cloned())
        .set_description(output.description().map(str::to_owned))
        .set_code_sha256(output.code_sha256().map(str::to_owned))
        .set_state(output.state().cloned())
        .set_state_reason(output.state_reason().map(str::to_owned))
        .set_last_update_status(output.last_update_status().cloned())
        .set_last_update_status_reason(output.last_update_status_reason().map(str::to_owned))
        .build();
    Ok(FunctionInfo::from_configuration(&config, name, settings.tags.clone()))
}

/// Reads the function (GetFunction); `None` when it does not exist.
pub async fn find_function(client: &Client, name: &str) -> Result<Option<FunctionInfo>> {
    log_call("GetFunction", &function_resource(name));
    let output = match client
        .get_function()
        .function_name(name)
        .send()
        .await
        .context("GetFunction", function_resource(name))
    {
        Ok(output) => output,
        Err(err) if err.is_not_found() => return Ok(None),
        Err(err) => return Err(err),
    };
    let Some(config) = output.configuration() else {
        return Err(AwsError::InvalidResponse {
            operation: "GetFunction",
            resource: function_resource(name),
            detail: "no Configuration in the response".into(),
        });
    };
    let tags = output
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok(Some(FunctionInfo::from_configuration(config, name, tags)))
}

/// The UpdateFunctionConfiguration request for `settings` (role, runtime, handler, memory,
/// timeout, environment, tracing, DLQ, description).
pub fn update_function_configuration_request(
    client: &Client,
    settings: &FunctionSettings,
) -> UpdateFunctionConfigurationFluentBuilder {
    client
        .update_function_configuration()
        .function_name(&settings.name)
        .role(&settings.role_arn)
        .runtime(Runtime::from(settings.runtime.as_str()))
        .handler(&settings.handler)
        .memory_size(settings.memory_mb)
        .timeout(settings.timeout_seconds)
        .environment(settings.environment())
        .tracing_config(settings.tracing())
        .dead_letter_config(settings.dead_letter())
        .description(settings.description.clone().unwrap_or_default())
}

/// Applies `settings` to the function's configuration, retrying while another update is in
/// progress. Follow with [`wait_function_updated`].
pub async fn update_function_configuration(client: &Client, settings: &FunctionSettings) -> Result<()> {
    settings.validate()?;
    let name = settings.name.as_str();
    let request = update_function_configuration_request(client, settings);
    retry_with(
        &RetryPolicy::IAM_PROPAGATION,
        "UpdateFunctionConfiguration",
        lambda_retryable,
        || {
            let request = request.clone();
            async move {
                log_call("UpdateFunctionConfiguration", &function_resource(name));
                request
                    .send()
                    .await
                    .context("UpdateFunctionConfiguration", function_resource(name))
            }
        },
    )
    .await?;
    Ok(())
}

/// Replaces the function's code with a zip package (and, when given, its instruction set),
/// retrying while another update is in progress; returns the new code's SHA-256. Follow
/// with [`wait_function_updated`].
pub async fn update_function_code(
    client: &Client,
    name: &str,
    zip: &[u8],
    architecture: Option<&str>,
) -> Result<Option<String>> {
    let request = client
        .update_function_code()
        .function_name(name)
        .zip_file(Blob::new(zip))
        .set_architectures(architecture.map(|a| vec![Architecture::from(a)]));
    let output = retry_with(
        &RetryPolicy::IAM_PROPAGATION,
        "UpdateFunctionCode",
        lambda_retryable,
        || {
            let request = request.clone();
            async move {
                log_call("UpdateFunctionCode", &function_resource(name));
                request
                    .send()
                    .await
                    .context("UpdateFunctionCode", function_resource(name))
            }
        },
    )
    .await?;
    Ok(output.code_sha256().map(str::to_owned))
}

/// Adds or replaces tags on the function (`arn` = its ARN), e.g.
/// `zae-limiter:lambda-version`.
pub async fn tag_function(client: &Client, arn: &str, tags: &Tags) -> Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    log_call("TagResource", &function_resource(arn));
    client
        .tag_resource()
        .resource(arn)
        .set_tags(Some(tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
        .send()
        .await
        .context("TagResource", function_resource(arn))?;
    Ok(())
}

/// Brings the function's tags from `current` (as [`find_function`] read them) to `desired`.
pub async fn sync_function_tags(
    client: &Client,
    arn: &str,
    current: &Tags,
    desired: &Tags,
) -> Result<super::tags::TagDiff> {
    super::tags::sync(
        current,
        desired,
        |keys| async move {
            log_call("UntagResource", &function_resource(arn));
            client
                .untag_resource()
                .resource(arn)
                .set_tag_keys(Some(keys))
                .send()
                .await
                .context("UntagResource", function_resource(arn))?;
            Ok(())
        },
        |set| async move { tag_function(client, arn, &set).await },
    )
    .await
}

fn function_state_spec(name: &str, timeout: Duration) -> WaitSpec {
    WaitSpec::new(function_resource(name), &["Pending"], &["Active"], timeout)
        .with_poll(Duration::from_millis(200), Duration::from_secs(5))
}

fn function_update_spec(name: &str, timeout: Duration) -> WaitSpec {
    WaitSpec::new(function_resource(name), &["InProgress"], &["Successful"], timeout)
        .with_poll(Duration::from_millis(200), Duration::from_secs(5))
}

/// The state [`wait_function_active`] acts on: `State` (`Active` when Lambda reports none,
/// as older emulators do). `Failed` ends the wait with Lambda's reason.
fn active_status(name: &str, function: FunctionInfo) -> Result<(FunctionInfo, String)> {
    let state = function.state.clone().unwrap_or_else(|| "Active".to_owned());
    if state == "Failed" {
        return Err(failed(name, "Active", &state, function.state_reason.as_deref()));
    }
    Ok((function, state))
}

/// The state [`wait_function_updated`] acts on: `LastUpdateStatus` (`Successful` when Lambda
/// reports none). `Failed` ends the wait with Lambda's reason.
fn update_status(name: &str, function: FunctionInfo) -> Result<(FunctionInfo, String)> {
    let status = function
        .last_update_status
        .clone()
        .unwrap_or_else(|| "Successful".to_owned());
    if status == "Failed" {
        return Err(failed(
            name,
            "Successful",
            &status,
            function.last_update_status_reason.as_deref(),
        ));
    }
    Ok((function, status))
}

fn failed(name: &str, target: &str, state: &str, reason: Option<&str>) -> AwsError {
    AwsError::UnexpectedState {
        what: function_resource(name),
        state: format!("{state} ({})", reason.unwrap_or("Lambda gave no reason")),
        target: target.to_owned(),
    }
}

/// Waits until the function's `State` is `Active`; `Failed` (with Lambda's reason) or
/// `Inactive` ends the wait with [`AwsError::UnexpectedState`]. A function without a
/// `State` (older emulators) counts as `Active`.
pub async fn wait_function_active(client: &Client, name: &str, timeout: Duration) -> Result<FunctionInfo> {
    let spec = function_state_spec(name, timeout);
    wait_for_state(&spec, || async {
        find_function(client, name)
            .await?
            .map(|f| active_status(name, f))
            .transpose()
    })
    .await
}

/// Waits until the function's `LastUpdateStatus` is `Successful`; `Failed` ends the wait
/// with [`AwsError::UnexpectedState`] naming Lambda's reason. A function without the field
/// counts as updated.
pub async fn wait_function_updated(client: &Client, name: &str, timeout: Duration) -> Result<FunctionInfo> {
    let spec = function_update_spec(name, timeout);
    wait_for_state(&spec, || async {
        find_function(client, name)
            .await?
            .map(|f| update_status(name, f))
            .transpose()
    })
    .await
}

/// Deletes the function; `Ok(false)` when it did not exist.
pub async fn delete_function(client: &Client, name: &str) -> Result<bool> {
    let request = client.delete_function().function_name(name);
    let deleted = send_with_retry(
        &RetryPolicy::CONTROL_PLANE,
        "DeleteFunction",
        &function_resource(name),
        lambda_retryable,
        &request,
        |r| r.send(),
    )
    .await;
    deleted.deleted()
}

/// What the stack decides about the stream → function mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSourceMappingSettings {
    /// Function name or ARN.
    pub function_name: String,
    /// The DynamoDB stream ARN (create-only).
    pub event_source_arn: String,
    /// Records per batch.
    pub batch_size: i32,
    /// Seconds to gather records before invoking.
    pub maximum_batching_window_seconds: i32,
    /// Retries of a failed batch.
    pub maximum_retry_attempts: i32,
    /// Records older than this are discarded, seconds.
    pub maximum_record_age_seconds: i32,
    /// Split a failed batch in two and retry the halves.
    pub bisect_batch_on_function_error: bool,
    /// Filter patterns (JSON text); a record matching any is processed.
    pub filter_patterns: Vec<String>,
    /// Where discarded batches are recorded (the DLQ ARN).
    pub on_failure_destination: Option<String>,
    /// Whether the mapping polls.
    pub enabled: bool,
}

impl EventSourceMappingSettings {
    /// The aggregator mapping of zae-limiter 0.17.0 (spec §7.1): batch 100, window 5 s, 3
    /// retries, record age 1 h, bisect, the two 0.17.0 filters, failures to `dlq_arn`.
    pub fn aggregator(
        function_name: impl Into<String>,
        stream_arn: impl Into<String>,
        dlq_arn: Option<String>,
    ) -> Self {
        EventSourceMappingSettings {
            function_name: function_name.into(),
            event_source_arn: stream_arn.into(),
            batch_size: 100,
            maximum_batching_window_seconds: 5,
            maximum_retry_attempts: 3,
            maximum_record_age_seconds: 3600,
            bisect_batch_on_function_error: true,
            filter_patterns: AGGREGATOR_FILTER_PATTERNS.iter().map(|p| (*p).to_owned()).collect(),
            on_failure_destination: dlq_arn,
            enabled: true,
        }
    }

    fn filter_criteria(&self) -> FilterCriteria {
        let filters = self
            .filter_patterns
            .iter()
            .map(|p| Filter::builder().pattern(p).build())
            .collect();
        FilterCriteria::builder().set_filters(Some(filters)).build()
    }

    fn destination(&self) -> DestinationConfig {
        DestinationConfig::builder()
            .on_failure(
                OnFailure::builder()
                    .set_destination(self.on_failure_destination.clone())
                    .build(),
            )
            .build()
    }
}

/// An event source mapping as Lambda describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSourceMappingInfo {
    /// The mapping's id.
    pub uuid: String,
    /// The function ARN.
    pub function_arn: Option<String>,
    /// The source (stream) ARN.
    pub event_source_arn: Option<String>,
    /// `Creating`, `Enabling`, `Enabled`, `Disabling`, `Disabled`, `Updating`, `Deleting`.
    pub state: Option<String>,
    /// Why the mapping is in its state.
    pub state_transition_reason: Option<String>,
    /// `LATEST`, `TRIM_HORIZON` or `AT_TIMESTAMP`.
    pub starting_position: Option<String>,
    /// Records per batch.
    pub batch_size: Option<i32>,
    /// Batching window, seconds.
    pub maximum_batching_window_seconds: Option<i32>,
    /// Retries of a failed batch.
    pub maximum_retry_attempts: Option<i32>,
    /// Maximum record age, seconds.
    pub maximum_record_age_seconds: Option<i32>,
    /// Bisect on error.
    pub bisect_batch_on_function_error: Option<bool>,
    /// Filter patterns.
    pub filter_patterns: Vec<String>,
    /// The on-failure destination ARN.
    pub on_failure_destination: Option<String>,
}

macro_rules! mapping_info {
    ($m:expr) => {{
        let m = $m;
        EventSourceMappingInfo {
            uuid: m.uuid().unwrap_or_default().to_owned(),
            function_arn: m.function_arn().map(str::to_owned),
            event_source_arn: m.event_source_arn().map(str::to_owned),
            state: m.state().map(str::to_owned),
            state_transition_reason: m.state_transition_reason().map(str::to_owned),
            starting_position: m.starting_position().map(|p| p.as_str().to_owned()),
            batch_size: m.batch_size(),
            maximum_batching_window_seconds: m.maximum_batching_window_in_seconds(),
            maximum_retry_attempts: m.maximum_retry_attempts(),
            maximum_record_age_seconds: m.maximum_record_age_in_seconds(),
            bisect_batch_on_function_error: m.bisect_batch_on_function_error(),
            filter_patterns: m
                .filter_criteria()
                .map(|c| {
                    c.filters()
                        .iter()
                        .filter_map(|f| f.pattern().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            on_failure_destination: m
                .destination_config()
                .and_then(|d| d.on_failure())
                .and_then(|f| f.destination())
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
        }
    }};
}

impl From<&GetEventSourceMappingOutput> for EventSourceMappingInfo {
    fn from(m: &GetEventSourceMappingOutput) -> Self {
        mapping_info!(m)
    }
}

impl From<&EventSourceMappingConfiguration> for EventSourceMappingInfo {
    fn from(m: &EventSourceMappingConfiguration) -> Self {
        mapping_info!(m)
    }
}

/// The CreateEventSourceMapping request for `settings`, starting at `LATEST`.
pub fn create_event_source_mapping_request(
    client: &Client,
    settings: &EventSourceMappingSettings,
) -> CreateEventSourceMappingFluentBuilder {
    let request = client
        .create_event_source_mapping()
        .function_name(&settings.function_name)
        .event_source_arn(&settings.event_source_arn)
        .starting_position(EventSourcePosition::Latest)
        .batch_size(settings.batch_size)
        .maximum_batching_window_in_seconds(settings.maximum_batching_window_seconds)
        .maximum_retry_attempts(settings.maximum_retry_attempts)
        .maximum_record_age_in_seconds(settings.maximum_record_age_seconds)
        .bisect_batch_on_function_error(settings.bisect_batch_on_function_error)
        .enabled(settings.enabled);
    let request = if settings.filter_patterns.is_empty() {
        request
    } else {
        request.filter_criteria(settings.filter_criteria())
    };
    match settings.on_failure_destination {
        Some(_) => request.destination_config(settings.destination()),
        None => request,
    }
}

/// Creates the mapping; retries IAM propagation ("The provided execution role does not
/// have permissions to call … on DynamoDB") while the role's new inline policy propagates.
/// Follow with [`wait_event_source_mapping`].
pub async fn create_event_source_mapping(
    client: &Client,
    settings: &EventSourceMappingSettings,
) -> Result<EventSourceMappingInfo> {
    let label = format!(
        "event source mapping {} -> {}",
        settings.event_source_arn, settings.function_name
    );
    let request = create_event_source_mapping_request(client, settings);
    let output = send_with_retry(
        &RetryPolicy::IAM_PROPAGATION,
        "CreateEventSourceMapping",
        &label,
        lambda_retryable,
        &request,
        |r| r.send(),
    )
    .await?;
    let info = mapping_info!(&output);
    if info.uuid.is_empty() {
        return Err(AwsError::InvalidResponse {
            operation: "CreateEventSourceMapping",
            resource: label,
            detail: "no UUID in the response".into(),
        });
    }
    Ok(info)
}

/// Reads the mapping; `None` when it does not exist.
pub async fn find_event_source_mapping(client: &Client, uuid: &str) -> Result<Option<EventSourceMappingInfo>> {
    log_call("GetEventSourceMapping", &mapping_resource(uuid));
    match client
        .get_event_source_mapping()
        .uuid(uuid)
        .send()
        .await
        .context("GetEventSourceMapping", mapping_resource(uuid))
    {
        Ok(output) => Ok(Some(EventSourceMappingInfo::from(&output))),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err),
    }
}

/// The mapping from `event_source_arn` to the function (name or ARN); `None` when there is
/// none (e.g. to adopt a mapping whose UUID was lost).
pub async fn find_event_source_mapping_for(
    client: &Client,
    function_name: &str,
    event_source_arn: &str,
) -> Result<Option<EventSourceMappingInfo>> {
    let label = format!("event source mappings of {function_name}");
    let mut marker: Option<String> = None;
    for _ in 0..100 {
        log_call("ListEventSourceMappings", &label);
        let page = match client
            .list_event_source_mappings()
            .function_name(function_name)
            .event_source_arn(event_source_arn)
            .set_marker(marker.take())
            .send()
            .await
            .context("ListEventSourceMappings", &label)
        {
            Ok(page) => page,
            Err(err) if err.is_not_found() => return Ok(None),
            Err(err) => return Err(err),
        };
        if let Some(found) = page
            .event_source_mappings()
            .iter()
            .find(|m| m.event_source_arn() == Some(event_source_arn))
        {
            return Ok(Some(EventSourceMappingInfo::from(found)));
        }
        match page.next_marker() {
            Some(next) if !next.is_empty() => marker = Some(next.to_owned()),
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// The UpdateEventSourceMapping request applying `settings` to mapping `uuid` (everything
/// but the source and starting position, which cannot change).
pub fn update_event_source_mapping_request(
    client: &Client,
    uuid: &str,
    settings: &EventSourceMappingSettings,
) -> UpdateEventSourceMappingFluentBuilder {
    client
        .update_event_source_mapping()
        .uuid(uuid)
        .function_name(&settings.function_name)
        .batch_size(settings.batch_size)
        .maximum_batching_window_in_seconds(settings.maximum_batching_window_seconds)
        .maximum_retry_attempts(settings.maximum_retry_attempts)
        .maximum_record_age_in_seconds(settings.maximum_record_age_seconds)
        .bisect_batch_on_function_error(settings.bisect_batch_on_function_error)
        .filter_criteria(settings.filter_criteria())
        .destination_config(settings.destination())
        .enabled(settings.enabled)
}

/// Applies `settings` to mapping `uuid`, retrying while the mapping is busy
/// (`ResourceInUseException`). Follow with [`wait_event_source_mapping`].
pub async fn update_event_source_mapping(
    client: &Client,
    uuid: &str,
    settings: &EventSourceMappingSettings,
) -> Result<EventSourceMappingInfo> {
    let request = update_event_source_mapping_request(client, uuid, settings);
    let retryable = |err: &AwsError| lambda_retryable(err) || err.has_code("ResourceInUseException");
    let output = retry_with(
        &RetryPolicy::CONTROL_PLANE,
        "UpdateEventSourceMapping",
        retryable,
        || {
            let request = request.clone();
            async move {
                log_call("UpdateEventSourceMapping", &mapping_resource(uuid));
                request
                    .send()
                    .await
                    .context("UpdateEventSourceMapping", mapping_resource(uuid))
            }
        },
    )
    .await?;
    Ok(mapping_info!(&output))
}

/// States a mapping passes through on its way to `Enabled` or `Disabled`.
const MAPPING_PENDING: &[&str] = &["Creating", "Enabling", "Disabling", "Updating"];

/// Waits until mapping `uuid` is `Enabled` (`enabled`) or `Disabled`.
pub async fn wait_event_source_mapping(
    client: &Client,
    uuid: &str,
    enabled: bool,
    timeout: Duration,
) -> Result<EventSourceMappingInfo> {
    let target: &'static [&'static str] = if enabled { &["Enabled"] } else { &["Disabled"] };
    let spec = WaitSpec::new(mapping_resource(uuid), MAPPING_PENDING, target, timeout)
        .with_poll(Duration::from_millis(200), Duration::from_secs(5));
    wait_for_state(&spec, || async {
        Ok(find_event_source_mapping(client, uuid).await?.map(|m| {
            let state = m.state.clone().unwrap_or_default();
            (m, state)
        }))
    })
    .await
}

/// Deletes mapping `uuid`; `Ok(false)` when it did not exist. Lambda deletes asynchronously
/// (`Deleting`): follow with [`wait_event_source_mapping_deleted`].
pub async fn delete_event_source_mapping(client: &Client, uuid: &str) -> Result<bool> {
    let request = client.delete_event_source_mapping().uuid(uuid);
    let retryable = |err: &AwsError| lambda_retryable(err) || err.has_code("ResourceInUseException");
    let deleted = retry_with(
        &RetryPolicy::CONTROL_PLANE,
        "DeleteEventSourceMapping",
        retryable,
        || {
            let request = request.clone();
            async move {
                log_call("DeleteEventSourceMapping", &mapping_resource(uuid));
                request
                    .send()
                    .await
                    .context("DeleteEventSourceMapping", mapping_resource(uuid))
            }
        },
    )
    .await;
    deleted.deleted()
}

/// Waits until mapping `uuid` no longer exists.
pub async fn wait_event_source_mapping_deleted(client: &Client, uuid: &str, timeout: Duration) -> Result<()> {
    let pending: &'static [&'static str] = &[
        "Deleting",
        "Enabled",
        "Disabled",
        "Creating",
        "Enabling",
        "Disabling",
        "Updating",
    ];
    let spec = WaitSpec::new(mapping_resource(uuid), pending, &[], timeout)
        .with_poll(Duration::from_millis(200), Duration::from_secs(5));
    wait_for_absence(&spec, || async {
        Ok(find_event_source_mapping(client, uuid).await?.map(|m| {
            let state = m.state.clone().unwrap_or_else(|| "Deleting".to_owned());
            (m, state)
        }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::error::tests::service_error;

    /// A client that is never used to send: only to build requests.
    fn offline_client() -> Client {
        let config = aws_sdk_lambda::Config::builder()
            .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
            .region(aws_sdk_lambda::config::Region::new("us-east-1"))
            .build();
        Client::from_conf(config)
    }

    fn settings() -> FunctionSettings {
        let mut settings = FunctionSettings::new("zae-aggregator", "arn:aws:iam::123456789012:role/zae-aggr");
        settings.environment = BTreeMap::from([
            ("TABLE_NAME".to_owned(), "zae".to_owned()),
            ("ENABLE_ARCHIVAL".to_owned(), "false".to_owned()),
        ]);
        settings.dead_letter_target_arn = Some("arn:aws:sqs:us-east-1:123456789012:zae-aggregator-dlq".into());
        settings.tags = Tags::from([("Application".to_owned(), "zae-limiter".to_owned())]);
        settings
    }

    #[test]
    fn create_function_sends_a_provided_al2023_bootstrap_zip() {
        let request = create_function_request(&offline_client(), &settings(), b"PK\x03\x04zip");
        let input = request.as_input();
        assert_eq!(input.get_function_name().as_deref(), Some("zae-aggregator"));
        assert_eq!(input.get_runtime(), &Some(Runtime::Providedal2023));
        assert_eq!(input.get_handler().as_deref(), Some("bootstrap"));
        assert_eq!(input.get_memory_size(), &Some(256));
        assert_eq!(input.get_timeout(), &Some(60));
        assert_eq!(input.get_architectures(), &None);
        let zip = input.get_code().as_ref().and_then(|c| c.zip_file()).expect("zip");
        assert_eq!(zip.as_ref(), b"PK\x03\x04zip");
        let env = input
            .get_environment()
            .as_ref()
            .and_then(|e| e.variables())
            .expect("env");
        assert_eq!(env["TABLE_NAME"], "zae");
        assert_eq!(
            input.get_tracing_config().as_ref().and_then(|t| t.mode()),
            Some(&TracingMode::PassThrough)
        );
        assert_eq!(
            input.get_dead_letter_config().as_ref().and_then(|d| d.target_arn()),
            Some("arn:aws:sqs:us-east-1:123456789012:zae-aggregator-dlq")
        );
        assert_eq!(input.get_tags().as_ref().expect("tags")["Application"], "zae-limiter");
    }

    #[test]
    fn tracing_and_architecture_are_sent_when_chosen() {
        let mut settings = settings();
        settings.tracing_active = true;
        settings.architecture = Some("arm64".into());
        settings.dead_letter_target_arn = None;
        let request = create_function_request(&offline_client(), &settings, b"zip");
        let input = request.as_input();
        assert_eq!(
            input.get_tracing_config().as_ref().and_then(|t| t.mode()),
            Some(&TracingMode::Active)
        );
        assert_eq!(input.get_architectures(), &Some(vec![Architecture::Arm64]));
        assert_eq!(input.get_dead_letter_config(), &None);
    }

    #[test]
    fn a_configuration_update_clears_a_removed_dlq() {
        let mut settings = settings();
        settings.dead_letter_target_arn = None;
        settings.memory_mb = 512;
        let request = update_function_configuration_request(&offline_client(), &settings);
        let input = request.as_input();
        assert_eq!(input.get_memory_size(), &Some(512));
        assert_eq!(
            input.get_dead_letter_config().as_ref().and_then(|d| d.target_arn()),
            Some("")
        );
        assert_eq!(input.get_description().as_deref(), Some(""));
    }

    #[test]
    fn the_aggregator_mapping_matches_0_17_0() {
        let settings = EventSourceMappingSettings::aggregator(
            "zae-aggregator",
            "arn:aws:dynamodb:us-east-1:123456789012:table/zae/stream/2026",
            Some("arn:aws:sqs:us-east-1:123456789012:zae-aggregator-dlq".into()),
        );
        let request = create_event_source_mapping_request(&offline_client(), &settings);
        let input = request.as_input();
        assert_eq!(input.get_starting_position(), &Some(EventSourcePosition::Latest));
        assert_eq!(input.get_batch_size(), &Some(100));
        assert_eq!(input.get_maximum_batching_window_in_seconds(), &Some(5));
        assert_eq!(input.get_maximum_retry_attempts(), &Some(3));
        assert_eq!(input.get_maximum_record_age_in_seconds(), &Some(3600));
        assert_eq!(input.get_bisect_batch_on_function_error(), &Some(true));
        let patterns: Vec<&str> = input
            .get_filter_criteria()
            .as_ref()
            .expect("filters")
            .filters()
            .iter()
            .filter_map(|f| f.pattern())
            .collect();
        assert_eq!(patterns, AGGREGATOR_FILTER_PATTERNS);
        for pattern in patterns {
            serde_json::from_str::<serde_json::Value>(pattern).expect("filter patterns are JSON");
        }
        assert_eq!(
            input
                .get_destination_config()
                .as_ref()
                .and_then(|d| d.on_failure())
                .and_then(|f| f.destination()),
            Some("arn:aws:sqs:us-east-1:123456789012:zae-aggregator-dlq")
        );
    }

    #[test]
    fn a_mapping_without_filters_or_dlq_sends_neither() {
        let mut settings = EventSourceMappingSettings::aggregator("f", "arn:stream", None);
        settings.filter_patterns.clear();
        let request = create_event_source_mapping_request(&offline_client(), &settings);
        assert_eq!(request.as_input().get_filter_criteria(), &None);
        assert_eq!(request.as_input().get_destination_config(), &None);
        let update = update_event_source_mapping_request(&offline_client(), "u-1", &settings);
        let input = update.as_input();
        assert_eq!(input.get_uuid().as_deref(), Some("u-1"));
        // An update clears what was removed: an empty filter list and an empty destination.
        assert_eq!(input.get_filter_criteria().as_ref().map(|c| c.filters().len()), Some(0));
        assert_eq!(
            input
                .get_destination_config()
                .as_ref()
                .and_then(|d| d.on_failure())
                .map(|f| f.destination()),
            Some(None)
        );
    }

    #[test]
    fn role_propagation_and_updates_in_progress_are_retried() {
        assert!(lambda_retryable(&service_error(
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda."
        )));
        assert!(lambda_retryable(&service_error(
            "ResourceConflictException",
            "The operation cannot be performed at this time. An update is in progress for resource: x"
        )));
        assert!(!lambda_retryable(&service_error(
            "ResourceConflictException",
            "Function already exist: x"
        )));
        assert!(!lambda_retryable(&service_error(
            "InvalidParameterValueException",
            "Unsupported runtime"
        )));
    }

    fn info(state: Option<&str>, update: Option<&str>) -> FunctionInfo {
        FunctionInfo {
            name: "f".into(),
            arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
            role_arn: None,
            runtime: None,
            handler: None,
            architectures: Vec::new(),
            memory_mb: None,
            timeout_seconds: None,
            environment: BTreeMap::new(),
            tracing_mode: None,
            dead_letter_target_arn: None,
            description: None,
            code_sha256: None,
            state: state.map(str::to_owned),
            state_reason: Some("The function's role is not valid".into()),
            last_update_status: update.map(str::to_owned),
            last_update_status_reason: Some("The code package is corrupt".into()),
            tags: Tags::new(),
        }
    }

    #[test]
    fn a_failed_function_ends_the_wait_with_lambdas_reason() {
        assert_eq!(active_status("f", info(Some("Pending"), None)).unwrap().1, "Pending");
        assert_eq!(active_status("f", info(None, None)).unwrap().1, "Active");
        let err = active_status("f", info(Some("Failed"), None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Lambda function \"f\" entered unexpected state Failed (The function's role is not valid) \
             while waiting for Active"
        );
        assert_eq!(
            update_status("f", info(None, Some("InProgress"))).unwrap().1,
            "InProgress"
        );
        assert_eq!(update_status("f", info(None, None)).unwrap().1, "Successful");
        let err = update_status("f", info(None, Some("Failed"))).unwrap_err();
        assert!(
            err.to_string().contains("Failed (The code package is corrupt)"),
            "{err}"
        );
    }

    #[test]
    fn settings_outside_lambda_limits_are_refused() {
        let mut settings = settings();
        assert!(settings.validate().is_ok());
        settings.memory_mb = 64;
        assert!(settings.validate().is_err());
        settings.memory_mb = 256;
        settings.timeout_seconds = 901;
        assert!(settings.validate().is_err());
    }
}
