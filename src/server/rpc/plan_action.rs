//! `PlanAction`: plans an action. This provider has no actions, so the answer is an error
//! diagnostic (never a gRPC error).

use crate::server::proto::tfplugin6 as pb;
use pb::plan_action::{Request, Response};

use super::support;

/// Refuses the request.
#[tracing::instrument(level = "debug", name = "PlanAction", skip_all, fields(type_name = %req.action_type))]
pub(super) fn handle(req: Request) -> Response {
    Response {
        diagnostics: support::unsupported("Actions", "PlanAction", &req.action_type),
        ..Response::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_an_error_diagnostic() {
        let resp = handle(Request {
            action_type: "zae_x".into(),
            ..Request::default()
        });
        assert_eq!(resp.diagnostics.len(), 1);
        assert_eq!(resp.diagnostics[0].summary, "Actions not supported");
        assert_eq!(resp.diagnostics[0].severity, pb::diagnostic::Severity::Error as i32);
    }
}
