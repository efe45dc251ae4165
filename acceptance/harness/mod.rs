//! The acceptance-test harness: drives the real Terraform CLI against the provider binary
//! cargo built for this test run, with AWS emulated locally.
//!
//! * [`workdir`]: temporary working directories wired to the provider (`dev_overrides`).
//! * [`terraform`]: the Terraform commands, with failure messages that show everything.
//! * [`steps`]: [`TestCase`] / [`Step`], a runner in the style of terraform-plugin-testing.
//! * [`check`]: state checks and the context they get (state, SDK config for the emulator).
//! * [`state`]: `terraform show -json` lookups.
//! * [`versions`]: which Terraform CLIs to test with.
//!
//! A resource test:
//!
//! ```ignore
//! let emulator = Emulator::start();
//! let config = format!("{}\nresource \"zae_limiter_stack\" \"main\" {{ name = \"acc-1\" }}\n",
//!                      provider_config(&emulator));
//! TestCase {
//!     steps: vec![
//!         Step::Config(ConfigStep {
//!             hcl: config,
//!             checks: vec![attr_eq("zae_limiter_stack.main", "name", "acc-1")],
//!             ..ConfigStep::default()
//!         }),
//!         Step::import("zae_limiter_stack.main", "acc-1"),
//!     ],
//!     check_destroy: Some(check(|ctx| { /* ask DynamoDB that the table is gone */ Ok(()) })),
//!     ..TestCase::default()
//! }
//! .run(&emulator);
//! ```

// The harness is a library for the resource tests; not every helper is used by every
// build of the test binary.
#![allow(dead_code)]

pub mod check;
pub mod state;
pub mod steps;
pub mod terraform;
pub mod versions;
pub mod workdir;

// The harness's API for resource tests, whether or not this build's tests use all of it.
#[allow(unused_imports)]
pub use check::{Check, CheckContext, attr_eq, attr_null, attr_set, attr_starts_with, check, output_eq, resources_are};
#[allow(unused_imports)]
pub use state::State;
pub use steps::{ConfigStep, ImportBy, ImportStep, Step, TestCase};
#[allow(unused_imports)]
pub use terraform::{CommandFailed, Plan, Run, Terraform};
pub use versions::{TerraformBinary, Version, terraform_binaries};
pub use workdir::{WorkDir, provider_config};

use std::sync::atomic::{AtomicU32, Ordering};

/// A name no other test of this run uses, e.g. `acc-stack-12345-3`: a prefix, the process
/// id and a counter. Tests sharing one emulator stay out of each other's way with it.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
