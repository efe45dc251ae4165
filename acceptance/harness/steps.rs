//! A test-case runner in the style of terraform-plugin-testing.
//!
//! Each [`Step::Config`] runs `plan` → `apply` → checks → `refresh` → `plan`, and the final
//! plan must be empty (the provider's Read and plan agree with what it applied), unless the
//! step expects a non-empty plan or an error. [`Step::Import`] imports into a fresh working
//! directory and compares the imported attributes with the applied ones. After the last
//! step the runner destroys everything and runs `check_destroy`, even when a step failed.

use std::cell::OnceCell;

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use testkit::Emulator;

use super::check::{Check, CheckContext, run_checks};
use super::state::{State, diff, flatten};
use super::terraform::{CommandFailed, Plan};
use super::versions::{TerraformBinary, Version, terraform_binaries};
use super::workdir::WorkDir;

/// A whole acceptance test: steps sharing one working directory, then destroy.
#[derive(Default)]
pub struct TestCase {
    /// The steps, run in order.
    pub steps: Vec<Step>,
    /// Runs after `destroy` with the state from just before it; should ask AWS (through
    /// [`CheckContext::sdk_config`]) that every object is gone.
    pub check_destroy: Option<Check>,
    /// The oldest Terraform the test supports; older ones are skipped (with a note) by
    /// [`TestCase::run_each_terraform`] and refused by [`TestCase::try_run`].
    pub min_terraform: Option<Version>,
    /// Input variables (`name`, `value`) for every command, passed as `TF_VAR_<name>`.
    pub vars: Vec<(String, String)>,
}

/// One step of a [`TestCase`].
pub enum Step {
    /// Apply a configuration.
    Config(ConfigStep),
    /// Import a resource into a fresh working directory and verify its attributes.
    Import(ImportStep),
    /// `terraform refresh`, then a plan that must be empty.
    Refresh,
}

impl Step {
    /// A configuration step with no checks that must apply cleanly.
    pub fn config(hcl: impl Into<String>) -> Step {
        Step::Config(ConfigStep {
            hcl: hcl.into(),
            ..ConfigStep::default()
        })
    }

    /// `terraform import <address> <id>`, verifying every attribute.
    pub fn import(resource_address: &str, id: &str) -> Step {
        Step::Import(ImportStep {
            resource_address: resource_address.into(),
            by: ImportBy::Id(id.into()),
            verify_ignore: Vec::new(),
        })
    }

    /// The oldest Terraform that can run this step.
    pub fn min_terraform(&self) -> Option<Version> {
        match self {
            Step::Import(ImportStep {
                by: ImportBy::Block(_), ..
            }) => Some(Version::new(1, 5, 0)),
            Step::Import(ImportStep {
                by: ImportBy::Identity(_) | ImportBy::IdentityFromState,
                ..
            }) => Some(Version::RESOURCE_IDENTITY),
            _ => None,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Step::Config(_) => "config",
            Step::Import(_) => "import",
            Step::Refresh => "refresh",
        }
    }
}

/// Apply `hcl` and check the result.
#[derive(Default)]
pub struct ConfigStep {
    /// The whole configuration (`main.tf`).
    pub hcl: String,
    /// Checks of the state (and AWS) right after `apply`.
    pub checks: Vec<Check>,
    /// The plan after apply and refresh must show changes (instead of none).
    pub expect_non_empty_plan: bool,
    /// `plan` or `apply` must fail with diagnostics containing this text (compared with
    /// runs of whitespace collapsed, since Terraform wraps long lines). The step then
    /// ends; the next one continues from the state left behind.
    pub expect_error: Option<String>,
}

/// Import `resource_address` into a fresh working directory holding the configuration of
/// the last applied step, then compare its attributes with the applied state.
pub struct ImportStep {
    /// e.g. `zae_limiter_stack.main`.
    pub resource_address: String,
    /// How the resource is identified.
    pub by: ImportBy,
    /// Attribute paths (and everything below them) allowed to differ, e.g. attributes
    /// AWS cannot report back.
    pub verify_ignore: Vec<String>,
}

