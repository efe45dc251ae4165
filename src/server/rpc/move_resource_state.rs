//! `MoveResourceState`: `moved` blocks across resource types. Not supported (the server does
//! not advertise `move_resource_state`), so Terraform should never call it.

use crate::server::proto::tfplugin6 as pb;
use pb::move_resource_state::{Request, Response};

use super::support;

/// Refuses the move.
#[tracing::instrument(level = "debug", name = "MoveResourceState", skip_all, fields(type_name = %req.target_type_name))]
pub(super) fn handle(req: Request) -> Response {
    let subject = format!("{} to {}", req.source_type_name, req.target_type_name);
    Response {
        diagnostics: support::unsupported("Moving resource state", "MoveResourceState", &subject),
        ..Response::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_an_error() {
        let req = Request {
            source_type_name: "a_x".into(),
            target_type_name: "fake_widget".into(),
            ..Request::default()
        };
        let resp = handle(req);
        assert_eq!(resp.diagnostics[0].summary, "Moving resource state not supported");
        assert!(resp.diagnostics[0].detail.contains("a_x to fake_widget"));
        assert!(resp.target_state.is_none());
    }
}
