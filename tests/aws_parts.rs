//! Integration tests of the AWS helpers for the stack's aggregator parts (log group, DLQ,
//! archive bucket, aggregator role, function and event source mapping) against the AWS
//! emulator: create / find / update / delete round trips, and "not found" → `None`.
//! Each test starts its own emulator.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::json;
use terraform_provider_zae::aws::iam_policy;
use terraform_provider_zae::aws::iam_role::{self, RoleSettings};
use terraform_provider_zae::aws::lambda::{self, EventSourceMappingSettings, FunctionSettings};
use terraform_provider_zae::aws::logs;
use terraform_provider_zae::aws::s3::{self, ArchiveBucketSettings};
use terraform_provider_zae::aws::sqs::{self, QueueSettings};
use terraform_provider_zae::aws::table::{self, TableSettings};
use testkit::Emulator;

const WAIT: Duration = Duration::from_secs(60);

struct Env {
    config: aws_config::SdkConfig,
    // Dropped last: stops the emulator.
    _emulator: Emulator,
}

async fn env() -> Env {
    let emulator = Emulator::start();
    Env {
        config: emulator.sdk_config().await,
        _emulator: emulator,
    }
}

impl Env {
    fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.config)
    }

    fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.config)
    }

    fn s3(&self) -> aws_sdk_s3::Client {
        // The emulator on 127.0.0.1 has no per-bucket host names.
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.config)
                .force_path_style(true)
                .build(),
        )
    }

    fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config)
    }

    fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.config)
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }
}

#[tokio::test]
async fn log_group_round_trip() {
    let env = env().await;
    let client = env.logs();
    let name = logs::lambda_log_group_name("zae-aggregator");
    assert_eq!(logs::find_log_group(&client, &name).await.unwrap(), None);
    // A group whose name only shares the prefix is not the one asked for.
    assert!(
        logs::create_log_group(&client, &format!("{name}-other"), &BTreeMap::new())
            .await
            .unwrap()
    );
    assert_eq!(logs::find_log_group(&client, &name).await.unwrap(), None);

    assert!(logs::create_log_group(&client, &name, &BTreeMap::new()).await.unwrap());
    assert!(
        !logs::create_log_group(&client, &name, &BTreeMap::new()).await.unwrap(),
        "creating an existing group is accepted"
    );
    let group = logs::find_log_group(&client, &name).await.unwrap().expect("created");
    assert_eq!(group.name, name);
    assert_eq!(group.retention_in_days, None);

    logs::put_retention(&client, &name, Some(logs::DEFAULT_RETENTION_DAYS))
        .await
        .unwrap();
    let group = logs::find_log_group(&client, &name).await.unwrap().expect("exists");
    assert_eq!(group.retention_in_days, Some(30));
    logs::put_retention(&client, &name, Some(14)).await.unwrap();
    let group = logs::find_log_group(&client, &name).await.unwrap().expect("exists");
    assert_eq!(group.retention_in_days, Some(14));
    logs::put_retention(&client, &name, None).await.unwrap();
    let group = logs::find_log_group(&client, &name).await.unwrap().expect("exists");
    assert_eq!(group.retention_in_days, None);
    assert!(logs::put_retention(&client, &name, Some(31)).await.is_err());

    assert!(logs::delete_log_group(&client, &name).await.unwrap());
    assert_eq!(logs::find_log_group(&client, &name).await.unwrap(), None);
    assert!(!logs::delete_log_group(&client, &name).await.unwrap());
}

