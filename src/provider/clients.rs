//! Builds the [`AwsClients`] once per provider configuration, blaming the setting at fault
//! when credentials cannot be validated.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use super::config::ProviderConfig;
use crate::aws::AwsClients;
use crate::aws::sts::{CallerIdentity, partition_of};
use crate::framework::{AttributePath, Diagnostics};

/// Builds the SDK configuration and clients; validates credentials unless told not to.
/// Problems are reported against the setting that caused them.
pub async fn build(cfg: &ProviderConfig, diags: &mut Diagnostics) -> Option<AwsClients> {
    let base = load_base(cfg).await;
    let Some(region) = base.region().map(|r| r.to_string()) else {
        diags.attribute_error(
            AttributePath::root("region"),
            "No AWS region",
            "Set `region` in the provider block, or the AWS_REGION environment variable, or a region in the \
             AWS profile.",
        );
        return None;
    };
    let sdk = match &cfg.assume_role {
        None => base,
        Some(role) => {
            let mut builder = AssumeRoleProvider::builder(role.role_arn.clone())
                .session_name(
                    role.session_name
                        .clone()
                        .unwrap_or_else(|| "terraform-provider-zae".into()),
                )
                .region(Region::new(region.clone()))
                .configure(&with_service_endpoint(&base, cfg, "sts"));
            if let Some(id) = &role.external_id {
                builder = builder.external_id(id.clone());
            }
            let provider = builder.build().await;
            base.into_builder()
                .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
                .build()
        }
    };
    if sdk.credentials_provider().is_none() {
        diags.error(
            "No AWS credentials",
            "Set access_key/secret_key, a profile, or the standard AWS environment variables.",
        );
        return None;
    }
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&with_service_endpoint(&sdk, cfg, "dynamodb"))
            .interceptor(NoRetryAfterStop)
            .build(),
    );
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&with_service_endpoint(&sdk, cfg, "iam"))
            .interceptor(NoRetryAfterStop)
            .build(),
    );
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&with_service_endpoint(&sdk, cfg, "sts"))
            .interceptor(NoRetryAfterStop)
            .build(),
    );
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&with_service_endpoint(&sdk, cfg, "lambda"))
            .interceptor(NoRetryAfterStop)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&with_service_endpoint(&sdk, cfg, "sqs"))
            .interceptor(NoRetryAfterStop)
            .build(),
    );
    let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::config::Builder::from(&with_service_endpoint(&sdk, cfg, "logs"))
            .interceptor(NoRetryAfterStop)
            .build(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(s3_config(&with_service_endpoint(&sdk, cfg, "s3")));
    let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&with_service_endpoint(&sdk, cfg, "cloudwatch"))
            .interceptor(NoRetryAfterStop)
            .build(),
    );
    let mut clients = AwsClients {
        dynamodb,
        iam,
        sts,
        lambda,
        sqs,
        logs,
        s3,
        cloudwatch,
        region,
        identity: None,
        default_tags: cfg.default_tags.clone(),
    };
    // The account restrictions need the caller's account even when the check is skipped.
    if (!cfg.skip_credentials_validation || cfg.restricts_accounts()) && !cfg.has_unknowns {
        match fetch_identity(&clients.sts).await {
            Ok(identity) => {
                tracing::debug!(account = %identity.account_id, arn = %identity.arn, "validated AWS credentials");
                cfg.check_account(&identity.account_id, diags);
                if diags.has_errors() {
                    return None;
                }
                clients.identity = Some(identity);
            }
            Err(failure) => {
                let message = &failure.message;
                let (path, hint) = blame(cfg, failure.kind);
                let skip = if cfg.skip_credentials_validation {
                    "(allowed_account_ids and forbidden_account_ids need the caller's account, so the check \
                     runs despite skip_credentials_validation.)"
                } else {
                    "(Set skip_credentials_validation = true to skip this check.)"
                };
                diags.attribute_error(
                    path,
                    "Cannot validate AWS credentials",
                    format!("STS GetCallerIdentity failed: {message}. {hint} {skip}"),
                );
                return None;
            }
        }
    }
    Some(clients)
}

