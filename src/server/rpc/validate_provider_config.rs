//! `ValidateProviderConfig`: schema validators, then the provider's own checks, on the
//! provider block (which may still hold unknown values).

use crate::framework::diag::Diagnostics;
use crate::framework::planning;
use crate::framework::provider::Provider;
use crate::server::convert::diagnostic::diagnostics_to_proto;
use crate::server::proto::tfplugin6 as pb;
use pb::validate_provider_config::{Request, Response};

use super::{ProviderRpc, support};

/// Validates the provider configuration.
#[tracing::instrument(level = "debug", name = "ValidateProviderConfig", skip_all)]
pub(super) async fn handle<P: Provider>(svc: &ProviderRpc<P>, req: Request) -> Response {
    let mut diags = Diagnostics::new();
    if let Some(config) = support::decode(req.config.as_ref(), &svc.provider_ty, "config", &mut diags) {
        planning::validate_config(&svc.provider_schema.block, &config, &mut diags);
        svc.provider.validate_config(&config, &mut diags).await;
    }
    Response {
        diagnostics: diagnostics_to_proto(&diags),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{msgpack, obj, service};
    use super::*;
    use crate::framework::value::Value;

    #[tokio::test]
    async fn runs_schema_validators_and_provider_checks() {
        let svc = service();
        let config = obj(&[("endpoint", "ftp://x".into())]);
        let resp = handle(
            &svc,
            Request {
                config: Some(msgpack(&svc.provider_ty, &config)),
            },
        )
        .await;
        let summaries: Vec<_> = resp.diagnostics.iter().map(|d| d.summary.as_str()).collect();
        assert_eq!(summaries, vec!["Invalid value", "Insecure endpoint"]);
        assert!(
            resp.diagnostics[0].attribute.is_some(),
            "validator errors point at the attribute"
        );
    }

    #[tokio::test]
    async fn unknown_values_are_not_validated() {
        let svc = service();
        let config = obj(&[("endpoint", Value::unknown())]);
        let resp = handle(
            &svc,
            Request {
                config: Some(msgpack(&svc.provider_ty, &config)),
            },
        )
        .await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
    }

    #[tokio::test]
    async fn undecodable_config_names_the_field() {
        let svc = service();
        let bad = pb::DynamicValue {
            msgpack: vec![0x01],
            json: Vec::new(),
        };
        let resp = handle(&svc, Request { config: Some(bad) }).await;
        assert_eq!(resp.diagnostics[0].summary, "Unable to decode config");
    }
}
