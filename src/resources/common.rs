//! Helpers every resource of this provider shares: turning failures into diagnostics on the
//! right attribute, stop-aware waits, the identity schema builder and the audit principal.

use std::fmt::Display;
use std::future::Future;

use crate::aws::AwsClients;
use crate::framework::plan_modifier::UseStateForUnknown;
use crate::framework::{Attribute, AttributePath, Diagnostics, IdentityAttribute, Known, Type};

/// One error diagnostic, about `attribute` when given, else about the resource as a whole.
pub(crate) fn error_diag(attribute: Option<&str>, summary: &str, detail: impl Display) -> Diagnostics {
    let mut d = Diagnostics::new();
    match attribute {
        Some(name) => d.attribute_error(AttributePath::root(name), summary, detail.to_string()),
        None => d.error(summary, detail.to_string()),
    }
    d
}

/// A failure of the client crate: a missing table is a diagnostic on `stack` ("Unknown
/// stack"), anything else an error with `summary`.
pub(crate) fn data_error(err: &zae_limiter::Error, summary: &str, stack_attribute: &str, stack: &str) -> Diagnostics {
    match err {
        zae_limiter::Error::TableNotFound { .. } => error_diag(
            Some(stack_attribute),
            "Unknown stack",
            format!("There is no zae-limiter stack {stack:?}: its DynamoDB table does not exist in this region."),
        ),
        other => error_diag(None, summary, other),
    }
}

/// A computed value an operation needs known (an id recorded at create, tags planned
/// before apply); its absence is reported on the attribute rather than read as empty.
pub(crate) fn known<'a, T>(value: &'a Known<T>, attribute: &str) -> Result<&'a T, Diagnostics> {
    value.value().ok_or_else(|| {
        error_diag(
            Some(attribute),
            "Missing value",
            format!("{attribute} is not known here; refresh or re-import the resource, then apply again."),
        )
    })
}

/// Turns any displayable error into diagnostics with a summary (and an attribute).
pub(crate) trait OrDiagnostic<T> {
    /// An error about the resource as a whole.
    fn or_error(self, summary: &str) -> Result<T, Diagnostics>;
    /// An error about one attribute.
    fn or_error_at(self, attribute: &str, summary: &str) -> Result<T, Diagnostics>;
}

impl<T, E: Display> OrDiagnostic<T> for Result<T, E> {
    fn or_error(self, summary: &str) -> Result<T, Diagnostics> {
        self.map_err(|e| error_diag(None, summary, e))
    }

    fn or_error_at(self, attribute: &str, summary: &str) -> Result<T, Diagnostics> {
        self.map_err(|e| error_diag(Some(attribute), summary, e))
    }
}

/// Runs a long wait unless Terraform asks the provider to stop (Ctrl-C); then the
/// operation ends with an error and the state keeps what exists.
pub(crate) async fn unless_stopped<T>(wait: impl Future<Output = T>) -> Result<T, Diagnostics> {
    tokio::select! {
        out = wait => Ok(out),
        () = crate::framework::stop::wait() => Err(error_diag(
            None,
            "Stopped",
            "Terraform asked the provider to stop; what exists so far is recorded in state.",
        )),
    }
}

/// A computed string that keeps its prior value in plans (ids, ARNs).
pub(crate) fn computed_string(name: &str, description: &str) -> Attribute {
    Attribute::string(name)
        .computed()
        .description(description)
        .plan_modifier(UseStateForUnknown)
}

/// A string attribute of an identity schema.
pub(crate) fn identity_string(name: &'static str, required: bool, description: &'static str) -> IdentityAttribute {
    IdentityAttribute {
        name,
        ty: Type::String,
        required_for_import: required,
        optional_for_import: !required,
        description,
    }
}

/// The principal recorded in audit events: the provider's STS caller, or none (NULL in the
/// event, as zae-limiter writes it) when it cannot be looked up.
pub(crate) async fn audit_principal(clients: &AwsClients) -> Option<String> {
    match clients.caller_identity().await {
        Ok(identity) if !identity.arn.is_empty() => Some(identity.arn),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look up the caller; audit events get a NULL principal");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_table_is_blamed_on_the_stack_attribute() {
        let err = zae_limiter::Error::TableNotFound {
            table: "zae-demo".into(),
        };
        let d = data_error(&err, "Cannot read", "stack", "zae-demo");
        let diag = d.iter().next().unwrap();
        assert_eq!(diag.summary, "Unknown stack");
        assert_eq!(diag.attribute.as_ref().unwrap().to_string(), "stack");
    }

    #[test]
    fn errors_land_on_the_attribute_asked_for() {
        let failed: Result<(), &str> = Err("boom");
        let d = failed
            .or_error_at("pitr_recovery_days", "Cannot configure")
            .unwrap_err();
        let diag = d.iter().next().unwrap();
        assert_eq!(diag.attribute.as_ref().unwrap().to_string(), "pitr_recovery_days");
        assert_eq!(diag.detail, "boom");
        let failed: Result<(), &str> = Err("boom");
        assert!(
            failed
                .or_error("Cannot")
                .unwrap_err()
                .iter()
                .next()
                .unwrap()
                .attribute
                .is_none()
        );
    }
}
