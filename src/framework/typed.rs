//! Resources and data sources written against typed [models](super::model).
//!
//! A resource implements [`ModelResource`]: each operation takes and returns its model
//! (`create(clients, plan) -> Outcome<Model>`), never a [`Value`]. [`Typed`] adapts it to
//! the value-level [`Resource`] trait the server calls: it decodes requests (an undecodable
//! value is a diagnostic naming the attribute), encodes results, turns leftover unknowns
//! into nulls, keeps the prior state when an update fails before changing anything, and
//! writes back only the planned attributes a plan hook changed.

use async_trait::async_trait;

use super::data_source::{DataSource, ReadDataRequest};
use super::diag::Diagnostics;
use super::model::{ConfigOf, FromValue, Model, ToValue};
use super::path::AttributePath;
use super::private::Private;
use super::resource::{
    CreateRequest, DeleteRequest, DeleteResponse, IdentityAttribute, ImportRequest, ImportState, ModifyPlanRequest,
    ModifyPlanResponse, ReadRequest, Resource, ResourceIdentity, StateResponse, UpdateRequest, ValidateRequest,
};
use super::schema::Schema;
use super::value::Value;

/// A failed operation: what went wrong, and the state of what exists, if anything does.
#[derive(Debug)]
pub struct Partial<M> {
    /// The state to record (null when nothing was made or changed).
    pub state: Option<M>,
    /// Why the operation stopped.
    pub diagnostics: Diagnostics,
}

impl<M> Partial<M> {
    /// A failure after `state` came to exist: Terraform records it (tainted on create).
    pub fn keeping(state: M, diagnostics: Diagnostics) -> Partial<M> {
        Partial {
            state: Some(state),
            diagnostics,
        }
    }
}

impl<M> From<Diagnostics> for Partial<M> {
    fn from(diagnostics: Diagnostics) -> Partial<M> {
        Partial {
            state: None,
            diagnostics,
        }
    }
}

/// The result of create or update.
pub type Outcome<M> = Result<M, Partial<M>>;

/// How an import names the object.
#[derive(Debug)]
pub enum ImportId<'a, I> {
    /// The id string of `terraform import` or an `import { id = ... }` block.
    Text(&'a str),
    /// The identity of an `import { identity = {...} }` block.
    Identity(I),
}

/// What a plan hook sees and may change.
pub struct Plan<'a, D, M: Model> {
    /// The configuration.
    pub config: ConfigOf<M>,
    /// The prior state; `None` when creating.
    pub prior: Option<M>,
    /// Private data stored with the prior state.
    pub prior_private: &'a Private,
    /// The configured provider, once configuration has happened.
    pub provider: Option<&'a D>,
    /// The planned state (schema defaults, plan modifiers applied); `None` when destroying.
    pub planned: Option<ConfigOf<M>>,
    /// Whether a schema plan modifier already requires replacement.
    pub replacing: bool,
    /// Private data to carry to apply (starts as the prior private data).
    pub planned_private: Private,
    /// Findings.
    pub diagnostics: Diagnostics,
}

impl<D, M: Model> Plan<'_, D, M> {
    /// Whether this plan destroys the object.
    pub fn destroying(&self) -> bool {
        self.planned.is_none()
    }
}

/// What a resource type is, apart from its operations: its name, schema, model and
/// identity. Free of the provider's data type, so identities need no clients.
pub trait ResourceModel: Send + Sync + 'static {
    /// The state model; it mirrors [`ResourceModel::schema`].
    type Model: Model;
    /// The identity model; it mirrors [`ResourceModel::identity_attributes`].
    type Identity: Model;

    /// The resource type name, e.g. `zae_limiter_stack`.
    fn type_name(&self) -> &'static str;

    /// The schema.
    fn schema(&self) -> Schema;

    /// The identity schema.
    fn identity_attributes(&self) -> Vec<IdentityAttribute>;

    /// The identity of a stored state.
    fn identity(&self, state: &Self::Model) -> Self::Identity;
}

