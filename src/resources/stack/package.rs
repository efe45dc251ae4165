//! The aggregator's deployment package: the built-in Rust aggregator, or a zip the user
//! names with `aggregator.package_path`.
//!
//! The built-in package is looked up next to the provider's executable, in this order:
//!
//! 1. `zae-limiter-aggregator.zip` in the executable's folder: how a release ships it;
//! 2. in a workspace build (`target/<profile>/terraform-provider-zae`), the zip that
//!    `scripts/build-aggregator.sh` wrote (`target/aggregator/<profile>/aggregator.zip`),
//!    when it is at least as new as the binary it packs;
//! 3. the glibc 2.34 `bootstrap` binary itself
//!    (`target/x86_64-unknown-linux-gnu/<profile>/bootstrap`), zipped here.
//!
//! Zips are deterministic, so an unchanged binary gives the same `CodeSha256` and plans no
//! change. A user's zip is deployed as it is: one holding `bootstrap` runs on
//! `provided.al2023`, one holding `zae_limiter_aggregator/handler.py` (the package
//! `zae-limiter lambda-export` writes) on `python3.12`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use base64::Engine;
use sha2::{Digest, Sha256};
use zae_limiter_aggregator::package as zip;

use crate::aws::lambda::{DEFAULT_HANDLER, DEFAULT_RUNTIME};

/// The file name of the built-in package in a release, next to the provider binary.
pub const RELEASE_FILE_NAME: &str = "zae-limiter-aggregator.zip";
/// The Rust target the built-in aggregator is built for (Amazon Linux 2023's glibc).
const WORKSPACE_TARGET: &str = "x86_64-unknown-linux-gnu";
/// The runtime of the Python aggregator package of zae-limiter 0.17.0.
pub const PYTHON_RUNTIME: &str = "python3.12";
/// The handler of the Python aggregator package of zae-limiter 0.17.0.
pub const PYTHON_HANDLER: &str = "zae_limiter_aggregator.handler.handler";
/// The module whose presence marks a zip as the Python aggregator.
const PYTHON_MARKER: &str = "zae_limiter_aggregator/handler.py";

/// A package ready to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The zip's bytes.
    pub zip: Vec<u8>,
    /// SHA-256 of the zip, base64, as Lambda reports `CodeSha256`.
    pub code_sha256: String,
    /// The Lambda runtime it needs.
    pub runtime: &'static str,
    /// Its handler.
    pub handler: &'static str,
    /// Where it came from.
    pub origin: PathBuf,
}

impl Package {
    /// Whether this is a Python package (whose code needs 0.17.0's wider permissions).
    pub fn is_python(&self) -> bool {
        self.runtime == PYTHON_RUNTIME
    }
}

