//! `ReadResource`: refreshes a resource's state from the real object.
//!
//! The resource's response starts as the current state and private data, so a read that
//! changes nothing may leave it alone; a null new state tells Terraform the object is gone.
//! Resources with an identity get one back: the identity Terraform already stored, or the
//! one derived from the refreshed state when none is stored yet.

use crate::framework::diag::Diagnostics;
use crate::framework::private::Private;
use crate::framework::provider::Provider;
use crate::framework::resource::{ReadRequest, StateResponse};
use crate::framework::value::Value;
use crate::server::convert::diagnostic::diagnostics_to_proto;
use crate::server::convert::value::{decode_identity, encode_identity};
use crate::server::proto::tfplugin6 as pb;
use pb::read_resource::{Request, Response};

use super::{ProviderRpc, ResourceEntry, support};

/// Refreshes one resource instance.
#[tracing::instrument(level = "debug", name = "ReadResource", skip_all, fields(type_name = %req.type_name))]
pub(super) async fn handle<P: Provider>(svc: &ProviderRpc<P>, req: Request) -> Response {
    let mut diags = Diagnostics::new();
    // Until the read succeeds, answer with exactly what Terraform sent.
    let mut out = Response {
        new_state: req.current_state.clone(),
        private: req.private.clone(),
        ..Response::default()
    };
    let Some(entry) = svc.resource(&req.type_name, &mut diags) else {
        return Response {
            diagnostics: diagnostics_to_proto(&diags),
            ..out
        };
    };
    let Some(current) = support::decode(req.current_state.as_ref(), &entry.ty, "current_state", &mut diags) else {
        return Response {
            diagnostics: diagnostics_to_proto(&diags),
            ..out
        };
    };
    if current.is_null() {
        return Response {
            diagnostics: diagnostics_to_proto(&diags),
            ..out
        };
    }
    let Some(provider) = svc.require_configured(&mut diags).await else {
        return Response {
            diagnostics: diagnostics_to_proto(&diags),
            ..out
        };
    };

    let private = Private::from_bytes(&req.private);
    let mut resp = StateResponse {
        new_state: current.clone(),
        private: private.clone(),
        diagnostics: Diagnostics::new(),
    };
    let read = ReadRequest {
        current_state: &current,
        private: &private,
        provider: &*provider,
    };
    if svc.cancellable(entry.resource.read(&read, &mut resp)).await.is_none() {
        support::stopped(&mut diags);
        return Response {
            diagnostics: diagnostics_to_proto(&diags),
            ..out
        };
    }
    diags.extend(resp.diagnostics);
    if diags.has_errors() {
        return Response {
            diagnostics: diagnostics_to_proto(&diags),
            ..out
        };
    }

    let new_state = support::finish_state(&entry.schema.block, &resp.new_state, "read", &mut diags);
    out.new_state = support::encode_or(&new_state, &current, &entry.ty, "new_state", &mut diags);
    out.private = resp.private.to_bytes();
    out.new_identity = new_identity(entry, &req, &new_state, &mut diags);
    Response {
        diagnostics: diagnostics_to_proto(&diags),
        ..out
    }
}

/// The identity to store with `state`: Terraform's stored identity when it has one (an
/// identity never changes), otherwise the one derived from the state.
fn new_identity<D: Send + Sync + 'static>(
    entry: &ResourceEntry<D>,
    req: &Request,
    state: &Value,
    diags: &mut Diagnostics,
) -> Option<pb::ResourceIdentityData> {
    let (identity, ty) = entry.identity()?;
    if state.is_null() || !state.is_fully_known() {
        return None;
    }
    let stored = decode_identity(req.current_identity.as_ref(), &ty, "current_identity")
        .map_err(|e| e.add_to(diags))
        .ok()?;
    let value = if stored.is_null() {
        identity.identity_of(state)
    } else {
        stored
    };
    encode_identity(&value, &ty, "new_identity")
        .map_err(|e| e.add_to(diags))
        .ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::testing::{PLAIN, WIDGET, configured_service, decode, identity, msgpack, service, widget_state};
    use super::*;
    use crate::server::convert::value::decode_identity;

    fn request(svc: &super::super::testing::FakeService, state: &Value) -> Request {
        Request {
            type_name: WIDGET.into(),
            current_state: Some(msgpack(&svc.resources[WIDGET].ty, state)),
            private: br#"{"k":1}"#.to_vec(),
            ..Request::default()
        }
    }

    #[tokio::test]
    async fn returns_refreshed_state_private_and_identity() {
        let svc = configured_service().await;
        let state = widget_state("w");
        let resp = handle(&svc, request(&svc, &state)).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let new_state = decode(&svc.resources[WIDGET].ty, resp.new_state.as_ref());
        assert_eq!(new_state.get("etag").as_str(), Some("refreshed"));
        assert_eq!(Private::from_bytes(&resp.private).get("k"), Some(&serde_json::json!(1)));
        let (_, ty) = svc.resources[WIDGET].identity().expect("identity");
        let id = decode_identity(resp.new_identity.as_ref(), &ty, "t").expect("identity");
        assert_eq!(id, identity("w"));
    }

    #[tokio::test]
    async fn stored_identity_is_kept() {
        let svc = configured_service().await;
        let (_, ty) = svc.resources[WIDGET].identity().expect("identity");
        let mut req = request(&svc, &widget_state("w"));
        req.current_identity = Some(encode_identity(&identity("stored"), &ty, "t").expect("encodes"));
        let resp = handle(&svc, req).await;
        let id = decode_identity(resp.new_identity.as_ref(), &ty, "t").expect("identity");
        assert_eq!(id, identity("stored"));
    }

    #[tokio::test]
    async fn gone_object_returns_null_state() {
        let svc = configured_service().await;
        svc.provider.script.lock().expect("script").gone = true;
        let resp = handle(&svc, request(&svc, &widget_state("w"))).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        assert_eq!(decode(&svc.resources[WIDGET].ty, resp.new_state.as_ref()), Value::Null);
        assert!(resp.new_identity.is_none());
    }

    #[tokio::test]
    async fn resources_without_identity_get_none() {
        let svc = configured_service().await;
        let ty = &svc.resources[PLAIN].ty;
        let state = super::super::testing::obj(&[("id", "p".into())]);
        let req = Request {
            type_name: PLAIN.into(),
            current_state: Some(msgpack(ty, &state)),
            ..Request::default()
        };
        let resp = handle(&svc, req).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        assert!(resp.new_identity.is_none());
    }

    #[tokio::test]
    async fn unconfigured_provider_is_an_error_and_keeps_the_state() {
        let svc = service();
        let req = request(&svc, &widget_state("w"));
        let sent = req.current_state.clone();
        let resp = handle(&svc, req).await;
        assert_eq!(resp.diagnostics[0].summary, "Provider not configured");
        assert_eq!(resp.new_state, sent);
    }

    #[tokio::test]
    async fn stop_abandons_the_read() {
        let svc = std::sync::Arc::new(configured_service().await);
        svc.provider.script.lock().expect("script").block_read = true;
        let task = {
            let svc = svc.clone();
            tokio::spawn(async move {
                let req = request(&svc, &widget_state("w"));
                handle(&svc, req).await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        svc.stop_signal().trigger();
        let resp = tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("finishes")
            .expect("no panic");
        assert_eq!(resp.diagnostics[0].summary, "Operation cancelled");
    }
}