/// A managed resource type's operations, written against its model. `D` is the provider's
/// configured data (the AWS clients).
#[async_trait]
pub trait ModelResource<D: Send + Sync + 'static>: ResourceModel {
    /// Cross-attribute checks of the configuration (schema validators have run).
    async fn validate(&self, _config: &ConfigOf<Self::Model>, _diags: &mut Diagnostics) {}

    /// Adjusts the schema-driven plan; also called for destroy plans.
    async fn plan(&self, _plan: &mut Plan<'_, D, Self::Model>) {}

    /// Creates the object. On failure after something exists, return its state in
    /// [`Partial::keeping`] so that nothing is orphaned.
    async fn create(&self, clients: &D, plan: Self::Model) -> Outcome<Self::Model>;

    /// Refreshes the state; `Ok(None)` when the object is gone. Warnings go to `warnings`.
    async fn read(
        &self,
        clients: &D,
        state: Self::Model,
        private: &mut Private,
        warnings: &mut Diagnostics,
    ) -> Result<Option<Self::Model>, Diagnostics>;

    /// Updates the object in place. A failure without a partial state keeps the prior one.
    async fn update(&self, clients: &D, prior: Self::Model, plan: Self::Model) -> Outcome<Self::Model>;

    /// Deletes the object.
    async fn delete(&self, clients: &D, prior: Self::Model) -> Result<(), Diagnostics>;

    /// Turns an import id or identity into a state that [`ModelResource::read`] completes.
    async fn import(&self, clients: &D, id: ImportId<'_, Self::Identity>) -> Result<Self::Model, Diagnostics>;
}

/// A read-only data source written against its model.
#[async_trait]
pub trait ModelDataSource<D: Send + Sync + 'static>: Send + Sync + 'static {
    /// The model: the configuration plus the computed attributes.
    type Model: Model;

    /// The data source type name.
    fn type_name(&self) -> &'static str;

    /// The schema.
    fn schema(&self) -> Schema;

    /// Looks the object up: `config` has the computed attributes null; return them filled.
    async fn read(&self, clients: &D, config: Self::Model) -> Result<Self::Model, Diagnostics>;
}

/// Adapts a [`ModelResource`] or [`ModelDataSource`] to the value-level traits.
#[derive(Debug, Default)]
pub struct Typed<R>(pub R);

/// Encodes a model as a state: unknown values left anywhere become null.
pub fn state_value<M: ToValue>(model: &M) -> Value {
    let mut value = model.to_value();
    settle_unknowns(&mut value);
    value
}

/// Replaces every unknown inside `value` with null (a state may hold no unknowns).
pub fn settle_unknowns(value: &mut Value) {
    match value {
        Value::Unknown(_) => *value = Value::Null,
        Value::List(items) | Value::Set(items) => items.iter_mut().for_each(settle_unknowns),
        Value::Map(m) | Value::Object(m) => m.values_mut().for_each(settle_unknowns),
        _ => {}
    }
}

fn decode<M: FromValue>(value: &Value) -> Result<M, Diagnostics> {
    M::from_value(value, &AttributePath::empty())
}

fn decode_prior<M: Model>(value: &Value) -> Result<Option<M>, Diagnostics> {
    if value.is_null() {
        Ok(None)
    } else {
        M::decode(value).map(Some)
    }
}

/// Writes into `planned` the attributes of `after` that differ from `before`, so values the
/// hook did not touch (partly unknown collections, refinements) reach Terraform unchanged.
fn write_back_changes(planned: &mut Value, before: &Value, after: &Value, attributes: &[&str]) {
    for name in attributes {
        let changed = after.get(name);
        if changed != before.get(name) {
            planned.set(name, changed.clone());
        }
    }
}

#[async_trait]
impl<D: Send + Sync + 'static, R: ModelResource<D>> Resource<D> for Typed<R> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    fn schema(&self) -> Schema {
        self.0.schema()
    }

    async fn validate_config(&self, req: &ValidateRequest<'_>, diags: &mut Diagnostics) {
        match decode::<ConfigOf<R::Model>>(req.config) {
            Ok(config) => self.0.validate(&config, diags).await,
            Err(d) => diags.extend(d),
        }
    }

    async fn modify_plan(&self, req: &ModifyPlanRequest<'_, D>, resp: &mut ModifyPlanResponse) {
        let decoded = (|| {
            // A resource removed from the configuration is planned with a null config.
            let config = if req.config.is_null() {
                ConfigOf::<R::Model>::default()
            } else {
                decode::<ConfigOf<R::Model>>(req.config)?
            };
            let prior = decode_prior::<R::Model>(req.prior_state)?;
            let planned = if resp.planned_state.is_null() {
                None
            } else {
                Some(decode::<ConfigOf<R::Model>>(&resp.planned_state)?)
            };
            Ok::<_, Diagnostics>((config, prior, planned))
        })();
        let (config, prior, planned) = match decoded {
            Ok(parts) => parts,
            Err(d) => return resp.diagnostics.extend(d),
        };
        let before = planned.as_ref().map(ToValue::to_value);
        let mut plan = Plan {
            config,
            prior,
            prior_private: req.prior_private,
            provider: req.provider,
            planned,
            replacing: !resp.requires_replace.is_empty(),
            planned_private: resp.planned_private.clone(),
            diagnostics: Diagnostics::new(),
        };
        self.0.plan(&mut plan).await;
        if let (Some(before), Some(planned)) = (before, &plan.planned) {
            write_back_changes(
                &mut resp.planned_state,
                &before,
                &planned.to_value(),
                R::Model::ATTRIBUTES,
            );
        }
        resp.planned_private = plan.planned_private;
        resp.diagnostics.extend(plan.diagnostics);
    }

    async fn create(&self, req: &CreateRequest<'_, D>, resp: &mut StateResponse) {
        let plan = match R::Model::decode(req.planned_state) {
            Ok(plan) => plan,
            Err(d) => return resp.diagnostics.extend(d),
        };
        match self.0.create(req.provider, plan).await {
            Ok(state) => resp.new_state = state_value(&state),
            Err(partial) => {
                resp.new_state = partial.state.as_ref().map_or(Value::Null, state_value);
                resp.diagnostics.extend(partial.diagnostics);
            }
        }
    }

    async fn read(&self, req: &ReadRequest<'_, D>, resp: &mut StateResponse) {
        let state = match R::Model::decode(req.current_state) {
            Ok(state) => state,
            Err(d) => return resp.diagnostics.extend(d),
        };
        let mut private = req.private.clone();
        match self
            .0
            .read(req.provider, state, &mut private, &mut resp.diagnostics)
            .await
        {
            Ok(Some(state)) => {
                resp.new_state = state_value(&state);
                resp.private = private;
            }
            Ok(None) => resp.new_state = Value::Null,
            Err(d) => resp.diagnostics.extend(d),
        }
    }

    async fn update(&self, req: &UpdateRequest<'_, D>, resp: &mut StateResponse) {
        let decoded =
            R::Model::decode(req.prior_state).and_then(|prior| Ok((prior, R::Model::decode(req.planned_state)?)));
        let (prior, plan) = match decoded {
            Ok(models) => models,
            Err(d) => return resp.diagnostics.extend(d),
        };
        match self.0.update(req.provider, prior, plan).await {
            Ok(state) => resp.new_state = state_value(&state),
            Err(partial) => {
                // Without a partial state the server keeps the prior one.
                resp.new_state = partial.state.as_ref().map_or(Value::Null, state_value);
                resp.diagnostics.extend(partial.diagnostics);
            }
        }
    }

    async fn delete(&self, req: &DeleteRequest<'_, D>, resp: &mut DeleteResponse) {
        let outcome = match R::Model::decode(req.prior_state) {
            Ok(prior) => self.0.delete(req.provider, prior).await,
            Err(d) => Err(d),
        };
        if let Err(d) = outcome {
            resp.diagnostics.extend(d);
        }
    }

    fn importer(&self) -> Option<&dyn ImportState<D>> {
        Some(self)
    }

    fn identity(&self) -> Option<&dyn ResourceIdentity> {
        Some(self)
    }
}

