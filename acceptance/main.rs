//! The acceptance tests: one test binary (`cargo test --test acceptance`) that drives the
//! real Terraform CLI against the provider binary cargo just built, with AWS emulated by
//! moto through `.dev/bin/emulator` (see `scripts/dev-setup.sh`).
//!
//! * [`harness`]: the test harness (working directories, Terraform commands, step runner).
//! * `harness_tests`: self-tests of the harness.
//! * `examples_tests`: the configurations under `examples/` apply, import and destroy.
//!
//! * `adopt_cli`: importing a stack that `zae-limiter deploy` built.
//! * `aggregator`: the stack's aggregator and audit archive; `alarms`: its CloudWatch alarms;
//!   `iam_options`: its `iam` block (roles, boundary, name formats, no-IAM mode).
//! * `provider`: the provider block (account restrictions, endpoints, credential_process).
//! * `namespace`, `limit`: the `zae_limiter_namespace` and `zae_limiter_limit` resources and
//!   their data sources; `tenant_example`: the tenant module of `examples/tenant`.
//!
//! Filter with the usual cargo test syntax, e.g. `cargo test --test acceptance harness`.

mod adopt_cli;
mod aggregator;
mod alarms;
mod data_plane;
mod harness;

mod examples_tests;
mod faults;
mod harness_tests;
mod iam_options;
mod limit;
mod namespace;
mod provider;
mod stack;
mod tenant_example;