/// The S3 client configuration: path-style addressing (`http://host/bucket/key`) when a
/// custom endpoint is configured for S3 (`endpoints.s3`, `endpoint_url`, `AWS_ENDPOINT_URL`
/// or `AWS_ENDPOINT_URL_S3`), because an emulator or proxy on an IP address has no
/// per-bucket host names; virtual-hosted style (the SDK default) against real AWS.
fn s3_config(sdk: &SdkConfig) -> aws_sdk_s3::Config {
    aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(has_custom_endpoint(sdk, "S3"))
        .interceptor(NoRetryAfterStop)
        .build()
}

/// Whether `sdk` sends `service_id`'s calls to a custom endpoint: a global endpoint URL, or
/// the service's own from the environment or profile (as the SDK's config builders read it).
fn has_custom_endpoint(sdk: &SdkConfig, service_id: &str) -> bool {
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id(service_id)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build();
    let own = match (sdk.service_config(), key) {
        (Some(config), Ok(key)) => config.load_config(key).is_some(),
        _ => false,
    };
    own || sdk.endpoint_url().is_some()
}

/// Ends the SDK's own retries of a call once Terraform has asked the provider to stop
/// ([`framework::stop`](crate::framework::stop)): the first attempt of a call is made, a
/// retry is refused with an error, so a throttled call does not keep an interrupted apply
/// waiting for up to 25 more attempts. (The orchestrator runs on the calling task, where the
/// stop signal is visible.)
#[derive(Debug)]
struct NoRetryAfterStop;

impl Intercept for NoRetryAfterStop {
    fn name(&self) -> &'static str {
        "NoRetryAfterStop"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg.load::<RequestAttempts>().map_or(1, RequestAttempts::attempts);
        if attempt > 1 && crate::framework::stop::requested() {
            return Err("not retried: Terraform asked the provider to stop".into());
        }
        Ok(())
    }
}

/// Which setting most likely caused a failed credential check.
fn blame(cfg: &ProviderConfig, kind: FailureKind) -> (AttributePath, &'static str) {
    if kind == FailureKind::Connect && cfg.endpoint_for("sts").is_some() {
        let attr = if cfg.endpoints.contains_key("sts") {
            AttributePath::root("endpoints").attribute("sts")
        } else {
            AttributePath::root("endpoint_url")
        };
        (attr, "Check that the endpoint URL is right and the service is running.")
    } else if cfg.assume_role.is_some() {
        (
            AttributePath::root("assume_role").attribute("role_arn"),
            "Check the role ARN and that the base credentials may assume it.",
        )
    } else if cfg.static_credentials.is_some() {
        (AttributePath::root("access_key"), "Check access_key and secret_key.")
    } else {
        (
            AttributePath::root("profile"),
            "Check the profile or the AWS_* environment variables.",
        )
    }
}

/// The SDK time limits: connection, read (the same as one attempt), attempt and operation.
fn timeout_config(cfg: &ProviderConfig) -> TimeoutConfig {
    let limits = cfg.sdk_timeouts;
    TimeoutConfig::builder()
        .connect_timeout(limits.connect)
        .read_timeout(limits.attempt)
        .operation_attempt_timeout(limits.attempt)
        .operation_timeout(limits.operation)
        .build()
}

/// The shared SDK configuration every client is built from: retries, time limits, region,
/// credentials and endpoint.
async fn load_base(cfg: &ProviderConfig) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(cfg.max_retries.saturating_add(1))
                .with_max_backoff(Duration::from_secs(20)),
        )
        .timeout_config(timeout_config(cfg));
    if let Some(region) = &cfg.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &cfg.profile {
        loader = loader.profile_name(profile);
    }
    if let Some((access, secret, token)) = &cfg.static_credentials {
        loader = loader.credentials_provider(Credentials::new(access, secret, token.clone(), None, "provider-config"));
    }
    if let Some(url) = &cfg.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

fn with_service_endpoint(sdk: &SdkConfig, cfg: &ProviderConfig, service: &str) -> SdkConfig {
    match cfg.endpoints.get(service) {
        Some(url) => sdk.to_builder().endpoint_url(url).build(),
        None => sdk.clone(),
    }
}

/// Why a call to AWS failed, as far as blaming a setting goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureKind {
    /// The endpoint could not be reached.
    Connect,
    /// No credentials could be loaded.
    Credentials,
    /// AWS answered with an error, or something else failed.
    Other,
}

