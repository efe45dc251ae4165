//! `ReadDataSource`: reads a data source; the answer is its configuration plus the computed
//! values.

use crate::framework::data_source::ReadDataRequest;
use crate::framework::diag::Diagnostics;
use crate::framework::provider::Provider;
use crate::framework::value::Value;
use crate::server::convert::diagnostic::diagnostics_to_proto;
use crate::server::proto::tfplugin6 as pb;
use pb::read_data_source::{Request, Response};

use super::{ProviderRpc, support};

/// Reads one data source.
#[tracing::instrument(level = "debug", name = "ReadDataSource", skip_all, fields(type_name = %req.type_name))]
pub(super) async fn handle<P: Provider>(svc: &ProviderRpc<P>, req: Request) -> Response {
    let mut diags = Diagnostics::new();
    let mut out = Response::default();
    if let Some(entry) = svc.data_source(&req.type_name, &mut diags)
        && let Some(config) = support::decode(req.config.as_ref(), &entry.ty, "config", &mut diags)
        && let Some(provider) = svc.require_configured(&mut diags).await
    {
        let read = ReadDataRequest {
            config: &config,
            provider: &*provider,
        };
        let mut read_diags = Diagnostics::new();
        let state = match svc.cancellable(entry.data_source.read(&read, &mut read_diags)).await {
            Some(state) => state,
            None => {
                support::stopped(&mut diags);
                Value::Null
            }
        };
        diags.extend(read_diags);
        if state.is_null() && !diags.has_errors() {
            diags.error(
                "Missing data source state",
                "The data source reported success but returned no value. This is a bug in the provider.",
            );
        }
        let state = support::finish_state(&entry.schema.block, &state, "reading the data source", &mut diags);
        out.state = support::encode(&state, &entry.ty, "state", &mut diags);
    }
    out.diagnostics = diagnostics_to_proto(&diags);
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::{LOOKUP, configured_service, decode, msgpack, obj, service};
    use super::*;

    #[tokio::test]
    async fn returns_config_plus_computed_values() {
        let svc = configured_service().await;
        let ty = &svc.data_sources[LOOKUP].ty;
        let config = obj(&[("name", "n".into())]);
        let req = Request {
            type_name: LOOKUP.into(),
            config: Some(msgpack(ty, &config)),
            ..Request::default()
        };
        let resp = handle(&svc, req).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let state = decode(ty, resp.state.as_ref());
        assert_eq!(state.get("name").as_str(), Some("n"));
        assert_eq!(state.get("value").as_str(), Some("v-n@https://example"));
    }

    #[tokio::test]
    async fn unconfigured_provider_is_an_error() {
        let svc = service();
        let ty = &svc.data_sources[LOOKUP].ty;
        let config = obj(&[("name", "n".into())]);
        let req = Request {
            type_name: LOOKUP.into(),
            config: Some(msgpack(ty, &config)),
            ..Request::default()
        };
        let resp = handle(&svc, req).await;
        assert_eq!(resp.diagnostics[0].summary, "Provider not configured");
        assert!(resp.state.is_none());
    }
}
