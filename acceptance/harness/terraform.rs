//! Runs the Terraform CLI in a [`WorkDir`], capturing its output.
//!
//! Every helper returns `anyhow::Result`; a failed command's error shows the command, its
//! exit code, both output streams and the provider's lines of the Terraform log, so a test
//! failure explains itself.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

use super::state::State;
use super::workdir::WorkDir;

/// How many provider-related lines of the Terraform log a failure message shows.
const LOG_LINES_IN_FAILURES: usize = 40;

/// The outcome of one Terraform command.
#[derive(Debug, Clone)]
pub struct Run {
    /// The command line, e.g. `terraform apply -auto-approve -no-color`.
    pub command: String,
    /// The exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// The `TF_LOG_PATH` of this command, when the harness set one.
    pub log_path: Option<PathBuf>,
}

impl Run {
    /// A readable account of the command for failure messages: command, exit code, both
    /// streams and the provider lines of its log.
    pub fn describe(&self) -> String {
        let mut text = format!("`{}` exited with code {}\n", self.command, self.code);
        let _ = write!(text, "--- stdout ---\n{}\n", self.stdout.trim_end());
        let _ = write!(text, "--- stderr ---\n{}\n", self.stderr.trim_end());
        if let Some(log) = &self.log_path {
            let lines = provider_log_lines(log);
            if !lines.is_empty() {
                let _ = write!(
                    text,
                    "--- last provider lines of {} (set TF_ACC_KEEP_WORKDIR=1 to keep it) ---\n{}\n",
                    log.display(),
                    lines.join("\n")
                );
            }
        }
        text
    }

    /// Standard output followed by standard error.
    pub fn combined_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// The error of a Terraform command that exited with an unexpected code; `Display` is
/// [`Run::describe`] plus the working directory.
#[derive(Debug)]
pub struct CommandFailed {
    /// The command's outcome.
    pub run: Run,
    /// Where it ran.
    pub dir: PathBuf,
}

impl std::fmt::Display for CommandFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}(working directory {})", self.run.describe(), self.dir.display())
    }
}

impl std::error::Error for CommandFailed {}

/// The result of `terraform plan -detailed-exitcode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Exit code 0: the infrastructure matches the configuration.
    NoChanges,
    /// Exit code 2: Terraform would change something; `text` is the plan as printed.
    Changes {
        /// The plan's standard output.
        text: String,
    },
}

/// The Terraform commands of one [`WorkDir`].
pub struct Terraform<'w> {
    workdir: &'w WorkDir,
}