#[tokio::test]
async fn dlq_round_trip() {
    let env = env().await;
    let client = env.sqs();
    let settings = QueueSettings::dlq("zae");
    assert_eq!(sqs::find_queue(&client, &settings.name).await.unwrap(), None);

    let created = sqs::create_queue(&client, &settings).await.unwrap();
    assert!(created.arn.ends_with(":zae-aggregator-dlq"), "{}", created.arn);
    assert!(created.arn.starts_with("arn:aws:sqs:us-east-1:"), "{}", created.arn);
    assert_eq!(created.message_retention_seconds, Some(1_209_600));
    assert_eq!(created.visibility_timeout_seconds, Some(300));
    let found = sqs::find_queue(&client, &settings.name)
        .await
        .unwrap()
        .expect("created");
    assert_eq!(found, created);

    let changed = QueueSettings {
        visibility_timeout_seconds: 60,
        message_retention_seconds: 3600,
        ..settings.clone()
    };
    sqs::update_queue(&client, &found.url, &changed).await.unwrap();
    let found = sqs::find_queue(&client, &settings.name).await.unwrap().expect("exists");
    assert_eq!(found.visibility_timeout_seconds, Some(60));
    assert_eq!(found.message_retention_seconds, Some(3600));

    assert!(sqs::delete_queue(&client, &found.url).await.unwrap());
    assert_eq!(sqs::find_queue(&client, &settings.name).await.unwrap(), None);
    assert_eq!(sqs::find_queue_url(&client, &settings.name).await.unwrap(), None);
    assert!(!sqs::delete_queue(&client, &found.url).await.unwrap());
}

