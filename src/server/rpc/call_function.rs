//! `CallFunction`: this provider defines no functions, so every call is an error.

use crate::server::proto::tfplugin6 as pb;
use pb::call_function::{Request, Response};

/// Refuses the call.
#[tracing::instrument(level = "debug", name = "CallFunction", skip_all, fields(function = %req.name))]
pub(super) fn handle(req: Request) -> Response {
    Response {
        result: None,
        error: Some(pb::FunctionError {
            text: format!(
                "This provider defines no functions, so `{}` cannot be called.",
                req.name
            ),
            function_argument: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_a_function_error() {
        let resp = handle(Request {
            name: "parse".into(),
            arguments: Vec::new(),
        });
        let error = resp.error.expect("error");
        assert!(error.text.contains("`parse`"));
        assert!(resp.result.is_none());
    }
}
