//! `ValidateStateStoreConfig`: validates a state store configuration. This provider has no state stores, so the answer is an error
//! diagnostic (never a gRPC error).

use crate::server::proto::tfplugin6 as pb;
use pb::validate_state_store::{Request, Response};

use super::support;

/// Refuses the request.
#[tracing::instrument(level = "debug", name = "ValidateStateStoreConfig", skip_all, fields(type_name = %req.type_name))]
pub(super) fn handle(req: Request) -> Response {
    Response {
        diagnostics: support::unsupported("State stores", "ValidateStateStoreConfig", &req.type_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_an_error_diagnostic() {
        let resp = handle(Request {
            type_name: "zae_x".into(),
            ..Request::default()
        });
        assert_eq!(resp.diagnostics.len(), 1);
        assert_eq!(resp.diagnostics[0].summary, "State stores not supported");
        assert_eq!(resp.diagnostics[0].severity, pb::diagnostic::Severity::Error as i32);
    }
}
