//! `ValidateDataResourceConfig`: schema validators, then the data source's own checks.

use crate::framework::diag::Diagnostics;
use crate::framework::planning;
use crate::framework::provider::Provider;
use crate::framework::resource::ValidateRequest;
use crate::server::convert::diagnostic::diagnostics_to_proto;
use crate::server::proto::tfplugin6 as pb;
use pb::validate_data_resource_config::{Request, Response};

use super::{ProviderRpc, support};

/// Validates a data source configuration.
#[tracing::instrument(
    level = "debug",
    name = "ValidateDataResourceConfig",
    skip_all,
    fields(type_name = %req.type_name)
)]
pub(super) async fn handle<P: Provider>(svc: &ProviderRpc<P>, req: Request) -> Response {
    let mut diags = Diagnostics::new();
    if let Some(entry) = svc.data_source(&req.type_name, &mut diags)
        && let Some(config) = support::decode(req.config.as_ref(), &entry.ty, "config", &mut diags)
    {
        planning::validate_config(&entry.schema.block, &config, &mut diags);
        entry
            .data_source
            .validate_config(&ValidateRequest { config: &config }, &mut diags)
            .await;
    }
    Response {
        diagnostics: diagnostics_to_proto(&diags),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{LOOKUP, msgpack, obj, service};
    use super::*;

    #[tokio::test]
    async fn data_source_checks_run() {
        let svc = service();
        let ty = &svc.data_sources[LOOKUP].ty;
        let config = obj(&[("name", "".into())]);
        let resp = handle(
            &svc,
            Request {
                type_name: LOOKUP.into(),
                config: Some(msgpack(ty, &config)),
            },
        )
        .await;
        assert_eq!(resp.diagnostics[0].summary, "Empty name");
    }

    #[tokio::test]
    async fn unknown_type_is_an_error() {
        let resp = handle(
            &service(),
            Request {
                type_name: "fake_widget".into(),
                config: None,
            },
        )
        .await;
        assert_eq!(resp.diagnostics[0].summary, "Unknown data source type");
    }
}
