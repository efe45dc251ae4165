//! `GetFunctions`: this provider defines no functions.

use crate::server::proto::tfplugin6 as pb;
use pb::get_functions::{Request, Response};

/// Returns no functions.
#[tracing::instrument(level = "debug", name = "GetFunctions", skip_all)]
pub(super) fn handle(_req: Request) -> Response {
    Response::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_functions_and_no_diagnostics() {
        let resp = handle(Request::default());
        assert!(resp.functions.is_empty() && resp.diagnostics.is_empty());
    }
}
