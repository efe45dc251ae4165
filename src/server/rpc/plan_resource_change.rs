//! `PlanResourceChange`: the planned new state of a create, update or destroy.
//!
//! Create and update plans start with the schema-driven plan
//! ([`planning::plan_change`]: defaults, unknown computed values, plan modifiers), then the
//! resource's `modify_plan` adjusts it. Destroy plans (a null proposed state; sent because
//! the server advertises `plan_destroy`) call `modify_plan` with a null planned state and
//! always answer null.

use crate::framework::diag::Diagnostics;
use crate::framework::path::AttributePath;
use crate::framework::planning;
use crate::framework::private::Private;
use crate::framework::provider::Provider;
use crate::framework::resource::{ModifyPlanRequest, ModifyPlanResponse};
use crate::framework::value::Value;
use crate::server::convert::diagnostic::{diagnostics_to_proto, path_to_proto};
use crate::server::proto::tfplugin6 as pb;
use pb::plan_resource_change::{Request, Response};

use super::{ProviderRpc, support};

/// Plans one resource instance change.
#[tracing::instrument(level = "debug", name = "PlanResourceChange", skip_all, fields(type_name = %req.type_name))]
pub(super) async fn handle<P: Provider>(svc: &ProviderRpc<P>, req: Request) -> Response {
    let mut diags = Diagnostics::new();
    let mut out = Response::default();
    if let Some(entry) = svc.resource(&req.type_name, &mut diags) {
        let ty = &entry.ty;
        let prior = support::decode(req.prior_state.as_ref(), ty, "prior_state", &mut diags);
        let proposed = support::decode(req.proposed_new_state.as_ref(), ty, "proposed_new_state", &mut diags);
        let config = support::decode(req.config.as_ref(), ty, "config", &mut diags);
        if let (Some(prior), Some(proposed), Some(config)) = (prior, proposed, config) {
            let prior_private = Private::from_bytes(&req.prior_private);
            let destroying = proposed.is_null();
            let mut resp = if destroying {
                ModifyPlanResponse {
                    planned_private: prior_private.clone(),
                    ..ModifyPlanResponse::default()
                }
            } else {
                let change = planning::plan_change(&entry.schema.block, &config, &prior, &proposed);
                ModifyPlanResponse {
                    planned_state: change.planned,
                    requires_replace: change.requires_replace,
                    planned_private: prior_private.clone(),
                    diagnostics: change.diagnostics,
                }
            };
            let provider = svc.configured_data().await;
            let modify = ModifyPlanRequest {
                config: &config,
                prior_state: &prior,
                prior_private: &prior_private,
                provider: provider.as_deref(),
            };
            if svc
                .cancellable(entry.resource.modify_plan(&modify, &mut resp))
                .await
                .is_none()
            {
                support::stopped(&mut diags);
            }
            diags.extend(resp.diagnostics);

            let planned = if destroying {
                Value::Null
            } else {
                support::finish_plan(&entry.schema.block, &resp.planned_state)
            };
            out.planned_state = support::encode(&planned, ty, "planned_state", &mut diags);
            out.planned_private = resp.planned_private.to_bytes();
            if !destroying && !prior.is_null() {
                out.requires_replace = unique(resp.requires_replace).iter().map(path_to_proto).collect();
                // An identity never changes in place; a replacement gets a new one at apply.
                if entry.identity().is_some() && out.requires_replace.is_empty() {
                    out.planned_identity = req.prior_identity.clone();
                }
            }
        }
    }
    out.diagnostics = diagnostics_to_proto(&diags);
    out
}