#[tokio::test]
async fn archive_bucket_round_trip() {
    let env = env().await;
    let client = env.s3();
    let settings = ArchiveBucketSettings::new("zae-audit-archive", "us-east-1");
    assert_eq!(s3::find_bucket(&client, &settings.name).await.unwrap(), None);
    assert_eq!(s3::empty_bucket(&client, &settings.name).await.unwrap(), 0);

    s3::create_archive_bucket(&client, &settings).await.unwrap();
    // A bucket this account owns is accepted (us-east-1 answers success, other regions
    // BucketAlreadyOwnedByYou).
    s3::create_bucket(&client, &settings.name, "us-east-1").await.unwrap();
    let bucket = s3::find_bucket(&client, &settings.name)
        .await
        .unwrap()
        .expect("created");
    assert_eq!(bucket.region.as_deref(), Some("us-east-1"));
    assert_eq!(bucket.sse_algorithm.as_deref(), Some("AES256"));
    assert!(bucket.public_access_blocked);
    assert_eq!(bucket.glacier_transition_days, Some(90));
    assert_eq!(bucket.tags.get("Application").map(String::as_str), Some("zae-limiter"));

    s3::put_glacier_lifecycle(&client, &settings.name, 30).await.unwrap();
    let bucket = s3::find_bucket(&client, &settings.name).await.unwrap().expect("exists");
    assert_eq!(bucket.glacier_transition_days, Some(30));

    // Versions and delete markers, more than one page of two entries.
    client
        .put_bucket_versioning()
        .bucket(&settings.name)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for (key, body) in [
        ("audit/a.jsonl.gz", "1"),
        ("audit/a.jsonl.gz", "2"),
        ("audit/b.jsonl.gz", "3"),
    ] {
        client
            .put_object()
            .bucket(&settings.name)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    client
        .delete_object()
        .bucket(&settings.name)
        .key("audit/b.jsonl.gz")
        .send()
        .await
        .unwrap();
    let err = s3::delete_bucket(&client, &settings.name).await.unwrap_err();
    assert_eq!(err.code(), Some("BucketNotEmpty"), "{err}");
    let deleted = s3::empty_bucket_in_pages(&client, &settings.name, Some(2))
        .await
        .unwrap();
    assert_eq!(deleted, 4, "3 versions and 1 delete marker");
    assert!(s3::delete_bucket(&client, &settings.name).await.unwrap());
    assert_eq!(s3::find_bucket(&client, &settings.name).await.unwrap(), None);
    assert!(!s3::delete_bucket(&client, &settings.name).await.unwrap());
}

#[tokio::test]
async fn buckets_outside_us_east_1_get_a_location_constraint() {
    let env = env().await;
    let client = env.s3();
    assert!(s3::create_bucket(&client, "zae-eu-archive", "eu-west-1").await.unwrap());
    assert!(
        !s3::create_bucket(&client, "zae-eu-archive", "eu-west-1").await.unwrap(),
        "BucketAlreadyOwnedByYou is accepted"
    );
    let bucket = s3::find_bucket(&client, "zae-eu-archive")
        .await
        .unwrap()
        .expect("created");
    assert_eq!(bucket.region.as_deref(), Some("eu-west-1"));
    assert_eq!(bucket.glacier_transition_days, None);
    assert!(s3::delete_bucket(&client, "zae-eu-archive").await.unwrap());
}

#[tokio::test]
async fn aggregator_role_round_trip() {
    let env = env().await;
    let client = env.iam();
    let name = iam_role::aggregator_role_name("zae");
    assert_eq!(iam_role::find_role(&client, &name).await.unwrap(), None);
    assert!(!iam_role::delete_role(&client, &name).await.unwrap());

    let document = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": ["arn:aws:sqs:us-east-1:123456789012:q"]
        }]
    });
    let boundary = env
        .iam()
        .create_policy()
        .policy_name("zae-boundary")
        .policy_document(document.to_string())
        .send()
        .await
        .unwrap()
        .policy
        .and_then(|p| p.arn)
        .expect("policy ARN");
    let mut settings = RoleSettings::for_lambda(&name);
    settings.tags = BTreeMap::from([("Application".to_owned(), "zae-limiter".to_owned())]);
    settings.permissions_boundary = Some(boundary.clone());
    let created = iam_role::create_role(&client, &settings).await.unwrap();
    assert_eq!(created.arn, format!("arn:aws:iam::123456789012:role/{name}"));

    iam_role::put_inline_policy(&client, &name, "DynamoDBAccess", &document)
        .await
        .unwrap();
    assert_eq!(
        iam_role::find_inline_policy(&client, &name, "DynamoDBAccess")
            .await
            .unwrap(),
        Some(document.clone())
    );
    assert_eq!(
        iam_role::find_inline_policy(&client, &name, "Other").await.unwrap(),
        None
    );
    // The emulator does not load AWS-managed policies (such as AWSLambdaBasicExecutionRole):
    // attach a customer-managed one.
    let basic = env
        .iam()
        .create_policy()
        .policy_name("zae-basic")
        .policy_document(document.to_string())
        .send()
        .await
        .unwrap()
        .policy
        .and_then(|p| p.arn)
        .expect("policy ARN");
    iam_role::attach_managed_policy(&client, &name, &basic).await.unwrap();

    let role = iam_role::find_role(&client, &name).await.unwrap().expect("created");
    assert_eq!(role.arn, created.arn);
    assert_eq!(role.role_id, created.role_id);
    assert_eq!(role.trust_policy, iam_role::lambda_trust_policy());
    assert_eq!(role.inline_policies, ["DynamoDBAccess"]);
    assert_eq!(role.managed_policies, std::slice::from_ref(&basic));
    assert_eq!(role.tags.get("Application").map(String::as_str), Some("zae-limiter"));
    assert_eq!(role.permissions_boundary.as_deref(), Some(boundary.as_str()));

    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]},
            "Action": "sts:AssumeRole"
        }]
    });
    iam_role::update_trust_policy(&client, &name, &trust).await.unwrap();
    assert_eq!(
        iam_role::find_role(&client, &name)
            .await
            .unwrap()
            .expect("exists")
            .trust_policy,
        trust
    );
    assert!(iam_role::detach_managed_policy(&client, &name, &basic).await.unwrap());
    assert!(!iam_role::delete_inline_policy(&client, &name, "Other").await.unwrap());

    // Deleting detaches and deletes the policies first (IAM refuses otherwise).
    iam_role::attach_managed_policy(&client, &name, &basic).await.unwrap();
    assert!(iam_role::delete_role(&client, &name).await.unwrap());
    assert_eq!(iam_role::find_role(&client, &name).await.unwrap(), None);
    assert!(!iam_role::delete_role(&client, &name).await.unwrap());
}

