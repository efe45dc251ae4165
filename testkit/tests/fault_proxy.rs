//! The fault proxy as an AWS SDK client sees it: each fault kind shows up as the error
//! (or delay) it stands for, and the emulator behind it applied the request or not.

use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_dynamodb::{Client, error::SdkError};
use testkit::Emulator;
use testkit::faults::{Fault, FaultPlan, FaultProxy, Rule};

const TABLE: &str = "faults";

struct Setup {
    /// Kept alive for the test's duration.
    _emulator: Emulator,
    proxy: FaultProxy,
    /// Straight to the emulator.
    direct: Client,
    /// Through the proxy, without retries: every fault reaches the caller.
    proxied: Client,
}

async fn setup(plan: FaultPlan) -> Setup {
    let emulator = tokio::task::spawn_blocking(Emulator::start).await.unwrap();
    let direct = Client::new(&emulator.sdk_config().await);
    direct
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("PK")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("PK")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let proxy = FaultProxy::start(emulator.addr(), plan);
    let config = proxy
        .sdk_config()
        .await
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .build();
    Setup {
        _emulator: emulator,
        proxied: Client::new(&config),
        direct,
        proxy,
    }
}

async fn put(client: &Client, key: &str) -> Result<(), SdkError<PutItemError>> {
    client
        .put_item()
        .table_name(TABLE)
        .item("PK", AttributeValue::S(key.into()))
        .send()
        .await
        .map(|_| ())
}

async fn exists(client: &Client, key: &str) -> bool {
    client
        .get_item()
        .table_name(TABLE)
        .key("PK", AttributeValue::S(key.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .is_some()
}

fn only_put_item(fault: Fault) -> FaultPlan {
    FaultPlan::seeded(1).rule(Rule::new(fault).service("dynamodb").operation("PutItem"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transparent_proxy_changes_nothing() {
    let s = setup(FaultPlan::none()).await;
    for i in 0..5 {
        put(&s.proxied, &format!("k{i}")).await.unwrap();
    }
    assert!(exists(&s.proxied, "k4").await && exists(&s.direct, "k0").await);
    let stats = s.proxy.stats();
    assert_eq!(stats.requests["dynamodb:PutItem"], 5);
    assert_eq!(stats.requests["dynamodb:GetItem"], 1);
    assert_eq!(stats.total_injected(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttles_reach_the_client_as_throttling_errors_and_write_nothing() {
    let s = setup(only_put_item(Fault::Throttle)).await;
    let err = put(&s.proxied, "t").await.unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
    let s2 = setup(only_put_item(Fault::ProvisionedThroughputExceeded)).await;
    let err = put(&s2.proxied, "t").await.unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_provisioned_throughput_exceeded_exception()),
        "{err:?}"
    );
    assert!(!exists(&s.direct, "t").await && !exists(&s2.direct, "t").await);
    assert_eq!(s.proxy.stats().injected_into("dynamodb:PutItem"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_500_and_503_reach_the_client_with_their_status() {
    for status in [500, 503] {
        let s = setup(only_put_item(Fault::Status(status))).await;
        let err = put(&s.proxied, "s").await.unwrap_err();
        let raw = err.raw_response().map(|r| r.status().as_u16());
        assert_eq!(raw, Some(status), "{err:?}");
        assert!(!exists(&s.direct, "s").await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_before_forwarding_fails_the_call_and_writes_nothing() {
    let s = setup(only_put_item(Fault::ResetBeforeForward)).await;
    let err = put(&s.proxied, "r").await.unwrap_err();
    assert!(
        matches!(err, SdkError::DispatchFailure(_) | SdkError::ResponseError(_)),
        "a dropped connection, not an answer: {err:?}"
    );
    assert!(!exists(&s.direct, "r").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_after_forwarding_fails_the_call_although_the_item_is_written() {
    let s = setup(only_put_item(Fault::ResetAfterForward)).await;
    let err = put(&s.proxied, "dropped").await.unwrap_err();
    assert!(
        matches!(err, SdkError::DispatchFailure(_) | SdkError::ResponseError(_)),
        "a dropped connection, not an answer: {err:?}"
    );
    assert!(exists(&s.direct, "dropped").await, "the emulator applied the request");
    // The client reconnects: the next call through the proxy works (GetItem is not faulted).
    assert!(exists(&s.proxied, "dropped").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_slows_the_call_down_and_then_forwards_it() {
    let delay = Duration::from_millis(400);
    let s = setup(only_put_item(Fault::Delay(delay))).await;
    let start = Instant::now();
    put(&s.proxied, "slow").await.unwrap();
    assert!(start.elapsed() >= delay, "took {:?}", start.elapsed());
    assert!(exists(&s.direct, "slow").await);
    let key = ("delay".to_string(), "dynamodb:PutItem".to_string());
    assert_eq!(s.proxy.stats().injected[&key], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_throttles_are_query_protocol_throttling_errors() {
    let s = setup(FaultPlan::seeded(1).rule(Rule::new(Fault::Throttle).service("iam").first(1))).await;
    let config = s
        .proxy
        .sdk_config()
        .await
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .build();
    let iam = aws_sdk_iam::Client::new(&config);
    let err = iam.list_policies().send().await.unwrap_err();
    assert_eq!(err.code(), Some("Throttling"), "{err:?}");
    // Only the first: the second call is forwarded.
    iam.list_policies().send().await.unwrap();
    assert_eq!(s.proxy.stats().requests["iam:ListPolicies"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_default_retries_recover_from_each_transient_fault() {
    // Standard retry mode: three attempts. Two faults in a row, then the call goes through.
    for fault in [
        Fault::Throttle,
        Fault::ProvisionedThroughputExceeded,
        Fault::Status(500),
        Fault::Status(503),
        Fault::ResetBeforeForward,
    ] {
        let s = setup(FaultPlan::seeded(1).rule(Rule::new(fault).operation("PutItem").first(2))).await;
        let retrying = Client::new(&s.proxy.sdk_config().await);
        put(&retrying, "retried")
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e:?}"));
        assert!(exists(&s.direct, "retried").await);
        let stats = s.proxy.stats();
        assert_eq!(
            (stats.requests["dynamodb:PutItem"], stats.total_injected()),
            (3, 2),
            "{fault:?}"
        );
    }
}
