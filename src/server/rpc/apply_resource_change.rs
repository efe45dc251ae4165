//! `ApplyResourceChange`: carries out a planned create, update or delete.
//!
//! * planned state null → `delete`; on error the prior state is kept.
//! * prior state null → `create`; on error whatever state the resource reported (a partial
//!   object) is returned so that nothing it created is orphaned.
//! * otherwise → `update`; when it fails without reporting a state, the prior state is kept.
//!
//! A panic inside the resource operation is an error diagnostic: delete and update keep the
//! prior state (or an update's reported partial state), create keeps the state the resource
//! reported before it panicked, if any.
//!
//! Apply is never abandoned on `StopProvider`: the resource sees the stop through
//! [`framework::stop`](crate::framework::stop) and returns what exists.

use crate::framework::diag::Diagnostics;
use crate::framework::private::Private;
use crate::framework::provider::Provider;
use crate::framework::resource::{CreateRequest, DeleteRequest, DeleteResponse, StateResponse, UpdateRequest};
use crate::framework::value::Value;
use crate::server::convert::diagnostic::diagnostics_to_proto;
use crate::server::convert::value::{decode_identity, encode_identity};
use crate::server::proto::tfplugin6 as pb;
use pb::apply_resource_change::{Request, Response};

use super::{ProviderRpc, ResourceEntry, panic, shape, support};

/// The RPC's name in diagnostics.
const RPC: &str = "ApplyResourceChange";

/// The decoded values of an apply request.
struct Change {
    prior: Value,
    planned: Value,
    config: Value,
    private: Private,
}

/// What an apply produced.
struct Outcome {
    state: Value,
    private: Private,
}

/// Applies one resource instance change.
#[tracing::instrument(level = "debug", name = "ApplyResourceChange", skip_all, fields(type_name = %req.type_name))]
pub(super) async fn handle<P: Provider>(svc: &ProviderRpc<P>, req: Request) -> Response {
    let mut diags = Diagnostics::new();
    // Until something is applied, answer with the prior state: nothing is lost.
    let mut out = Response {
        new_state: req.prior_state.clone(),
        private: req.planned_private.clone(),
        ..Response::default()
    };
    let Some(entry) = svc.resource(&req.type_name, &mut diags) else {
        return Response {
            diagnostics: diagnostics_to_proto(&diags),
            ..out
        };
    };
    let Some(change) = decode(entry, &req, &mut diags) else {
        return Response {
            diagnostics: diagnostics_to_proto(&diags),
            ..out
        };
    };
    let Some(provider) = svc.require_configured(&mut diags).await else {
        return Response {
            diagnostics: diagnostics_to_proto(&diags),
            ..out
        };
    };
    let provider = &*provider;

    let outcome = if change.planned.is_null() {
        let mut resp = DeleteResponse::default();
        let delete = DeleteRequest {
            prior_state: &change.prior,
            private: &change.private,
            provider,
        };
        let ran = panic::unwind(svc.scoped(entry.resource.delete(&delete, &mut resp))).await;
        diags.extend(resp.diagnostics);
        if let Err(message) = ran {
            panic::panicked(RPC, &req.type_name, &message, "The prior state is kept", &mut diags);
        }
        if diags.has_errors() {
            Outcome {
                state: change.prior.clone(),
                private: change.private.clone(),
            }
        } else {
            Outcome {
                state: Value::Null,
                private: Private::default(),
            }
        }
    } else if change.prior.is_null() {
        let mut resp = StateResponse {
            private: change.private.clone(),
            ..StateResponse::default()
        };
        let create = CreateRequest {
            config: &change.config,
            planned_state: &change.planned,
            planned_private: &change.private,
            provider,
        };
        let ran = panic::unwind(svc.scoped(entry.resource.create(&create, &mut resp))).await;
        diags.extend(resp.diagnostics);
        if let Err(message) = ran {
            let kept = if resp.new_state.is_null() {
                "Nothing is recorded in state; check for (and import) anything the create made"
            } else {
                "The state the resource reported before the panic is recorded"
            };
            panic::panicked(RPC, &req.type_name, &message, kept, &mut diags);
        }
        if resp.new_state.is_null() && !diags.has_errors() {
            diags.error(
                "Missing resource state after create",
                "The resource reported success but returned no state. This is a bug in the provider.",
            );
        }
        Outcome {
            state: resp.new_state,
            private: resp.private,
        }
    } else {
        let mut resp = StateResponse {
            private: change.private.clone(),
            ..StateResponse::default()
        };
        let update = UpdateRequest {
            config: &change.config,
            prior_state: &change.prior,
            planned_state: &change.planned,
            planned_private: &change.private,
            provider,
        };
        let ran = panic::unwind(svc.scoped(entry.resource.update(&update, &mut resp))).await;
        diags.extend(resp.diagnostics);
        if let Err(message) = ran {
            let kept = if resp.new_state.is_null() {
                "The prior state is kept"
            } else {
                "The state the resource reported before the panic is recorded"
            };
            panic::panicked(RPC, &req.type_name, &message, kept, &mut diags);
        }
        if resp.new_state.is_null() {
            if !diags.has_errors() {
                diags.error(
                    "Missing resource state after update",
                    "The resource reported success but returned no state; the prior state is kept. \
                     This is a bug in the provider.",
                );
            }
            Outcome {
                state: change.prior.clone(),
                private: change.private.clone(),
            }
        } else {
            Outcome {
                state: resp.new_state,
                private: resp.private,
            }
        }
    };

    let state = support::finish_state(&entry.schema.block, &outcome.state, "apply", &mut diags);
    out.new_state = support::encode_or(&state, &change.prior, &entry.ty, "new_state", &mut diags);
    out.private = outcome.private.to_bytes();
    if !diags.has_errors() {
        out.new_identity = new_identity(entry, &req, &state, &mut diags);
    }
    Response {
        diagnostics: diagnostics_to_proto(&diags),
        ..out
    }
}

