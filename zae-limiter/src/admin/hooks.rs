//! Pause points for interleaving tests.
//!
//! Some admin writes are a read (or a failed conditional write) followed by a write that
//! depends on what was seen: the registry updates after a config write, the replace after
//! a transactional create found the item existing. Whether two callers interleaving at
//! such a point leave the registries exact is only testable if a test can stop one caller
//! there. [`PausePoint`] names those points; with the `test-hooks` feature (on in this
//! crate's own tests) a [`PauseHook`] set with [`Table::with_pause_hook`] runs at each of
//! them and the write continues when its future completes. Without the feature the pause
//! is an empty `async fn` and the hook does not exist.
//!
//! [`Table::with_pause_hook`]: super::Table::with_pause_hook

/// A point in an admin write path between what a caller saw and the write that depends
/// on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PausePoint {
    /// `set_entity_limits`: the transactional create (config `Put` + registry increment)
    /// found the config item existing; next is the replace that must not count it again.
    EntityConfigReplace,
    /// `create_limit` at entity level: the transactional create found the config item
    /// existing; next is the update that adds the limit to it.
    EntityLimitAdd,
    /// A resource-level config item was written or deleted; next is the resource-registry
    /// update.
    ResourceRegistry,
}

#[cfg(any(test, feature = "test-hooks"))]
pub use hook::{PauseFuture, PauseHook};

#[cfg(any(test, feature = "test-hooks"))]
mod hook {
    use std::fmt;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    use super::PausePoint;

    /// What a [`PauseHook`] returns: the write waits for it.
    pub type PauseFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

    /// A function run at every [`PausePoint`] a [`crate::Table`] handle reaches.
    #[derive(Clone)]
    pub struct PauseHook(Arc<dyn Fn(PausePoint) -> PauseFuture + Send + Sync>);

    impl PauseHook {
        /// Wraps `hook`.
        pub fn new(hook: impl Fn(PausePoint) -> PauseFuture + Send + Sync + 'static) -> PauseHook {
            PauseHook(Arc::new(hook))
        }

        /// Runs the hook for `point`.
        pub(crate) async fn run(&self, point: PausePoint) {
            (self.0)(point).await;
        }
    }

    impl fmt::Debug for PauseHook {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("PauseHook")
        }
    }
}
