//! The provider configuration as plain Rust data, read from the configuration value.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::framework::{AttributePath, Diagnostics, Value};

/// `assume_role { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    /// Role to assume.
    pub role_arn: String,
    /// Session name.
    pub session_name: Option<String>,
    /// External id.
    pub external_id: Option<String>,
}

/// The provider configuration.
/// The provider configuration. Its `Debug` output shows the access key id but never the
/// secret key or session token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProviderConfig {
    /// AWS region.
    pub region: Option<String>,
    /// Shared-config profile.
    pub profile: Option<String>,
    /// Static credentials: (access key, secret key, session token).
    pub static_credentials: Option<(String, String, Option<String>)>,
    /// Endpoint for every service.
    pub endpoint_url: Option<String>,
    /// Per-service endpoints, keyed by service name (`dynamodb`, `iam`, ...).
    pub endpoints: BTreeMap<String, String>,
    /// Role to assume.
    pub assume_role: Option<AssumeRole>,
    /// Tags for every taggable object.
    pub default_tags: BTreeMap<String, String>,
    /// Maximum retries per AWS call.
    pub max_retries: u32,
    /// Skip the STS credential check.
    pub skip_credentials_validation: bool,
    /// Whether some value was not yet known (during plan): the credential check is skipped.
    pub has_unknowns: bool,
    /// Time limits of every AWS call.
    pub sdk_timeouts: SdkTimeouts,
    /// The only accounts the provider may work in (empty: any).
    pub allowed_account_ids: Vec<String>,
    /// Accounts the provider must not work in.
    pub forbidden_account_ids: Vec<String>,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let credentials = self.static_credentials.as_ref().map(|(access, _, token)| {
            let token = if token.is_some() { "** redacted **" } else { "none" };
            format!("access key {access}, secret key ** redacted **, session token {token}")
        });
        f.debug_struct("ProviderConfig")
            .field("region", &self.region)
            .field("profile", &self.profile)
            .field("static_credentials", &credentials)
            .field("endpoint_url", &self.endpoint_url)
            .field("endpoints", &self.endpoints)
            .field("assume_role", &self.assume_role)
            .field("default_tags", &self.default_tags)
            .field("max_retries", &self.max_retries)
            .field("skip_credentials_validation", &self.skip_credentials_validation)
            .field("has_unknowns", &self.has_unknowns)
            .field("sdk_timeouts", &self.sdk_timeouts)
            .field("allowed_account_ids", &self.allowed_account_ids)
            .field("forbidden_account_ids", &self.forbidden_account_ids)
            .finish()
    }
}

/// Time limits set on every SDK client, so that no AWS call can hang the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdkTimeouts {
    /// Establishing a connection (TCP and TLS).
    pub connect: Duration,
    /// One attempt of a call, from sending the request to the end of the response.
    pub attempt: Duration,
    /// The whole call, all of the SDK's own retries included.
    pub operation: Duration,
}

impl Default for SdkTimeouts {
    /// Connect 10 s, 60 s per attempt, 5 minutes per call.
    fn default() -> SdkTimeouts {
        SdkTimeouts {
            connect: Duration::from_secs(10),
            attempt: Duration::from_secs(60),
            operation: Duration::from_secs(300),
        }
    }
}

/// The attribute listing the only accounts the provider may work in.
pub const ALLOWED_ACCOUNT_IDS: &str = "allowed_account_ids";
/// The attribute listing accounts the provider must not work in.
pub const FORBIDDEN_ACCOUNT_IDS: &str = "forbidden_account_ids";

/// Retries per AWS call when `max_retries` is not set (as the AWS provider does).
pub const DEFAULT_MAX_RETRIES: u32 = 25;

