//! An interleaving gate: stops one caller at a [`PausePoint`] until the test lets it go.
//!
//! The caller's [`Table`](zae_limiter::Table) gets [`Gate::hook`]; the first time it
//! reaches the gate's point it meets the test at [`Gate::arrived`] and then waits for
//! [`Gate::release`]. Later passes (a retry reaching the same point) go straight through,
//! as do other points. Synchronisation is two `tokio::sync::Barrier`s, no sleeps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Barrier;
use zae_limiter::admin::hooks::{PauseHook, PausePoint};

/// Longest a test waits for the paused caller before failing (a guard against a caller
/// that never reaches the point, not a synchronisation delay).
const GUARD: Duration = Duration::from_secs(60);

/// One pause at one point.
pub struct Gate {
    point: PausePoint,
    used: AtomicBool,
    arrive: Barrier,
    leave: Barrier,
}

impl Gate {
    /// A gate that will stop the first caller reaching `point`.
    pub fn new(point: PausePoint) -> Arc<Gate> {
        Arc::new(Gate {
            point,
            used: AtomicBool::new(false),
            arrive: Barrier::new(2),
            leave: Barrier::new(2),
        })
    }

    /// The hook to install on the caller's table handle.
    pub fn hook(self: &Arc<Gate>) -> PauseHook {
        let gate = self.clone();
        PauseHook::new(move |point| {
            let gate = gate.clone();
            Box::pin(async move {
                if point != gate.point || gate.used.swap(true, Ordering::SeqCst) {
                    return;
                }
                gate.arrive.wait().await;
                gate.leave.wait().await;
            })
        })
    }

    /// Waits until the caller stands at the point.
    pub async fn arrived(&self) {
        tokio::time::timeout(GUARD, self.arrive.wait())
            .await
            .expect("the paused caller never reached its pause point");
    }

    /// Lets the caller continue.
    pub async fn release(&self) {
        tokio::time::timeout(GUARD, self.leave.wait())
            .await
            .expect("the paused caller is gone");
    }
}
