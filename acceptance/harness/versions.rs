//! Which Terraform CLIs the acceptance tests drive, and their versions.
//!
//! The pinned Terraform 1.15 from the dev environment (see `scripts/dev-setup.sh`, or
//! `TF_ACC_TERRAFORM_PATH`) is always used. [`terraform_binaries`] adds the `terraform` found
//! on `PATH` when it is a different version, so a test can also prove the provider works
//! with an older CLI (Terraform 1.11 speaks protocol 6.8: no resource identity).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, bail};

/// A Terraform version, `major.minor.patch` (pre-release suffixes are ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

impl Version {
    /// `Version::new(1, 12, 0)`.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Version {
        Version { major, minor, patch }
    }

    /// The first version with resource identity (protocol 6.9): import blocks with
    /// `identity = {...}` and `identity` in `terraform show -json`.
    pub const RESOURCE_IDENTITY: Version = Version::new(1, 12, 0);

    /// Parses `1.15.5`, `v1.15.5` or `1.16.0-rc2`.
    pub fn parse(text: &str) -> anyhow::Result<Version> {
        let core = text.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next().unwrap_or_default();
        let parts: Vec<&str> = core.split('.').collect();
        let [major, minor, patch] = parts[..] else {
            bail!("{text:?} is not a Terraform version (expected MAJOR.MINOR.PATCH)");
        };
        let num = |s: &str| {
            s.parse::<u32>()
                .with_context(|| format!("{text:?} is not a Terraform version"))
        };
        Ok(Version::new(num(major)?, num(minor)?, num(patch)?))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// One Terraform CLI and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerraformBinary {
    /// The executable.
    pub path: PathBuf,
    /// What `terraform version -json` reported.
    pub version: Version,
}

impl TerraformBinary {
    /// Asks `path` for its version (`terraform version -json`).
    pub fn probe(path: &Path) -> anyhow::Result<TerraformBinary> {
        let output = Command::new(path)
            .args(["version", "-json"])
            // No CLI config: avoids the "~/.terraformrc does not exist" warning.
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            // Otherwise `version` asks checkpoint-api.hashicorp.com whether it is outdated.
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .with_context(|| format!("cannot run {} version -json", path.display()))?;
        if !output.status.success() {
            bail!(
                "{} version -json failed ({}):\n{}",
                path.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .with_context(|| format!("{} version -json printed no JSON", path.display()))?;
        let version = json["terraform_version"]
            .as_str()
            .with_context(|| format!("no terraform_version in {json}"))?;
        Ok(TerraformBinary {
            path: path.to_path_buf(),
            version: Version::parse(version)?,
        })
    }

    /// The pinned Terraform of the dev environment (`TF_ACC_TERRAFORM_PATH` when set).
    ///
    /// Panics with set-up instructions when it is missing (see `testkit::dev_tool`).
    pub fn pinned() -> TerraformBinary {
        static PINNED: OnceLock<TerraformBinary> = OnceLock::new();
        PINNED
            .get_or_init(|| {
                let path = testkit::terraform_path();
                TerraformBinary::probe(&path).unwrap_or_else(|e| panic!("the pinned Terraform is unusable: {e:#}"))
            })
            .clone()
    }

    /// Whether this CLI supports resource identity (Terraform ≥ 1.12).
    pub fn supports_identity(&self) -> bool {
        self.version >= Version::RESOURCE_IDENTITY
    }
}

impl fmt::Display for TerraformBinary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Terraform {} ({})", self.version, self.path.display())
    }
}

/// The Terraform CLIs to test with: the pinned one first, then the `terraform` on `PATH`
/// when there is one with a different version.
pub fn terraform_binaries() -> Vec<TerraformBinary> {
    static ON_PATH: OnceLock<Option<TerraformBinary>> = OnceLock::new();
    let pinned = TerraformBinary::pinned();
    let on_path = ON_PATH.get_or_init(|| {
        let path = find_on_path("terraform")?;
        match TerraformBinary::probe(&path) {
            Ok(binary) => Some(binary),
            Err(e) => panic!("`terraform` on PATH ({}) is unusable: {e:#}", path.display()),
        }
    });
    let mut binaries = vec![pinned.clone()];
    if let Some(other) = on_path
        && other.version != pinned.version
    {
        binaries.push(other.clone());
    }
    binaries
}

/// The first executable file called `name` in the directories of `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