#[async_trait]
impl<D: Send + Sync + 'static, R: ModelResource<D>> ImportState<D> for Typed<R> {
    async fn import(&self, req: &ImportRequest<'_, D>, resp: &mut StateResponse) {
        let id = match req.identity {
            Some(identity) => match R::Identity::decode(identity) {
                Ok(identity) => ImportId::Identity(identity),
                Err(d) => return resp.diagnostics.extend(d),
            },
            None => ImportId::Text(req.id.trim()),
        };
        match self.0.import(req.provider, id).await {
            Ok(state) => resp.new_state = state_value(&state),
            Err(d) => resp.diagnostics.extend(d),
        }
    }
}

impl<R: ResourceModel> ResourceIdentity for Typed<R> {
    fn attributes(&self) -> Vec<IdentityAttribute> {
        self.0.identity_attributes()
    }

    fn identity_of(&self, state: &Value) -> Value {
        match R::Model::decode(state) {
            Ok(state) => self.0.identity(&state).to_value(),
            Err(d) => {
                tracing::debug!(diagnostics = ?d, "no identity for an incomplete state");
                Value::Null
            }
        }
    }
}

#[async_trait]
impl<D: Send + Sync + 'static, S: ModelDataSource<D>> DataSource<D> for Typed<S> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    fn schema(&self) -> Schema {
        self.0.schema()
    }

    async fn read(&self, req: &ReadDataRequest<'_, D>, diags: &mut Diagnostics) -> Value {
        let config = match S::Model::decode(req.config) {
            Ok(config) => config,
            Err(d) => {
                diags.extend(d);
                return req.config.clone();
            }
        };
        match self.0.read(req.provider, config).await {
            Ok(found) => state_value(&found),
            Err(d) => {
                diags.extend(d);
                req.config.clone()
            }
        }
    }
}

