//! `GenerateResourceConfig`: the configuration Terraform writes for
//! `terraform plan -generate-config-out` (Terraform 1.14+): the state without its read-only
//! and deprecated values.

use crate::framework::diag::Diagnostics;
use crate::framework::provider::Provider;
use crate::server::convert::diagnostic::diagnostics_to_proto;
use crate::server::proto::tfplugin6 as pb;
use pb::generate_resource_config::{Request, Response};

use super::{ProviderRpc, shape, support};

/// Generates a configuration value from a state.
#[tracing::instrument(level = "debug", name = "GenerateResourceConfig", skip_all, fields(type_name = %req.type_name))]
pub(super) fn handle<P: Provider>(svc: &ProviderRpc<P>, req: Request) -> Response {
    let mut diags = Diagnostics::new();
    let mut out = Response::default();
    if let Some(entry) = svc.resource(&req.type_name, &mut diags)
        && let Some(state) = support::decode(req.state.as_ref(), &entry.ty, "state", &mut diags)
    {
        let config = shape::config_from_state(&entry.schema.block, &shape::unknowns_to_null(&state));
        out.config = support::encode(&config, &entry.ty, "config", &mut diags);
    }
    out.diagnostics = diagnostics_to_proto(&diags);
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::{WIDGET, decode, msgpack, service, widget_state};
    use super::*;
    use crate::framework::value::Value;

    #[test]
    fn drops_computed_only_attributes() {
        let svc = service();
        let ty = &svc.resources[WIDGET].ty;
        let req = Request {
            type_name: WIDGET.into(),
            state: Some(msgpack(ty, &widget_state("w"))),
        };
        let resp = handle(&svc, req);
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let config = decode(ty, resp.config.as_ref());
        assert!(config.get("id").is_null());
        assert!(config.get("etag").is_null());
        assert_eq!(config.get("name").as_str(), Some("w"));
        assert_eq!(config.get("size").as_i64(), Some(2));
        assert_eq!(config.get("rule"), &Value::List(Vec::new()));
    }

    #[test]
    fn unknown_type_is_an_error() {
        let resp = handle(
            &service(),
            Request {
                type_name: "fake_nope".into(),
                state: None,
            },
        );
        assert_eq!(resp.diagnostics[0].summary, "Unknown resource type");
        assert!(resp.config.is_none());
    }
}
