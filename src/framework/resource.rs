//! The [`Resource`] trait and the request/response types of its operations.
//!
//! A resource implements schema + CRUD; the extras (config validation, plan modification,
//! import, identity) are default methods or opt-in capability traits returned by
//! [`Resource::importer`] and [`Resource::identity`].

use async_trait::async_trait;

use super::diag::Diagnostics;
use super::private::Private;
use super::schema::Schema;
use super::types::Type;
use super::value::Value;

/// What `validate_config` sees.
#[derive(Debug)]
pub struct ValidateRequest<'a> {
    /// The configuration (may contain unknown values).
    pub config: &'a Value,
}

/// What `modify_plan` sees. `D` is the provider's configured data (AWS clients).
pub struct ModifyPlanRequest<'a, D> {
    /// The configuration.
    pub config: &'a Value,
    /// The prior state; null when creating.
    pub prior_state: &'a Value,
    /// Private data stored with the prior state.
    pub prior_private: &'a Private,
    /// The configured provider, when configuration has happened.
    pub provider: Option<&'a D>,
}

/// What `modify_plan` may change.
#[derive(Debug, Default)]
pub struct ModifyPlanResponse {
    /// The planned state (null = destroy). Starts as the schema-driven plan.
    pub planned_state: Value,
    /// Paths whose change forces replacement (schema modifiers already added theirs).
    pub requires_replace: Vec<super::path::AttributePath>,
    /// Private data to carry to apply.
    pub planned_private: Private,
    /// Findings.
    pub diagnostics: Diagnostics,
}

/// What `create` sees.
pub struct CreateRequest<'a, D> {
    /// The configuration.
    pub config: &'a Value,
    /// The planned state (computed attributes unknown).
    pub planned_state: &'a Value,
    /// Private data from planning.
    pub planned_private: &'a Private,
    /// The configured provider.
    pub provider: &'a D,
}

/// What `read` sees.
pub struct ReadRequest<'a, D> {
    /// The current state.
    pub current_state: &'a Value,
    /// Private data stored with it.
    pub private: &'a Private,
    /// The configured provider.
    pub provider: &'a D,
}

/// What `update` sees.
pub struct UpdateRequest<'a, D> {
    /// The configuration.
    pub config: &'a Value,
    /// The prior state.
    pub prior_state: &'a Value,
    /// The planned state.
    pub planned_state: &'a Value,
    /// Private data from planning.
    pub planned_private: &'a Private,
    /// The configured provider.
    pub provider: &'a D,
}

/// What `delete` sees.
pub struct DeleteRequest<'a, D> {
    /// The prior state.
    pub prior_state: &'a Value,
    /// Private data stored with it.
    pub private: &'a Private,
    /// The configured provider.
    pub provider: &'a D,
}

/// The outcome of create, read or update.
#[derive(Debug, Default)]
pub struct StateResponse {
    /// The new state. Null after read means the object is gone. After a failed create,
    /// set it to whatever exists so nothing is orphaned.
    pub new_state: Value,
    /// Private data to store.
    pub private: Private,
    /// Findings.
    pub diagnostics: Diagnostics,
}

/// The outcome of delete.
#[derive(Debug, Default)]
pub struct DeleteResponse {
    /// Findings; any error keeps the object in state.
    pub diagnostics: Diagnostics,
}

/// A managed resource type. `D` is the provider's configured data.
#[async_trait]
pub trait Resource<D: Send + Sync + 'static>: Send + Sync {
    /// The resource type name, e.g. `zae_limiter_stack`.
    fn type_name(&self) -> &'static str;

    /// The schema.
    fn schema(&self) -> Schema;

    /// Cross-attribute checks on configuration (schema validators have already run).
    async fn validate_config(&self, _req: &ValidateRequest<'_>, _diags: &mut Diagnostics) {}

    /// Adjusts the schema-driven plan. Also called for destroy (planned state null).
    async fn modify_plan(&self, _req: &ModifyPlanRequest<'_, D>, _resp: &mut ModifyPlanResponse) {}

    /// Creates the object. `resp.new_state` starts null and `resp.private` as the planned
    /// private data. On failure, set `new_state` to whatever was created (it is kept in state).
    async fn create(&self, req: &CreateRequest<'_, D>, resp: &mut StateResponse);

    /// Refreshes the state from the real object. `resp.new_state` starts as the current
    /// state and `resp.private` as the stored private data; set `new_state` to null when the
    /// object is gone.
    async fn read(&self, req: &ReadRequest<'_, D>, resp: &mut StateResponse);

    /// Updates the object in place. `resp.new_state` starts null; left null, the prior state
    /// is kept (with an error diagnostic if none was reported).
    async fn update(&self, req: &UpdateRequest<'_, D>, resp: &mut StateResponse);

    /// Deletes the object.
    async fn delete(&self, req: &DeleteRequest<'_, D>, resp: &mut DeleteResponse);

    /// Opt-in import support.
    fn importer(&self) -> Option<&dyn ImportState<D>> {
        None
    }

    /// Opt-in resource identity (protocol 6.9+).
    fn identity(&self) -> Option<&dyn ResourceIdentity> {
        None
    }

    /// Opt-in upgrade of state stored under an older schema version.
    fn upgrader(&self) -> Option<&dyn UpgradeState> {
        None
    }
}

/// What an import sees: the user's id string, or identity data.
pub struct ImportRequest<'a, D> {
    /// The `id` given to `terraform import` or an `import` block (empty with identity).
    pub id: &'a str,
    /// Identity data from an `import { identity = {...} }` block, when given.
    pub identity: Option<&'a Value>,
    /// The configured provider.
    pub provider: &'a D,
}

/// Import support: turns an id into a state that `read` then completes.
#[async_trait]
pub trait ImportState<D: Send + Sync + 'static>: Send + Sync {
    /// Builds the imported state (at least the attributes `read` needs).
    async fn import(&self, req: &ImportRequest<'_, D>, resp: &mut StateResponse);
}

/// One attribute of an identity schema.
#[derive(Debug, Clone)]
pub struct IdentityAttribute {
    /// Name.
    pub name: &'static str,
    /// Type.
    pub ty: Type,
    /// Needed to import by identity.
    pub required_for_import: bool,
    /// May be given when importing by identity.
    pub optional_for_import: bool,
    /// Description.
    pub description: &'static str,
}

/// Resource identity: a stable, small object that names the remote object.
pub trait ResourceIdentity: Send + Sync {
    /// Identity schema version.
    fn version(&self) -> i64 {
        0
    }
    /// The identity attributes.
    fn attributes(&self) -> Vec<IdentityAttribute>;
    /// The identity of a (fully known) state.
    fn identity_of(&self, state: &Value) -> Value;
    /// The identity's object type.
    fn value_type(&self) -> Type {
        Type::Object(
            self.attributes()
                .into_iter()
                .map(|a| (a.name.to_string(), a.ty))
                .collect(),
        )
    }
}

/// Upgrade of state stored under an older schema version.
pub trait UpgradeState: Send + Sync {
    /// Converts the stored JSON state of `version` into a value of the current schema.
    fn upgrade(&self, version: i64, json: &serde_json::Value, diags: &mut Diagnostics) -> Option<Value>;
}