/// Checks that a resource's models agree with its schemas: the state model with the
/// resource schema, and the identity model with the identity schema (names and types).
pub fn check_agreement<R: ResourceModel>(resource: &R) -> Result<(), String> {
    super::model::check_agreement::<R::Model>(&resource.schema().block)?;
    let identity = resource.identity_attributes();
    let mut schema_names: Vec<&str> = identity.iter().map(|a| a.name).collect();
    schema_names.sort_unstable();
    let mut model_names = R::Identity::ATTRIBUTES.to_vec();
    model_names.sort_unstable();
    if schema_names != model_names {
        return Err(format!(
            "the identity schema has {schema_names:?} but its model has {model_names:?}"
        ));
    }
    let ty = super::types::Type::Object(identity.iter().map(|a| (a.name.to_string(), a.ty.clone())).collect());
    let sample = super::model::sample_value(&ty);
    let decoded = R::Identity::decode(&sample).map_err(|d| format!("a full identity does not decode: {d:?}"))?;
    if !decoded.to_value().equivalent(&sample) {
        return Err(format!("the identity model encodes {:?}", decoded.to_value()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn unknowns_settle_to_null_at_every_depth() {
        let mut v = Value::Object(BTreeMap::from([
            ("a".to_string(), Value::unknown()),
            ("b".to_string(), Value::List(vec![Value::unknown(), Value::int(1)])),
        ]));
        settle_unknowns(&mut v);
        assert!(v.get("a").is_null());
        assert_eq!(v.get("b"), &Value::List(vec![Value::Null, Value::int(1)]));
    }

    #[test]
    fn only_changed_attributes_are_written_back() {
        let partly_unknown = Value::Map(BTreeMap::from([("k".to_string(), Value::unknown())]));
        let mut planned = Value::Object(BTreeMap::from([
            ("tags".to_string(), partly_unknown.clone()),
            ("id".to_string(), Value::unknown()),
        ]));
        let before = Value::Object(BTreeMap::from([
            ("tags".to_string(), Value::unknown()),
            ("id".to_string(), Value::unknown()),
        ]));
        let after = Value::Object(BTreeMap::from([
            ("tags".to_string(), Value::unknown()),
            ("id".to_string(), Value::string("x")),
        ]));
        write_back_changes(&mut planned, &before, &after, &["tags", "id"]);
        assert_eq!(planned.get("tags"), &partly_unknown);
        assert_eq!(planned.get("id"), &Value::string("x"));
    }
}