fn decode<D: Send + Sync + 'static>(
    entry: &ResourceEntry<D>,
    req: &Request,
    diags: &mut Diagnostics,
) -> Option<Change> {
    let ty = &entry.ty;
    let prior = support::decode(req.prior_state.as_ref(), ty, "prior_state", diags);
    let planned = support::decode(req.planned_state.as_ref(), ty, "planned_state", diags);
    let config = support::decode(req.config.as_ref(), ty, "config", diags);
    Some(Change {
        prior: prior?,
        planned: planned?,
        config: config?,
        private: Private::from_bytes(&req.planned_private),
    })
}

/// The identity of a successfully applied state: the planned identity when the plan carried
/// one over (updates), otherwise the one derived from the new state.
fn new_identity<D: Send + Sync + 'static>(
    entry: &ResourceEntry<D>,
    req: &Request,
    state: &Value,
    diags: &mut Diagnostics,
) -> Option<pb::ResourceIdentityData> {
    let (identity, ty) = entry.identity()?;
    if state.is_null() {
        return None;
    }
    let planned = decode_identity(req.planned_identity.as_ref(), &ty, "planned_identity")
        .map_err(|e| e.add_to(diags))
        .ok()?;
    let value = if shape::is_complete_identity(&planned) {
        planned
    } else {
        identity.identity_of(state)
    };
    encode_identity(&value, &ty, "new_identity")
        .map_err(|e| e.add_to(diags))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        WIDGET, configured_service, decode as decode_value, identity, msgpack, service, widget_config, widget_state,
    };
    use super::*;
    use crate::server::convert::value::decode_identity;

    fn request(svc: &super::super::testing::FakeService, prior: &Value, planned: &Value, config: &Value) -> Request {
        let ty = &svc.resources[WIDGET].ty;
        Request {
            type_name: WIDGET.into(),
            prior_state: Some(msgpack(ty, prior)),
            planned_state: Some(msgpack(ty, planned)),
            config: Some(msgpack(ty, config)),
            planned_private: br#"{"planned":true}"#.to_vec(),
            ..Request::default()
        }
    }

    fn planned_create(name: &str) -> Value {
        let mut planned = widget_config(name, 2);
        planned.set("id", Value::unknown());
        planned.set("etag", Value::unknown());
        planned
    }

    fn calls(svc: &super::super::testing::FakeService) -> Vec<String> {
        svc.provider.script.lock().expect("script").calls.clone()
    }

    #[tokio::test]
    async fn create_returns_state_private_and_identity() {
        let svc = configured_service().await;
        let config = widget_config("w", 2);
        let resp = handle(&svc, request(&svc, &Value::Null, &planned_create("w"), &config)).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let state = decode_value(&svc.resources[WIDGET].ty, resp.new_state.as_ref());
        assert_eq!(state, widget_state("w"));
        let private = Private::from_bytes(&resp.private);
        assert_eq!(private.get("planned"), Some(&serde_json::json!(true)));
        assert_eq!(private.get("created"), Some(&serde_json::json!(true)));
        let (_, ty) = svc.resources[WIDGET].identity().expect("identity");
        assert_eq!(
            decode_identity(resp.new_identity.as_ref(), &ty, "t").expect("identity"),
            identity("w")
        );
        assert_eq!(calls(&svc), vec!["create"]);
    }

    #[tokio::test]
    async fn failed_create_returns_the_partial_state() {
        let svc = configured_service().await;
        svc.provider.script.lock().expect("script").fail_create = true;
        let config = widget_config("w", 2);
        let resp = handle(&svc, request(&svc, &Value::Null, &planned_create("w"), &config)).await;
        assert_eq!(resp.diagnostics.len(), 1, "{:?}", resp.diagnostics);
        assert_eq!(resp.diagnostics[0].summary, "Create failed");
        let state = decode_value(&svc.resources[WIDGET].ty, resp.new_state.as_ref());
        assert_eq!(state.get("id").as_str(), Some("w-partial"));
        assert!(state.get("etag").is_null(), "leftover unknowns become null");
        assert!(resp.new_identity.is_none());
    }

    #[tokio::test]
    async fn update_returns_new_state_and_carries_identity() {
        let svc = configured_service().await;
        let prior = widget_state("w");
        let mut planned = prior.clone();
        planned.set("size", Value::int(5));
        planned.set("etag", Value::unknown());
        let (_, ty) = svc.resources[WIDGET].identity().expect("identity");
        let mut req = request(&svc, &prior, &planned, &widget_config("w", 5));
        req.planned_identity = Some(encode_identity(&identity("w"), &ty, "t").expect("identity"));
        let resp = handle(&svc, req.clone()).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let state = decode_value(&svc.resources[WIDGET].ty, resp.new_state.as_ref());
        assert_eq!(state.get("size").as_i64(), Some(5));
        assert_eq!(state.get("etag").as_str(), Some("e2"));
        assert_eq!(resp.new_identity, req.planned_identity);
        assert_eq!(calls(&svc), vec!["update"]);
    }

    #[tokio::test]
    async fn failed_update_without_state_keeps_prior() {
        let svc = configured_service().await;
        svc.provider.script.lock().expect("script").fail_update = true;
        let prior = widget_state("w");
        let mut planned = prior.clone();
        planned.set("size", Value::int(5));
        let req = request(&svc, &prior, &planned, &widget_config("w", 5));
        let resp = handle(&svc, req).await;
        assert_eq!(resp.diagnostics[0].summary, "Update failed");
        assert_eq!(decode_value(&svc.resources[WIDGET].ty, resp.new_state.as_ref()), prior);
    }

    #[tokio::test]
    async fn update_interrupted_by_stop_reports_and_keeps_prior() {
        let svc = std::sync::Arc::new(configured_service().await);
        svc.provider.script.lock().expect("script").update_waits_for_stop = true;
        let prior = widget_state("w");
        let mut planned = prior.clone();
        planned.set("size", Value::int(5));
        let req = request(&svc, &prior, &planned, &widget_config("w", 5));
        let task = {
            let svc = svc.clone();
            tokio::spawn(async move { handle(&svc, req).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        svc.stop_signal().trigger();
        let resp = tokio::time::timeout(std::time::Duration::from_secs(2), task)
            .await
            .expect("finishes")
            .expect("no panic");
        assert_eq!(resp.diagnostics[0].summary, "Interrupted");
        assert_eq!(decode_value(&svc.resources[WIDGET].ty, resp.new_state.as_ref()), prior);
    }

    fn assert_panicked(resp: &Response, kept: &str) {
        assert_eq!(resp.diagnostics.len(), 1, "{:?}", resp.diagnostics);
        assert_eq!(resp.diagnostics[0].summary, "Provider panicked");
        let detail = &resp.diagnostics[0].detail;
        assert!(
            detail.contains("during ApplyResourceChange for fake_widget: widget"),
            "{detail}"
        );
        assert!(detail.contains(kept), "{detail}");
        assert!(resp.new_identity.is_none());
    }

    #[tokio::test]
    async fn a_panicking_create_records_nothing() {
        let svc = configured_service().await;
        svc.provider.script.lock().expect("script").panic_on = Some("create");
        let resp = handle(
            &svc,
            request(&svc, &Value::Null, &planned_create("w"), &widget_config("w", 2)),
        )
        .await;
        assert_panicked(&resp, "Nothing is recorded in state");
        assert_eq!(
            decode_value(&svc.resources[WIDGET].ty, resp.new_state.as_ref()),
            Value::Null
        );
    }

    #[tokio::test]
    async fn a_create_that_panics_after_reporting_a_partial_state_keeps_it() {
        let svc = configured_service().await;
        svc.provider.script.lock().expect("script").panic_on = Some("create-after-partial");
        let resp = handle(
            &svc,
            request(&svc, &Value::Null, &planned_create("w"), &widget_config("w", 2)),
        )
        .await;
        assert_panicked(&resp, "reported before the panic is recorded");
        let state = decode_value(&svc.resources[WIDGET].ty, resp.new_state.as_ref());
        assert_eq!(state.get("id").as_str(), Some("w-partial"));
    }

    #[tokio::test]
    async fn panicking_updates_and_deletes_keep_the_prior_state() {
        let svc = configured_service().await;
        let prior = widget_state("w");
        let ty = &svc.resources[WIDGET].ty;
        svc.provider.script.lock().expect("script").panic_on = Some("update");
        let resp = handle(
            &svc,
            request(&svc, &prior, &widget_config("w", 5), &widget_config("w", 5)),
        )
        .await;
        assert_panicked(&resp, "The prior state is kept");
        assert_eq!(decode_value(ty, resp.new_state.as_ref()), prior);

        svc.provider.script.lock().expect("script").panic_on = Some("delete");
        let resp = handle(&svc, request(&svc, &prior, &Value::Null, &Value::Null)).await;
        assert_panicked(&resp, "The prior state is kept");
        assert_eq!(decode_value(ty, resp.new_state.as_ref()), prior);
    }

    #[tokio::test]
    async fn delete_returns_null_state() {
        let svc = configured_service().await;
        let resp = handle(&svc, request(&svc, &widget_state("w"), &Value::Null, &Value::Null)).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        assert_eq!(
            decode_value(&svc.resources[WIDGET].ty, resp.new_state.as_ref()),
            Value::Null
        );
        assert!(resp.private.is_empty());
        assert!(resp.new_identity.is_none());
        assert_eq!(calls(&svc), vec!["delete"]);
    }

    #[tokio::test]
    async fn failed_delete_keeps_prior() {
        let svc = configured_service().await;
        svc.provider.script.lock().expect("script").fail_delete = true;
        let prior = widget_state("w");
        let resp = handle(&svc, request(&svc, &prior, &Value::Null, &Value::Null)).await;
        assert_eq!(resp.diagnostics[0].summary, "Delete failed");
        assert_eq!(decode_value(&svc.resources[WIDGET].ty, resp.new_state.as_ref()), prior);
    }

    #[tokio::test]
    async fn unconfigured_provider_is_an_error_and_keeps_prior() {
        let svc = service();
        let prior = widget_state("w");
        let req = request(&svc, &prior, &Value::Null, &Value::Null);
        let resp = handle(&svc, req.clone()).await;
        assert_eq!(resp.diagnostics[0].summary, "Provider not configured");
        assert_eq!(resp.new_state, req.prior_state);
        assert!(calls(&svc).is_empty());
    }
}
