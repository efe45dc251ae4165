//! The RPC layer: [`ProviderRpc`] implements the generated `tfplugin6.Provider` gRPC
//! service on top of a framework [`Provider`], with one file per RPC (like
//! terraform-plugin-framework's `internal/proto6server/server_<rpc>.go`), except the RPCs of
//! features this provider does not offer, which are refused from one table in `unsupported`.
//!
//! Every handler turns a protobuf request into framework values (see
//! the server's `convert` module), calls the provider, resource or data source, and turns the
//! result back. Handlers never fail at the gRPC level and never panic: decoding problems,
//! unknown type names, an unconfigured provider and unsupported features all come back as
//! error diagnostics naming what went wrong. A panic (a bug) is caught by the `panic` module's
//! guard around every handler and also becomes an error diagnostic: Terraform keeps its state
//! and the provider keeps serving.
//!
//! Resource and data source operations run inside the service's
//! [`StopSignal`] scope, so `StopProvider` reaches them
//! through [`framework::stop`](crate::framework::stop). Read-only operations (read, plan,
//! import, data source read) are also abandoned with an error when the signal fires; apply
//! operations are left to finish so they can report what they created.

mod apply_resource_change;
mod configure_provider;
mod generate_resource_config;
mod get_functions;
mod get_metadata;
mod get_provider_schema;
mod get_resource_identity_schemas;
mod import_resource_state;
mod panic;
mod plan_resource_change;
mod read_data_source;
mod read_resource;
mod shape;
mod stop_provider;
mod support;
#[cfg(test)]
mod testing;
mod unsupported;
mod upgrade_resource_identity;
mod upgrade_resource_state;
mod validate_data_resource_config;
mod validate_provider_config;
mod validate_resource_config;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use tokio::sync::RwLock;
use tonic::{Request, Response, Status, Streaming};

use crate::framework::data_source::DataSource;
use crate::framework::diag::Diagnostics;
use crate::framework::provider::Provider;
use crate::framework::resource::{Resource, ResourceIdentity};
use crate::framework::schema::Schema;
use crate::framework::stop::StopSignal;
use crate::framework::types::Type;
use crate::server::proto::tfplugin6 as pb;

/// The `tfplugin6.Provider` gRPC service for `provider`, ready for
/// [`serve`](super::serve()):
///
/// ```ignore
/// let service = server::rpc::provider_service(ZaeProvider);
/// server::serve(service, ServeOptions::from_args(std::env::args().skip(1))?).await?;
/// ```
pub fn provider_service<P: Provider>(provider: P) -> super::ProviderService {
    super::ProviderService::new(ProviderRpc::new(provider))
}

/// A managed resource type with its schema, resolved once at start-up.
pub(crate) struct ResourceEntry<D> {
    /// The implementation.
    pub(crate) resource: Arc<dyn Resource<D>>,
    /// Its schema.
    pub(crate) schema: Schema,
    /// The schema's value type.
    pub(crate) ty: Type,
}

impl<D: Send + Sync + 'static> ResourceEntry<D> {
    /// The resource's identity support and identity type, when it has an identity.
    pub(crate) fn identity(&self) -> Option<(&dyn ResourceIdentity, Type)> {
        self.resource
            .identity()
            .map(|identity| (identity, identity.value_type()))
    }
}

/// A data source type with its schema, resolved once at start-up.
pub(crate) struct DataSourceEntry<D> {
    /// The implementation.
    pub(crate) data_source: Arc<dyn DataSource<D>>,
    /// Its schema.
    pub(crate) schema: Schema,
    /// The schema's value type.
    pub(crate) ty: Type,
}

/// The implementation of the `tfplugin6.Provider` gRPC service for a framework
/// [`Provider`] (wrapped by [`provider_service`] for serving).
///
/// Holds the provider, its resource and data source types keyed by type name (built once),
/// the data produced by `ConfigureProvider`, and the stop signal raised by `StopProvider`.
pub struct ProviderRpc<P: Provider> {
    provider: P,
    provider_schema: Schema,
    provider_ty: Type,
    resources: BTreeMap<String, ResourceEntry<P::Data>>,
    data_sources: BTreeMap<String, DataSourceEntry<P::Data>>,
    schema_response: OnceLock<pb::get_provider_schema::Response>,
    configured: RwLock<Option<Arc<P::Data>>>,
    stop: StopSignal,
}

