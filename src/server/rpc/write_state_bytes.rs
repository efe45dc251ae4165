//! `WriteStateBytes`: writes a stored state in chunks. This provider has no state stores, so
//! the answer is an error diagnostic; the incoming chunks are not read.

use crate::server::proto::tfplugin6 as pb;
use pb::write_state_bytes::Response;

use super::support;

/// Refuses the write.
#[tracing::instrument(level = "debug", name = "WriteStateBytes", skip_all)]
pub(super) fn handle() -> Response {
    Response {
        diagnostics: support::unsupported("State stores", "WriteStateBytes", ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_an_error_diagnostic() {
        let resp = handle();
        assert_eq!(resp.diagnostics[0].summary, "State stores not supported");
    }
}
