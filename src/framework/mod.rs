//! A small provider framework shaped like HashiCorp's terraform-plugin-framework: typed
//! schemas, values with unknowns, path-scoped diagnostics, validators, plan modifiers,
//! defaults, private state and timeouts, and the [`Provider`], [`Resource`] and
//! [`DataSource`] traits. It knows nothing of protobuf: the server converts at its edge.

pub mod codec;
pub mod data_source;
pub mod diag;
pub mod model;
pub mod path;
pub mod plan_modifier;
pub mod planning;
pub mod private;
pub mod provider;
pub mod resource;
pub mod schema;
pub mod stop;
pub mod timeouts;
pub mod typed;
pub mod types;
pub mod validator;
pub mod value;

pub use data_source::{DataSource, ReadDataRequest};
pub use diag::{Diagnostic, Diagnostics, Severity};
pub use model::{ConfigOf, FromValue, Known, Model, ToValue};
pub use path::AttributePath;
pub use plan_modifier::{PlanModifier, RequiresReplace, UseStateForUnknown};
pub use private::Private;
pub use provider::Provider;
pub use resource::{
    CreateRequest, DeleteRequest, DeleteResponse, IdentityAttribute, ImportRequest, ImportState, ModifyPlanRequest,
    ModifyPlanResponse, ReadRequest, Resource, ResourceIdentity, StateResponse, UpdateRequest, UpgradeState,
    ValidateRequest,
};
pub use schema::{Attribute, AttributeKind, Block, NestedBlock, Nesting, Schema};
pub use typed::{ImportId, ModelDataSource, ModelResource, Outcome, Partial, Plan, ResourceModel, Typed};
pub use types::Type;
pub use value::{Number, Value};
