//! Checks a test step runs against the state after `apply` (and the `check_destroy`
//! callback runs after `destroy`), with the means to ask AWS directly.

use std::cell::OnceCell;
use std::future::Future;

use anyhow::{bail, ensure};
use serde_json::Value;
use testkit::Emulator;

use super::state::State;
use super::versions::TerraformBinary;
use super::workdir::WorkDir;

/// A check: `Ok(())` when it holds, an error explaining what differs otherwise.
pub type Check = Box<dyn Fn(&CheckContext<'_>) -> anyhow::Result<()>>;

/// Boxes a closure as a [`Check`].
pub fn check(f: impl Fn(&CheckContext<'_>) -> anyhow::Result<()> + 'static) -> Check {
    Box::new(f)
}

/// What a check can look at.
pub struct CheckContext<'a> {
    /// The state after the step's `apply` (for `check_destroy`: the state before `destroy`,
    /// so the callback knows the names and ARNs to look for).
    pub state: &'a State,
    /// The Terraform CLI running the test.
    pub terraform: &'a TerraformBinary,
    /// The working directory (e.g. `ctx.workdir.terraform().output_json()`).
    pub workdir: &'a WorkDir,
    pub(super) emulator: Option<&'a Emulator>,
    pub(super) runtime: &'a tokio::runtime::Runtime,
    pub(super) sdk: &'a OnceCell<aws_config::SdkConfig>,
}

impl CheckContext<'_> {
    /// An SDK configuration for the emulator the test runs against; build clients with it:
    /// `aws_sdk_dynamodb::Client::new(ctx.sdk_config())`.
    ///
    /// Panics when the test case was run without an emulator.
    pub fn sdk_config(&self) -> &aws_config::SdkConfig {
        let emulator = self
            .emulator
            .expect("this test case runs without an emulator: use TestCase::run(&emulator)");
        self.sdk.get_or_init(|| self.runtime.block_on(emulator.sdk_config()))
    }

    /// Runs an SDK call (any future) to completion.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// Attribute `path` of `address` equals `expected`.
pub fn attr_eq(address: &str, path: &str, expected: impl Into<Value>) -> Check {
    let (address, path, expected) = (address.to_string(), path.to_string(), expected.into());
    check(move |ctx| {
        let actual = ctx.state.attr(&address, &path)?;
        ensure!(*actual == expected, "{address}.{path} is {actual}, expected {expected}");
        Ok(())
    })
}

/// Attribute `path` of `address` exists and is not null.
pub fn attr_set(address: &str, path: &str) -> Check {
    let (address, path) = (address.to_string(), path.to_string());
    check(move |ctx| {
        let actual = ctx.state.attr(&address, &path)?;
        ensure!(!actual.is_null(), "{address}.{path} is null, expected a value");
        Ok(())
    })
}

/// Attribute `path` of `address` is null or absent.
pub fn attr_null(address: &str, path: &str) -> Check {
    let (address, path) = (address.to_string(), path.to_string());
    check(move |ctx| match ctx.state.attr(&address, &path) {
        Ok(Value::Null) | Err(_) => Ok(()),
        Ok(actual) => bail!("{address}.{path} is {actual}, expected null"),
    })
}

/// String attribute `path` of `address` starts with `prefix` (e.g. an ARN's
/// `arn:aws:dynamodb:us-east-1:123456789012:table/`).
pub fn attr_starts_with(address: &str, path: &str, prefix: &str) -> Check {
    let (address, path, prefix) = (address.to_string(), path.to_string(), prefix.to_string());
    check(move |ctx| {
        let actual = ctx.state.attr_str(&address, &path)?;
        ensure!(
            actual.starts_with(&prefix),
            "{address}.{path} is {actual:?}, expected it to start with {prefix:?}"
        );
        Ok(())
    })
}

/// Root module output `name` equals `expected`.
pub fn output_eq(name: &str, expected: impl Into<Value>) -> Check {
    let (name, expected) = (name.to_string(), expected.into());
    check(move |ctx| {
        let actual = ctx.state.output(&name)?;
        ensure!(*actual == expected, "output {name} is {actual}, expected {expected}");
        Ok(())
    })
}

/// The state holds exactly these resource addresses (in any order).
pub fn resources_are(addresses: &[&str]) -> Check {
    let mut expected: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
    expected.sort();
    check(move |ctx| {
        let mut actual = ctx.state.addresses();
        actual.sort();
        ensure!(actual == expected, "the state holds {actual:?}, expected {expected:?}");
        Ok(())
    })
}

/// Runs every check, collecting all failures into one error that names each failing check
/// by its position.
pub(super) fn run_checks(checks: &[Check], ctx: &CheckContext<'_>) -> anyhow::Result<()> {
    let failures: Vec<String> = checks
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c(ctx).err().map(|e| format!("  check {}: {e:#}", i + 1)))
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    bail!(
        "{} of {} checks failed:\n{}",
        failures.len(),
        checks.len(),
        failures.join("\n")
    )
}
