//! `UpgradeResourceIdentity`: turns stored JSON identity data into a value of the current
//! identity schema (attributes it no longer has are dropped, new ones are null).

use crate::framework::diag::Diagnostics;
use crate::framework::provider::Provider;
use crate::server::convert::diagnostic::diagnostics_to_proto;
use crate::server::convert::value::{decode_raw_json, encode_identity};
use crate::server::proto::tfplugin6 as pb;
use pb::upgrade_resource_identity::{Request, Response};

use super::ProviderRpc;

/// Upgrades one stored identity.
#[tracing::instrument(
    level = "debug",
    name = "UpgradeResourceIdentity",
    skip_all,
    fields(type_name = %req.type_name, version = req.version)
)]
pub(super) fn handle<P: Provider>(svc: &ProviderRpc<P>, req: Request) -> Response {
    let mut diags = Diagnostics::new();
    let upgraded_identity = svc.resource(&req.type_name, &mut diags).and_then(|entry| {
        let Some((identity, ty)) = entry.identity() else {
            diags.error(
                "Resource identity not supported",
                format!(
                    "The `{}` resource type has no identity, so there is nothing to upgrade.",
                    req.type_name
                ),
            );
            return None;
        };
        if req.version > identity.version() {
            diags.error(
                "Identity from a newer provider",
                format!(
                    "The stored identity of this `{}` has version {}, but this provider release only \
                     knows versions up to {}.",
                    req.type_name,
                    req.version,
                    identity.version()
                ),
            );
            return None;
        }
        let value = decode_raw_json(req.raw_identity.as_ref(), &ty, "raw_identity")
            .map_err(|e| e.add_to(&mut diags))
            .ok()?;
        encode_identity(&value, &ty, "upgraded_identity")
            .map_err(|e| e.add_to(&mut diags))
            .ok()
    });
    Response {
        upgraded_identity,
        diagnostics: diagnostics_to_proto(&diags),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::testing::{PLAIN, WIDGET, service};
    use super::*;
    use crate::server::convert::value::decode_identity;

    fn request(type_name: &str, version: i64, json: &str) -> Request {
        Request {
            type_name: type_name.into(),
            version,
            raw_identity: Some(pb::RawState {
                json: json.as_bytes().to_vec(),
                flatmap: HashMap::new(),
            }),
        }
    }

    #[test]
    fn decodes_with_the_identity_schema() {
        let svc = service();
        let resp = handle(&svc, request(WIDGET, 0, r#"{"name":"w","old":"x"}"#));
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let (_, ty) = svc.resources[WIDGET].identity().expect("identity");
        let id = decode_identity(resp.upgraded_identity.as_ref(), &ty, "t").expect("decodes");
        assert_eq!(id.get("name").as_str(), Some("w"));
        assert!(id.as_map().expect("object").get("old").is_none());
    }

    #[test]
    fn resources_without_identity_and_newer_versions_are_errors() {
        let svc = service();
        let resp = handle(&svc, request(PLAIN, 0, "{}"));
        assert_eq!(resp.diagnostics[0].summary, "Resource identity not supported");
        let resp = handle(&svc, request(WIDGET, 3, "{}"));
        assert_eq!(resp.diagnostics[0].summary, "Identity from a newer provider");
    }
}