/// How an [`ImportStep`] names the object to import.
pub enum ImportBy {
    /// `terraform import ADDRESS ID` (every Terraform version).
    Id(String),
    /// Like [`ImportBy::Id`], with the ID read from this attribute of the applied resource.
    IdFromAttribute(String),
    /// An `import { to = ADDRESS, id = ID }` block; the plan must be a no-op import
    /// (Terraform ≥ 1.5).
    Block(String),
    /// An `import { to = ADDRESS, identity = {...} }` block with this JSON object
    /// (Terraform ≥ 1.12, resource identity).
    Identity(Value),
    /// Like [`ImportBy::Identity`], with the identity Terraform recorded for the applied
    /// resource.
    IdentityFromState,
}

impl TestCase {
    /// Runs the test with the pinned Terraform against `emulator`; panics on failure.
    pub fn run(&self, emulator: &Emulator) {
        self.run_on(&TerraformBinary::pinned(), Some(emulator));
    }

    /// Runs the test with every Terraform of [`terraform_binaries`] (the pinned one and
    /// the one on `PATH`) against `emulator`.
    pub fn run_each_terraform(&self, emulator: &Emulator) {
        self.run_each_terraform_with(Some(emulator));
    }

    /// [`TestCase::run_each_terraform`], with or without an emulator. Non-pinned
    /// Terraforms older than [`TestCase::min_terraform`] are skipped with a note.
    pub fn run_each_terraform_with(&self, emulator: Option<&Emulator>) {
        for (i, terraform) in terraform_binaries().iter().enumerate() {
            match self.min_terraform {
                Some(min) if i > 0 && terraform.version < min => {
                    eprintln!("note: skipping {terraform}: this test needs Terraform >= {min}");
                }
                _ => self.run_on(terraform, emulator),
            }
        }
    }

    /// Runs the test with `terraform`; panics with the whole story on failure.
    pub fn run_on(&self, terraform: &TerraformBinary, emulator: Option<&Emulator>) {
        if let Err(e) = self.try_run(terraform, emulator) {
            panic!("acceptance test failed on {terraform}:\n{}", report(&e));
        }
    }

    /// Runs the test with `terraform`, returning the first failure (a failed destroy or
    /// `check_destroy` is reported too).
    pub fn try_run(&self, terraform: &TerraformBinary, emulator: Option<&Emulator>) -> anyhow::Result<()> {
        if let Some(min) = self.min_terraform {
            ensure!(
                terraform.version >= min,
                "this test needs Terraform >= {min}, got {terraform}"
            );
        }
        let mut runner = Runner::new(terraform, emulator, &self.vars);
        let steps = runner.run_steps(&self.steps);
        let destroy = runner.destroy(self.check_destroy.as_ref());
        match (steps, destroy) {
            (Ok(()), destroy) => destroy,
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(d)) => Err(anyhow::anyhow!(
                "{}\n\nthe clean-up failed too: {}",
                report(&e),
                report(&d)
            )),
        }
    }
}

/// The state of one run of a [`TestCase`].
struct Runner<'a> {
    terraform: &'a TerraformBinary,
    emulator: Option<&'a Emulator>,
    vars: &'a [(String, String)],
    workdir: WorkDir,
    runtime: tokio::runtime::Runtime,
    sdk: OnceCell<aws_config::SdkConfig>,
    /// The configuration of the last step that applied (destroy and imports use it).
    last_applied: Option<String>,
}

impl<'a> Runner<'a> {
    fn new(terraform: &'a TerraformBinary, emulator: Option<&'a Emulator>, vars: &'a [(String, String)]) -> Runner<'a> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cannot build a tokio runtime");
        Runner {
            terraform,
            emulator,
            vars,
            workdir: fresh_workdir(terraform, emulator, vars),
            runtime,
            sdk: OnceCell::new(),
            last_applied: None,
        }
    }

