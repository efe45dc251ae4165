//! `GetResourceIdentitySchemas`: the identity schema of every resource type that has one
//! (protocol 6.9+; Terraform calls it at the start of every provider process).

use crate::framework::provider::Provider;
use crate::server::convert::schema::identity_schema_to_proto;
use crate::server::proto::tfplugin6 as pb;
use pb::get_resource_identity_schemas::{Request, Response};

use super::ProviderRpc;

/// Returns the identity schemas.
#[tracing::instrument(level = "debug", name = "GetResourceIdentitySchemas", skip_all)]
pub(super) fn handle<P: Provider>(svc: &ProviderRpc<P>, _req: Request) -> Response {
    Response {
        identity_schemas: svc
            .resources
            .iter()
            .filter_map(|(name, entry)| {
                let identity = entry.resource.identity()?;
                Some((name.clone(), identity_schema_to_proto(identity)))
            })
            .collect(),
        diagnostics: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::service;
    use super::*;

    #[test]
    fn only_resources_with_identity_are_listed() {
        let resp = handle(&service(), Request::default());
        assert_eq!(resp.identity_schemas.len(), 1);
        let widget = &resp.identity_schemas["fake_widget"];
        assert_eq!(widget.identity_attributes[0].name, "name");
        assert!(widget.identity_attributes[0].required_for_import);
    }
}
