//! `UpgradeResourceState`: turns stored JSON state into a value of the current schema.
//!
//! Terraform calls it for every instance on every plan, before `ReadResource`. State stored
//! under an older schema version goes through the resource's upgrader when it has one;
//! otherwise (and for the current version) the JSON is decoded with the current schema,
//! dropping attributes the schema no longer has and filling new ones with null. The answer
//! is msgpack with exactly the schema's attributes.

use crate::framework::diag::Diagnostics;
use crate::framework::provider::Provider;
use crate::framework::value::Value;
use crate::server::convert::diagnostic::diagnostics_to_proto;
use crate::server::convert::value::{decode_raw_json, raw_json_document};
use crate::server::proto::tfplugin6 as pb;
use pb::upgrade_resource_state::{Request, Response};

use super::{ProviderRpc, ResourceEntry, support};

/// Upgrades one stored state.
#[tracing::instrument(
    level = "debug",
    name = "UpgradeResourceState",
    skip_all,
    fields(type_name = %req.type_name, version = req.version)
)]
pub(super) fn handle<P: Provider>(svc: &ProviderRpc<P>, req: Request) -> Response {
    let mut diags = Diagnostics::new();
    let upgraded_state = svc.resource(&req.type_name, &mut diags).and_then(|entry| {
        let state = upgrade(entry, &req, &mut diags)?;
        let state = support::finish_state(&entry.schema.block, &state, "the state upgrade", &mut diags);
        support::encode(&state, &entry.ty, "upgraded_state", &mut diags)
    });
    Response {
        upgraded_state,
        diagnostics: diagnostics_to_proto(&diags),
    }
}

fn upgrade<D: Send + Sync + 'static>(
    entry: &ResourceEntry<D>,
    req: &Request,
    diags: &mut Diagnostics,
) -> Option<Value> {
    let current = entry.schema.version;
    if req.version > current {
        diags.error(
            "State from a newer provider",
            format!(
                "The stored state of this `{}` has schema version {}, but this provider release only \
                 knows versions up to {current}. Use the provider release that wrote the state, or a \
                 newer one.",
                req.type_name, req.version
            ),
        );
        return None;
    }
    let raw = req.raw_state.as_ref();
    let upgrader = entry.resource.upgrader().filter(|_| req.version < current);
    let Some(upgrader) = upgrader else {
        return decode_raw_json(raw, &entry.ty, "raw_state")
            .map_err(|e| e.add_to(diags))
            .ok();
    };
    let document = raw_json_document(raw, "raw_state").map_err(|e| e.add_to(diags)).ok()?;
    if document.is_null() {
        return Some(Value::Null);
    }
    let upgraded = upgrader.upgrade(req.version, &document, diags);
    if upgraded.is_none() && !diags.has_errors() {
        diags.error(
            "Missing upgraded resource state",
            format!(
                "Upgrading the stored state of this `{}` from schema version {} produced no state. \
                 The state is left untouched; this is a bug in the provider.",
                req.type_name, req.version
            ),
        );
    }
    if diags.has_errors() { None } else { upgraded }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::testing::{PLAIN, WIDGET, decode, service};
    use super::*;

    fn request(type_name: &str, version: i64, json: &str) -> Request {
        Request {
            type_name: type_name.into(),
            version,
            raw_state: Some(pb::RawState {
                json: json.as_bytes().to_vec(),
                flatmap: HashMap::new(),
            }),
        }
    }

    #[test]
    fn drops_unknown_attributes_and_fills_missing_ones() {
        let svc = service();
        let resp = handle(
            &svc,
            request(WIDGET, 1, r#"{"id":"w-1","name":"w","removed_attr":"x","size":2}"#),
        );
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let state = decode(&svc.resources[WIDGET].ty, resp.upgraded_state.as_ref());
        let fields = state.as_map().expect("object");
        assert!(fields.get("removed_attr").is_none());
        assert_eq!(state.get("id").as_str(), Some("w-1"));
        assert_eq!(state.get("size").as_i64(), Some(2));
        assert!(state.get("tags").is_null(), "missing attributes are null");
        assert_eq!(
            state.get("rule"),
            &Value::List(Vec::new()),
            "missing list blocks are empty"
        );
        let mut expected: Vec<_> = svc.resources[WIDGET]
            .schema
            .block
            .attributes
            .iter()
            .map(|a| a.name.clone())
            .collect();
        expected.extend(
            svc.resources[WIDGET]
                .schema
                .block
                .blocks
                .iter()
                .map(|b| b.type_name.clone()),
        );
        expected.sort();
        assert_eq!(
            fields.keys().cloned().collect::<Vec<_>>(),
            expected,
            "exactly the schema's attributes"
        );
    }

    #[test]
    fn older_versions_go_through_the_upgrader() {
        let svc = service();
        let resp = handle(&svc, request(WIDGET, 0, r#"{"id":"w-1","title":"old-name"}"#));
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let state = decode(&svc.resources[WIDGET].ty, resp.upgraded_state.as_ref());
        assert_eq!(state.get("name").as_str(), Some("old-name"));
        assert_eq!(state.get("id").as_str(), Some("w-1"));
    }

    #[test]
    fn older_versions_without_upgrader_are_decoded_with_the_current_schema() {
        let svc = service();
        let resp = handle(&svc, request(PLAIN, -1, r#"{"id":"p","value":"v"}"#));
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let state = decode(&svc.resources[PLAIN].ty, resp.upgraded_state.as_ref());
        assert_eq!(state.get("value").as_str(), Some("v"));
    }

    #[test]
    fn newer_versions_are_refused() {
        let resp = handle(&service(), request(WIDGET, 7, r#"{"id":"w-1"}"#));
        assert_eq!(resp.diagnostics[0].summary, "State from a newer provider");
        assert!(resp.upgraded_state.is_none());
    }

    #[test]
    fn flatmap_state_is_an_error() {
        let req = Request {
            type_name: WIDGET.into(),
            version: 1,
            raw_state: Some(pb::RawState {
                json: Vec::new(),
                flatmap: HashMap::from([("id".into(), "x".into())]),
            }),
        };
        let resp = handle(&service(), req);
        assert_eq!(resp.diagnostics[0].summary, "Unsupported legacy state format");
        assert!(resp.upgraded_state.is_none());
    }

    #[test]
    fn type_mismatch_names_raw_state() {
        let resp = handle(&service(), request(WIDGET, 1, r#"{"size":"big"}"#));
        assert_eq!(resp.diagnostics[0].summary, "Unable to decode raw_state");
        assert!(
            resp.diagnostics[0].detail.contains("size"),
            "{}",
            resp.diagnostics[0].detail
        );
    }
}
