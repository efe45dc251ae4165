//! Version constants, version-string parsing and the compatibility rules of the
//! version record (wire-format §1).
//!
//! zae-limiter compares a *client version* against the table's version record
//! (`_/SYSTEM#` / `#VERSION`). This crate reports [`CLIENT_VERSION`], the zae-limiter
//! release whose reader semantics it implements, so a table that has been ratcheted to
//! a later minimum (because it stores session windows, cascade policies, soft limits,
//! bypass, top-ups or parent moves) is refused instead of misread.

use std::cmp::Ordering;
use std::fmt;

use crate::error::{Error, Result};

/// The zae-limiter release this crate's reader semantics correspond to.
///
/// The crate implements the core profile (wire-format §6.10): drip limits, composite items,
/// shards, cascade, `disabled` — but not session windows (0.15.0), per-resource cascade
/// policy writes (0.16.0), soft limits, bypass, top-up or parent moves (0.17.0). It
/// therefore reports `0.14.0`, and [`check_compatibility`] refuses any table whose
/// `client_min_version` is above it. It never reports a 1.x version.
pub const CLIENT_VERSION: &str = "0.14.0";

/// The zae-limiter package version whose wire format this crate targets.
pub const TARGET_PACKAGE_VERSION: &str = "0.17.0";

/// Schema version written to the version record (unchanged since 0.10.0).
pub const CURRENT_SCHEMA_VERSION: &str = "0.10.0";

/// First release whose readers understand `reset_after` (session-window) limits.
pub const MIN_READER_VERSION_FOR_RESET_AFTER: &str = "0.15.0";
/// First release whose readers understand a per-resource cascade policy.
pub const MIN_READER_VERSION_FOR_CASCADE_POLICY: &str = "0.16.0";
/// First release whose readers keep soft limits and bypass.
pub const MIN_READER_VERSION_FOR_NON_ENFORCING: &str = "0.17.0";
/// First release whose writers carry the parent generation (`set_parent`).
pub const MIN_READER_VERSION_FOR_PARENT_MOVE: &str = "0.17.0";
/// First release whose readers keep a quota top-up above plan.
pub const MIN_READER_VERSION_FOR_TOP_UP: &str = "0.17.0";

/// `client_min_version` written when a record is created.
pub const DEFAULT_CLIENT_MIN_VERSION: &str = "0.0.0";

/// A parsed `major.minor.patch[-prerelease]` version.
///
/// Ordering follows zae-limiter: the numeric triple first, then a prerelease sorts
/// below the release, and two prereleases compare lexically.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParsedVersion {
    /// Major component.
    pub major: u64,
    /// Minor component.
    pub minor: u64,
    /// Patch component (0 when the string had only two parts).
    pub patch: u64,
    /// Prerelease tag (`dev`, `rc1`, `rc1-dev`, …).
    pub prerelease: Option<String>,
}

impl ParsedVersion {
    /// The version without its prerelease tag.
    pub fn release(&self) -> ParsedVersion {
        ParsedVersion {
            major: self.major,
            minor: self.minor,
            patch: self.patch,
            prerelease: None,
        }
    }
}

impl Ord for ParsedVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (&self.prerelease, &other.prerelease) {
                (None, None) => Ordering::Equal,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl PartialOrd for ParsedVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ParsedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(pre) = &self.prerelease {
            write!(f, "-{pre}")?;
        }
        Ok(())
    }
}

/// A version string zae-limiter's `parse_version` would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid version string: {0}")]
pub struct InvalidVersion(pub String);

fn leading_digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// Parses a version string with zae-limiter's rules (wire-format §1.3): a leading `v` is
/// stripped, a PEP 440 local label (`+…`) dropped, a trailing `.devN` becomes the
/// prerelease `dev`, `X.Y.ZaN|bN|rcN` becomes prerelease `aN|bN|rcN`, and a missing
/// patch reads as 0.
pub fn parse_version(input: &str) -> Result<ParsedVersion, InvalidVersion> {
    let mut s = input.strip_prefix('v').unwrap_or(input).to_string();
    if let Some(idx) = s.find('+') {
        s.truncate(idx);
    }
    // `\.dev\d+$` -> `-dev`
    if let Some(idx) = s.rfind(".dev") {
        let tail = &s[idx + 4..];
        if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) {
            s = format!("{}-dev", &s[..idx]);
        }
    }
    // `^(\d+\.\d+\.\d+)(a|b|rc)(\d+)` -> `\1-\2\3`
    s = rewrite_pep440_prerelease(&s);

    let invalid = || InvalidVersion(s.clone());
    let (release, prerelease) = match s.find('-') {
        Some(idx) => (&s[..idx], Some(&s[idx + 1..])),
        None => (s.as_str(), None),
    };
    if prerelease == Some("") {
        return Err(invalid());
    }
    let parts: Vec<&str> = release.split('.').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(invalid());
    }
    let mut nums = [0u64; 3];
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() || leading_digits(part) != part.len() {
            return Err(invalid());
        }
        nums[i] = part.parse().map_err(|_| invalid())?;
    }
    Ok(ParsedVersion {
        major: nums[0],
        minor: nums[1],
        patch: nums[2],
        prerelease: prerelease.map(str::to_string),
    })
}