impl<P: Provider> ProviderRpc<P> {
    /// Resolves the provider's schema and its resource and data source types.
    pub fn new(provider: P) -> ProviderRpc<P> {
        let provider_schema = provider.schema();
        let provider_ty = provider_schema.value_type();
        let mut resources = BTreeMap::new();
        for resource in provider.resources() {
            let schema = resource.schema();
            let ty = schema.value_type();
            let name = resource.type_name().to_string();
            if resources.contains_key(&name) {
                tracing::warn!(type_name = %name, "resource type registered twice; the last one wins");
            }
            resources.insert(name, ResourceEntry { resource, schema, ty });
        }
        let mut data_sources = BTreeMap::new();
        for data_source in provider.data_sources() {
            let schema = data_source.schema();
            let ty = schema.value_type();
            let name = data_source.type_name().to_string();
            if data_sources.contains_key(&name) {
                tracing::warn!(type_name = %name, "data source type registered twice; the last one wins");
            }
            data_sources.insert(
                name,
                DataSourceEntry {
                    data_source,
                    schema,
                    ty,
                },
            );
        }
        ProviderRpc {
            provider,
            provider_schema,
            provider_ty,
            resources,
            data_sources,
            schema_response: OnceLock::new(),
            configured: RwLock::new(None),
            stop: StopSignal::new(),
        }
    }

    /// The signal `StopProvider` triggers; in-flight operations observe it through
    /// [`framework::stop`](crate::framework::stop).
    pub fn stop_signal(&self) -> StopSignal {
        self.stop.clone()
    }

    /// The resource type `type_name`, or an error diagnostic.
    fn resource(&self, type_name: &str, diags: &mut Diagnostics) -> Option<&ResourceEntry<P::Data>> {
        let entry = self.resources.get(type_name);
        if entry.is_none() {
            support::unknown_type("resource", type_name, diags);
        }
        entry
    }

    /// The data source type `type_name`, or an error diagnostic.
    fn data_source(&self, type_name: &str, diags: &mut Diagnostics) -> Option<&DataSourceEntry<P::Data>> {
        let entry = self.data_sources.get(type_name);
        if entry.is_none() {
            support::unknown_type("data source", type_name, diags);
        }
        entry
    }

    /// The configured provider data, when `ConfigureProvider` succeeded.
    async fn configured_data(&self) -> Option<Arc<P::Data>> {
        self.configured.read().await.clone()
    }

    /// Like [`configured_data`](Self::configured_data), adding an error when unconfigured.
    async fn require_configured(&self, diags: &mut Diagnostics) -> Option<Arc<P::Data>> {
        let data = self.configured_data().await;
        if data.is_none() {
            support::not_configured(diags);
        }
        data
    }

    /// Runs an operation inside the stop signal's scope.
    async fn scoped<F: Future>(&self, operation: F) -> F::Output {
        self.stop.scope(operation).await
    }

    /// Runs a side-effect-free operation inside the stop scope, abandoning it (`None`) when
    /// Terraform asks the provider to stop.
    async fn cancellable<F: Future>(&self, operation: F) -> Option<F::Output> {
        let signal = self.stop.clone();
        tokio::select! {
            biased;
            out = self.stop.scope(operation) => Some(out),
            () = signal.triggered() => None,
        }
    }
}

/// What a panicking RPC that changes nothing tells the user.
const NOTHING_KEPT: &str = "Nothing was changed by this call";

/// Runs a handler of an RPC that changes nothing; a panic becomes an error diagnostic on an
/// empty response.
async fn answer<R>(rpc: &str, type_name: &str, handler: impl Future<Output = R>) -> Result<Response<R>, Status>
where
    R: panic::WithDiagnostics + Default,
{
    reply(panic::guarded(rpc, type_name, R::default(), NOTHING_KEPT, handler).await)
}

