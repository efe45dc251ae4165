//! Waiting for a resource to reach a state: the AWS provider's `StateChangeConf`
//! (finder → status → waiter) for this provider.
//!
//! A *status function* reports the resource's current state: `Ok(Some((value, state)))`,
//! `Ok(None)` when the resource does not exist, or an error, which ends the wait at once.
//! The waiter polls it with exponential backoff (no jitter) until a target state, an
//! unexpected state, or its timeout; every wait is bounded by [`WaitSpec::timeout`], and
//! ends between polls with [`AwsError::Stopped`] when Terraform asks the provider to stop
//! ([`framework::stop`](crate::framework::stop)).

use std::future::Future;
use std::time::{Duration, Instant};

use super::LOG_TARGET;
use super::error::{AwsError, Result};
use super::retry::pause;

/// What to wait for and how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitSpec {
    /// What is awaited, for messages, e.g. `DynamoDB table "zae"`.
    pub what: String,
    /// States that mean "keep waiting".
    pub pending: &'static [&'static str],
    /// States that end the wait successfully (ignored by [`wait_for_absence`]).
    pub target: &'static [&'static str],
    /// Total time budget.
    pub timeout: Duration,
    /// Pause before the first poll.
    pub delay: Duration,
    /// First interval between polls; it doubles per poll.
    pub min_poll: Duration,
    /// Largest interval between polls.
    pub max_poll: Duration,
    /// Consecutive not-found results tolerated by [`wait_for_state`] (eventual consistency
    /// right after a create) before it fails with [`AwsError::Gone`].
    pub not_found_checks: u32,
}

impl WaitSpec {
    /// A spec with the AWS provider's defaults: no initial delay, polls from 100 ms up to
    /// 10 s apart, 20 not-found checks.
    pub fn new(
        what: impl Into<String>,
        pending: &'static [&'static str],
        target: &'static [&'static str],
        timeout: Duration,
    ) -> Self {
        WaitSpec {
            what: what.into(),
            pending,
            target,
            timeout,
            delay: Duration::ZERO,
            min_poll: Duration::from_millis(100),
            max_poll: Duration::from_secs(10),
            not_found_checks: 20,
        }
    }

    /// Sets the pause before the first poll.
    #[must_use]
    pub fn with_delay(self, delay: Duration) -> Self {
        WaitSpec { delay, ..self }
    }

    /// Sets the poll interval bounds.
    #[must_use]
    pub fn with_poll(self, min_poll: Duration, max_poll: Duration) -> Self {
        WaitSpec {
            min_poll,
            max_poll: max_poll.max(min_poll),
            ..self
        }
    }

    /// Sets how many consecutive not-found results are tolerated.
    #[must_use]
    pub fn with_not_found_checks(self, not_found_checks: u32) -> Self {
        WaitSpec {
            not_found_checks,
            ..self
        }
    }

    fn target_text(&self, absence: bool) -> String {
        if absence {
            "deleted".to_owned()
        } else {
            self.target.join(" or ")
        }
    }
}

enum Outcome<T> {
    Reached(T),
    Absent,
}