/// The smallest valid zip archive: an end-of-central-directory record and nothing else.
fn empty_zip() -> Vec<u8> {
    let mut zip = b"PK\x05\x06".to_vec();
    zip.extend_from_slice(&[0; 18]);
    zip
}

/// A different valid zip: the empty archive with a one-byte comment.
fn other_zip() -> Vec<u8> {
    let mut zip = b"PK\x05\x06".to_vec();
    zip.extend_from_slice(&[0; 16]);
    zip.extend_from_slice(&[1, 0, b'x']);
    zip
}

#[tokio::test]
async fn aggregator_function_and_mapping_round_trip() {
    let env = env().await;
    let (lambda_client, iam) = (env.lambda(), env.iam());
    let function = lambda::aggregator_function_name("zae");
    assert_eq!(lambda::find_function(&lambda_client, &function).await.unwrap(), None);
    assert!(!lambda::delete_function(&lambda_client, &function).await.unwrap());
    assert_eq!(
        lambda::find_event_source_mapping(&lambda_client, "a1b2c3d4-0000-0000-0000-000000000000")
            .await
            .unwrap(),
        None
    );

    let role = iam_role::create_role(&iam, &RoleSettings::for_lambda("zae-aggr"))
        .await
        .unwrap();
    let mut settings = FunctionSettings::new(&function, &role.arn);
    settings.environment = BTreeMap::from([("TABLE_NAME".to_owned(), "zae".to_owned())]);
    settings.tags = BTreeMap::from([("Application".to_owned(), "zae-limiter".to_owned())]);
    let created = lambda::create_function(&lambda_client, &settings, &empty_zip())
        .await
        .unwrap();
    assert!(created.arn.ends_with(":function:zae-aggregator"), "{}", created.arn);
    let active = lambda::wait_function_active(&lambda_client, &function, WAIT)
        .await
        .unwrap();
    assert_eq!(active.state.as_deref(), Some("Active"));
    assert_eq!(active.runtime.as_deref(), Some("provided.al2023"));
    assert_eq!(active.handler.as_deref(), Some("bootstrap"));
    assert_eq!(active.memory_mb, Some(256));
    assert_eq!(active.timeout_seconds, Some(60));
    assert_eq!(active.role_arn.as_deref(), Some(role.arn.as_str()));
    assert_eq!(active.environment, settings.environment);
    assert_eq!(active.tags.get("Application").map(String::as_str), Some("zae-limiter"));

    settings.memory_mb = 512;
    settings.timeout_seconds = 120;
    settings.tracing_active = true;
    settings.environment.insert("ENABLE_ARCHIVAL".into(), "false".into());
    lambda::update_function_configuration(&lambda_client, &settings)
        .await
        .unwrap();
    let updated = lambda::wait_function_updated(&lambda_client, &function, WAIT)
        .await
        .unwrap();
    assert_eq!(updated.memory_mb, Some(512));
    assert_eq!(updated.timeout_seconds, Some(120));
    // The emulator ignores TracingConfig on UpdateFunctionConfiguration (the request is
    // checked by the unit tests of `lambda`).
    assert_eq!(updated.environment, settings.environment);

    let sha = lambda::update_function_code(&lambda_client, &function, &other_zip(), None)
        .await
        .unwrap();
    let updated = lambda::wait_function_updated(&lambda_client, &function, WAIT)
        .await
        .unwrap();
    assert_eq!(updated.code_sha256, sha);
    assert_ne!(updated.code_sha256, active.code_sha256, "the code changed");

    let mut version_tag = BTreeMap::new();
    version_tag.insert("zae-limiter:lambda-version".to_owned(), "0.17.0".to_owned());
    lambda::tag_function(&lambda_client, &updated.arn, &version_tag)
        .await
        .unwrap();
    let tagged = lambda::find_function(&lambda_client, &function)
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(
        tagged.tags.get("zae-limiter:lambda-version").map(String::as_str),
        Some("0.17.0")
    );

    // The mapping from the table's stream, failures to the DLQ.
    let ddb = env.dynamodb();
    table::create_table(&ddb, &TableSettings::new("zae")).await.unwrap();
    let stream_arn = table::wait_table_active(&ddb, "zae", WAIT)
        .await
        .unwrap()
        .stream_arn
        .expect("the table has a stream");
    let dlq = sqs::create_queue(&env.sqs(), &QueueSettings::dlq("zae")).await.unwrap();
    let mapping_settings = EventSourceMappingSettings::aggregator(&function, &stream_arn, Some(dlq.arn.clone()));
    let mapping = lambda::create_event_source_mapping(&lambda_client, &mapping_settings)
        .await
        .unwrap();
    let enabled = lambda::wait_event_source_mapping(&lambda_client, &mapping.uuid, true, WAIT)
        .await
        .unwrap();
    assert_eq!(enabled.state.as_deref(), Some("Enabled"));
    assert_eq!(enabled.event_source_arn.as_deref(), Some(stream_arn.as_str()));
    assert_eq!(enabled.batch_size, Some(100));
    assert_eq!(enabled.starting_position.as_deref(), Some("LATEST"));
    assert_eq!(enabled.maximum_batching_window_seconds, Some(5));
    assert_eq!(enabled.maximum_retry_attempts, Some(3));
    assert_eq!(enabled.maximum_record_age_seconds, Some(3600));
    assert_eq!(enabled.bisect_batch_on_function_error, Some(true));
    assert_eq!(enabled.filter_patterns, lambda::AGGREGATOR_FILTER_PATTERNS);
    assert_eq!(enabled.on_failure_destination.as_deref(), Some(dlq.arn.as_str()));
    let found = lambda::find_event_source_mapping_for(&lambda_client, &function, &stream_arn)
        .await
        .unwrap()
        .expect("listed");
    assert_eq!(found.uuid, mapping.uuid);
    assert_eq!(
        lambda::find_event_source_mapping_for(&lambda_client, &function, &format!("{stream_arn}-other"))
            .await
            .unwrap(),
        None
    );

    let changed = EventSourceMappingSettings {
        batch_size: 50,
        enabled: false,
        filter_patterns: Vec::new(),
        on_failure_destination: None,
        ..mapping_settings.clone()
    };
    lambda::update_event_source_mapping(&lambda_client, &mapping.uuid, &changed)
        .await
        .unwrap();
    let disabled = lambda::wait_event_source_mapping(&lambda_client, &mapping.uuid, false, WAIT)
        .await
        .unwrap();
    assert_eq!(disabled.batch_size, Some(50));
    assert_eq!(disabled.state.as_deref(), Some("Disabled"));
    assert!(disabled.filter_patterns.is_empty(), "{:?}", disabled.filter_patterns);
    assert_eq!(disabled.on_failure_destination, None);

    assert!(
        lambda::delete_event_source_mapping(&lambda_client, &mapping.uuid)
            .await
            .unwrap()
    );
    lambda::wait_event_source_mapping_deleted(&lambda_client, &mapping.uuid, WAIT)
        .await
        .unwrap();
    assert_eq!(
        lambda::find_event_source_mapping(&lambda_client, &mapping.uuid)
            .await
            .unwrap(),
        None
    );
    // (The emulator answers DeleteEventSourceMapping of an unknown UUID with success, so
    // `Ok(false)` is not checked here.)

    assert!(lambda::delete_function(&lambda_client, &function).await.unwrap());
    assert_eq!(lambda::find_function(&lambda_client, &function).await.unwrap(), None);
    assert!(!lambda::delete_function(&lambda_client, &function).await.unwrap());
}

