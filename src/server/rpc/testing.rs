//! Test doubles for the RPC tests: a small in-memory provider with a "widget" resource
//! (identity, import, state upgrade, plan modification, scripted failures), a "plain"
//! resource with none of the extras, and a "lookup" data source.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::ProviderRpc;
use super::shape::conform;
use crate::framework::data_source::{DataSource, ReadDataRequest};
use crate::framework::diag::Diagnostics;
use crate::framework::path::AttributePath;
use crate::framework::plan_modifier::{RequiresReplace, UseStateForUnknown};
use crate::framework::planning::empty_object;
use crate::framework::provider::Provider;
use crate::framework::resource::{
    CreateRequest, DeleteRequest, DeleteResponse, IdentityAttribute, ImportRequest, ImportState, ModifyPlanRequest,
    ModifyPlanResponse, ReadRequest, Resource, ResourceIdentity, StateResponse, UpdateRequest, UpgradeState,
    ValidateRequest,
};
use crate::framework::schema::{Attribute, Block, NestedBlock, Schema};
use crate::framework::stop;
use crate::framework::timeouts;
use crate::framework::types::Type;
use crate::framework::validator::{IntBetween, StringCheck};
use crate::framework::value::Value;
use crate::server::convert::value::{decode_dynamic, encode_dynamic};
use crate::server::proto::tfplugin6 as pb;

/// The scripted resource type.
pub(crate) const WIDGET: &str = "fake_widget";
/// The resource type without identity, import or upgrader.
pub(crate) const PLAIN: &str = "fake_plain";
/// The data source type.
pub(crate) const LOOKUP: &str = "fake_lookup";

/// The service under test.
pub(crate) type FakeService = ProviderRpc<FakeProvider>;

/// What the fake widget records and how it misbehaves.
#[derive(Debug, Default)]
pub(crate) struct Script {
    /// Operations called, in order.
    pub(crate) calls: Vec<String>,
    /// Create fails after creating something (returns a partial state).
    pub(crate) fail_create: bool,
    /// Update fails without reporting a state.
    pub(crate) fail_update: bool,
    /// Delete fails.
    pub(crate) fail_delete: bool,
    /// Read finds nothing.
    pub(crate) gone: bool,
    /// Read hangs forever (like a stuck API call).
    pub(crate) block_read: bool,
    /// Update waits for `StopProvider`, then fails.
    pub(crate) update_waits_for_stop: bool,
    /// The operation that panics: `validate`, `modify_plan`, `create`, `read`, `update` or
    /// `delete`; `create-after-partial` reports a partial state, then panics.
    pub(crate) panic_on: Option<&'static str>,
}

/// The fake provider.
pub(crate) struct FakeProvider {
    /// Shared with the widget resource.
    pub(crate) script: Arc<Mutex<Script>>,
}

/// What configuring the fake provider produces.
#[derive(Debug)]
pub(crate) struct FakeClient {
    /// The configured endpoint.
    pub(crate) endpoint: String,
}

/// A fresh, unconfigured service.
pub(crate) fn service() -> FakeService {
    ProviderRpc::new(FakeProvider { script: Arc::default() })
}

/// A service whose provider is configured with endpoint `https://example`.
pub(crate) async fn configured_service() -> FakeService {
    let svc = service();
    *svc.configured.write().await = Some(Arc::new(FakeClient {
        endpoint: "https://example".into(),
    }));
    svc
}