    fn context<'c>(&'c self, state: &'c State, workdir: &'c WorkDir) -> CheckContext<'c> {
        CheckContext {
            state,
            terraform: self.terraform,
            workdir,
            emulator: self.emulator,
            runtime: &self.runtime,
            sdk: &self.sdk,
        }
    }

    fn run_steps(&mut self, steps: &[Step]) -> anyhow::Result<()> {
        for (i, step) in steps.iter().enumerate() {
            let what = format!(
                "step {} of {} ({}) on Terraform {}",
                i + 1,
                steps.len(),
                step.label(),
                self.terraform.version
            );
            if let Some(min) = step.min_terraform().filter(|min| self.terraform.version < *min) {
                eprintln!("note: skipping {what}: it needs Terraform >= {min}");
                continue;
            }
            eprintln!("== {what}");
            let result = match step {
                Step::Config(config) => self.config_step(config),
                Step::Import(import) => self.import_step(import),
                Step::Refresh => self.refresh_step(),
            };
            result.with_context(|| format!("{what} failed"))?;
        }
        Ok(())
    }

    fn config_step(&mut self, step: &ConfigStep) -> anyhow::Result<()> {
        self.workdir.write_config(&step.hcl);
        // No `terraform init`: dev_overrides serve the provider under test, and Terraform
        // 1.11 would look it up in the registry anyway (and fail offline).
        let tf = self.workdir.terraform();
        let attempt = tf.plan().and_then(|_| tf.apply());
        match (&step.expect_error, attempt) {
            (None, Err(e)) => return Err(e),
            (Some(want), Err(e)) => return expect_error_matches(want, e),
            (Some(want), Ok(_)) => {
                bail!("expected an error containing {want:?}, but plan and apply succeeded")
            }
            (None, Ok(_)) => {}
        }
        self.last_applied = Some(step.hcl.clone());

        let tf = self.workdir.terraform();
        let state = tf.show_json()?;
        run_checks(&step.checks, &self.context(&state, &self.workdir))?;

        tf.refresh()?;
        match (tf.plan()?, step.expect_non_empty_plan) {
            (Plan::NoChanges, false) | (Plan::Changes { .. }, true) => Ok(()),
            (Plan::Changes { text }, false) => bail!(
                "after apply and refresh, the plan is not empty (the provider's read or plan \
                 disagrees with what it applied):\n{text}"
            ),
            (Plan::NoChanges, true) => {
                bail!("expected a non-empty plan after apply and refresh, but it is empty")
            }
        }
    }

    fn refresh_step(&mut self) -> anyhow::Result<()> {
        let tf = self.workdir.terraform();
        tf.refresh()?;
        match tf.plan()? {
            Plan::NoChanges => Ok(()),
            Plan::Changes { text } => bail!("after refresh, the plan is not empty:\n{text}"),
        }
    }

    fn import_step(&mut self, step: &ImportStep) -> anyhow::Result<()> {
        let address = step.resource_address.as_str();
        let config = self
            .last_applied
            .clone()
            .context("an import step needs an earlier config step that applied")?;
        let applied = self.workdir.terraform().show_json()?;

        let fresh = fresh_workdir(self.terraform, self.emulator, self.vars);
        fresh.write_config(&config);
        let tf = fresh.terraform();
        let how = match &step.by {
            ImportBy::Id(id) => {
                tf.import(address, id)?;
                format!("terraform import with id {id:?}")
            }
            ImportBy::IdFromAttribute(attribute) => {
                let id = applied.attr_str(address, attribute)?;
                tf.import(address, id)?;
                format!("terraform import with id {id:?} (from {attribute})")
            }
            ImportBy::Block(id) => {
                import_with_block(
                    &fresh,
                    address,
                    &format!("id = {}", hcl_value(&Value::from(id.as_str()))),
                )?;
                format!("an import block with id {id:?}")
            }
            ImportBy::Identity(identity) => {
                import_with_block(&fresh, address, &format!("identity = {}", hcl_value(identity)))?;
                format!("an import block with identity {identity}")
            }
            ImportBy::IdentityFromState => {
                let identity = &applied.resource(address)?["identity"];
                ensure!(
                    identity.is_object(),
                    "the applied state records no identity for {address} (got {identity}); does the \
                     resource declare an identity schema?"
                );
                import_with_block(&fresh, address, &format!("identity = {}", hcl_value(identity)))?;
                format!("an import block with identity {identity}")
            }
        };

        let imported = tf.show_json()?;
        let differences = diff(
            "applied",
            &applied.flat_values(address)?,
            "imported",
            &imported.flat_values(address)?,
            &step.verify_ignore,
        );
        ensure!(
            differences.is_empty(),
            "importing {address} by {how} gives attributes that differ from the applied state \
             (list intended differences in verify_ignore):\n{}",
            differences.join("\n")
        );
        Ok(())
    }

    /// Destroys what the steps created, then runs `check_destroy`.
    fn destroy(&mut self, check_destroy: Option<&Check>) -> anyhow::Result<()> {
        let tf = self.workdir.terraform();
        let state = if self.workdir.path().join("terraform.tfstate").exists() {
            if let Some(config) = &self.last_applied {
                self.workdir.write_config(config);
            }
            tf.show_json().context("cannot read the state before destroy")?
        } else {
            State::new(Value::Null)
        };
        if !state.is_empty() {
            eprintln!("== destroy on Terraform {}", self.terraform.version);
            tf.destroy().context("destroy after the last step failed")?;
            let left = tf.state_list()?;
            ensure!(left.is_empty(), "destroy left {left:?} in the state");
        }
        if let Some(check) = check_destroy {
            check(&self.context(&state, &self.workdir)).context("check_destroy failed")?;
        }
        Ok(())
    }
}