/// Signals after every attempt of a call (once its response, or failure, is in).
#[derive(Debug, Clone)]
struct SignalAfterAttempt(std::sync::Arc<tokio::sync::Notify>);

impl Intercept for SignalAfterAttempt {
    fn name(&self) -> &'static str {
        "SignalAfterAttempt"
    }

    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.notify_one();
        Ok(())
    }
}

/// CreateFunction with a role that does not exist yet fails with "The role defined for the
/// function cannot be assumed by Lambda" (IAM propagation); it is retried until the role
/// appears.
#[tokio::test]
async fn create_function_waits_for_its_role_to_propagate() {
    let env = env().await;
    let attempted = std::sync::Arc::new(tokio::sync::Notify::new());
    let client = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&env.config)
            .interceptor(SignalAfterAttempt(attempted.clone()))
            .build(),
    );
    let role_arn = "arn:aws:iam::123456789012:role/zae-late-aggr";
    let settings = FunctionSettings::new("zae-late-aggregator", role_arn);
    let iam = env.iam();
    let zip = empty_zip();
    let (created, role) = tokio::join!(lambda::create_function(&client, &settings, &zip), async {
        // The role appears only after the first attempt has failed.
        attempted.notified().await;
        iam_role::create_role(&iam, &RoleSettings::for_lambda("zae-late-aggr")).await
    });
    assert_eq!(role.unwrap().arn, role_arn);
    let created = created.expect("retried until the role could be assumed");
    assert_eq!(created.role_arn.as_deref(), Some(role_arn));
}