fn rewrite_pep440_prerelease(s: &str) -> String {
    let mut pos = 0;
    for i in 0..3 {
        let n = leading_digits(&s[pos..]);
        if n == 0 {
            return s.to_string();
        }
        pos += n;
        if i < 2 {
            if !s[pos..].starts_with('.') {
                return s.to_string();
            }
            pos += 1;
        }
    }
    let rest = &s[pos..];
    for tag in ["rc", "a", "b"] {
        if let Some(after) = rest.strip_prefix(tag)
            && leading_digits(after) > 0
        {
            return format!("{}-{}", &s[..pos], rest);
        }
    }
    s.to_string()
}

/// The fields of a version record that the compatibility rule reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfrastructureVersion {
    /// `schema_version` (`"1.0.0"` when absent, as zae-limiter defaults it).
    pub schema_version: String,
    /// `lambda_version`, `None` when `NULL` or absent.
    pub lambda_version: Option<String>,
    /// `client_min_version` (`"0.0.0"` when absent).
    pub client_min_version: String,
}

/// Outcome of [`check_compatibility`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compatibility {
    /// Fully compatible.
    Compatible,
    /// Compatible, but the deployed Lambdas are older than the client
    /// (zae-limiter's `connect()` refuses this with `can_auto_update=True`).
    LambdaUpdateRequired {
        /// Explanation.
        message: String,
    },
    /// The client is below `client_min_version`.
    ClientTooOld {
        /// Explanation.
        message: String,
    },
    /// Schema major differs from the client major.
    SchemaMigrationRequired {
        /// Explanation.
        message: String,
    },
    /// A version string could not be parsed.
    Invalid {
        /// Explanation.
        message: String,
    },
}

/// zae-limiter's `check_compatibility(client_version, record)`, rule for rule.
pub fn check_compatibility(client_version: &str, infra: &InfrastructureVersion) -> Compatibility {
    let Ok(client) = parse_version(client_version) else {
        return Compatibility::Invalid {
            message: format!("Invalid client version: {client_version}"),
        };
    };
    let Ok(schema) = parse_version(&infra.schema_version) else {
        return Compatibility::Invalid {
            message: format!("Invalid schema version: {}", infra.schema_version),
        };
    };
    let min = parse_version(&infra.client_min_version).unwrap_or(ParsedVersion {
        major: 0,
        minor: 0,
        patch: 0,
        prerelease: None,
    });
    if client < min {
        return Compatibility::ClientTooOld {
            message: format!(
                "Client version {client_version} is below minimum required version {}. Please upgrade.",
                infra.client_min_version
            ),
        };
    }
    if client.major != schema.major {
        return Compatibility::SchemaMigrationRequired {
            message: format!(
                "Schema version mismatch: client major version {} != schema major version {}. \
                 Schema migration required.",
                client.major, schema.major
            ),
        };
    }
    if let Some(lambda) = infra.lambda_version.as_deref().filter(|l| !l.is_empty()) {
        let needs_update = match parse_version(lambda) {
            Ok(l) => l.release() < client.release(),
            Err(_) => true,
        };
        if needs_update {
            return Compatibility::LambdaUpdateRequired {
                message: format!("Lambda update available: {lambda} -> {client_version}"),
            };
        }
    }
    Compatibility::Compatible
}

/// Turns a compatibility outcome into the error zae-limiter's `connect()` raises
/// (or `Ok(())` when it connects).
pub fn require_compatible(client_version: &str, infra: &InfrastructureVersion) -> Result<()> {
    let mismatch = |message: String, can_auto_update: bool| Error::VersionMismatch {
        client_version: client_version.to_string(),
        schema_version: infra.schema_version.clone(),
        lambda_version: infra.lambda_version.clone(),
        message,
        can_auto_update,
    };
    match check_compatibility(client_version, infra) {
        Compatibility::Compatible => Ok(()),
        Compatibility::LambdaUpdateRequired { message } => Err(mismatch(message, true)),
        Compatibility::ClientTooOld { message } => Err(mismatch(message, false)),
        // zae-limiter's `_check_version_strict` raises only for the three flagged
        // outcomes; an unparsable schema version falls through and connects.
        Compatibility::Invalid { .. } => Ok(()),
        Compatibility::SchemaMigrationRequired { message } => Err(Error::IncompatibleSchema {
            client_version: client_version.to_string(),
            schema_version: infra.schema_version.clone(),
            message,
        }),
    }
}