/// `paths` without duplicates, in first-seen order.
fn unique(paths: Vec<AttributePath>) -> Vec<AttributePath> {
    let mut out: Vec<AttributePath> = Vec::with_capacity(paths.len());
    for path in paths {
        if !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        PLAIN, WIDGET, configured_service, decode, identity, msgpack, obj, service, widget_config, widget_state,
    };
    use super::*;
    use crate::server::convert::diagnostic::path_from_proto;
    use crate::server::convert::value::encode_identity;

    fn request(svc: &super::super::testing::FakeService, prior: &Value, proposed: &Value, config: &Value) -> Request {
        let ty = &svc.resources[WIDGET].ty;
        Request {
            type_name: WIDGET.into(),
            prior_state: Some(msgpack(ty, prior)),
            proposed_new_state: Some(msgpack(ty, proposed)),
            config: Some(msgpack(ty, config)),
            prior_private: br#"{"from":"state"}"#.to_vec(),
            ..Request::default()
        }
    }

    /// Terraform's proposed new state: the prior state with the configured values.
    fn proposed(prior: &Value, config: &Value) -> Value {
        let mut out = prior.clone();
        for (k, v) in config.as_map().expect("object") {
            if !v.is_null() {
                out.set(k, v.clone());
            }
        }
        out
    }

    #[tokio::test]
    async fn create_marks_computed_unknown_and_applies_defaults() {
        let svc = configured_service().await;
        let mut config = widget_config("w", 2);
        config.set("size", Value::Null);
        let resp = handle(&svc, request(&svc, &Value::Null, &config, &config)).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let planned = decode(&svc.resources[WIDGET].ty, resp.planned_state.as_ref());
        assert!(planned.get("id").is_unknown());
        assert!(planned.get("etag").is_unknown());
        assert_eq!(planned.get("size").as_i64(), Some(1), "default applied");
        assert!(resp.requires_replace.is_empty());
        assert!(resp.planned_identity.is_none(), "identity is known only after create");
        assert!(!resp.legacy_type_system);
        let calls = svc.provider.script.lock().expect("script").calls.clone();
        assert_eq!(calls, vec!["modify_plan:create"]);
    }

    #[tokio::test]
    async fn no_change_returns_prior_state() {
        let svc = configured_service().await;
        let prior = widget_state("w");
        let config = widget_config("w", 2);
        let (_, ity) = svc.resources[WIDGET].identity().expect("identity");
        let mut req = request(&svc, &prior, &proposed(&prior, &config), &config);
        req.prior_identity = Some(encode_identity(&identity("w"), &ity, "t").expect("identity"));
        let resp = handle(&svc, req.clone()).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        assert_eq!(decode(&svc.resources[WIDGET].ty, resp.planned_state.as_ref()), prior);
        assert!(resp.requires_replace.is_empty());
        assert_eq!(resp.planned_identity, req.prior_identity, "identity is carried over");
        let private = Private::from_bytes(&resp.planned_private);
        assert_eq!(private.get("from"), Some(&serde_json::json!("state")));
        assert_eq!(private.get("planned"), Some(&serde_json::json!(true)));
    }

    #[tokio::test]
    async fn update_keeps_use_state_values_and_unknowns_the_rest() {
        let svc = configured_service().await;
        let prior = widget_state("w");
        let config = widget_config("w", 5);
        let resp = handle(&svc, request(&svc, &prior, &proposed(&prior, &config), &config)).await;
        let planned = decode(&svc.resources[WIDGET].ty, resp.planned_state.as_ref());
        assert_eq!(planned.get("id").as_str(), Some("w-w"), "UseStateForUnknown");
        assert!(planned.get("etag").is_unknown());
        assert_eq!(planned.get("size").as_i64(), Some(5));
        assert!(resp.requires_replace.is_empty());
    }

    #[tokio::test]
    async fn requires_replace_surfaces_once() {
        let svc = configured_service().await;
        let prior = widget_state("w");
        let config = widget_config("renamed", 2);
        let (_, ity) = svc.resources[WIDGET].identity().expect("identity");
        let mut req = request(&svc, &prior, &proposed(&prior, &config), &config);
        req.prior_identity = Some(encode_identity(&identity("w"), &ity, "t").expect("identity"));
        let resp = handle(&svc, req).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let paths: Vec<_> = resp.requires_replace.iter().map(path_from_proto).collect();
        assert_eq!(
            paths,
            vec![AttributePath::root("name")],
            "schema and modify_plan paths are merged"
        );
        assert!(resp.planned_identity.is_none(), "a replacement gets a new identity");
    }

    #[tokio::test]
    async fn destroy_calls_modify_plan_and_plans_null() {
        let svc = configured_service().await;
        let prior = widget_state("w");
        let resp = handle(&svc, request(&svc, &prior, &Value::Null, &Value::Null)).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        assert_eq!(resp.planned_state.as_ref().map(|d| d.msgpack.clone()), Some(vec![0xc0]));
        assert!(resp.requires_replace.is_empty());
        let private = Private::from_bytes(&resp.planned_private);
        assert_eq!(
            private.get("from"),
            Some(&serde_json::json!("state")),
            "prior private carried to apply"
        );
        let calls = svc.provider.script.lock().expect("script").calls.clone();
        assert_eq!(calls, vec!["modify_plan:destroy"]);
    }

    #[tokio::test]
    async fn plan_works_before_configuration() {
        let svc = service();
        let ty = &svc.resources[PLAIN].ty;
        let config = obj(&[("value", "v".into())]);
        let req = Request {
            type_name: PLAIN.into(),
            prior_state: Some(msgpack(ty, &Value::Null)),
            proposed_new_state: Some(msgpack(ty, &config)),
            config: Some(msgpack(ty, &config)),
            ..Request::default()
        };
        let resp = handle(&svc, req).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let planned = decode(ty, resp.planned_state.as_ref());
        assert!(planned.get("id").is_unknown());
    }

    #[tokio::test]
    async fn undecodable_values_name_their_field() {
        let svc = service();
        let mut req = request(&svc, &Value::Null, &Value::Null, &Value::Null);
        req.proposed_new_state = Some(pb::DynamicValue {
            msgpack: vec![0x01],
            json: Vec::new(),
        });
        let resp = handle(&svc, req).await;
        assert_eq!(resp.diagnostics[0].summary, "Unable to decode proposed_new_state");
        assert!(resp.planned_state.is_none());
    }
}