/// An object value from pairs (attributes not given are absent).
pub(crate) fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Object(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

/// msgpack-encodes a value for a request.
pub(crate) fn msgpack(ty: &Type, value: &Value) -> pb::DynamicValue {
    encode_dynamic(value, ty, "test").expect("test value fits its type")
}

/// Decodes a value from a response.
pub(crate) fn decode(ty: &Type, value: Option<&pb::DynamicValue>) -> Value {
    decode_dynamic(value, ty, "test").expect("response value decodes")
}

/// A widget configuration as Terraform would send it.
pub(crate) fn widget_config(name: &str, size: i64) -> Value {
    conform(
        &widget_schema().block,
        &obj(&[("name", name.into()), ("size", Value::int(size))]),
    )
}

/// The state of a created widget (size 2).
pub(crate) fn widget_state(name: &str) -> Value {
    let mut state = widget_config(name, 2);
    state.set("id", format!("w-{name}").into());
    state.set("etag", "e1".into());
    state
}

/// A widget identity.
pub(crate) fn identity(name: &str) -> Value {
    obj(&[("name", name.into())])
}

fn widget_schema() -> Schema {
    let block = Block::new("A fake widget.")
        .attribute(Attribute::string("id").computed().plan_modifier(UseStateForUnknown))
        .attribute(Attribute::string("name").required().plan_modifier(RequiresReplace))
        .attribute(
            Attribute::number("size")
                .default_value(1i64)
                .validator(IntBetween { min: 0, max: 10 }),
        )
        .attribute(Attribute::string_map("tags").optional())
        .attribute(Attribute::string("etag").computed())
        .block(NestedBlock::list(
            "rule",
            Block::new("A rule.").attribute(Attribute::number("limit").required()),
        ))
        .block(timeouts::block(&["create"]));
    Schema { version: 1, block }
}

#[async_trait]
impl Provider for FakeProvider {
    type Data = FakeClient;

    fn type_name(&self) -> &'static str {
        "fake"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new("The fake provider.").attribute(Attribute::string("endpoint").optional().validator(
                StringCheck::new("Invalid value", "an http(s) URL", |s| {
                    if s.starts_with("http") {
                        Ok(())
                    } else {
                        Err(format!("{s:?} is not an http(s) URL"))
                    }
                }),
            )),
        )
    }

    async fn validate_config(&self, config: &Value, diags: &mut Diagnostics) {
        if config.get("endpoint").as_str().is_some_and(|s| s.starts_with("ftp://")) {
            diags.attribute_error(
                AttributePath::root("endpoint"),
                "Insecure endpoint",
                "FTP is not allowed.",
            );
        }
    }

    async fn configure(&self, config: &Value, diags: &mut Diagnostics) -> Option<FakeClient> {
        let endpoint = config.get("endpoint").as_str().unwrap_or("https://default").to_string();
        match endpoint.as_str() {
            "https://fail" => {
                diags.error("Cannot reach endpoint", "connection refused");
                None
            }
            "https://silent" => None,
            _ => Some(FakeClient { endpoint }),
        }
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<FakeClient>>> {
        vec![
            Arc::new(Widget {
                script: self.script.clone(),
            }),
            Arc::new(Plain),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<FakeClient>>> {
        vec![Arc::new(Lookup)]
    }
}

/// The scripted resource.
struct Widget {
    script: Arc<Mutex<Script>>,
}

impl Widget {
    fn record(&self, call: &str) {
        self.script.lock().expect("script").calls.push(call.to_string());
    }

    fn flag(&self, pick: impl Fn(&Script) -> bool) -> bool {
        pick(&self.script.lock().expect("script"))
    }

    /// Panics when the script says `operation` does (the script's lock is released first).
    fn maybe_panic(&self, operation: &str) {
        if self.flag(|s| s.panic_on == Some(operation)) {
            panic!("widget {operation} panicked");
        }
    }
}

#[async_trait]
impl Resource<FakeClient> for Widget {
    fn type_name(&self) -> &'static str {
        WIDGET
    }

    fn schema(&self) -> Schema {
        widget_schema()
    }

    async fn validate_config(&self, req: &ValidateRequest<'_>, diags: &mut Diagnostics) {
        self.maybe_panic("validate");
        if req.config.get("name").as_str().is_some_and(|n| n.contains(' ')) {
            diags.attribute_error(AttributePath::root("name"), "Invalid name", "Names have no spaces.");
        }
    }

    async fn modify_plan(&self, req: &ModifyPlanRequest<'_, FakeClient>, resp: &mut ModifyPlanResponse) {
        let kind = if resp.planned_state.is_null() {
            "destroy"
        } else if req.prior_state.is_null() {
            "create"
        } else {
            "update"
        };
        self.record(&format!("modify_plan:{kind}"));
        self.maybe_panic("modify_plan");
        if kind == "destroy" {
            return;
        }
        resp.planned_private.set("planned", true.into());
        if kind == "update" && resp.planned_state.get("name") != req.prior_state.get("name") {
            resp.requires_replace.push(AttributePath::root("name"));
        }
    }

    async fn create(&self, req: &CreateRequest<'_, FakeClient>, resp: &mut StateResponse) {
        self.record("create");
        self.maybe_panic("create");
        let mut state = req.planned_state.clone();
        if self.flag(|s| s.panic_on == Some("create-after-partial")) {
            state.set("id", "w-partial".into());
            resp.new_state = state;
            panic!("widget create panicked after creating w-partial");
        }
        if self.flag(|s| s.fail_create) {
            state.set("id", "w-partial".into());
            resp.new_state = state;
            resp.diagnostics
                .error("Create failed", "the widget was created but could not be tagged");
            return;
        }
        let name = req.config.get("name").as_str().unwrap_or_default().to_string();
        state.set("id", format!("w-{name}").into());
        state.set("etag", "e1".into());
        resp.new_state = state;
        resp.private.set("created", true.into());
    }

    async fn read(&self, _req: &ReadRequest<'_, FakeClient>, resp: &mut StateResponse) {
        self.record("read");
        self.maybe_panic("read");
        if self.flag(|s| s.block_read) {
            std::future::pending::<()>().await;
        }
        if self.flag(|s| s.gone) {
            resp.new_state = Value::Null;
            return;
        }
        resp.new_state.set("etag", "refreshed".into());
    }

    async fn update(&self, req: &UpdateRequest<'_, FakeClient>, resp: &mut StateResponse) {
        self.record("update");
        self.maybe_panic("update");
        if self.flag(|s| s.update_waits_for_stop) {
            stop::wait().await;
            assert!(stop::requested());
            resp.diagnostics
                .error("Interrupted", "Terraform asked the provider to stop.");
            return;
        }
        if self.flag(|s| s.fail_update) {
            resp.diagnostics.error("Update failed", "boom");
            return;
        }
        let mut state = req.planned_state.clone();
        state.set("etag", "e2".into());
        resp.new_state = state;
    }

    async fn delete(&self, _req: &DeleteRequest<'_, FakeClient>, resp: &mut DeleteResponse) {
        self.record("delete");
        self.maybe_panic("delete");
        if self.flag(|s| s.fail_delete) {
            resp.diagnostics.error("Delete failed", "boom");
        }
    }

    fn importer(&self) -> Option<&dyn ImportState<FakeClient>> {
        Some(self)
    }

    fn identity(&self) -> Option<&dyn ResourceIdentity> {
        Some(self)
    }

    fn upgrader(&self) -> Option<&dyn UpgradeState> {
        Some(self)
    }
}

#[async_trait]
impl ImportState<FakeClient> for Widget {
    async fn import(&self, req: &ImportRequest<'_, FakeClient>, resp: &mut StateResponse) {
        let name = match req.identity {
            Some(identity) => identity.get("name").as_str().unwrap_or_default().to_string(),
            None => req.id.to_string(),
        };
        if name.is_empty() {
            resp.diagnostics
                .error("Invalid import id", "The id is the widget name.");
            return;
        }
        let mut state = empty_object(&widget_schema().block);
        state.set("id", format!("w-{name}").into());
        state.set("name", name.into());
        resp.new_state = state;
    }
}

impl ResourceIdentity for Widget {
    fn attributes(&self) -> Vec<IdentityAttribute> {
        vec![IdentityAttribute {
            name: "name",
            ty: Type::String,
            required_for_import: true,
            optional_for_import: false,
            description: "The widget name.",
        }]
    }

    fn identity_of(&self, state: &Value) -> Value {
        obj(&[("name", state.get("name").clone())])
    }
}

impl UpgradeState for Widget {
    fn upgrade(&self, version: i64, json: &serde_json::Value, diags: &mut Diagnostics) -> Option<Value> {
        if version != 0 {
            diags.error("No upgrader", format!("version {version}"));
            return None;
        }
        let text = |key: &str| json.get(key).and_then(serde_json::Value::as_str).map(Value::string);
        Some(obj(&[("id", text("id").into()), ("name", text("title").into())]))
    }
}

/// A resource with only the required operations.
struct Plain;

#[async_trait]
impl Resource<FakeClient> for Plain {
    fn type_name(&self) -> &'static str {
        PLAIN
    }

    fn schema(&self) -> Schema {
        let block = Block::new("A plain resource.")
            .attribute(Attribute::string("id").computed())
            .attribute(Attribute::string("value").optional());
        Schema { version: 1, block }
    }

    async fn create(&self, req: &CreateRequest<'_, FakeClient>, resp: &mut StateResponse) {
        let mut state = req.planned_state.clone();
        state.set("id", "p".into());
        resp.new_state = state;
    }

    async fn read(&self, _req: &ReadRequest<'_, FakeClient>, _resp: &mut StateResponse) {}

    async fn update(&self, req: &UpdateRequest<'_, FakeClient>, resp: &mut StateResponse) {
        resp.new_state = req.planned_state.clone();
    }

    async fn delete(&self, _req: &DeleteRequest<'_, FakeClient>, _resp: &mut DeleteResponse) {}
}

/// The data source.
struct Lookup;

#[async_trait]
impl DataSource<FakeClient> for Lookup {
    fn type_name(&self) -> &'static str {
        LOOKUP
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new("A lookup.")
                .attribute(Attribute::string("name").required())
                .attribute(Attribute::string("value").computed()),
        )
    }

    async fn validate_config(&self, req: &ValidateRequest<'_>, diags: &mut Diagnostics) {
        if req.config.get("name").as_str() == Some("") {
            diags.attribute_error(AttributePath::root("name"), "Empty name", "Give a name.");
        }
    }

    async fn read(&self, req: &ReadDataRequest<'_, FakeClient>, _diags: &mut Diagnostics) -> Value {
        let name = req.config.get("name").as_str().unwrap_or_default();
        let mut state = req.config.clone();
        state.set("value", format!("v-{name}@{}", req.provider.endpoint).into());
        state
    }
}