/// Why no package could be had.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// No built-in package next to the provider.
    #[error(
        "the built-in aggregator package was not found; looked for {}. A release ships it next to the \
         provider binary; in a workspace build, run scripts/build-aggregator.sh",
        list(.searched)
    )]
    NotFound {
        /// The places searched.
        searched: Vec<PathBuf>,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The binary could not be zipped.
    #[error("cannot zip {}: {source}", path.display())]
    Zip {
        /// The binary.
        path: PathBuf,
        /// Why.
        source: zip::PackageError,
    },
    /// A user's zip is not a zip, or holds no aggregator this provider can run.
    #[error("{}: {reason}", path.display())]
    Unusable {
        /// The zip.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

fn list(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}

/// The built-in package, found next to the running provider (see the module docs).
pub fn built_in() -> Result<Package, PackageError> {
    let exe = std::env::current_exe().map_err(|source| PackageError::Read {
        path: PathBuf::from("the provider executable"),
        source,
    })?;
    cached(&exe, || built_in_near(&exe))
}

/// The package at `path` (`aggregator.package_path`).
pub fn user(path: &Path) -> Result<Package, PackageError> {
    cached(path, || {
        let bytes = read(path)?;
        let names = zip::entry_names(&bytes).map_err(|e| PackageError::Unusable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let (runtime, handler) = if names.iter().any(|n| n == zip::ENTRY_NAME) {
            (DEFAULT_RUNTIME, DEFAULT_HANDLER)
        } else if names.iter().any(|n| n == PYTHON_MARKER) {
            (PYTHON_RUNTIME, PYTHON_HANDLER)
        } else {
            return Err(PackageError::Unusable {
                path: path.to_path_buf(),
                reason: format!(
                    "the zip holds neither `{}` (a custom runtime) nor `{PYTHON_MARKER}` (zae-limiter's Python \
                     aggregator)",
                    zip::ENTRY_NAME
                ),
            });
        };
        Ok(package(bytes, runtime, handler, path))
    })
}

/// The built-in package for a provider installed at `exe`.
fn built_in_near(exe: &Path) -> Result<Package, PackageError> {
    let dir = exe.parent().unwrap_or(Path::new("."));
    let release = dir.join(RELEASE_FILE_NAME);
    let mut searched = vec![release.clone()];
    if release.is_file() {
        return Ok(package(read(&release)?, DEFAULT_RUNTIME, DEFAULT_HANDLER, &release));
    }
    if let (Some(profile), Some(target)) = (dir.file_name(), dir.parent()) {
        let binary = target.join(WORKSPACE_TARGET).join(profile).join(zip::ENTRY_NAME);
        let zipped = target.join("aggregator").join(profile).join("aggregator.zip");
        searched.extend([zipped.clone(), binary.clone()]);
        if zipped.is_file() && modified(&zipped) >= modified(&binary) {
            return Ok(package(read(&zipped)?, DEFAULT_RUNTIME, DEFAULT_HANDLER, &zipped));
        }
        if binary.is_file() {
            let bytes = zip::zip_bootstrap(&read(&binary)?).map_err(|source| PackageError::Zip {
                path: binary.clone(),
                source,
            })?;
            return Ok(package(bytes, DEFAULT_RUNTIME, DEFAULT_HANDLER, &binary));
        }
    }
    Err(PackageError::NotFound { searched })
}

fn package(zip: Vec<u8>, runtime: &'static str, handler: &'static str, origin: &Path) -> Package {
    Package {
        code_sha256: code_sha256(&zip),
        zip,
        runtime,
        handler,
        origin: origin.to_path_buf(),
    }
}

/// SHA-256 of `bytes`, base64: Lambda's `CodeSha256`.
pub fn code_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

fn read(path: &Path) -> Result<Vec<u8>, PackageError> {
    std::fs::read(path).map_err(|source| PackageError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// One provider process plans and applies many resources: each package is read (and
/// hashed, or zipped) once per file version, keyed by path and modification time.
fn cached(key: &Path, load: impl FnOnce() -> Result<Package, PackageError>) -> Result<Package, PackageError> {
    type Entry = (PathBuf, Option<SystemTime>, Package);
    static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
    let stamp = modified(key);
    {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, _, hit)) = cache
            .iter()
            .find(|(p, s, _)| p == key && *s == stamp && stamp.is_some())
        {
            return Ok(hit.clone());
        }
    }
    let loaded = load()?;
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|(p, _, _)| p != key);
    cache.push((key.to_path_buf(), stamp, loaded.clone()));
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(dir: &Path) -> PathBuf {
        let exe = dir.join("target/debug/terraform-provider-zae");
        std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
        std::fs::write(&exe, b"provider").unwrap();
        exe
    }

    #[test]
    fn a_release_zip_next_to_the_binary_wins() {
        let dir = tempfile::tempdir().unwrap();
        let exe = workspace(dir.path());
        let release = exe.parent().unwrap().join(RELEASE_FILE_NAME);
        std::fs::write(&release, zip::zip_bootstrap(b"released").unwrap()).unwrap();
        let found = built_in_near(&exe).unwrap();
        assert_eq!(found.origin, release);
        assert_eq!(found.runtime, DEFAULT_RUNTIME);
    }

    #[test]
    fn a_workspace_bootstrap_is_zipped_deterministically() {
        let dir = tempfile::tempdir().unwrap();
        let exe = workspace(dir.path());
        let binary = dir.path().join("target/x86_64-unknown-linux-gnu/debug/bootstrap");
        std::fs::create_dir_all(binary.parent().unwrap()).unwrap();
        std::fs::write(&binary, b"\x7fELF aggregator").unwrap();
        let first = built_in_near(&exe).unwrap();
        assert_eq!(first.origin, binary);
        assert_eq!(first.zip, zip::zip_bootstrap(b"\x7fELF aggregator").unwrap());
        assert_eq!(built_in_near(&exe).unwrap().code_sha256, first.code_sha256);
    }

    #[test]
    fn nothing_found_names_every_place_searched() {
        let dir = tempfile::tempdir().unwrap();
        let exe = workspace(dir.path());
        let err = built_in_near(&exe).unwrap_err().to_string();
        assert!(err.contains(RELEASE_FILE_NAME), "{err}");
        assert!(err.contains("x86_64-unknown-linux-gnu/debug/bootstrap"), "{err}");
        assert!(err.contains("scripts/build-aggregator.sh"), "{err}");
    }

    #[test]
    fn user_zips_are_told_apart_by_what_they_hold() {
        let dir = tempfile::tempdir().unwrap();
        let rust = dir.path().join("rust.zip");
        std::fs::write(&rust, zip::zip_bootstrap(b"bin").unwrap()).unwrap();
        assert_eq!(user(&rust).unwrap().handler, DEFAULT_HANDLER);
        let python = dir.path().join("python.zip");
        std::fs::write(
            &python,
            zip::zip_one("zae_limiter_aggregator/handler.py", b"def handler(event, context): ...").unwrap(),
        )
        .unwrap();
        let found = user(&python).unwrap();
        assert_eq!((found.runtime, found.handler), (PYTHON_RUNTIME, PYTHON_HANDLER));
        assert!(found.is_python());
        let text = dir.path().join("text.zip");
        std::fs::write(&text, b"not a zip").unwrap();
        assert!(matches!(user(&text), Err(PackageError::Unusable { .. })));
        assert!(matches!(
            user(&dir.path().join("missing.zip")),
            Err(PackageError::Read { .. })
        ));
    }

    #[test]
    fn code_sha256_is_lambdas_base64_digest() {
        // SHA-256("abc"), base64.
        assert_eq!(code_sha256(b"abc"), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    }
}