/// zae-limiter's feature-gate test (`reads_reset_after` and friends): whether a stack
/// stamped `lambda_version` proves its readers understand a feature introduced in
/// `minimum`. Missing or unparsable versions prove nothing.
pub fn lambda_reads_feature(lambda_version: Option<&str>, own_version: &str, minimum: &str) -> bool {
    let Some(lambda) = lambda_version else { return false };
    if lambda == own_version {
        return true;
    }
    match (parse_version(lambda), parse_version(minimum)) {
        (Ok(deployed), Ok(min)) => deployed.release() >= min,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ParsedVersion {
        parse_version(s).unwrap()
    }

    fn infra(schema: &str, lambda: Option<&str>, min: &str) -> InfrastructureVersion {
        InfrastructureVersion {
            schema_version: schema.into(),
            lambda_version: lambda.map(Into::into),
            client_min_version: min.into(),
        }
    }

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(v("1.2.3").to_string(), "1.2.3");
        assert_eq!(v("v0.17.0").to_string(), "0.17.0");
        assert_eq!(v("0.1.0.dev123+gabcdef").to_string(), "0.1.0-dev");
        assert_eq!(v("0.15.0rc1").to_string(), "0.15.0-rc1");
        assert_eq!(v("0.15.0rc1.dev3+gabc").to_string(), "0.15.0-rc1-dev");
        assert_eq!(v("0.15.0+d20260926").to_string(), "0.15.0");
        assert_eq!(v("0.1.dev1+ge76be3284").to_string(), "0.1.0-dev");
        assert_eq!(v("0.1").to_string(), "0.1.0");
        assert!(parse_version("0.15rc1").is_err());
        assert!(parse_version("abc").is_err());
        assert!(parse_version("1").is_err());
        assert!(parse_version("1.2.3.4").is_err());
    }

    #[test]
    fn orders_prereleases_below_releases() {
        assert!(v("0.15.0rc1") < v("0.15.0"));
        assert!(v("0.15.0-a") < v("0.15.0-b"));
        assert!(v("0.14.9") < v("0.15.0-dev"));
        assert_eq!(v("0.1.dev1").cmp(&v("0.1.dev999")), Ordering::Equal);
    }

    #[test]
    fn compatibility_rules_match_zae_limiter() {
        assert_eq!(
            check_compatibility("0.14.0", &infra("0.10.0", Some("0.17.0"), "0.0.0")),
            Compatibility::Compatible
        );
        assert_eq!(
            check_compatibility("0.14.0", &infra("0.10.0", None, "0.0.0")),
            Compatibility::Compatible
        );
        assert!(matches!(
            check_compatibility("0.14.0", &infra("0.10.0", Some("0.17.0"), "0.17.0")),
            Compatibility::ClientTooOld { .. }
        ));
        assert!(matches!(
            check_compatibility("1.0.0", &infra("0.10.0", None, "0.0.0")),
            Compatibility::SchemaMigrationRequired { .. }
        ));
        assert!(matches!(
            check_compatibility("0.14.0", &infra("0.10.0", Some("0.13.2"), "0.0.0")),
            Compatibility::LambdaUpdateRequired { .. }
        ));
        assert!(matches!(
            check_compatibility("0.14.0", &infra("0.10.0", Some("garbage"), "0.0.0")),
            Compatibility::LambdaUpdateRequired { .. }
        ));
        // A missing schema_version defaults to 1.0.0, whose major differs.
        assert!(matches!(
            check_compatibility("0.14.0", &infra("1.0.0", None, "0.0.0")),
            Compatibility::SchemaMigrationRequired { .. }
        ));
        // rc of the same release counts as the release for the Lambda comparison.
        assert_eq!(
            check_compatibility("0.14.0", &infra("0.10.0", Some("0.14.0rc1"), "0.0.0")),
            Compatibility::Compatible
        );
    }

    #[test]
    fn require_compatible_maps_to_typed_errors() {
        let err = require_compatible(CLIENT_VERSION, &infra("0.10.0", None, "0.17.0")).unwrap_err();
        assert!(
            matches!(
                err,
                Error::VersionMismatch {
                    can_auto_update: false,
                    ..
                }
            ),
            "{err}"
        );
        let err = require_compatible("1.0.0", &infra("0.10.0", None, "0.0.0")).unwrap_err();
        assert!(matches!(err, Error::IncompatibleSchema { .. }));
        require_compatible(CLIENT_VERSION, &infra("not-a-version", None, "0.0.0")).unwrap();
        let err = require_compatible(CLIENT_VERSION, &infra("0.10.0", Some("0.12.0"), "0.0.0")).unwrap_err();
        assert!(matches!(
            err,
            Error::VersionMismatch {
                can_auto_update: true,
                ..
            }
        ));
    }

    #[test]
    fn feature_gate_fails_closed() {
        assert!(!lambda_reads_feature(None, "0.17.0", "0.15.0"));
        assert!(lambda_reads_feature(Some("0.17.0"), "0.14.0", "0.15.0"));
        assert!(lambda_reads_feature(Some("0.15.0rc1"), "0.14.0", "0.15.0"));
        assert!(!lambda_reads_feature(Some("0.14.0"), "0.14.1", "0.15.0"));
        assert!(lambda_reads_feature(Some("0.1.dev5+g1"), "0.1.dev5+g1", "0.15.0"));
        assert!(!lambda_reads_feature(Some("junk"), "0.14.0", "0.15.0"));
    }
}
