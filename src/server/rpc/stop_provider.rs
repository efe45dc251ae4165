//! `StopProvider`: Terraform asks the provider to wind down in-flight work (the user pressed
//! Ctrl-C). Triggers the service's stop signal and answers at once.

use crate::framework::provider::Provider;
use crate::server::proto::tfplugin6 as pb;
use pb::stop_provider::{Request, Response};

use super::ProviderRpc;

/// Signals every in-flight operation to stop.
#[tracing::instrument(level = "debug", name = "StopProvider", skip_all)]
pub(super) fn handle<P: Provider>(svc: &ProviderRpc<P>, _req: Request) -> Response {
    svc.stop.trigger();
    Response { error: String::new() }
}

#[cfg(test)]
mod tests {
    use super::super::testing::service;
    use super::*;

    #[test]
    fn triggers_the_stop_signal() {
        let svc = service();
        assert!(!svc.stop_signal().is_triggered());
        let resp = handle(&svc, Request::default());
        assert!(resp.error.is_empty());
        assert!(svc.stop_signal().is_triggered());
    }
}
