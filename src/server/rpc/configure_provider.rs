//! `ConfigureProvider`: builds the provider's data (AWS clients) from the provider block and
//! keeps it for every later resource and data source operation.

use std::sync::Arc;

use crate::framework::diag::Diagnostics;
use crate::framework::provider::Provider;
use crate::server::convert::diagnostic::diagnostics_to_proto;
use crate::server::proto::tfplugin6 as pb;
use pb::configure_provider::{Request, Response};

use super::{ProviderRpc, support};

/// Configures the provider.
#[tracing::instrument(
    level = "debug",
    name = "ConfigureProvider",
    skip_all,
    fields(terraform_version = %req.terraform_version)
)]
pub(super) async fn handle<P: Provider>(svc: &ProviderRpc<P>, req: Request) -> Response {
    let mut diags = Diagnostics::new();
    if let Some(config) = support::decode(req.config.as_ref(), &svc.provider_ty, "config", &mut diags) {
        let data = svc.scoped(svc.provider.configure(&config, &mut diags)).await;
        match data {
            // Errors win even when data came back: a half-configured provider is not used.
            _ if diags.has_errors() => {}
            Some(data) => *svc.configured.write().await = Some(Arc::new(data)),
            None => diags.error(
                "Provider configuration failed",
                "The provider could not be configured but gave no reason. This is a bug in the provider.",
            ),
        }
    }
    Response {
        diagnostics: diagnostics_to_proto(&diags),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{msgpack, obj, service};
    use super::*;

    #[tokio::test]
    async fn stores_the_configured_data() {
        let svc = service();
        let config = obj(&[("endpoint", "https://example".into())]);
        let resp = handle(
            &svc,
            Request {
                config: Some(msgpack(&svc.provider_ty, &config)),
                ..Request::default()
            },
        )
        .await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let data = svc.configured_data().await.expect("configured");
        assert_eq!(data.endpoint, "https://example");
    }

    #[tokio::test]
    async fn failure_is_a_diagnostic_and_leaves_the_provider_unconfigured() {
        let svc = service();
        let config = obj(&[("endpoint", "https://fail".into())]);
        let resp = handle(
            &svc,
            Request {
                config: Some(msgpack(&svc.provider_ty, &config)),
                ..Request::default()
            },
        )
        .await;
        assert_eq!(resp.diagnostics[0].summary, "Cannot reach endpoint");
        assert!(svc.configured_data().await.is_none());
    }

    #[tokio::test]
    async fn silent_failure_still_reports_an_error() {
        let svc = service();
        let config = obj(&[("endpoint", "https://silent".into())]);
        let resp = handle(
            &svc,
            Request {
                config: Some(msgpack(&svc.provider_ty, &config)),
                ..Request::default()
            },
        )
        .await;
        assert_eq!(resp.diagnostics[0].summary, "Provider configuration failed");
        assert!(svc.configured_data().await.is_none());
    }
}
