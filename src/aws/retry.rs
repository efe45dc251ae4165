//! Bounded retries: exponential backoff with full jitter, limited by a total time budget.
//!
//! ```ignore
//! retry_with(&RetryPolicy::CONTROL_PLANE, "CreateTable", AwsError::is_retryable, || async {
//!     client.create_table().table_name(name).send().await.context("CreateTable", name)
//! })
//! .await?;
//! ```
//!
//! The AWS SDK already retries throttling and transient errors a few times inside each call
//! (standard retry mode, 3 attempts); these helpers add the longer, error-specific budgets
//! the AWS provider uses (IAM propagation, DynamoDB control-plane limits).
//!
//! When Terraform asks the provider to stop ([`framework::stop`](crate::framework::stop)),
//! no further attempt starts: the loop ends at once with [`AwsError::Stopped`] naming the
//! last error.

use std::future::Future;
use std::time::{Duration, Instant};

use rand::Rng;

use super::LOG_TARGET;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::error::{AwsError, Result, SdkResultExt};

/// How long and how often to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Backoff ceiling after the first failure; it doubles per attempt.
    pub initial_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
    /// Total time budget, measured from the first attempt. No attempt starts after it.
    pub timeout: Duration,
}

impl RetryPolicy {
    /// IAM eventual consistency: the AWS provider's `propagationTimeout` of 2 minutes.
    pub const IAM_PROPAGATION: RetryPolicy = RetryPolicy::new(
        Duration::from_millis(200),
        Duration::from_secs(5),
        Duration::from_secs(120),
    );

    /// DynamoDB control-plane limits (`LimitExceededException` "… simultaneously",
    /// `ResourceInUseException`, throttling): 5 minutes.
    pub const CONTROL_PLANE: RetryPolicy = RetryPolicy::new(
        Duration::from_millis(500),
        Duration::from_secs(15),
        Duration::from_secs(300),
    );

    /// A policy with the given backoff bounds and time budget.
    pub const fn new(initial_delay: Duration, max_delay: Duration, timeout: Duration) -> Self {
        RetryPolicy {
            initial_delay,
            max_delay,
            timeout,
        }
    }

    /// The same backoff with another time budget.
    #[must_use]
    pub const fn with_timeout(self, timeout: Duration) -> Self {
        RetryPolicy { timeout, ..self }
    }

    /// Backoff ceiling after failed attempt number `attempt` (1-based):
    /// `initial_delay · 2^(attempt-1)`, at most `max_delay`.
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(30);
        self.initial_delay.saturating_mul(1 << shift).min(self.max_delay)
    }

    /// Full jitter: a uniformly random delay in `[0, backoff_ceiling(attempt)]`.
    pub fn jittered_delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = u64::try_from(self.backoff_ceiling(attempt).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=ceiling))
    }
}

/// Sleeps for `duration`, unless Terraform asks the provider to stop first (or already
/// has): then returns `Err(())` at once.
pub(crate) async fn pause(duration: Duration) -> std::result::Result<(), ()> {
    if crate::framework::stop::requested() {
        return Err(());
    }
    tokio::select! {
        biased;
        () = crate::framework::stop::wait() => Err(()),
        () = tokio::time::sleep(duration) => Ok(()),
    }
}

/// Tracks attempts and the time budget of one retry loop.
struct Backoff<'a> {
    policy: &'a RetryPolicy,
    start: Instant,
    attempts: u32,
}

impl<'a> Backoff<'a> {
    fn start(policy: &'a RetryPolicy) -> Self {
        Backoff {
            policy,
            start: Instant::now(),
            attempts: 0,
        }
    }

    /// Records a failed attempt; returns how long to sleep before the next one, or `None`
    /// when the budget is spent.
    fn failed(&mut self) -> Option<Duration> {
        self.attempts += 1;
        let remaining = self.policy.timeout.saturating_sub(self.start.elapsed());
        if remaining.is_zero() {
            return None;
        }
        let delay = self.policy.jittered_delay(self.attempts, &mut rand::rng());
        Some(delay.min(remaining))
    }
}