/// A failed AWS call, described in one line.
#[derive(Debug, Clone)]
struct CallFailure {
    kind: FailureKind,
    message: String,
}

async fn fetch_identity(sts: &aws_sdk_sts::Client) -> Result<CallerIdentity, CallFailure> {
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| describe_sdk_error(&e))?;
    let arn = out.arn().unwrap_or_default().to_string();
    let partition = partition_of(&arn).unwrap_or("aws").to_string();
    Ok(CallerIdentity {
        account_id: out.account().unwrap_or_default().to_string(),
        user_id: out.user_id().map(str::to_owned),
        arn,
        partition,
    })
}

/// The messages of `err` and its sources, without repeats, joined with ": " (at most 500
/// characters): e.g. "failed to load the cached SSO token: ... No such file or directory".
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        next = e.source();
    }
    let joined = parts.join(": ");
    match joined.char_indices().nth(500) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

/// A one-line account of an SDK failure: the service's code and message, or what went
/// wrong reaching the endpoint or loading credentials.
fn describe_sdk_error<E: aws_sdk_sts::error::ProvideErrorMetadata + std::error::Error + 'static>(
    err: &aws_sdk_sts::error::SdkError<E>,
) -> CallFailure {
    use aws_sdk_sts::error::SdkError;
    let fail = |kind, message: &str| CallFailure {
        kind,
        message: message.to_string(),
    };
    let text = aws_sdk_sts::error::DisplayErrorContext(err).to_string();
    match err {
        SdkError::DispatchFailure(_) if text.contains("loading credentials") || text.contains("no credentials") => {
            fail(
                FailureKind::Credentials,
                &format!(
                    "no AWS credentials could be loaded ({}); set access_key and secret_key, a profile (for an \
                     SSO profile, run `aws sso login` first), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                    error_chain(err)
                ),
            )
        }
        SdkError::DispatchFailure(failure) if failure.is_io() => fail(
            FailureKind::Connect,
            "cannot connect to the endpoint (connection refused, unreachable or unknown host)",
        ),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            fail(FailureKind::Connect, "the endpoint did not answer in time")
        }
        SdkError::TimeoutError(_) => fail(FailureKind::Connect, "the endpoint did not answer in time"),
        SdkError::ServiceError(service) => {
            let e = service.err();
            let message = format!(
                "{}: {}",
                e.code().unwrap_or("error"),
                e.message().unwrap_or("no message")
            );
            fail(FailureKind::Other, &message)
        }
        _ => fail(FailureKind::Other, &text.chars().take(300).collect::<String>()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::provider::config::SdkTimeouts;

    /// A loopback listener that accepts connections and never answers; returns its URL.
    async fn silent_endpoint() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        url
    }

    fn config(endpoint: String, skip_credentials_validation: bool) -> ProviderConfig {
        ProviderConfig {
            region: Some("us-east-1".into()),
            static_credentials: Some(("AKIATEST".into(), "secret".into(), None)),
            endpoint_url: Some(endpoint),
            max_retries: 2,
            skip_credentials_validation,
            sdk_timeouts: SdkTimeouts {
                connect: Duration::from_millis(500),
                attempt: Duration::from_millis(300),
                operation: Duration::from_millis(800),
            },
            ..ProviderConfig::default()
        }
    }

    /// A loopback HTTP server answering every request with a retryable 500; returns its URL
    /// and the number of requests it has seen.
    async fn failing_endpoint() -> (String, std::sync::Arc<std::sync::atomic::AtomicU32>) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 65536];
                    let mut received = Vec::new();
                    while let Ok(n) = socket.read(&mut buffer).await {
                        if n == 0 {
                            return;
                        }
                        received.extend_from_slice(&buffer[..n]);
                        // One response per request head; a body arriving later is ignored.
                        if received.windows(4).any(|w| w == b"\r\n\r\n") {
                            received.clear();
                            seen.fetch_add(1, Ordering::SeqCst);
                            let reply = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n";
                            if socket.write_all(reply).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (url, requests)
    }

    /// After StopProvider, a call that fails with a retryable error is not retried by the SDK.
    #[tokio::test]
    async fn the_sdk_does_not_retry_after_stop() {
        use std::sync::atomic::Ordering;
        let (endpoint, requests) = failing_endpoint().await;
        let mut cfg = config(endpoint, true);
        cfg.max_retries = 3;
        cfg.sdk_timeouts = SdkTimeouts {
            operation: Duration::from_secs(60),
            ..SdkTimeouts::default()
        };
        let clients = build(&cfg, &mut Diagnostics::new()).await.expect("clients");

        let err = clients.dynamodb.list_tables().send().await.expect_err("500");
        assert_eq!(
            requests.swap(0, Ordering::SeqCst),
            4,
            "without a stop: 1 attempt and 3 retries"
        );
        assert!(
            aws_sdk_dynamodb::error::DisplayErrorContext(&err)
                .to_string()
                .contains("500")
        );

        let signal = crate::framework::stop::StopSignal::new();
        signal.trigger();
        let err = signal
            .scope(clients.dynamodb.list_tables().send())
            .await
            .expect_err("stopped");
        assert_eq!(requests.load(Ordering::SeqCst), 1, "only the first attempt");
        let message = aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string();
        assert!(
            message.contains("not retried: Terraform asked the provider to stop"),
            "{message}"
        );
    }

    /// A loopback HTTP server answering every request with a 500 and recording each request's
    /// head (request line and headers, lower-cased); returns its port and the heads.
    async fn recording_endpoint() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 65536];
                    let mut received = Vec::new();
                    while let Ok(n) = socket.read(&mut buffer).await {
                        if n == 0 {
                            return;
                        }
                        received.extend_from_slice(&buffer[..n]);
                        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&received[..end]).to_lowercase();
                            seen.lock().expect("heads").push(head);
                            received.clear();
                            let reply = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n";
                            if socket.write_all(reply).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (port, heads)
    }

    /// Against a custom endpoint, S3 addresses buckets by path: a host name such as
    /// `localhost` gets no `bucket.localhost` (which would not resolve).
    #[tokio::test]
    async fn s3_uses_path_style_against_a_custom_endpoint() {
        let (port, heads) = recording_endpoint().await;
        let mut cfg = config(format!("http://localhost:{port}"), true);
        cfg.max_retries = 0;
        let clients = build(&cfg, &mut Diagnostics::new()).await.expect("clients");
        let err = clients
            .s3
            .head_bucket()
            .bucket("zae-archive")
            .send()
            .await
            .expect_err("500");
        let heads = heads.lock().expect("heads").clone();
        let [head] = heads.as_slice() else {
            panic!(
                "one request reached the endpoint: {heads:?}; {}",
                aws_sdk_s3::error::DisplayErrorContext(&err)
            )
        };
        assert!(head.starts_with("head /zae-archive/ http/1.1"), "{head}");
        assert!(head.contains(&format!("host: localhost:{port}")), "{head}");
    }

    /// Without a custom endpoint S3 keeps the SDK's virtual-hosted addressing.
    #[tokio::test]
    async fn s3_keeps_virtual_hosted_style_on_aws() {
        let sdk = SdkConfig::builder().region(Region::new("eu-west-1")).build();
        assert!(!has_custom_endpoint(&sdk, "S3"));
        let custom = sdk.to_builder().endpoint_url("http://127.0.0.1:1").build();
        assert!(has_custom_endpoint(&custom, "S3"));
    }

    /// `endpoints.lambda`, `.sqs`, `.logs` and `.s3` each send that service's calls to the
    /// given URL.
    #[tokio::test]
    async fn service_endpoints_route_lambda_sqs_logs_and_s3() {
        let (port, heads) = recording_endpoint().await;
        let mut cfg = config(silent_endpoint().await, true);
        cfg.endpoint_url = None;
        cfg.max_retries = 0;
        for service in ["lambda", "sqs", "logs", "s3"] {
            cfg.endpoints
                .insert(service.into(), format!("http://127.0.0.1:{port}/{service}"));
        }
        let clients = build(&cfg, &mut Diagnostics::new()).await.expect("clients");
        let _ = clients.lambda.list_functions().send().await;
        let _ = clients.sqs.list_queues().send().await;
        let _ = clients.logs.describe_log_groups().send().await;
        let _ = clients.s3.list_buckets().send().await;
        let heads = heads.lock().expect("heads").clone();
        for service in ["lambda", "sqs", "logs", "s3"] {
            assert!(
                heads.iter().any(|h| h.contains(&format!(" /{service}"))),
                "no {service} call reached its endpoint: {heads:?}"
            );
        }
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as &(dyn std::error::Error + 'static))
        }
    }

    #[test]
    fn error_chains_skip_repeated_layers() {
        let err = Layer(
            "dispatch failure",
            Some(Box::new(Layer(
                "loading credentials",
                Some(Box::new(Layer(
                    "loading credentials",
                    Some(Box::new(Layer("failed to load the cached SSO token", None))),
                ))),
            ))),
        );
        assert_eq!(
            error_chain(&err),
            "dispatch failure: loading credentials: failed to load the cached SSO token"
        );
    }

    #[test]
    fn default_time_limits_are_set() {
        let limits = timeout_config(&ProviderConfig::default());
        assert_eq!(limits.connect_timeout(), Some(Duration::from_secs(10)));
        assert_eq!(limits.operation_attempt_timeout(), Some(Duration::from_secs(60)));
        assert_eq!(limits.operation_timeout(), Some(Duration::from_secs(300)));
    }

    /// Every client gives up on an endpoint that accepts the connection and never answers,
    /// within its operation timeout (the outer 30 s bound only keeps a regression from hanging).
    #[tokio::test]
    async fn calls_to_a_silent_endpoint_time_out() {
        let endpoint = silent_endpoint().await;
        let mut diags = Diagnostics::new();
        let clients = build(&config(endpoint.clone(), true), &mut diags)
            .await
            .expect("clients");
        let started = Instant::now();
        let calls = async {
            tokio::join!(
                clients.dynamodb.list_tables().send(),
                clients.iam.list_policies().send(),
                clients.sts.get_caller_identity().send(),
                clients.lambda.list_functions().send(),
                clients.sqs.list_queues().send(),
                clients.logs.describe_log_groups().send(),
                clients.s3.list_buckets().send(),
            )
        };
        let (dynamodb, iam, sts, lambda, sqs, logs, s3) = tokio::time::timeout(Duration::from_secs(30), calls)
            .await
            .expect("the SDK's own time limits end the calls");
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        for failure in [
            dynamodb
                .map(drop)
                .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()),
            iam.map(drop)
                .map_err(|e| aws_sdk_iam::error::DisplayErrorContext(e).to_string()),
            sts.map(drop)
                .map_err(|e| aws_sdk_sts::error::DisplayErrorContext(e).to_string()),
            lambda
                .map(drop)
                .map_err(|e| aws_sdk_lambda::error::DisplayErrorContext(e).to_string()),
            sqs.map(drop)
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string()),
            logs.map(drop)
                .map_err(|e| aws_sdk_cloudwatchlogs::error::DisplayErrorContext(e).to_string()),
            s3.map(drop)
                .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string()),
        ] {
            let message = failure.expect_err("no answer, no success");
            assert!(
                message.contains("timeout") || message.contains("timed out"),
                "{message}"
            );
        }

        let mut diags = Diagnostics::new();
        let started = Instant::now();
        let checked = tokio::time::timeout(Duration::from_secs(30), build(&config(endpoint, false), &mut diags))
            .await
            .expect("the credential check ends");
        assert!(checked.is_none());
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        let diag = diags.iter().next().expect("an error");
        assert!(diag.detail.contains("did not answer in time"), "{diag:?}");
        assert!(
            diag.detail.contains("Set skip_credentials_validation = true"),
            "{diag:?}"
        );
        assert_eq!(diag.attribute, Some(AttributePath::root("endpoint_url")));
    }

    /// The account restrictions need the caller's account, so they call STS even when the
    /// credential check is skipped.
    #[tokio::test]
    async fn account_restrictions_check_the_caller_despite_skip_credentials_validation() {
        let mut cfg = config(silent_endpoint().await, true);
        cfg.allowed_account_ids = vec!["123456789012".into()];
        let mut diags = Diagnostics::new();
        assert!(build(&cfg, &mut diags).await.is_none());
        let diag = diags.iter().next().expect("an error");
        assert!(diag.detail.contains("STS GetCallerIdentity failed"), "{diag:?}");
        assert!(
            diag.detail.contains("runs despite skip_credentials_validation"),
            "{diag:?}"
        );
    }
}