/// A role this provider made for the same purpose (same description, trust, boundary and
/// tags) is adopted by a second create; a role of that name made for anything else is not.
#[tokio::test]
async fn create_or_adopt_role_adopts_only_a_matching_role() {
    let env = env().await;
    let client = env.iam();
    let mut settings = RoleSettings::for_lambda("pb-zae-app-PowerUser");
    settings.description = Some("zae-limiter app role for stack zae".into());
    settings.tags = [("Application".to_owned(), "zae-limiter".to_owned())].into();
    let first = iam_role::create_or_adopt_role(&client, &settings).await.unwrap();
    let again = iam_role::create_or_adopt_role(&client, &settings).await.unwrap();
    assert_eq!(again.arn, first.arn);
    let mut other = settings.clone();
    other.description = Some("someone else's role".into());
    let err = iam_role::create_or_adopt_role(&client, &other).await.unwrap_err();
    assert!(err.has_code("EntityAlreadyExists"), "{err}");
}

/// A policy of that name with the same description and an equivalent document (so this
/// stack's) is adopted by a second create; one with another document is not.
#[tokio::test]
async fn create_or_adopt_policy_adopts_only_an_equivalent_policy() {
    let env = env().await;
    let client = env.iam();
    let document = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": ["arn:aws:dynamodb:us-east-1:123456789012:table/t"]}]
    });
    let tags = BTreeMap::new();
    let first = iam_policy::create_or_adopt_policy(&client, "/zae/", "t-acq", "desc", &document, &tags)
        .await
        .unwrap();
    assert!(first.arn.ends_with(":policy/zae/t-acq"), "{}", first.arn);
    let again = iam_policy::create_or_adopt_policy(&client, "/zae/", "t-acq", "desc", &document, &tags)
        .await
        .unwrap();
    assert_eq!(again.arn, first.arn);
    let other = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": ["arn:aws:dynamodb:us-east-1:123456789012:table/other"]}]
    });
    let err = iam_policy::create_or_adopt_policy(&client, "/zae/", "t-acq", "desc", &other, &tags)
        .await
        .unwrap_err();
    assert!(err.has_code("EntityAlreadyExists"), "{err}");
}
