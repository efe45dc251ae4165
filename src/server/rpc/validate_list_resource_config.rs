//! `ValidateListResourceConfig`: validates a list block of `terraform query`. This provider has no list resources, so the answer is an error
//! diagnostic (never a gRPC error).

use crate::server::proto::tfplugin6 as pb;
use pb::validate_list_resource_config::{Request, Response};

use super::support;

/// Refuses the request.
#[tracing::instrument(level = "debug", name = "ValidateListResourceConfig", skip_all, fields(type_name = %req.type_name))]
pub(super) fn handle(req: Request) -> Response {
    Response {
        diagnostics: support::unsupported("List resources", "ValidateListResourceConfig", &req.type_name),
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
        assert_eq!(resp.diagnostics[0].summary, "List resources not supported");
        assert_eq!(resp.diagnostics[0].severity, pb::diagnostic::Severity::Error as i32);
    }
}