/// Sends one SDK request under `policy`: each attempt sends a clone of `request` through
/// `send` (e.g. `|r| r.send()`), is logged, and fails with an error naming `operation` and
/// `resource`; errors `retryable` accepts are retried. The common shape of a mutating call.
pub async fn send_with_retry<B, T, E, Fut, P>(
    policy: &RetryPolicy,
    operation: &'static str,
    resource: &str,
    retryable: P,
    request: &B,
    send: impl Fn(B) -> Fut,
) -> Result<T>
where
    B: Clone,
    Fut: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    P: Fn(&AwsError) -> bool,
{
    retry_with(policy, operation, retryable, || {
        let attempt = send(request.clone());
        async move {
            super::log_call(operation, &resource);
            attempt.await.context(operation, resource)
        }
    })
    .await
}

/// Runs `op` until it succeeds, fails with an error `retryable` rejects, or `policy`'s time
/// budget runs out.
///
/// A non-retryable error is returned unchanged; a retryable error that outlasts the budget
/// comes back as [`AwsError::RetriesExhausted`] wrapping the last error (classification
/// methods such as [`AwsError::code`] look through the wrapper).
pub async fn retry_with<T, Op, Fut, P>(policy: &RetryPolicy, operation: &str, retryable: P, mut op: Op) -> Result<T>
where
    Op: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
    P: Fn(&AwsError) -> bool,
{
    let mut backoff = Backoff::start(policy);
    loop {
        let err = match op().await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        if !retryable(&err) {
            return Err(err);
        }
        let Some(delay) = backoff.failed() else {
            tracing::debug!(target: LOG_TARGET, operation, attempts = backoff.attempts, error = %err, "giving up");
            return Err(AwsError::RetriesExhausted {
                operation: operation.to_owned(),
                attempts: backoff.attempts,
                elapsed: backoff.start.elapsed(),
                last: Box::new(err),
            });
        };
        tracing::debug!(target: LOG_TARGET, operation, attempt = backoff.attempts, ?delay, error = %err, "retrying");
        if pause(delay).await.is_err() {
            return Err(AwsError::Stopped {
                what: format!("retrying {operation} after {} attempts", backoff.attempts),
                last: format!("last error: {err}"),
            });
        }
    }
}

