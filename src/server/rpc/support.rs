//! Small helpers shared by the RPC handlers: decoding with diagnostics, the standard error
//! diagnostics, and the checks applied to every state handed back to Terraform.

use crate::framework::diag::Diagnostics;
use crate::framework::schema::Block;
use crate::framework::types::Type;
use crate::framework::value::Value;
use crate::server::convert::diagnostic::diagnostics_to_proto;
use crate::server::convert::value::{decode_dynamic, encode_dynamic};
use crate::server::proto::tfplugin6 as pb;

use super::shape;

/// Decodes a request value; on failure adds a diagnostic naming `field` and returns `None`.
pub(crate) fn decode(
    value: Option<&pb::DynamicValue>,
    ty: &Type,
    field: &'static str,
    diags: &mut Diagnostics,
) -> Option<Value> {
    decode_dynamic(value, ty, field).map_err(|e| e.add_to(diags)).ok()
}

/// Encodes a response value; on failure adds a diagnostic naming `field` and returns `None`.
pub(crate) fn encode(
    value: &Value,
    ty: &Type,
    field: &'static str,
    diags: &mut Diagnostics,
) -> Option<pb::DynamicValue> {
    encode_dynamic(value, ty, field).map_err(|e| e.add_to(diags)).ok()
}

/// Encodes a state for Terraform, falling back to `fallback` (e.g. the prior state) when
/// the provider's value does not fit the schema, so that nothing tracked is lost.
pub(crate) fn encode_or(
    value: &Value,
    fallback: &Value,
    ty: &Type,
    field: &'static str,
    diags: &mut Diagnostics,
) -> Option<pb::DynamicValue> {
    encode(value, ty, field, diags).or_else(|| encode_dynamic(fallback, ty, field).ok())
}

/// Prepares a state returned by the provider after an operation: conforms it to the schema
/// and replaces leftover unknowns with null, reporting them as a provider bug unless the
/// operation already failed (a partial state after an error may keep planned unknowns).
pub(crate) fn finish_state(block: &Block, state: &Value, operation: &str, diags: &mut Diagnostics) -> Value {
    let state = shape::conform(block, state);
    if state.is_fully_known() {
        return state;
    }
    if !diags.has_errors() {
        diags.error(
            "Provider returned invalid result object",
            format!(
                "After {operation}, the provider still reported unknown values. All values must be \
                 known after {operation}; this is a bug in the provider. The known values are kept \
                 in state and the unknown ones are recorded as null."
            ),
        );
    }
    shape::unknowns_to_null(&state)
}

/// Prepares a planned state: conforms it to the schema (unknowns are expected in plans).
pub(crate) fn finish_plan(block: &Block, planned: &Value) -> Value {
    shape::conform(block, planned)
}

/// Adds the error for a type name this provider does not serve.
pub(crate) fn unknown_type(kind: &str, type_name: &str, diags: &mut Diagnostics) {
    diags.error(
        format!("Unknown {kind} type"),
        format!("This provider has no {kind} type named `{type_name}`."),
    );
}

/// Adds the error for an operation that needs `ConfigureProvider` to have succeeded.
pub(crate) fn not_configured(diags: &mut Diagnostics) {
    diags.error(
        "Provider not configured",
        "This operation needs a configured provider, but the provider has not been configured (or \
         its configuration failed). Check the provider block and any earlier errors.",
    );
}

/// Adds the error for an operation abandoned because Terraform asked the provider to stop.
pub(crate) fn stopped(diags: &mut Diagnostics) {
    diags.error(
        "Operation cancelled",
        "Terraform asked the provider to stop (for example after Ctrl-C) before this operation finished.",
    );
}

/// The diagnostics of an RPC for a feature this provider does not offer.
pub(crate) fn unsupported(summary: &str, rpc: &str, type_name: &str) -> Vec<pb::Diagnostic> {
    let mut diags = Diagnostics::new();
    let subject = if type_name.is_empty() {
        String::new()
    } else {
        format!(" for `{type_name}`")
    };
    diags.error(
        format!("{summary} not supported"),
        format!("Terraform called {rpc}{subject}, which is not supported by this provider."),
    );
    diagnostics_to_proto(&diags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::schema::Attribute;

    #[test]
    fn finish_state_reports_unknowns_only_when_nothing_failed() {
        let block = Block::new("").attribute(Attribute::string("id").computed());
        let mut state = Value::Object(Default::default());
        state.set("id", Value::unknown());

        let mut ok = Diagnostics::new();
        let out = finish_state(&block, &state, "apply", &mut ok);
        assert!(out.get("id").is_null());
        assert!(ok.has_errors());

        let mut failed = Diagnostics::new();
        failed.error("Create failed", "boom");
        finish_state(&block, &state, "apply", &mut failed);
        assert_eq!(failed.iter().count(), 1);
    }

    #[test]
    fn unsupported_names_the_rpc_and_type() {
        let diags = unsupported("Ephemeral resources", "OpenEphemeralResource", "zae_token");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].summary, "Ephemeral resources not supported");
        assert!(
            diags[0].detail.contains("OpenEphemeralResource for `zae_token`"),
            "{}",
            diags[0].detail
        );
        assert!(diags[0].detail.contains("not supported by this provider"));
    }
}
