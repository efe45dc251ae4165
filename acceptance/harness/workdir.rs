//! A temporary Terraform working directory wired to the provider under test.
//!
//! Layout of the temporary folder:
//!
//! ```text
//! <tmp>/cli.tfrc   CLI config: dev_overrides "zae-limiter/zae" = <dir of the test's provider binary>
//! <tmp>/logs/      one TF_LOG file per Terraform command (unless the developer set TF_LOG)
//! <tmp>/work/      the working directory: main.tf, terraform.tfstate, plan files
//! ```
//!
//! Set `TF_ACC_KEEP_WORKDIR=1` to keep the folder after the test (its path is printed).

use std::cell::Cell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use testkit::Emulator;

use super::terraform::Terraform;
use super::versions::TerraformBinary;

/// The provider's source address, as written in `required_providers`.
pub const PROVIDER_SOURCE: &str = "zae-limiter/zae";

/// The provider binary cargo built for this test run.
pub const PROVIDER_BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-zae");

/// The folder `dev_overrides` points Terraform at: the one holding [`PROVIDER_BINARY`].
pub fn provider_dir() -> &'static Path {
    Path::new(PROVIDER_BINARY)
        .parent()
        .expect("the provider binary has a parent folder")
}

/// A temporary working directory plus the environment every Terraform command in it gets.
#[derive(Debug)]
pub struct WorkDir {
    /// Holds the temporary folder; `None` once kept (`TF_ACC_KEEP_WORKDIR`).
    temp: Option<tempfile::TempDir>,
    root: PathBuf,
    terraform: TerraformBinary,
    env: Vec<(String, OsString)>,
    /// Whether the harness owns `TF_LOG` (then each command logs to its own file).
    log_to_files: bool,
    commands_run: Cell<u32>,
}

impl WorkDir {
    /// A working directory for `terraform` without AWS access (every `AWS_*` variable of
    /// the developer's environment is removed, so nothing can reach a real account).
    pub fn new(terraform: &TerraformBinary) -> WorkDir {
        let temp = tempfile::Builder::new()
            .prefix("tf-acc-")
            .tempdir()
            .expect("cannot create a temporary folder");
        let root = temp.path().to_path_buf();
        std::fs::create_dir(root.join("work")).expect("cannot create the working directory");
        std::fs::create_dir(root.join("logs")).expect("cannot create the log folder");
        let cli_config = root.join("cli.tfrc");
        std::fs::write(&cli_config, cli_config_text(provider_dir())).expect("cannot write the CLI config");

        let mut env: Vec<(String, OsString)> = vec![
            ("TF_CLI_CONFIG_FILE".into(), cli_config.into_os_string()),
            ("CHECKPOINT_DISABLE".into(), "1".into()),
            ("TF_IN_AUTOMATION".into(), "1".into()),
            ("TF_INPUT".into(), "0".into()),
        ];
        let log_to_files = std::env::var_os("TF_LOG").is_none_or(|v| v.is_empty());
        if log_to_files {
            env.push(("TF_LOG".into(), "DEBUG".into()));
        }
        let mut workdir = WorkDir {
            temp: Some(temp),
            root,
            terraform: terraform.clone(),
            env,
            log_to_files,
            commands_run: Cell::new(0),
        };
        if std::env::var_os("TF_ACC_KEEP_WORKDIR").is_some_and(|v| !v.is_empty() && v != "0") {
            let kept = workdir.temp.take().expect("fresh").keep();
            eprintln!("TF_ACC_KEEP_WORKDIR: keeping {}", kept.display());
        }
        workdir
    }

    /// A working directory whose Terraform (and so the provider) talks to `emulator`
    /// (`AWS_ENDPOINT_URL`, dummy credentials, region `us-east-1`).
    pub fn with_emulator(terraform: &TerraformBinary, emulator: &Emulator) -> WorkDir {
        let mut workdir = WorkDir::new(terraform);
        for (key, value) in emulator.aws_env() {
            workdir.set_env(key, value);
        }
        workdir
    }

    /// Adds (or replaces) an environment variable of every later Terraform command.
    pub fn set_env(&mut self, key: impl Into<String>, value: impl Into<OsString>) {
        let key = key.into();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
    }

    /// Sets input variable `name` (as `TF_VAR_<name>`).
    pub fn set_var(&mut self, name: &str, value: &str) {
        self.set_env(format!("TF_VAR_{name}"), value);
    }

    /// Writes the configuration `main.tf`.
    pub fn write_config(&self, hcl: &str) {
        self.write_file("main.tf", hcl);
    }

    /// Writes a file into the working directory.
    pub fn write_file(&self, name: &str, contents: &str) {
        let path = self.path().join(name);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// Removes a file from the working directory if it exists.
    pub fn remove_file(&self, name: &str) {
        let path = self.path().join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("cannot remove {}: {e}", path.display()),
        }
    }

    /// Reads a file of the working directory.
    pub fn read_file(&self, name: &str) -> anyhow::Result<String> {
        let path = self.path().join(name);
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    }

    /// The working directory (where `main.tf` and the state live).
    pub fn path(&self) -> PathBuf {
        self.root.join("work")
    }

    /// The CLI configuration file (`TF_CLI_CONFIG_FILE`).
    pub fn cli_config_path(&self) -> PathBuf {
        self.root.join("cli.tfrc")
    }

    /// The Terraform CLI this directory runs.
    pub fn terraform_binary(&self) -> &TerraformBinary {
        &self.terraform
    }

    /// The environment Terraform commands get on top of the inherited one.
    pub fn env(&self) -> &[(String, OsString)] {
        &self.env
    }

    /// The Terraform commands of this directory.
    pub fn terraform(&self) -> Terraform<'_> {
        Terraform::new(self)
    }

    /// The `TF_LOG_PATH` for the next command (a fresh file per command), or `None` when
    /// the developer set `TF_LOG` themselves (then their settings apply unchanged).
    pub(super) fn next_log_path(&self, command: &str) -> Option<PathBuf> {
        let n = self.commands_run.get() + 1;
        self.commands_run.set(n);
        self.log_to_files
            .then(|| self.root.join("logs").join(format!("{n:02}-{command}.log")))
    }
}

/// The CLI configuration: the provider under test comes from cargo's target folder, every
/// other provider from its registry.
pub fn cli_config_text(provider_dir: &Path) -> String {
    format!(
        r#"provider_installation {{
  dev_overrides {{
    "{PROVIDER_SOURCE}" = "{}"
  }}
  direct {{}}
}}
"#,
        provider_dir.display()
    )
}

/// The `terraform { required_providers }` and `provider "zae"` blocks for a test
/// configuration against `emulator`.
pub fn provider_config(emulator: &Emulator) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    zae = {{
      source = "{PROVIDER_SOURCE}"
    }}
  }}
}}

provider "zae" {{
  region       = "{}"
  endpoint_url = "{}"
}}
"#,
        testkit::REGION,
        emulator.endpoint()
    )
}