fn opt_string(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

impl ProviderConfig {
    /// Reads the configuration value, reporting inconsistent settings against their
    /// attribute.
    pub fn from_value(config: &Value, diags: &mut Diagnostics) -> ProviderConfig {
        let mut out = ProviderConfig {
            region: opt_string(config.get("region")),
            profile: opt_string(config.get("profile")),
            endpoint_url: opt_string(config.get("endpoint_url")),
            max_retries: DEFAULT_MAX_RETRIES,
            skip_credentials_validation: config.get("skip_credentials_validation").as_bool().unwrap_or(false),
            has_unknowns: !config.is_fully_known(),
            ..ProviderConfig::default()
        };
        if let Some(n) = config.get("max_retries").as_i64() {
            out.max_retries = u32::try_from(n).unwrap_or(0);
        }
        let access = opt_string(config.get("access_key"));
        let secret = opt_string(config.get("secret_key"));
        match (access, secret) {
            (Some(a), Some(s)) => out.static_credentials = Some((a, s, opt_string(config.get("token")))),
            (Some(_), None) if !config.get("secret_key").is_unknown() => diags.attribute_error(
                AttributePath::root("secret_key"),
                "Missing secret_key",
                "access_key is set, so secret_key must be set too.",
            ),
            (None, Some(_)) if !config.get("access_key").is_unknown() => diags.attribute_error(
                AttributePath::root("access_key"),
                "Missing access_key",
                "secret_key is set, so access_key must be set too.",
            ),
            _ => {}
        }
        let endpoints = config.get("endpoints");
        for service in super::schema::ENDPOINT_SERVICES {
            if let Some(url) = opt_string(endpoints.get(service)) {
                out.endpoints.insert(service.to_string(), url);
            }
        }
        let role = config.get("assume_role");
        if let Some(role_arn) = opt_string(role.get("role_arn")) {
            out.assume_role = Some(AssumeRole {
                role_arn,
                session_name: opt_string(role.get("session_name")),
                external_id: opt_string(role.get("external_id")),
            });
        }
        out.default_tags = config
            .get("default_tags")
            .get("tags")
            .as_string_map()
            .unwrap_or_default();
        out.allowed_account_ids = config.get(ALLOWED_ACCOUNT_IDS).as_string_list().unwrap_or_default();
        out.forbidden_account_ids = config.get(FORBIDDEN_ACCOUNT_IDS).as_string_list().unwrap_or_default();
        let given = |name| !config.get(name).is_null();
        if given(ALLOWED_ACCOUNT_IDS) && given(FORBIDDEN_ACCOUNT_IDS) {
            diags.attribute_error(
                AttributePath::root(FORBIDDEN_ACCOUNT_IDS),
                "Conflicting attributes",
                "Set allowed_account_ids or forbidden_account_ids, not both.",
            );
        }
        out
    }

    /// Warnings for `endpoints` entries of services the provider never calls.
    pub fn warn_of_unused_endpoints(config: &Value, diags: &mut Diagnostics) {
        let endpoints = config.get("endpoints");
        for service in super::schema::UNUSED_ENDPOINT_SERVICES {
            if !endpoints.get(service).is_null() {
                diags.attribute_warning(
                    AttributePath::root("endpoints").attribute(service),
                    "Endpoint not used",
                    format!(
                        "The provider never calls {service}, so this endpoint has no effect. It only calls {}.",
                        super::schema::ENDPOINT_SERVICES.join(", ")
                    ),
                );
            }
        }
    }

    /// Whether the account restrictions need the caller's account (one of the lists is set).
    pub fn restricts_accounts(&self) -> bool {
        !self.allowed_account_ids.is_empty() || !self.forbidden_account_ids.is_empty()
    }

    /// Checks the caller's `account` against `allowed_account_ids` and
    /// `forbidden_account_ids`, adding an error on the attribute that refuses it.
    pub fn check_account(&self, account: &str, diags: &mut Diagnostics) {
        if !self.allowed_account_ids.is_empty() && !self.allowed_account_ids.iter().any(|a| a == account) {
            diags.attribute_error(
                AttributePath::root(ALLOWED_ACCOUNT_IDS),
                "AWS account not allowed",
                format!(
                    "The credentials are for AWS account {account}, which is not in allowed_account_ids ({}).",
                    self.allowed_account_ids.join(", ")
                ),
            );
        }
        if self.forbidden_account_ids.iter().any(|a| a == account) {
            diags.attribute_error(
                AttributePath::root(FORBIDDEN_ACCOUNT_IDS),
                "AWS account forbidden",
                format!("The credentials are for AWS account {account}, which is in forbidden_account_ids."),
            );
        }
    }

    /// The endpoint for `service`: its own override, else `endpoint_url`.
    pub fn endpoint_for(&self, service: &str) -> Option<&str> {
        self.endpoints
            .get(service)
            .or(self.endpoint_url.as_ref())
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::planning::empty_object;

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut v = empty_object(&super::super::schema::provider_schema().block);
        for (k, x) in pairs {
            v.set(k, x.clone());
        }
        v
    }

    #[test]
    fn reads_credentials_endpoints_and_tags() {
        let mut endpoints = empty_object(
            &super::super::schema::provider_schema()
                .block
                .find_block("endpoints")
                .unwrap()
                .block,
        );
        endpoints.set("iam", "http://iam.local:1".into());
        let mut tags = Value::Object(Default::default());
        tags.set("tags", Value::string_map([("team", "platform")]));
        let cfg = ProviderConfig::from_value(
            &config(&[
                ("region", "eu-west-1".into()),
                ("access_key", "AK".into()),
                ("secret_key", "SK".into()),
                ("endpoint_url", "http://127.0.0.1:5000".into()),
                ("endpoints", endpoints),
                ("default_tags", tags),
            ]),
            &mut Diagnostics::new(),
        );
        assert_eq!(cfg.region.as_deref(), Some("eu-west-1"));
        assert_eq!(cfg.static_credentials, Some(("AK".into(), "SK".into(), None)));
        assert_eq!(cfg.endpoint_for("iam"), Some("http://iam.local:1"));
        assert_eq!(cfg.endpoint_for("dynamodb"), Some("http://127.0.0.1:5000"));
        assert_eq!(cfg.default_tags.get("team").map(String::as_str), Some("platform"));
        assert_eq!(cfg.max_retries, DEFAULT_MAX_RETRIES);
    }

    fn accounts(ids: &[&str]) -> Value {
        Value::Set(ids.iter().map(|id| Value::string(*id)).collect())
    }

    #[test]
    fn account_lists_conflict_and_check_the_caller() {
        let mut d = Diagnostics::new();
        let both = config(&[
            (ALLOWED_ACCOUNT_IDS, accounts(&["123456789012"])),
            (FORBIDDEN_ACCOUNT_IDS, accounts(&["210987654321"])),
        ]);
        ProviderConfig::from_value(&both, &mut d);
        let diag = d.iter().next().expect("a conflict");
        assert_eq!(diag.summary, "Conflicting attributes");
        assert_eq!(diag.attribute, Some(AttributePath::root(FORBIDDEN_ACCOUNT_IDS)));

        let mut d = Diagnostics::new();
        let allowed =
            ProviderConfig::from_value(&config(&[(ALLOWED_ACCOUNT_IDS, accounts(&["111111111111"]))]), &mut d);
        assert!(!d.has_errors());
        assert!(allowed.restricts_accounts());
        allowed.check_account("111111111111", &mut d);
        assert!(!d.has_errors());
        allowed.check_account("123456789012", &mut d);
        let diag = d.iter().next().expect("not allowed");
        assert_eq!(diag.attribute, Some(AttributePath::root(ALLOWED_ACCOUNT_IDS)));
        assert!(diag.detail.contains("account 123456789012"), "{}", diag.detail);

        let mut d = Diagnostics::new();
        let forbidden =
            ProviderConfig::from_value(&config(&[(FORBIDDEN_ACCOUNT_IDS, accounts(&["123456789012"]))]), &mut d);
        forbidden.check_account("111111111111", &mut d);
        assert!(!d.has_errors());
        forbidden.check_account("123456789012", &mut d);
        let diag = d.iter().next().expect("forbidden");
        assert_eq!(diag.attribute, Some(AttributePath::root(FORBIDDEN_ACCOUNT_IDS)));
        assert!(diag.detail.contains("account 123456789012"), "{}", diag.detail);
        assert!(!ProviderConfig::default().restricts_accounts());
    }

    #[test]
    fn endpoints_of_services_never_called_are_warnings() {
        let schema = super::super::schema::provider_schema();
        let mut endpoints = empty_object(&schema.block.find_block("endpoints").unwrap().block);
        endpoints.set("sns", "http://cw.local:1".into());
        endpoints.set("s3", "http://s3.local:1".into());
        endpoints.set("dynamodb", "http://ddb.local:1".into());
        let mut d = Diagnostics::new();
        let value = config(&[("endpoints", endpoints)]);
        ProviderConfig::warn_of_unused_endpoints(&value, &mut d);
        let found: Vec<_> = d.iter().map(|x| (x.severity, x.attribute.clone())).collect();
        assert_eq!(
            found,
            [(
                crate::framework::diag::Severity::Warning,
                Some(AttributePath::root("endpoints").attribute("sns"))
            )]
        );
        let cfg = ProviderConfig::from_value(&value, &mut d);
        assert_eq!(cfg.endpoint_for("dynamodb"), Some("http://ddb.local:1"));
        assert_eq!(
            cfg.endpoint_for("s3"),
            Some("http://s3.local:1"),
            "the S3 client uses it"
        );
        assert_eq!(cfg.endpoints.get("sns"), None, "never used for a client");
    }

    #[test]
    fn debug_output_hides_the_secret_key_and_token() {
        let cfg = ProviderConfig {
            static_credentials: Some(("AKIAVISIBLE".into(), "secret-value".into(), Some("token-value".into()))),
            ..ProviderConfig::default()
        };
        let text = format!("{cfg:?}");
        assert!(text.contains("AKIAVISIBLE"), "{text}");
        assert!(
            !text.contains("secret-value") && !text.contains("token-value"),
            "{text}"
        );
    }

    #[test]
    fn half_static_credentials_point_at_the_missing_attribute() {
        let mut d = Diagnostics::new();
        ProviderConfig::from_value(&config(&[("access_key", "AK".into())]), &mut d);
        let diag = d.iter().next().expect("an error");
        assert_eq!(diag.attribute, Some(AttributePath::root("secret_key")));
    }
}