fn fresh_workdir(terraform: &TerraformBinary, emulator: Option<&Emulator>, vars: &[(String, String)]) -> WorkDir {
    let mut workdir = match emulator {
        Some(emulator) => WorkDir::with_emulator(terraform, emulator),
        None => WorkDir::new(terraform),
    };
    for (name, value) in vars {
        workdir.set_var(name, value);
    }
    workdir
}

/// Imports with an `import` block (`body` is its `id = ...` or `identity = {...}` line):
/// the plan must import `address` without changing it; then the plan is applied.
fn import_with_block(workdir: &WorkDir, address: &str, body: &str) -> anyhow::Result<()> {
    workdir.write_file("import.tf", &format!("import {{\n  to = {address}\n  {body}\n}}\n"));
    let tf = workdir.terraform();
    let (plan, plan_file) = tf.plan_json()?;
    let change = plan["resource_changes"]
        .as_array()
        .and_then(|changes| changes.iter().find(|c| c["address"] == address))
        .with_context(|| format!("the import plan has no change for {address}:\n{plan:#}"))?;
    ensure!(
        !change["change"]["importing"].is_null(),
        "the plan does not import {address}: {:#}",
        change["change"]
    );
    let actions = &change["change"]["actions"];
    if *actions != serde_json::json!(["no-op"]) {
        let before = flatten(&change["change"]["before"]);
        let after = flatten(&change["change"]["after"]);
        bail!(
            "importing {address} plans {actions} instead of a plain import; imported vs configured:\n{}",
            diff("imported", &before, "configured", &after, &[]).join("\n")
        );
    }
    tf.apply_plan(&plan_file)?;
    Ok(())
}

/// Whether the failure `error` contains `want`, comparing with runs of whitespace
/// collapsed. Only the command's own output is searched, not the provider log.
fn expect_error_matches(want: &str, error: anyhow::Error) -> anyhow::Result<()> {
    let output = match error.downcast_ref::<CommandFailed>() {
        Some(failed) => failed.run.combined_output(),
        None => format!("{error:#}"),
    };
    if normalize(&output).contains(&normalize(want)) {
        return Ok(());
    }
    Err(error.context(format!(
        "expected an error containing {want:?}, but the failure says something else"
    )))
}

/// Collapses whitespace and drops the box-drawing characters of Terraform's diagnostics.
fn normalize(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || matches!(c, '│' | '╷' | '╵'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An error and its causes, outermost first, without anyhow's backtrace.
pub fn report(error: &anyhow::Error) -> String {
    error
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n\ncaused by: ")
}

/// A JSON value written as an HCL expression (strings escape `${` and `%{`).
pub fn hcl_value(value: &Value) -> String {
    match value {
        Value::String(s) => Value::String(s.clone())
            .to_string()
            .replace("${", "$${")
            .replace("%{", "%%{"),
        Value::Array(items) => format!("[{}]", items.iter().map(hcl_value).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", hcl_value(&Value::String(k.clone())), hcl_value(v)))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        other => other.to_string(),
    }
}