impl<'w> Terraform<'w> {
    pub(super) fn new(workdir: &'w WorkDir) -> Terraform<'w> {
        Terraform { workdir }
    }

    /// Runs `terraform <args>` and returns its outcome, whatever the exit code.
    ///
    /// Fails only when the binary cannot be started.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> anyhow::Result<Run> {
        let binary = &self.workdir.terraform_binary().path;
        let subcommand = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .find(|a| !a.starts_with('-'))
            .unwrap_or_else(|| "terraform".into());
        let mut command = Command::new(binary);
        command.args(args).current_dir(self.workdir.path());
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if is_scrubbed(&key) {
                command.env_remove(key.as_ref());
            }
        }
        let log_path = self.workdir.next_log_path(&subcommand);
        if let Some(path) = &log_path {
            command.env("TF_LOG_PATH", path);
        }
        command.envs(self.workdir.env().iter().map(|(k, v)| (k, v)));
        let output = command
            .output()
            .with_context(|| format!("cannot run {} (see scripts/dev-setup.sh)", binary.display()))?;
        let args_text: Vec<String> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
        Ok(Run {
            command: format!("terraform {}", args_text.join(" ")),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            log_path,
        })
    }

    /// Runs `terraform <args>` and fails unless it exits with code 0.
    pub fn run_ok<S: AsRef<OsStr>>(&self, args: &[S]) -> anyhow::Result<Run> {
        let run = self.run(args)?;
        if run.code != 0 {
            return Err(self.failed(run));
        }
        Ok(run)
    }

    /// Runs `terraform <args>`, expecting it to fail; returns its standard error (the
    /// diagnostics) or fails when the command succeeded.
    pub fn run_expect_failure<S: AsRef<OsStr>>(&self, args: &[S]) -> anyhow::Result<String> {
        let run = self.run(args)?;
        if run.code == 0 {
            bail!(
                "expected `{}` to fail, but it succeeded.\n{}",
                run.command,
                run.describe()
            );
        }
        Ok(run.stderr)
    }

    /// `terraform version -json`, parsed.
    pub fn version_json(&self) -> anyhow::Result<Value> {
        parse_json(&self.run_ok(&["version", "-json"])?)
    }

    /// `terraform init`. With `dev_overrides` the provider under test needs no
    /// installation, and Terraform 1.11 even fails here offline (it looks the overridden
    /// provider up in the registry), so the step runner never calls it.
    pub fn init(&self) -> anyhow::Result<Run> {
        self.run_ok(&["init", "-no-color", "-input=false"])
    }

    /// `terraform validate`.
    pub fn validate(&self) -> anyhow::Result<Run> {
        self.run_ok(&["validate", "-no-color"])
    }

    /// `terraform validate`, expected to fail; returns standard error.
    pub fn validate_expect_error(&self) -> anyhow::Result<String> {
        self.run_expect_failure(&["validate", "-no-color"])
    }

    /// `terraform plan -detailed-exitcode`.
    pub fn plan(&self) -> anyhow::Result<Plan> {
        let run = self.run(&["plan", "-no-color", "-input=false", "-detailed-exitcode"])?;
        match run.code {
            0 => Ok(Plan::NoChanges),
            2 => Ok(Plan::Changes { text: run.stdout }),
            _ => Err(self.failed(run)),
        }
    }

    /// `terraform plan`, expected to fail; returns standard error.
    pub fn plan_expect_error(&self) -> anyhow::Result<String> {
        self.run_expect_failure(&["plan", "-no-color", "-input=false"])
    }

    /// Saves a plan (`plan -out`) and returns it as `terraform show -json` prints it
    /// (`resource_changes`, `planned_values`, ...), plus the plan file for [`Self::apply_plan`].
    pub fn plan_json(&self) -> anyhow::Result<(Value, PathBuf)> {
        let file = self.unique_file("tfplan");
        let out = format!("-out={}", file.display());
        self.run_ok(&["plan", "-no-color", "-input=false", &out])?;
        let json = parse_json(&self.run_ok(&[OsStr::new("show"), OsStr::new("-json"), file.as_os_str()])?)?;
        Ok((json, file))
    }

    /// `terraform apply -auto-approve`.
    pub fn apply(&self) -> anyhow::Result<Run> {
        self.run_ok(&["apply", "-no-color", "-input=false", "-auto-approve"])
    }

    /// `terraform apply <plan file>` (a plan saved by [`Self::plan_json`]).
    pub fn apply_plan(&self, plan_file: &Path) -> anyhow::Result<Run> {
        self.run_ok(&[
            OsStr::new("apply"),
            OsStr::new("-no-color"),
            OsStr::new("-input=false"),
            plan_file.as_os_str(),
        ])
    }

    /// `terraform apply -auto-approve`, expected to fail; returns standard error.
    pub fn apply_expect_error(&self) -> anyhow::Result<String> {
        self.run_expect_failure(&["apply", "-no-color", "-input=false", "-auto-approve"])
    }

    /// `terraform refresh` (the same as `apply -refresh-only -auto-approve`).
    pub fn refresh(&self) -> anyhow::Result<Run> {
        self.run_ok(&["refresh", "-no-color", "-input=false"])
    }

    /// `terraform import <address> <id>`.
    pub fn import(&self, address: &str, id: &str) -> anyhow::Result<Run> {
        self.run_ok(&["import", "-no-color", "-input=false", address, id])
    }

    /// `terraform import <address> <id>`, expected to fail; returns standard error.
    pub fn import_expect_error(&self, address: &str, id: &str) -> anyhow::Result<String> {
        self.run_expect_failure(&["import", "-no-color", "-input=false", address, id])
    }

    /// `terraform destroy -auto-approve`.
    pub fn destroy(&self) -> anyhow::Result<Run> {
        self.run_ok(&["destroy", "-no-color", "-input=false", "-auto-approve"])
    }

    /// The state as `terraform show -json` prints it.
    pub fn show_json(&self) -> anyhow::Result<State> {
        Ok(State::new(parse_json(&self.run_ok(&[
            "show",
            "-json",
            "-no-color",
        ])?)?))
    }

    /// The resource addresses in the state (`terraform state list`).
    pub fn state_list(&self) -> anyhow::Result<Vec<String>> {
        let run = self.run_ok(&["state", "list"])?;
        Ok(run
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }

    /// The root module's outputs (`terraform output -json`): `{name: {value, type, sensitive}}`.
    pub fn output_json(&self) -> anyhow::Result<Value> {
        parse_json(&self.run_ok(&["output", "-json", "-no-color"])?)
    }

    fn failed(&self, run: Run) -> anyhow::Error {
        CommandFailed {
            run,
            dir: self.workdir.path(),
        }
        .into()
    }

    /// A path in the working directory no earlier call returned.
    fn unique_file(&self, stem: &str) -> PathBuf {
        let dir = self.workdir.path();
        (1..)
            .map(|n| dir.join(format!("{stem}-{n}")))
            .find(|p| !p.exists())
            .expect("an unused file name")
    }
}

/// Inherited variables a test must not see: anything that could point the provider at a
/// real AWS account, and Terraform settings that would change what the commands do.
fn is_scrubbed(key: &str) -> bool {
    key.starts_with("AWS_")
        || key.starts_with("TF_CLI_ARGS")
        || key.starts_with("TF_VAR_")
        || matches!(
            key,
            "TF_DATA_DIR" | "TF_WORKSPACE" | "TF_CLI_CONFIG_FILE" | "TF_PLUGIN_CACHE_DIR"
        )
}

fn parse_json(run: &Run) -> anyhow::Result<Value> {
    serde_json::from_str(&run.stdout).with_context(|| format!("`{}` printed no JSON:\n{}", run.command, run.describe()))
}

/// The last lines of a Terraform log that come from the provider or report errors.
fn provider_log_lines(log: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(log) else {
        return Vec::new();
    };
    let wanted: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("terraform-provider-zae") || l.contains("[ERROR]") || l.contains("panic"))
        .collect();
    let start = wanted.len().saturating_sub(LOG_LINES_IN_FAILURES);
    wanted[start..].iter().map(|l| l.to_string()).collect()
}
