//! `GetProviderSchema`: the provider, resource and data source schemas and the server
//! capabilities. Terraform calls it at the start of every provider process, so the answer is
//! built once and cached.

use crate::framework::provider::Provider;
use crate::server::convert::schema::{schema_to_proto, server_capabilities};
use crate::server::proto::tfplugin6 as pb;
use pb::get_provider_schema::{Request, Response};

use super::ProviderRpc;

/// Returns the cached schemas.
#[tracing::instrument(level = "debug", name = "GetProviderSchema", skip_all)]
pub(super) fn handle<P: Provider>(svc: &ProviderRpc<P>, _req: Request) -> Response {
    svc.schema_response.get_or_init(|| build(svc)).clone()
}

fn build<P: Provider>(svc: &ProviderRpc<P>) -> Response {
    Response {
        provider: Some(schema_to_proto(&svc.provider_schema)),
        resource_schemas: svc
            .resources
            .iter()
            .map(|(name, entry)| (name.clone(), schema_to_proto(&entry.schema)))
            .collect(),
        data_source_schemas: svc
            .data_sources
            .iter()
            .map(|(name, entry)| (name.clone(), schema_to_proto(&entry.schema)))
            .collect(),
        server_capabilities: Some(server_capabilities()),
        ..Response::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::service;
    use super::*;

    #[test]
    fn returns_every_schema_with_capabilities() {
        let svc = service();
        let resp = handle(&svc, Request::default());
        let provider = resp.provider.expect("provider schema");
        let provider_block = provider.block.expect("block");
        assert_eq!(provider_block.attributes[0].name, "endpoint");

        let widget = &resp.resource_schemas["fake_widget"];
        assert_eq!(widget.version, 1);
        let block = widget.block.as_ref().expect("block");
        assert!(block.attributes.iter().any(|a| a.name == "id" && a.computed));
        assert!(block.block_types.iter().any(|b| b.type_name == "rule"));
        assert!(resp.data_source_schemas.contains_key("fake_lookup"));
        assert!(resp.server_capabilities.expect("capabilities").plan_destroy);
        assert!(resp.diagnostics.is_empty());
    }

    #[test]
    fn answer_is_cached() {
        let svc = service();
        let first = handle(&svc, Request::default());
        assert!(svc.schema_response.get().is_some());
        assert_eq!(handle(&svc, Request::default()), first);
    }
}
