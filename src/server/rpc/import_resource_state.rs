//! `ImportResourceState`: turns an import id (`terraform import`, `import { id = ... }`) or
//! identity data (`import { identity = {...} }`) into a state. Terraform then calls
//! `ReadResource` on it, so the imported state only needs what `read` uses.

use crate::framework::diag::Diagnostics;
use crate::framework::provider::Provider;
use crate::framework::resource::{ImportRequest, StateResponse};
use crate::framework::value::Value;
use crate::server::convert::diagnostic::diagnostics_to_proto;
use crate::server::convert::value::{decode_identity, encode_identity};
use crate::server::proto::tfplugin6 as pb;
use pb::import_resource_state::{ImportedResource, Request, Response};

use super::{ProviderRpc, ResourceEntry, shape, support};

/// Imports one object.
#[tracing::instrument(
    level = "debug",
    name = "ImportResourceState",
    skip_all,
    fields(type_name = %req.type_name, id = %req.id)
)]
pub(super) async fn handle<P: Provider>(svc: &ProviderRpc<P>, req: Request) -> Response {
    let mut diags = Diagnostics::new();
    let imported = import(svc, &req, &mut diags).await;
    Response {
        imported_resources: imported.into_iter().collect(),
        diagnostics: diagnostics_to_proto(&diags),
        deferred: None,
    }
}

async fn import<P: Provider>(svc: &ProviderRpc<P>, req: &Request, diags: &mut Diagnostics) -> Option<ImportedResource> {
    let entry = svc.resource(&req.type_name, diags)?;
    let Some(importer) = entry.resource.importer() else {
        diags.error(
            "Resource import not supported",
            format!("The `{}` resource type cannot be imported.", req.type_name),
        );
        return None;
    };
    let given_identity = requested_identity(entry, req, diags)?;
    let provider = svc.require_configured(diags).await?;

    let mut resp = StateResponse::default();
    let import = ImportRequest {
        id: &req.id,
        identity: (!given_identity.is_null()).then_some(&given_identity),
        provider: &*provider,
    };
    if svc.cancellable(importer.import(&import, &mut resp)).await.is_none() {
        support::stopped(diags);
        return None;
    }
    diags.extend(resp.diagnostics);
    if diags.has_errors() {
        return None;
    }
    if resp.new_state.is_null() {
        diags.error(
            "Missing imported state",
            format!(
                "Importing `{}` with id {:?} produced no state. This is a bug in the provider.",
                req.type_name, req.id
            ),
        );
        return None;
    }
    let state = support::finish_state(&entry.schema.block, &resp.new_state, "import", diags);
    let identity = imported_identity(entry, &given_identity, &state, diags);
    Some(ImportedResource {
        type_name: req.type_name.clone(),
        state: Some(support::encode(&state, &entry.ty, "imported_resources.state", diags)?),
        private: resp.private.to_bytes(),
        identity,
    })
}

/// The identity the user gave in an `import` block (null when importing by id). `None` with
/// an error when identity data was given for a resource without identity, or is invalid.
fn requested_identity<D: Send + Sync + 'static>(
    entry: &ResourceEntry<D>,
    req: &Request,
    diags: &mut Diagnostics,
) -> Option<Value> {
    let given = req.identity.as_ref().and_then(|d| d.identity_data.as_ref()).is_some();
    match entry.identity() {
        Some((_, ty)) => decode_identity(req.identity.as_ref(), &ty, "identity")
            .map_err(|e| e.add_to(diags))
            .ok(),
        None if given => {
            diags.error(
                "Resource identity not supported",
                format!(
                    "The `{}` resource type has no identity; import it by id instead.",
                    req.type_name
                ),
            );
            None
        }
        None => Some(Value::Null),
    }
}

/// The identity to return with the imported state: the one derived from the state when it
/// fully names the object, else the one the user gave. Otherwise none: `ReadResource` then
/// derives it from the complete state.
fn imported_identity<D: Send + Sync + 'static>(
    entry: &ResourceEntry<D>,
    given: &Value,
    state: &Value,
    diags: &mut Diagnostics,
) -> Option<pb::ResourceIdentityData> {
    let (identity, ty) = entry.identity()?;
    let derived = identity.identity_of(state);
    let value = if shape::is_complete_identity(&derived) {
        derived
    } else if !given.is_null() {
        given.clone()
    } else {
        return None;
    };
    encode_identity(&value, &ty, "imported_resources.identity")
        .map_err(|e| e.add_to(diags))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{PLAIN, WIDGET, configured_service, decode, identity, service};
    use super::*;

    #[tokio::test]
    async fn imports_by_id() {
        let svc = configured_service().await;
        let req = Request {
            type_name: WIDGET.into(),
            id: "w".into(),
            ..Request::default()
        };
        let resp = handle(&svc, req).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        assert_eq!(resp.imported_resources.len(), 1);
        let imported = &resp.imported_resources[0];
        assert_eq!(imported.type_name, WIDGET);
        let state = decode(&svc.resources[WIDGET].ty, imported.state.as_ref());
        assert_eq!(state.get("id").as_str(), Some("w-w"));
        assert_eq!(state.get("name").as_str(), Some("w"));
        assert_eq!(state.get("rule"), &Value::List(Vec::new()));
        let (_, ty) = svc.resources[WIDGET].identity().expect("identity");
        assert_eq!(
            decode_identity(imported.identity.as_ref(), &ty, "t").expect("identity"),
            identity("w")
        );
    }

    #[tokio::test]
    async fn imports_by_identity() {
        let svc = configured_service().await;
        let (_, ty) = svc.resources[WIDGET].identity().expect("identity");
        let given = encode_identity(&identity("by-identity"), &ty, "t").expect("identity");
        let req = Request {
            type_name: WIDGET.into(),
            identity: Some(given.clone()),
            ..Request::default()
        };
        let resp = handle(&svc, req).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let imported = &resp.imported_resources[0];
        let state = decode(&svc.resources[WIDGET].ty, imported.state.as_ref());
        assert_eq!(state.get("name").as_str(), Some("by-identity"));
        assert_eq!(imported.identity.as_ref(), Some(&given));
    }

    #[tokio::test]
    async fn resources_without_importer_refuse() {
        let svc = configured_service().await;
        let resp = handle(
            &svc,
            Request {
                type_name: PLAIN.into(),
                id: "p".into(),
                ..Request::default()
            },
        )
        .await;
        assert_eq!(resp.diagnostics[0].summary, "Resource import not supported");
        assert!(resp.imported_resources.is_empty());
    }

    #[tokio::test]
    async fn importer_errors_return_nothing() {
        let svc = configured_service().await;
        let resp = handle(
            &svc,
            Request {
                type_name: WIDGET.into(),
                id: "".into(),
                ..Request::default()
            },
        )
        .await;
        assert_eq!(resp.diagnostics[0].summary, "Invalid import id");
        assert!(resp.imported_resources.is_empty());
    }

    #[tokio::test]
    async fn unconfigured_provider_is_an_error() {
        let resp = handle(
            &service(),
            Request {
                type_name: WIDGET.into(),
                id: "w".into(),
                ..Request::default()
            },
        )
        .await;
        assert_eq!(resp.diagnostics[0].summary, "Provider not configured");
    }
}
