//! Cooperative cancellation: when Terraform calls `StopProvider` (the user pressed Ctrl-C),
//! in-flight operations should wind down soon, leaving a consistent (possibly partial) state.
//!
//! The server runs every resource and data source operation inside [`StopSignal::scope`],
//! so code deep inside an operation (waiters, retry loops) can poll [`requested`] or await
//! [`wait`] without the signal being threaded through every request type. The scope is
//! task-local: work moved to a `tokio::spawn`ed task must capture the signal itself with
//! [`current`].

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

tokio::task_local! {
    static CURRENT: StopSignal;
}

/// A one-shot "stop now" flag shared by the server and the operations it runs. Clones share
/// the same state; once triggered it stays triggered.
#[derive(Debug, Clone)]
pub struct StopSignal {
    sender: Arc<watch::Sender<bool>>,
}

impl StopSignal {
    /// A signal that has not been triggered.
    pub fn new() -> StopSignal {
        let (sender, _receiver) = watch::channel(false);
        StopSignal {
            sender: Arc::new(sender),
        }
    }

    /// Triggers the signal (idempotent).
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Whether the signal has been triggered.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once the signal is triggered (at once when it already is).
    pub async fn triggered(&self) {
        let mut receiver = self.sender.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait; an error
        // would only mean "stop" anyway.
        let _ = receiver.wait_for(|stopped| *stopped).await;
    }

    /// Runs `fut` with this signal as the current task's signal (see [`requested`]).
    pub async fn scope<F: Future>(&self, fut: F) -> F::Output {
        CURRENT.scope(self.clone(), fut).await
    }
}

impl Default for StopSignal {
    fn default() -> StopSignal {
        StopSignal::new()
    }
}

/// The signal of the operation running on this task, if any.
pub fn current() -> Option<StopSignal> {
    CURRENT.try_with(StopSignal::clone).ok()
}

/// Whether Terraform asked the provider to stop (always `false` outside an operation).
pub fn requested() -> bool {
    CURRENT.try_with(StopSignal::is_triggered).unwrap_or(false)
}

/// Resolves when Terraform asks the provider to stop; never resolves outside an operation.
/// Meant for `tokio::select!` beside a long wait.
pub async fn wait() {
    match current() {
        Some(signal) => signal.triggered().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn scope_exposes_the_signal_to_the_operation() {
        let signal = StopSignal::new();
        assert!(!requested());
        let seen = signal.scope(async { requested() }).await;
        assert!(!seen);
        signal.trigger();
        let seen = signal.scope(async { requested() }).await;
        assert!(seen);
        tokio::time::timeout(Duration::from_secs(1), signal.scope(wait()))
            .await
            .expect("wait resolves once triggered");
    }

    #[tokio::test]
    async fn wait_outside_an_operation_never_resolves() {
        let outcome = tokio::time::timeout(Duration::from_millis(20), wait()).await;
        assert!(outcome.is_err());
    }
}
