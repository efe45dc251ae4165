//! A cloneable, one-shot "stop now" flag that tasks can poll or await.

use std::sync::Arc;

use tokio::sync::watch;

/// A one-shot signal shared between the code that decides to stop and the
/// tasks that must react to it.
///
/// Clones share the same state. Once [`trigger`](Self::trigger) has been
/// called the signal stays triggered, and every current or future
/// [`triggered`](Self::triggered) call resolves immediately.
///
/// The transport uses one instance to stop the gRPC server (see
/// [`ServeOptions::with_shutdown`](super::ServeOptions::with_shutdown)). The
/// RPC layer can use its own instance for `StopProvider`, letting
/// long-running resource operations abort early.
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    sender: Arc<watch::Sender<bool>>,
}

impl ShutdownSignal {
    /// Creates a signal that has not been triggered yet.
    pub fn new() -> Self {
        let (sender, _receiver) = watch::channel(false);
        Self {
            sender: Arc::new(sender),
        }
    }

    /// Triggers the signal. Calling it again has no further effect.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Returns whether [`trigger`](Self::trigger) has been called.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once the signal has been triggered (at once if it already was).
    pub async fn triggered(&self) {
        let mut receiver = self.sender.subscribe();
        // The sender lives in `self`, so the channel cannot close while we
        // wait; an error here is impossible, and would only mean "stop" anyway.
        let _ = receiver.wait_for(|stopped| *stopped).await;
    }
}

impl Default for ShutdownSignal {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn starts_untriggered_and_stays_triggered() {
        let signal = ShutdownSignal::new();
        assert!(!signal.is_triggered());
        signal.trigger();
        signal.trigger();
        assert!(signal.is_triggered());
        // Resolves immediately for late waiters.
        tokio::time::timeout(Duration::from_secs(1), signal.triggered())
            .await
            .expect("already-triggered signal resolves at once");
    }

    #[tokio::test]
    async fn clones_wake_waiters() {
        let signal = ShutdownSignal::new();
        let waiter = {
            let signal = signal.clone();
            tokio::spawn(async move { signal.triggered().await })
        };
        tokio::task::yield_now().await;
        signal.clone().trigger();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("waiter wakes up")
            .expect("waiter task does not panic");
    }
}