/// Runs the finder `find` until it reports the resource (`Some`), for resources that were
/// just created and may not be visible yet (the AWS provider's
/// `RetryWhenNewResourceNotFound`). Errors from `find` end the wait at once.
///
/// Returns [`AwsError::Gone`] when the resource is still missing after `policy.timeout`.
pub async fn retry_until_found<T, Op, Fut>(policy: &RetryPolicy, what: &str, mut find: Op) -> Result<T>
where
    Op: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let mut backoff = Backoff::start(policy);
    loop {
        if let Some(value) = find().await? {
            return Ok(value);
        }
        let Some(delay) = backoff.failed() else {
            return Err(AwsError::Gone {
                what: what.to_owned(),
                target: "it to appear".into(),
                checks: backoff.attempts,
            });
        };
        tracing::debug!(target: LOG_TARGET, what, attempt = backoff.attempts, ?delay, "not visible yet");
        if pause(delay).await.is_err() {
            return Err(AwsError::Stopped {
                what: format!("waiting for {what} to appear"),
                last: format!("not found after {} checks", backoff.attempts),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::aws::error::tests::service_error;

    const FAST: RetryPolicy = RetryPolicy::new(
        Duration::from_millis(1),
        Duration::from_millis(4),
        Duration::from_millis(500),
    );

    #[test]
    fn backoff_ceiling_doubles_up_to_the_maximum() {
        let p = RetryPolicy::new(
            Duration::from_millis(100),
            Duration::from_secs(1),
            Duration::from_secs(10),
        );
        assert_eq!(p.backoff_ceiling(1), Duration::from_millis(100));
        assert_eq!(p.backoff_ceiling(2), Duration::from_millis(200));
        assert_eq!(p.backoff_ceiling(4), Duration::from_millis(800));
        assert_eq!(p.backoff_ceiling(5), Duration::from_secs(1));
        assert_eq!(p.backoff_ceiling(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling() {
        let p = RetryPolicy::new(
            Duration::from_millis(10),
            Duration::from_millis(80),
            Duration::from_secs(1),
        );
        let mut rng = rand::rng();
        for attempt in 1..10 {
            for _ in 0..50 {
                assert!(p.jittered_delay(attempt, &mut rng) <= p.backoff_ceiling(attempt));
            }
        }
    }

    #[test]
    fn default_policies_are_bounded() {
        assert_eq!(RetryPolicy::IAM_PROPAGATION.timeout, Duration::from_secs(120));
        assert!(RetryPolicy::CONTROL_PLANE.timeout <= Duration::from_secs(300));
    }

    #[tokio::test]
    async fn retries_retryable_errors_until_success() {
        let calls = AtomicU32::new(0);
        let value = retry_with(&FAST, "Op", AwsError::is_retryable, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(service_error("ThrottlingException", "slow down")),
                _ => Ok(42),
            }
        })
        .await
        .unwrap();
        assert_eq!(value, 42);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn returns_non_retryable_errors_at_once() {
        let calls = AtomicU32::new(0);
        let err = retry_with(&FAST, "Op", AwsError::is_retryable, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(service_error("ValidationException", "bad"))
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(matches!(err, AwsError::Service { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn gives_up_when_the_budget_is_spent() {
        let policy = FAST.with_timeout(Duration::from_millis(30));
        let started = Instant::now();
        let err = retry_with(&policy, "CreateTable", AwsError::is_retryable, || async {
            Err::<(), _>(service_error("ThrottlingException", "slow down"))
        })
        .await
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        match &err {
            AwsError::RetriesExhausted {
                operation, attempts, ..
            } => {
                assert_eq!(operation, "CreateTable");
                assert!(*attempts > 1, "{attempts}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(err.code(), Some("ThrottlingException"));
    }

    #[tokio::test]
    async fn the_predicate_decides_what_is_retried() {
        let calls = AtomicU32::new(0);
        let result = retry_with(
            &FAST,
            "CreatePolicy",
            |e| e.is_retryable() || e.is_iam_propagation(),
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(service_error("MalformedPolicyDocument", "Invalid principal in policy"))
                } else {
                    Ok("ok")
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), "ok");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    /// A policy whose first backoff alone would outlast the tests' 10 s bound.
    const SLOW: RetryPolicy = RetryPolicy::new(
        Duration::from_secs(600),
        Duration::from_secs(600),
        Duration::from_secs(3600),
    );

    #[tokio::test]
    async fn stop_ends_retries_with_the_last_error() {
        let signal = crate::framework::stop::StopSignal::new();
        let calls = AtomicU32::new(0);
        let retried = retry_with(&SLOW, "CreateTable", AwsError::is_retryable, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            signal.trigger();
            Err::<(), _>(service_error("ThrottlingException", "slow down"))
        });
        let err = tokio::time::timeout(Duration::from_secs(10), signal.scope(retried))
            .await
            .expect("the stop cuts the backoff short")
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(matches!(err, AwsError::Stopped { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("stopped retrying CreateTable after 1 attempts"),
            "{err}"
        );
        assert!(err.to_string().contains("ThrottlingException: slow down"), "{err}");
    }

    #[tokio::test]
    async fn stop_ends_retry_until_found() {
        let signal = crate::framework::stop::StopSignal::new();
        let calls = AtomicU32::new(0);
        let found = retry_until_found(&SLOW, "policy p", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            signal.trigger();
            Ok(None::<()>)
        });
        let err = tokio::time::timeout(Duration::from_secs(10), signal.scope(found))
            .await
            .expect("the stop cuts the backoff short")
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(
            err.to_string().contains("stopped waiting for policy p to appear"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn retry_until_found_waits_for_a_new_resource() {
        let calls = AtomicU32::new(0);
        let found = retry_until_found(&FAST, "policy p", || async {
            Ok((calls.fetch_add(1, Ordering::SeqCst) >= 2).then_some("p"))
        })
        .await
        .unwrap();
        assert_eq!(found, "p");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn retry_until_found_reports_a_resource_that_never_appears() {
        let policy = FAST.with_timeout(Duration::from_millis(20));
        let err = retry_until_found(&policy, "policy p", || async { Ok(None::<()>) })
            .await
            .unwrap_err();
        assert!(err.is_not_found());
        assert!(err.to_string().contains("policy p does not exist"), "{err}");
    }
}
