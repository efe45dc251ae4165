//! `ValidateResourceConfig`: schema validators, then the resource's own checks, on a
//! resource block (which may still hold unknown values).

use crate::framework::diag::Diagnostics;
use crate::framework::planning;
use crate::framework::provider::Provider;
use crate::framework::resource::ValidateRequest;
use crate::server::convert::diagnostic::diagnostics_to_proto;
use crate::server::proto::tfplugin6 as pb;
use pb::validate_resource_config::{Request, Response};

use super::{ProviderRpc, support};

/// Validates a resource configuration.
#[tracing::instrument(level = "debug", name = "ValidateResourceConfig", skip_all, fields(type_name = %req.type_name))]
pub(super) async fn handle<P: Provider>(svc: &ProviderRpc<P>, req: Request) -> Response {
    let mut diags = Diagnostics::new();
    if let Some(entry) = svc.resource(&req.type_name, &mut diags)
        && let Some(config) = support::decode(req.config.as_ref(), &entry.ty, "config", &mut diags)
    {
        planning::validate_config(&entry.schema.block, &config, &mut diags);
        entry
            .resource
            .validate_config(&ValidateRequest { config: &config }, &mut diags)
            .await;
    }
    Response {
        diagnostics: diagnostics_to_proto(&diags),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{WIDGET, msgpack, service, widget_config};
    use super::*;
    use crate::framework::path::AttributePath;
    use crate::framework::value::Value;
    use crate::server::convert::diagnostic::path_from_proto;

    fn request(svc: &super::super::testing::FakeService, config: &Value) -> Request {
        Request {
            type_name: WIDGET.into(),
            config: Some(msgpack(&svc.resources[WIDGET].ty, config)),
            client_capabilities: None,
        }
    }

    #[tokio::test]
    async fn valid_config_has_no_diagnostics() {
        let svc = service();
        let resp = handle(&svc, request(&svc, &widget_config("w", 2))).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
    }

    #[tokio::test]
    async fn validator_and_resource_errors_carry_paths() {
        let svc = service();
        let mut config = widget_config("w", 99);
        config.set("name", "bad name".into());
        let resp = handle(&svc, request(&svc, &config)).await;
        let paths: Vec<_> = resp
            .diagnostics
            .iter()
            .map(|d| d.attribute.as_ref().map(path_from_proto))
            .collect();
        assert_eq!(
            paths,
            vec![Some(AttributePath::root("size")), Some(AttributePath::root("name"))]
        );
    }

    #[tokio::test]
    async fn unknown_type_is_an_error() {
        let svc = service();
        let resp = handle(
            &svc,
            Request {
                type_name: "fake_nope".into(),
                ..Request::default()
            },
        )
        .await;
        assert_eq!(resp.diagnostics[0].summary, "Unknown resource type");
        assert!(resp.diagnostics[0].detail.contains("fake_nope"));
    }
}