/// Wraps a handler's response for tonic.
fn reply<T>(response: T) -> Result<Response<T>, Status> {
    Ok(Response::new(response))
}

#[async_trait::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderRpc<P> {
    async fn get_metadata(
        &self,
        request: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        let req = request.into_inner();
        answer("GetMetadata", "", async move { get_metadata::handle(self, req) }).await
    }

    async fn get_provider_schema(
        &self,
        request: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        let req = request.into_inner();
        answer("GetProviderSchema", "", async move {
            get_provider_schema::handle(self, req)
        })
        .await
    }

    async fn validate_provider_config(
        &self,
        request: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        let req = request.into_inner();
        answer(
            "ValidateProviderConfig",
            "",
            validate_provider_config::handle(self, req),
        )
        .await
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let req = request.into_inner();
        let type_name = req.type_name.clone();
        answer(
            "ValidateResourceConfig",
            &type_name,
            validate_resource_config::handle(self, req),
        )
        .await
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let req = request.into_inner();
        let type_name = req.type_name.clone();
        answer(
            "ValidateDataResourceConfig",
            &type_name,
            validate_data_resource_config::handle(self, req),
        )
        .await
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let req = request.into_inner();
        let type_name = req.type_name.clone();
        answer("UpgradeResourceState", &type_name, async move {
            upgrade_resource_state::handle(self, req)
        })
        .await
    }

    async fn get_resource_identity_schemas(
        &self,
        request: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        let req = request.into_inner();
        answer("GetResourceIdentitySchemas", "", async move {
            get_resource_identity_schemas::handle(self, req)
        })
        .await
    }

    async fn upgrade_resource_identity(
        &self,
        request: Request<pb::upgrade_resource_identity::Request>,
    ) -> Result<Response<pb::upgrade_resource_identity::Response>, Status> {
        let req = request.into_inner();
        let type_name = req.type_name.clone();
        answer("UpgradeResourceIdentity", &type_name, async move {
            upgrade_resource_identity::handle(self, req)
        })
        .await
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let req = request.into_inner();
        answer("ConfigureProvider", "", configure_provider::handle(self, req)).await
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let req = request.into_inner();
        let (type_name, fallback) = (
            req.type_name.clone(),
            pb::read_resource::Response {
                new_state: req.current_state.clone(),
                private: req.private.clone(),
                ..Default::default()
            },
        );
        let kept = "The current state is kept";
        reply(
            panic::guarded(
                "ReadResource",
                &type_name,
                fallback,
                kept,
                read_resource::handle(self, req),
            )
            .await,
        )
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let req = request.into_inner();
        let type_name = req.type_name.clone();
        answer(
            "PlanResourceChange",
            &type_name,
            plan_resource_change::handle(self, req),
        )
        .await
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let req = request.into_inner();
        let (type_name, fallback) = (
            req.type_name.clone(),
            pb::apply_resource_change::Response {
                new_state: req.prior_state.clone(),
                private: req.planned_private.clone(),
                ..Default::default()
            },
        );
        let kept = "The prior state is kept";
        let handler = apply_resource_change::handle(self, req);
        reply(panic::guarded("ApplyResourceChange", &type_name, fallback, kept, handler).await)
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let req = request.into_inner();
        let type_name = req.type_name.clone();
        answer(
            "ImportResourceState",
            &type_name,
            import_resource_state::handle(self, req),
        )
        .await
    }

    async fn move_resource_state(
        &self,
        request: Request<pb::move_resource_state::Request>,
    ) -> Result<Response<pb::move_resource_state::Response>, Status> {
        reply(unsupported::move_resource_state(request.into_inner()))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let req = request.into_inner();
        let type_name = req.type_name.clone();
        answer("ReadDataSource", &type_name, read_data_source::handle(self, req)).await
    }

    async fn generate_resource_config(
        &self,
        request: Request<pb::generate_resource_config::Request>,
    ) -> Result<Response<pb::generate_resource_config::Response>, Status> {
        let req = request.into_inner();
        let type_name = req.type_name.clone();
        answer("GenerateResourceConfig", &type_name, async move {
            generate_resource_config::handle(self, req)
        })
        .await
    }

    async fn validate_ephemeral_resource_config(
        &self,
        request: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Result<Response<pb::validate_ephemeral_resource_config::Response>, Status> {
        reply(unsupported::validate_ephemeral_resource_config(request.into_inner()))
    }

    async fn open_ephemeral_resource(
        &self,
        request: Request<pb::open_ephemeral_resource::Request>,
    ) -> Result<Response<pb::open_ephemeral_resource::Response>, Status> {
        reply(unsupported::open_ephemeral_resource(request.into_inner()))
    }

    async fn renew_ephemeral_resource(
        &self,
        request: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Result<Response<pb::renew_ephemeral_resource::Response>, Status> {
        reply(unsupported::renew_ephemeral_resource(request.into_inner()))
    }

    async fn close_ephemeral_resource(
        &self,
        request: Request<pb::close_ephemeral_resource::Request>,
    ) -> Result<Response<pb::close_ephemeral_resource::Response>, Status> {
        reply(unsupported::close_ephemeral_resource(request.into_inner()))
    }

    type ListResourceStream = unsupported::ListResourceStream;

    async fn list_resource(
        &self,
        request: Request<pb::list_resource::Request>,
    ) -> Result<Response<Self::ListResourceStream>, Status> {
        reply(unsupported::list_resource(request.into_inner()))
    }

    async fn validate_list_resource_config(
        &self,
        request: Request<pb::validate_list_resource_config::Request>,
    ) -> Result<Response<pb::validate_list_resource_config::Response>, Status> {
        reply(unsupported::validate_list_resource_config(request.into_inner()))
    }

    async fn get_functions(
        &self,
        request: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        answer("GetFunctions", "", async move {
            get_functions::handle(request.into_inner())
        })
        .await
    }

    async fn call_function(
        &self,
        request: Request<pb::call_function::Request>,
    ) -> Result<Response<pb::call_function::Response>, Status> {
        reply(unsupported::call_function(request.into_inner()))
    }

    async fn validate_state_store_config(
        &self,
        request: Request<pb::validate_state_store::Request>,
    ) -> Result<Response<pb::validate_state_store::Response>, Status> {
        reply(unsupported::validate_state_store_config(request.into_inner()))
    }

    async fn configure_state_store(
        &self,
        request: Request<pb::configure_state_store::Request>,
    ) -> Result<Response<pb::configure_state_store::Response>, Status> {
        reply(unsupported::configure_state_store(request.into_inner()))
    }

    type ReadStateBytesStream = unsupported::ReadStateBytesStream;

    async fn read_state_bytes(
        &self,
        request: Request<pb::read_state_bytes::Request>,
    ) -> Result<Response<Self::ReadStateBytesStream>, Status> {
        reply(unsupported::read_state_bytes(request.into_inner()))
    }

    async fn write_state_bytes(
        &self,
        _request: Request<Streaming<pb::write_state_bytes::RequestChunk>>,
    ) -> Result<Response<pb::write_state_bytes::Response>, Status> {
        reply(unsupported::write_state_bytes())
    }

    async fn lock_state(
        &self,
        request: Request<pb::lock_state::Request>,
    ) -> Result<Response<pb::lock_state::Response>, Status> {
        reply(unsupported::lock_state(request.into_inner()))
    }

    async fn unlock_state(
        &self,
        request: Request<pb::unlock_state::Request>,
    ) -> Result<Response<pb::unlock_state::Response>, Status> {
        reply(unsupported::unlock_state(request.into_inner()))
    }

    async fn get_states(
        &self,
        request: Request<pb::get_states::Request>,
    ) -> Result<Response<pb::get_states::Response>, Status> {
        reply(unsupported::get_states(request.into_inner()))
    }

    async fn delete_state(
        &self,
        request: Request<pb::delete_state::Request>,
    ) -> Result<Response<pb::delete_state::Response>, Status> {
        reply(unsupported::delete_state(request.into_inner()))
    }

    async fn plan_action(
        &self,
        request: Request<pb::plan_action::Request>,
    ) -> Result<Response<pb::plan_action::Response>, Status> {
        reply(unsupported::plan_action(request.into_inner()))
    }

    type InvokeActionStream = unsupported::InvokeActionStream;

    async fn invoke_action(
        &self,
        request: Request<pb::invoke_action::Request>,
    ) -> Result<Response<Self::InvokeActionStream>, Status> {
        reply(unsupported::invoke_action(request.into_inner()))
    }

    async fn validate_action_config(
        &self,
        request: Request<pb::validate_action_config::Request>,
    ) -> Result<Response<pb::validate_action_config::Response>, Status> {
        reply(unsupported::validate_action_config(request.into_inner()))
    }

    async fn stop_provider(
        &self,
        request: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        reply(stop_provider::handle(self, request.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt;

    use super::testing::{WIDGET, configured_service, decode, msgpack, obj, service, widget_config};
    use super::*;
    use crate::framework::value::Value;
    use pb::provider_server::Provider as _;

    fn widget_ty(svc: &testing::FakeService) -> Type {
        svc.resources[WIDGET].ty.clone()
    }

    fn assert_panicked(diagnostics: &[pb::Diagnostic], rpc: &str, kept: &str) {
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert_eq!(diagnostics[0].summary, "Provider panicked");
        assert_eq!(diagnostics[0].severity, pb::diagnostic::Severity::Error as i32);
        let detail = &diagnostics[0].detail;
        assert!(
            detail.contains(&format!("during {rpc} for {WIDGET}: widget")),
            "{detail}"
        );
        assert!(detail.contains(kept), "{detail}");
    }

    #[tokio::test]
    async fn panics_become_diagnostics_and_the_service_keeps_serving() {
        let svc = configured_service().await;
        let ty = widget_ty(&svc);
        let state = testing::widget_state("w");
        let read = pb::read_resource::Request {
            type_name: WIDGET.into(),
            current_state: Some(msgpack(&ty, &state)),
            private: b"{}".to_vec(),
            ..Default::default()
        };
        let set_panic = |operation| svc.provider.script.lock().expect("script").panic_on = operation;

        set_panic(Some("read"));
        let resp = svc
            .read_resource(Request::new(read.clone()))
            .await
            .expect("a response, not a dead plugin");
        let resp = resp.into_inner();
        assert_panicked(&resp.diagnostics, "ReadResource", "The current state is kept");
        assert_eq!(resp.new_state, read.current_state);

        set_panic(Some("modify_plan"));
        let config = widget_config("w", 3);
        let plan = pb::plan_resource_change::Request {
            type_name: WIDGET.into(),
            prior_state: Some(msgpack(&ty, &Value::Null)),
            proposed_new_state: Some(msgpack(&ty, &config)),
            config: Some(msgpack(&ty, &config)),
            ..Default::default()
        };
        let resp = svc
            .plan_resource_change(Request::new(plan))
            .await
            .expect("response")
            .into_inner();
        assert_panicked(&resp.diagnostics, "PlanResourceChange", "Nothing was changed");

        set_panic(Some("validate"));
        let validate = pb::validate_resource_config::Request {
            type_name: WIDGET.into(),
            config: Some(msgpack(&ty, &config)),
            ..Default::default()
        };
        let resp = svc
            .validate_resource_config(Request::new(validate))
            .await
            .expect("response");
        assert_panicked(
            &resp.into_inner().diagnostics,
            "ValidateResourceConfig",
            "Nothing was changed",
        );

        set_panic(Some("update"));
        let apply = pb::apply_resource_change::Request {
            type_name: WIDGET.into(),
            prior_state: Some(msgpack(&ty, &state)),
            planned_state: Some(msgpack(&ty, &widget_config("w", 5))),
            config: Some(msgpack(&ty, &widget_config("w", 5))),
            ..Default::default()
        };
        let resp = svc
            .apply_resource_change(Request::new(apply))
            .await
            .expect("response")
            .into_inner();
        assert_panicked(&resp.diagnostics, "ApplyResourceChange", "The prior state is kept");
        assert_eq!(decode(&ty, resp.new_state.as_ref()), state);

        set_panic(None);
        let resp = svc
            .read_resource(Request::new(read))
            .await
            .expect("response")
            .into_inner();
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        assert_eq!(
            decode(&ty, resp.new_state.as_ref()).get("etag").as_str(),
            Some("refreshed")
        );
    }

    #[tokio::test]
    async fn lifecycle_through_the_grpc_trait() {
        let svc = service();
        let schema = svc
            .get_provider_schema(Request::new(Default::default()))
            .await
            .expect("ok")
            .into_inner();
        assert!(schema.resource_schemas.contains_key(WIDGET));

        let config = obj(&[("endpoint", "https://example".into())]);
        let configure = pb::configure_provider::Request {
            config: Some(msgpack(&svc.provider_ty, &config)),
            ..Default::default()
        };
        let resp = svc
            .configure_provider(Request::new(configure))
            .await
            .expect("ok")
            .into_inner();
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);

        let ty = widget_ty(&svc);
        let config = widget_config("w", 3);
        let plan = pb::plan_resource_change::Request {
            type_name: WIDGET.into(),
            prior_state: Some(msgpack(&ty, &Value::Null)),
            proposed_new_state: Some(msgpack(&ty, &config)),
            config: Some(msgpack(&ty, &config)),
            ..Default::default()
        };
        let planned = svc
            .plan_resource_change(Request::new(plan))
            .await
            .expect("ok")
            .into_inner();
        assert!(planned.diagnostics.is_empty(), "{:?}", planned.diagnostics);

        let apply = pb::apply_resource_change::Request {
            type_name: WIDGET.into(),
            prior_state: Some(msgpack(&ty, &Value::Null)),
            planned_state: planned.planned_state.clone(),
            config: Some(msgpack(&ty, &config)),
            planned_private: planned.planned_private.clone(),
            ..Default::default()
        };
        let applied = svc
            .apply_resource_change(Request::new(apply))
            .await
            .expect("ok")
            .into_inner();
        assert!(applied.diagnostics.is_empty(), "{:?}", applied.diagnostics);
        let state = decode(&ty, applied.new_state.as_ref());
        assert_eq!(state.get("id").as_str(), Some("w-w"));
        assert_eq!(state.get("size").as_i64(), Some(3));

        let read = pb::read_resource::Request {
            type_name: WIDGET.into(),
            current_state: applied.new_state.clone(),
            private: applied.private.clone(),
            current_identity: applied.new_identity.clone(),
            ..Default::default()
        };
        let refreshed = svc.read_resource(Request::new(read)).await.expect("ok").into_inner();
        assert!(refreshed.diagnostics.is_empty(), "{:?}", refreshed.diagnostics);
        assert_eq!(refreshed.new_identity, applied.new_identity);
        let state = decode(&ty, refreshed.new_state.as_ref());

        let replan = pb::plan_resource_change::Request {
            type_name: WIDGET.into(),
            prior_state: refreshed.new_state.clone(),
            proposed_new_state: refreshed.new_state.clone(),
            config: Some(msgpack(&ty, &config)),
            prior_private: refreshed.private.clone(),
            prior_identity: refreshed.new_identity.clone(),
            ..Default::default()
        };
        let unchanged = svc
            .plan_resource_change(Request::new(replan))
            .await
            .expect("ok")
            .into_inner();
        assert_eq!(
            decode(&ty, unchanged.planned_state.as_ref()),
            state,
            "second plan is empty"
        );

        let destroy = pb::apply_resource_change::Request {
            type_name: WIDGET.into(),
            prior_state: refreshed.new_state.clone(),
            planned_state: Some(msgpack(&ty, &Value::Null)),
            config: Some(msgpack(&ty, &Value::Null)),
            ..Default::default()
        };
        let destroyed = svc
            .apply_resource_change(Request::new(destroy))
            .await
            .expect("ok")
            .into_inner();
        assert!(destroyed.diagnostics.is_empty(), "{:?}", destroyed.diagnostics);
        assert_eq!(decode(&ty, destroyed.new_state.as_ref()), Value::Null);

        let calls = svc.provider.script.lock().expect("script").calls.clone();
        assert_eq!(
            calls,
            vec!["modify_plan:create", "create", "read", "modify_plan:update", "delete"]
        );
    }

    #[tokio::test]
    async fn unconfigured_provider_gives_diagnostics_not_grpc_errors() {
        let svc = service();
        let ty = widget_ty(&svc);
        let read = pb::read_resource::Request {
            type_name: WIDGET.into(),
            current_state: Some(msgpack(&ty, &testing::widget_state("w"))),
            ..Default::default()
        };
        let resp = svc
            .read_resource(Request::new(read))
            .await
            .expect("never a gRPC error")
            .into_inner();
        assert_eq!(resp.diagnostics[0].summary, "Provider not configured");
        assert_eq!(resp.diagnostics[0].severity, pb::diagnostic::Severity::Error as i32);
    }

    #[tokio::test]
    async fn unsupported_rpcs_answer_with_diagnostics() {
        let svc = configured_service().await;
        let summaries = [
            svc.validate_ephemeral_resource_config(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
            svc.open_ephemeral_resource(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
            svc.renew_ephemeral_resource(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
            svc.close_ephemeral_resource(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
            svc.validate_list_resource_config(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
            svc.validate_state_store_config(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
            svc.configure_state_store(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
            svc.lock_state(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
            svc.unlock_state(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
            svc.get_states(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
            svc.delete_state(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
            svc.plan_action(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
            svc.validate_action_config(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
            svc.move_resource_state(Request::new(Default::default()))
                .await
                .expect("ok")
                .into_inner()
                .diagnostics,
        ];
        for diags in &summaries {
            assert_eq!(diags.len(), 1);
            assert_eq!(diags[0].severity, pb::diagnostic::Severity::Error as i32);
            assert!(diags[0].summary.ends_with("not supported"), "{}", diags[0].summary);
        }

        let mut list = svc
            .list_resource(Request::new(Default::default()))
            .await
            .expect("ok")
            .into_inner();
        let event = list.next().await.expect("one event").expect("ok");
        assert!(event.diagnostic[0].summary.ends_with("not supported"));

        let mut invoke = svc
            .invoke_action(Request::new(Default::default()))
            .await
            .expect("ok")
            .into_inner();
        assert!(invoke.next().await.expect("one event").is_ok());

        let mut chunks = svc
            .read_state_bytes(Request::new(Default::default()))
            .await
            .expect("ok")
            .into_inner();
        assert!(
            chunks.next().await.expect("one chunk").expect("ok").diagnostics[0]
                .summary
                .ends_with("not supported")
        );

        let call = svc
            .call_function(Request::new(Default::default()))
            .await
            .expect("ok")
            .into_inner();
        assert!(call.error.is_some());
        let functions = svc
            .get_functions(Request::new(Default::default()))
            .await
            .expect("ok")
            .into_inner();
        assert!(functions.functions.is_empty() && functions.diagnostics.is_empty());
    }

    #[tokio::test]
    async fn stop_provider_reaches_operations() {
        let svc = service();
        let resp = svc
            .stop_provider(Request::new(Default::default()))
            .await
            .expect("ok")
            .into_inner();
        assert!(resp.error.is_empty());
        assert!(svc.scoped(async { crate::framework::stop::requested() }).await);
        assert!(svc.cancellable(std::future::pending::<()>()).await.is_none());
    }

    #[test]
    fn provider_service_wraps_the_implementation() {
        let _service = provider_service(testing::FakeProvider {
            script: Default::default(),
        });
    }
}
