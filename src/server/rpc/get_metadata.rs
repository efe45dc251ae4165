//! `GetMetadata`: the resource and data source type names and the server capabilities,
//! without the schemas.

use crate::framework::provider::Provider;
use crate::server::convert::schema::server_capabilities;
use crate::server::proto::tfplugin6 as pb;
use pb::get_metadata::{DataSourceMetadata, Request, ResourceMetadata, Response};

use super::ProviderRpc;

/// Lists the served type names.
#[tracing::instrument(level = "debug", name = "GetMetadata", skip_all)]
pub(super) fn handle<P: Provider>(svc: &ProviderRpc<P>, _req: Request) -> Response {
    Response {
        server_capabilities: Some(server_capabilities()),
        resources: svc
            .resources
            .keys()
            .map(|name| ResourceMetadata {
                type_name: name.clone(),
            })
            .collect(),
        data_sources: svc
            .data_sources
            .keys()
            .map(|name| DataSourceMetadata {
                type_name: name.clone(),
            })
            .collect(),
        ..Response::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::service;
    use super::*;

    #[test]
    fn lists_types_and_capabilities() {
        let svc = service();
        let resp = handle(&svc, Request::default());
        let resources: Vec<_> = resp.resources.iter().map(|r| r.type_name.as_str()).collect();
        assert_eq!(resources, vec!["fake_plain", "fake_widget"]);
        let data_sources: Vec<_> = resp.data_sources.iter().map(|d| d.type_name.as_str()).collect();
        assert_eq!(data_sources, vec!["fake_lookup"]);
        let caps = resp.server_capabilities.expect("capabilities");
        assert!(caps.plan_destroy && caps.get_provider_schema_optional);
        assert!(resp.diagnostics.is_empty());
    }
}