/// Polls `status` until the resource reaches one of `spec.target`; returns the value the
/// status function reported with it.
///
/// Fails with [`AwsError::UnexpectedState`] on a state that is neither pending nor target,
/// [`AwsError::Gone`] when the resource is missing more than `spec.not_found_checks` times
/// in a row, and [`AwsError::WaitTimeout`] (naming the last state seen) when time runs out.
pub async fn wait_for_state<T, F, Fut>(spec: &WaitSpec, status: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<(T, String)>>>,
{
    match poll(spec, false, status).await? {
        Outcome::Reached(value) => Ok(value),
        Outcome::Absent => unreachable!("absence is only a target of wait_for_absence"),
    }
}

/// Polls `status` until the resource no longer exists. Every state it reports meanwhile must
/// be one of `spec.pending`.
pub async fn wait_for_absence<T, F, Fut>(spec: &WaitSpec, status: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<(T, String)>>>,
{
    match poll(spec, true, status).await? {
        Outcome::Absent => Ok(()),
        Outcome::Reached(_) => unreachable!("wait_for_absence has no target state"),
    }
}

async fn poll<T, F, Fut>(spec: &WaitSpec, absence: bool, mut status: F) -> Result<Outcome<T>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<(T, String)>>>,
{
    let start = Instant::now();
    // No deadline when the timeout is too large for an Instant: the wait is then unbounded in
    // practice (timeouts are validated to at most 24 hours before they get here).
    let deadline = start.checked_add(spec.timeout);
    let target = spec.target_text(absence);
    let stopped = |last_state: &str| AwsError::Stopped {
        what: format!("waiting for {} to become {target}", spec.what),
        last: format!("last state seen: {last_state}"),
    };
    if !spec.delay.is_zero() && pause(spec.delay.min(spec.timeout)).await.is_err() {
        return Err(stopped("not polled yet"));
    }
    let mut interval = spec.min_poll;
    let mut not_found = 0u32;
    loop {
        let last_state = match status().await? {
            None if absence => return Ok(Outcome::Absent),
            None => {
                not_found += 1;
                if not_found > spec.not_found_checks {
                    return Err(AwsError::Gone {
                        what: spec.what.clone(),
                        target,
                        checks: not_found,
                    });
                }
                "not found".to_owned()
            }
            Some((value, state)) => {
                not_found = 0;
                if !absence && spec.target.contains(&state.as_str()) {
                    tracing::debug!(
                        target: LOG_TARGET,
                        what = %spec.what,
                        %state,
                        elapsed = ?start.elapsed(),
                        "reached"
                    );
                    return Ok(Outcome::Reached(value));
                }
                if !spec.pending.contains(&state.as_str()) {
                    return Err(AwsError::UnexpectedState {
                        what: spec.what.clone(),
                        state,
                        target,
                    });
                }
                state
            }
        };
        let now = Instant::now();
        let remaining = deadline.map_or(Duration::MAX, |deadline| deadline.saturating_duration_since(now));
        if remaining.is_zero() {
            return Err(AwsError::WaitTimeout {
                what: spec.what.clone(),
                target,
                last_state,
                timeout: spec.timeout,
            });
        }
        tracing::debug!(target: LOG_TARGET, what = %spec.what, state = %last_state, ?interval, "waiting");
        if pause(interval.min(remaining)).await.is_err() {
            return Err(stopped(&last_state));
        }
        interval = interval.saturating_mul(2).min(spec.max_poll);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::aws::error::tests::service_error;

    fn spec(timeout_ms: u64) -> WaitSpec {
        WaitSpec::new(
            "table \"t\"",
            &["CREATING", "UPDATING"],
            &["ACTIVE"],
            Duration::from_millis(timeout_ms),
        )
        .with_poll(Duration::from_millis(1), Duration::from_millis(4))
        .with_not_found_checks(2)
    }

    /// A status function replaying `states` (`None` = not found), repeating the last one.
    fn script(states: &[Option<&str>]) -> impl FnMut() -> std::future::Ready<Result<Option<(usize, String)>>> {
        let states: Vec<Option<String>> = states.iter().map(|s| s.map(str::to_owned)).collect();
        let calls = Mutex::new(0usize);
        move || {
            let mut n = calls.lock().unwrap();
            let i = (*n).min(states.len() - 1);
            *n += 1;
            std::future::ready(Ok(states[i].clone().map(|s| (*n, s))))
        }
    }

    #[tokio::test]
    async fn waits_through_pending_states_to_the_target() {
        let polls = wait_for_state(
            &spec(1000),
            script(&[Some("CREATING"), Some("UPDATING"), Some("ACTIVE")]),
        )
        .await
        .unwrap();
        assert_eq!(polls, 3);
    }

    #[tokio::test]
    async fn tolerates_a_few_not_found_results() {
        let polls = wait_for_state(&spec(1000), script(&[None, None, Some("ACTIVE")]))
            .await
            .unwrap();
        assert_eq!(polls, 3);
    }

    #[tokio::test]
    async fn fails_when_the_resource_stays_missing() {
        let err = wait_for_state(&spec(1000), script(&[None])).await.unwrap_err();
        assert!(matches!(err, AwsError::Gone { checks: 3, .. }), "{err:?}");
        assert!(err.is_not_found());
    }

    #[tokio::test]
    async fn rejects_unexpected_states() {
        let err = wait_for_state(&spec(1000), script(&[Some("CREATING"), Some("DELETING")]))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "table \"t\" entered unexpected state DELETING while waiting for ACTIVE"
        );
    }

    #[tokio::test]
    async fn times_out_naming_the_last_state() {
        let started = Instant::now();
        let err = wait_for_state(&spec(30), script(&[Some("CREATING")]))
            .await
            .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            matches!(&err, AwsError::WaitTimeout { last_state, .. } if last_state == "CREATING"),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("waiting for table \"t\" to become ACTIVE; last state seen: CREATING")
        );
    }

    #[tokio::test]
    async fn status_errors_end_the_wait() {
        let err = wait_for_state(&spec(1000), || async {
            Err::<Option<((), String)>, _>(service_error("AccessDeniedException", "no"))
        })
        .await
        .unwrap_err();
        assert_eq!(err.code(), Some("AccessDeniedException"));
    }

    #[tokio::test]
    async fn a_huge_timeout_does_not_overflow() {
        let endless = spec(0).with_delay(Duration::from_millis(1));
        let endless = WaitSpec {
            timeout: Duration::MAX,
            ..endless
        };
        let polls = wait_for_state(&endless, script(&[Some("CREATING"), Some("ACTIVE")]))
            .await
            .unwrap();
        assert_eq!(polls, 2);
    }

    #[tokio::test]
    async fn stop_ends_the_wait_with_the_last_state() {
        let signal = crate::framework::stop::StopSignal::new();
        let slow = spec(600_000).with_poll(Duration::from_secs(300), Duration::from_secs(300));
        let polls = Mutex::new(0u32);
        let wait = wait_for_state(&slow, || {
            let mut n = polls.lock().unwrap();
            *n += 1;
            if *n == 1 {
                signal.trigger();
            }
            std::future::ready(Ok(Some(((), "CREATING".to_owned()))))
        });
        let err = tokio::time::timeout(Duration::from_secs(10), signal.scope(wait))
            .await
            .expect("the stop cuts the 300 s poll interval short")
            .unwrap_err();
        assert_eq!(*polls.lock().unwrap(), 1);
        assert_eq!(
            err.to_string(),
            "stopped waiting for table \"t\" to become ACTIVE: Terraform asked the provider to stop; \
             last state seen: CREATING"
        );
    }

    #[tokio::test]
    async fn waits_for_absence() {
        let deleting = WaitSpec::new("table \"t\"", &["ACTIVE", "DELETING"], &[], Duration::from_secs(1))
            .with_poll(Duration::from_millis(1), Duration::from_millis(2));
        wait_for_absence(&deleting, script(&[Some("ACTIVE"), Some("DELETING"), None]))
            .await
            .unwrap();
        let err = wait_for_absence(&deleting, script(&[Some("CREATING")]))
            .await
            .unwrap_err();
        assert!(matches!(err, AwsError::UnexpectedState { .. }), "{err:?}");
    }
}
