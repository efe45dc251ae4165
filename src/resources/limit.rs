//! `zae_limiter_limit`: one token-bucket limit of a namespace, at system, resource or
//! entity scope (spec §3.4–§3.5, §4).
//!
//! Several limits share one config item per scope; each resource sets, changes and removes
//! only its own `l_{name}_*` attributes with conditional single-item updates
//! ([`zae_limiter::admin::NamespaceAdmin::create_limit`] and friends), so limits applied in
//! parallel never overwrite each other. Registries and audit events are kept as
//! zae-limiter keeps them; the audit principal is the provider's STS caller.
//!
//! The limit is given either as `rate` per `per` with an optional `burst`, or in the form
//! zae-limiter stores (`capacity`, `refill_amount`, `refill_period_seconds`); the plan
//! shows both. Read is one `BatchGetItem` (the namespace's forward record and the config
//! item), so a limit changed or deleted outside Terraform, or a namespace deleted under
//! it, shows in the next plan.

use std::collections::BTreeMap;

use async_trait::async_trait;
use zae_limiter::Limit;
use zae_limiter::admin::{LimitWrite, Table, stored_limit};
use zae_limiter::limit::{MAX_PERIOD_SECONDS, MAX_TOKENS};
use zae_limiter::schema::keys::DEFAULT_RESOURCE;

use super::limit_id::{LimitId, Scope};
use super::namespace::namespace_name_validator;
use crate::framework::planning::empty_object;
use crate::framework::validator::{OneOf, StringCheck};
use crate::framework::{
    Attribute, AttributePath, Block, CreateRequest, DeleteRequest, DeleteResponse, Diagnostics, IdentityAttribute,
    ImportRequest, ImportState, ModifyPlanRequest, ModifyPlanResponse, ReadRequest, RequiresReplace, Resource,
    ResourceIdentity, Schema, StateResponse, Type, UpdateRequest, UseStateForUnknown, ValidateRequest, Value,
};
use crate::aws::AwsClients;

/// Resource type name.
pub const TYPE_NAME: &str = "zae_limiter_limit";

/// `per` values and their length in seconds.
pub const PERIODS: [(&str, i64); 4] = [("second", 1), ("minute", 60), ("hour", 3600), ("day", 86_400)];

const PER_VALUES: [&str; 4] = ["second", "minute", "hour", "day"];
const RATE_FORM: [&str; 3] = ["rate", "per", "burst"];
const STORED_FORM: [&str; 3] = ["capacity", "refill_amount", "refill_period_seconds"];

/// The `zae_limiter_limit` resource.
#[derive(Debug, Default)]
pub struct LimitResource;

fn replacing_string(name: &str, description: &str) -> Attribute {
    Attribute::string(name)
        .description(description)
        .plan_modifier(RequiresReplace)
}

fn whole_number(name: &str, description: &str) -> Attribute {
    Attribute::number(name).optional().computed().description(description)
}

/// The resource schema.
pub fn schema() -> Schema {
    let block = Block::new(
        "One zae-limiter limit of a namespace: at system scope (the namespace's defaults), resource scope (`resource`) \
         or entity scope (`entity_id`, optionally per `resource`). Give `rate` per `per` with an optional `burst`, or \
         the stored form `capacity` + `refill_amount` + `refill_period_seconds`; the plan shows both.",
    )
    .attribute(
        Attribute::string("id")
            .computed()
            .description("`STACK/NAMESPACE/SCOPE/NAME` with SCOPE `system`, `resource:RESOURCE` or `entity:ENTITY_ID:RESOURCE` (`_default_` for every resource); `%`, `/` and `:` inside namespace, resource and entity id are written `%25`, `%2F`, `%3A`. Also the import id.")
            .plan_modifier(UseStateForUnknown),
    )
    .attribute(
        replacing_string("stack", "Name of the zae-limiter stack.")
            .required()
            .validator(super::stack::stack_name_check()),
    )
    .attribute(
        replacing_string("namespace", "Name of the namespace (it must be active).")
            .required()
            .validator(namespace_name_validator()),
    )
    .attribute(
        replacing_string(
            "resource",
            "The resource the limit applies to (e.g. `gpt-4`). Omit for every resource: at system scope without `entity_id`, or the entity's `_default_` with it.",
        )
        .optional()
        .validator(StringCheck::new("Invalid resource", "a zae-limiter resource name", check_resource)),
    )
    .attribute(
        replacing_string("entity_id", "The entity (e.g. an API key) for an entity-level limit. Omit for a resource or system default.")
            .optional()
            .validator(StringCheck::new("Invalid entity id", "a zae-limiter entity id", |s| {
                zae_limiter::validate::validate_identifier(s, "entity_id").map_err(|e| e.to_string())
            })),
    )
    .attribute(
        Attribute::string("scope")
            .optional()
            .computed()
            .description("`system`, `resource` or `entity`; follows from `resource` and `entity_id`. Setting it makes a mismatch an error.")
            .validator(OneOf(&["system", "resource", "entity"]))
            .plan_modifier(RequiresReplace),
    )
    .attribute(
        replacing_string("name", "Limit name, e.g. `rpm`: a letter, then letters, digits, `_`, `.` or `-` (64 at most); `wcu` is reserved.")
            .required()
            .validator(StringCheck::new("Invalid limit name", "a zae-limiter limit name", |s| {
                zae_limiter::validate::validate_name(s, "name").map_err(|e| e.to_string())
            })),
    )
    .attribute(whole_number("rate", "Tokens added per `per` (the refill amount). With `per`; conflicts with the stored form."))
    .attribute(
        Attribute::string("per")
            .optional()
            .computed()
            .description("`second`, `minute`, `hour` or `day`: the refill period of `rate`.")
            .validator(OneOf(&PER_VALUES)),
    )
    .attribute(whole_number("burst", "Bucket ceiling in tokens; defaults to `rate`. Same as `capacity`."))
    .attribute(whole_number("capacity", "Stored form: bucket ceiling in tokens (zae-limiter's `l_{name}_cp`)."))
    .attribute(whole_number("refill_amount", "Stored form: tokens added per refill period (`l_{name}_ra`)."))
    .attribute(whole_number("refill_period_seconds", "Stored form: refill period in seconds (`l_{name}_rp`)."))
    .attribute(
        Attribute::string("namespace_id")
            .computed()
            .description("Opaque id of the namespace the limit was written in.")
            .plan_modifier(UseStateForUnknown),
    );
    Schema::new(block)
}

fn check_resource(resource: &str) -> Result<(), String> {
    if resource == DEFAULT_RESOURCE {
        return Err(format!(
            "{DEFAULT_RESOURCE:?} is zae-limiter's name for \"every resource\": omit `resource` instead."
        ));
    }
    zae_limiter::validate::validate_resource(resource).map_err(|e| e.to_string())
}

fn str_attr<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).as_str()
}

/// The scope a configuration or state names.
fn scope_of(value: &Value) -> Scope {
    Scope::of(str_attr(value, "entity_id"), str_attr(value, "resource"))
}

fn period_seconds(per: &str) -> Option<i64> {
    PERIODS.iter().find(|(p, _)| *p == per).map(|(_, s)| *s)
}

fn period_name(seconds: i64) -> Option<&'static str> {
    PERIODS.iter().find(|(_, s)| *s == seconds).map(|(p, _)| *p)
}

/// The stored form (capacity, refill amount, period) a known configuration asks for;
/// `None` while any input is unknown or missing.
fn stored_form(config: &Value) -> Option<(i64, i64, i64)> {
    if !config.get("rate").is_null() || !config.get("per").is_null() {
        let rate = config.get("rate").as_i64()?;
        let period = period_seconds(config.get("per").as_str()?)?;
        let capacity = match config.get("burst") {
            Value::Null => rate,
            burst => burst.as_i64()?,
        };
        Some((capacity, rate, period))
    } else {
        Some((
            config.get("capacity").as_i64()?,
            config.get("refill_amount").as_i64()?,
            config.get("refill_period_seconds").as_i64()?,
        ))
    }
}

/// Writes both forms of `(capacity, refill_amount, period)` into `state`.
fn set_forms(state: &mut Value, capacity: i64, refill_amount: i64, period: i64) {
    state.set("capacity", Value::int(capacity));
    state.set("refill_amount", Value::int(refill_amount));
    state.set("refill_period_seconds", Value::int(period));
    match period_name(period) {
        Some(per) => {
            state.set("rate", Value::int(refill_amount));
            state.set("per", per.into());
            state.set("burst", Value::int(capacity));
        }
        None => {
            for attr in RATE_FORM {
                state.set(attr, Value::Null);
            }
        }
    }
}

/// Checks one whole-number argument: known values must be whole, positive and in range.
fn check_number(config: &Value, attr: &str, max: i64, diags: &mut Diagnostics) {
    let value = config.get(attr);
    if value.is_null() || value.is_unknown() {
        return;
    }
    let path = AttributePath::root(attr);
    match value.as_i64() {
        Some(n) if n <= 0 => diags.attribute_error(
            path,
            "Value must be positive",
            format!("{attr} must be a whole number greater than 0, got {n}. A limit must refill (quotas are not supported here)."),
        ),
        Some(n) if n > max => diags.attribute_error(
            path,
            "Value too large",
            format!("{attr} must be at most {max} (zae-limiter's bound), got {n}."),
        ),
        Some(_) => {}
        None => diags.attribute_error(
            path,
            "Whole number required",
            format!("{attr} must be a whole number, got {value:?}."),
        ),
    }
}

/// zae-limiter's limit rules (spec §4.3) and this resource's argument rules, at plan time.
fn validate(config: &Value, diags: &mut Diagnostics) {
    let given = |attrs: [&'static str; 3]| -> Vec<&'static str> {
        attrs.into_iter().filter(|a| !config.get(a).is_null()).collect()
    };
    let rate_form = given(RATE_FORM);
    let stored = given(STORED_FORM);
    if !rate_form.is_empty() && !stored.is_empty() {
        for attr in &stored {
            diags.attribute_error(
                AttributePath::root(attr),
                "Conflicting limit arguments",
                format!(
                    "{attr} conflicts with {}: give the limit either as rate + per (+ burst), or in the stored form capacity + refill_amount + refill_period_seconds.",
                    rate_form.join(", ")
                ),
            );
        }
    } else if !rate_form.is_empty() {
        for required in ["rate", "per"] {
            if config.get(required).is_null() {
                diags.attribute_error(
                    AttributePath::root(required),
                    "Missing limit argument",
                    format!("{required} is required with {}.", rate_form.join(", ")),
                );
            }
        }
    } else if !stored.is_empty() {
        for required in STORED_FORM {
            if config.get(required).is_null() {
                diags.attribute_error(
                    AttributePath::root(required),
                    "Missing limit argument",
                    format!("The stored form needs capacity, refill_amount and refill_period_seconds; {required} is missing."),
                );
            }
        }
    } else {
        diags.attribute_error(
            AttributePath::root("rate"),
            "Missing limit arguments",
            "Give rate and per (and optionally burst), or capacity, refill_amount and refill_period_seconds.",
        );
    }
    for attr in ["rate", "burst", "capacity", "refill_amount"] {
        check_number(config, attr, MAX_TOKENS, diags);
    }
    check_number(config, "refill_period_seconds", MAX_PERIOD_SECONDS, diags);

    // Scope arguments.
    let entity = !config.get("entity_id").is_null();
    let resource = !config.get("resource").is_null();
    if let Some(scope) = config.get("scope").as_str() {
        let mut conflict = |attr: &str, detail: String| {
            diags.attribute_error(AttributePath::root(attr), "Conflicting scope arguments", detail)
        };
        match scope {
            "system" if entity => conflict("entity_id", "scope = \"system\" cannot have an entity_id.".into()),
            "system" if resource => conflict(
                "resource",
                "scope = \"system\" applies to every resource: omit resource (or use scope = \"resource\").".into(),
            ),
            "resource" if entity => conflict(
                "entity_id",
                "scope = \"resource\" is a resource default: omit entity_id (or use scope = \"entity\").".into(),
            ),
            "resource" if !resource && !config.get("resource").is_unknown() => {
                conflict("resource", "scope = \"resource\" needs a resource.".into())
            }
            "entity" if !entity && !config.get("entity_id").is_unknown() => {
                conflict("entity_id", "scope = \"entity\" needs an entity_id.".into())
            }
            _ => {}
        }
    }
}

/// The principal recorded in audit events: the provider's STS caller.
async fn audit_principal(clients: &AwsClients) -> Option<String> {
    match clients.caller_identity().await {
        Ok(identity) if !identity.arn.is_empty() => Some(identity.arn),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look up the caller; audit events get a NULL principal");
            None
        }
    }
}

fn data_error(diags: &mut Diagnostics, summary: &str, err: &zae_limiter::Error, stack: &str) {
    match err {
        zae_limiter::Error::TableNotFound { .. } => diags.attribute_error(
            AttributePath::root("stack"),
            "Unknown stack",
            format!("There is no zae-limiter stack {stack:?}: its DynamoDB table does not exist in this region."),
        ),
        other => diags.error(summary, other.to_string()),
    }
}

fn limit_of(state: &Value) -> Result<Limit, String> {
    let name = str_attr(state, "name").unwrap_or_default();
    let (capacity, refill_amount, period) =
        stored_form(state).ok_or_else(|| "the limit's parameters are not known".to_string())?;
    Limit::custom(name, capacity, refill_amount, period).map_err(|e| e.to_string())
}

fn limit_id(state: &Value) -> LimitId {
    LimitId {
        stack: str_attr(state, "stack").unwrap_or_default().to_string(),
        namespace: str_attr(state, "namespace").unwrap_or_default().to_string(),
        scope: scope_of(state),
        name: str_attr(state, "name").unwrap_or_default().to_string(),
    }
}

/// The id of the active namespace `name`, or a diagnostic at `namespace` (unknown or
/// soft-deleted) or `stack`.
async fn resolve_namespace(data: &Table, stack: &str, name: &str) -> Result<String, Diagnostics> {
    let mut diags = Diagnostics::new();
    match data.get_namespace(name).await {
        Ok(Some(record)) if record.status.resolves() => return Ok(record.id),
        Ok(_) => {}
        Err(e) => {
            data_error(&mut diags, "Cannot read the namespace registry", &e, stack);
            return Err(diags);
        }
    }
    let deleted = data.find_deleted_namespaces(name).await.unwrap_or_default();
    let detail = match deleted.first() {
        Some(record) => format!(
            "Namespace {name:?} of stack {stack:?} is soft-deleted (id {}). Limits cannot be set on a deleted namespace: recover it first (recover = true on its zae_limiter_namespace).",
            record.id
        ),
        None => format!("Stack {stack:?} has no namespace named {name:?}. Register it first (zae_limiter_namespace)."),
    };
    diags.attribute_error(AttributePath::root("namespace"), "Unknown namespace", detail);
    Err(diags)
}

#[async_trait]
impl Resource<AwsClients> for LimitResource {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate_config(&self, req: &ValidateRequest<'_>, diags: &mut Diagnostics) {
        validate(req.config, diags);
    }

    async fn modify_plan(&self, req: &ModifyPlanRequest<'_, AwsClients>, resp: &mut ModifyPlanResponse) {
        if resp.planned_state.is_null() {
            return;
        }
        let config = req.config;
        let planned = &mut resp.planned_state;
        let scope_known = !config.get("entity_id").is_unknown() && !config.get("resource").is_unknown();
        if scope_known {
            planned.set("scope", scope_of(config).kind().into());
        }
        match stored_form(config) {
            Some((capacity, refill_amount, period)) => set_forms(planned, capacity, refill_amount, period),
            None => {
                for attr in RATE_FORM.iter().chain(STORED_FORM.iter()) {
                    if config.get(attr).is_null() {
                        planned.set(attr, Value::unknown());
                    }
                }
            }
        }
        let named = ["stack", "namespace", "name"]
            .iter()
            .all(|a| config.get(a).as_str().is_some());
        if named && scope_known {
            planned.set("id", limit_id(config).to_string().into());
        }
    }

    async fn create(&self, req: &CreateRequest<'_, AwsClients>, resp: &mut StateResponse) {
        let mut state = req.planned_state.clone();
        let stack = str_attr(&state, "stack").unwrap_or_default().to_string();
        let namespace = str_attr(&state, "namespace").unwrap_or_default().to_string();
        let data = Table::new(req.provider.dynamodb.clone(), stack.as_str());
        let namespace_id = match resolve_namespace(&data, &stack, &namespace).await {
            Ok(id) => id,
            Err(d) => {
                resp.diagnostics.extend(d);
                return;
            }
        };
        let limit = match limit_of(&state) {
            Ok(limit) => limit,
            Err(e) => {
                resp.diagnostics
                    .attribute_error(AttributePath::root("name"), "Invalid limit", e);
                return;
            }
        };
        let scope = scope_of(&state);
        let principal = audit_principal(req.provider).await;
        let written = data
            .namespace(&namespace_id)
            .create_limit(&scope.level(), &limit, principal.as_deref())
            .await;
        match written {
            Ok(LimitWrite::Written) => {}
            Ok(LimitWrite::AlreadyExists(existing)) => {
                let id = limit_id(&state);
                resp.diagnostics.attribute_error(
                    AttributePath::root("name"),
                    "Limit already exists",
                    format!(
                        "Namespace {namespace:?} already has limit {:?} at {} scope{}. Import it instead: terraform import <address> {id}",
                        limit.name(),
                        scope.kind(),
                        existing.map(|l| format!(" ({l})")).unwrap_or_default()
                    ),
                );
                return;
            }
            Ok(LimitWrite::Missing) => {}
            Err(e) => {
                data_error(&mut resp.diagnostics, "Cannot write the limit", &e, &stack);
                return;
            }
        }
        state.set("namespace_id", namespace_id.into());
        state.set("scope", scope.kind().into());
        state.set("id", limit_id(&state).to_string().into());
        resp.new_state = state;
    }

    async fn read(&self, req: &ReadRequest<'_, AwsClients>, resp: &mut StateResponse) {
        let mut state = req.current_state.clone();
        let stack = str_attr(&state, "stack").unwrap_or_default().to_string();
        let namespace = str_attr(&state, "namespace").unwrap_or_default().to_string();
        let namespace_id = str_attr(&state, "namespace_id").unwrap_or_default().to_string();
        let name = str_attr(&state, "name").unwrap_or_default().to_string();
        let data = Table::new(req.provider.dynamodb.clone(), stack.as_str());
        let readout = match data
            .read_limit(&namespace, &namespace_id, &scope_of(&state).level())
            .await
        {
            Ok(readout) => readout,
            Err(zae_limiter::Error::TableNotFound { .. }) => {
                resp.new_state = Value::Null;
                return;
            }
            Err(e) => {
                resp.new_state = req.current_state.clone();
                data_error(&mut resp.diagnostics, "Cannot read the limit", &e, &stack);
                return;
            }
        };
        let namespace_live = readout
            .namespace
            .as_ref()
            .is_some_and(|ns| ns.id == namespace_id && ns.status.resolves());
        let stored = match readout.config_item.as_ref().map(|item| stored_limit(item, &name)) {
            Some(Ok(stored)) => stored,
            None => None,
            Some(Err(e)) => {
                resp.new_state = req.current_state.clone();
                resp.diagnostics
                    .attribute_error(AttributePath::root("name"), "Cannot read the limit", e.to_string());
                return;
            }
        };
        let Some(stored) = stored.filter(|_| namespace_live) else {
            tracing::info!(%stack, %namespace, limit = %name, "limit no longer exists");
            resp.new_state = Value::Null;
            return;
        };
        if !stored.unmanaged.is_empty() {
            resp.diagnostics.attribute_warning(
                AttributePath::root("name"),
                "Limit has settings Terraform does not manage",
                format!(
                    "Limit {name:?} also carries {} (set outside Terraform); they are left as they are.",
                    stored.unmanaged.join(", ")
                ),
            );
        }
        let l = &stored.limit;
        set_forms(&mut state, l.capacity(), l.refill_amount(), l.refill_period_seconds());
        state.set("scope", scope_of(&state).kind().into());
        state.set("id", limit_id(&state).to_string().into());
        resp.new_state = state;
    }

    async fn update(&self, req: &UpdateRequest<'_, AwsClients>, resp: &mut StateResponse) {
        let state = req.planned_state.clone();
        let stack = str_attr(&state, "stack").unwrap_or_default().to_string();
        let namespace_id = str_attr(req.prior_state, "namespace_id")
            .unwrap_or_default()
            .to_string();
        let limit = match limit_of(&state) {
            Ok(limit) => limit,
            Err(e) => {
                resp.diagnostics
                    .attribute_error(AttributePath::root("name"), "Invalid limit", e);
                return;
            }
        };
        let level = scope_of(&state).level();
        let principal = audit_principal(req.provider).await;
        let admin = Table::new(req.provider.dynamodb.clone(), stack.as_str()).namespace(&namespace_id);
        let mut written = admin.update_limit(&level, &limit, principal.as_deref()).await;
        if matches!(written, Ok(LimitWrite::Missing)) {
            // Deleted since the last refresh: write it again.
            written = admin.create_limit(&level, &limit, principal.as_deref()).await;
        }
        match written {
            Ok(LimitWrite::Written) => resp.new_state = state,
            Ok(other) => resp.diagnostics.attribute_error(
                AttributePath::root("name"),
                "Limit changed outside Terraform during apply",
                format!("The limit could not be written ({other:?}); run terraform apply again."),
            ),
            Err(e) => data_error(&mut resp.diagnostics, "Cannot update the limit", &e, &stack),
        }
    }

    async fn delete(&self, req: &DeleteRequest<'_, AwsClients>, resp: &mut DeleteResponse) {
        let prior = req.prior_state;
        let stack = str_attr(prior, "stack").unwrap_or_default();
        let namespace_id = str_attr(prior, "namespace_id").unwrap_or_default();
        let name = str_attr(prior, "name").unwrap_or_default();
        let principal = audit_principal(req.provider).await;
        let removed = Table::new(req.provider.dynamodb.clone(), stack)
            .namespace(namespace_id)
            .remove_limit(&scope_of(prior).level(), name, principal.as_deref())
            .await;
        match removed {
            Ok(_) | Err(zae_limiter::Error::TableNotFound { .. }) => {}
            Err(e) => data_error(&mut resp.diagnostics, "Cannot remove the limit", &e, stack),
        }
    }

    fn importer(&self) -> Option<&dyn ImportState<AwsClients>> {
        Some(self)
    }

    fn identity(&self) -> Option<&dyn ResourceIdentity> {
        Some(self)
    }
}

impl ResourceIdentity for LimitResource {
    fn attributes(&self) -> Vec<IdentityAttribute> {
        let attr = |name, required, description| IdentityAttribute {
            name,
            ty: Type::String,
            required_for_import: required,
            optional_for_import: !required,
            description,
        };
        vec![
            attr("stack", true, "Stack name."),
            attr("namespace", true, "Namespace name."),
            attr(
                "resource",
                false,
                "Resource (omitted for system scope and entity-wide limits).",
            ),
            attr("entity_id", false, "Entity id (entity scope only)."),
            attr("name", true, "Limit name."),
        ]
    }

    fn identity_of(&self, state: &Value) -> Value {
        let mut identity = Value::Object(BTreeMap::new());
        for attr in ["stack", "namespace", "resource", "entity_id", "name"] {
            identity.set(attr, state.get(attr).clone());
        }
        identity
    }
}

#[async_trait]
impl ImportState<AwsClients> for LimitResource {
    async fn import(&self, req: &ImportRequest<'_, AwsClients>, resp: &mut StateResponse) {
        let id = match req.identity {
            Some(identity) => LimitId {
                stack: str_attr(identity, "stack").unwrap_or_default().to_string(),
                namespace: str_attr(identity, "namespace").unwrap_or_default().to_string(),
                scope: scope_of(identity),
                name: str_attr(identity, "name").unwrap_or_default().to_string(),
            },
            None => match LimitId::parse(req.id.trim()) {
                Ok(id) => id,
                Err(e) => {
                    resp.diagnostics.error("Invalid import id", e);
                    return;
                }
            },
        };
        let data = Table::new(req.provider.dynamodb.clone(), id.stack.as_str());
        let namespace_id = match resolve_namespace(&data, &id.stack, &id.namespace).await {
            Ok(ns) => ns,
            Err(d) => {
                resp.diagnostics.extend(d);
                return;
            }
        };
        let mut state = empty_object(&schema().block);
        state.set("stack", id.stack.clone().into());
        state.set("namespace", id.namespace.clone().into());
        state.set("resource", id.scope.resource().map(str::to_string).into());
        state.set("entity_id", id.scope.entity_id().map(str::to_string).into());
        state.set("scope", id.scope.kind().into());
        state.set("name", id.name.clone().into());
        state.set("namespace_id", namespace_id.into());
        state.set("id", id.to_string().into());
        resp.new_state = state;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut v = empty_object(&schema().block);
        v.set("stack", "zae-demo".into());
        v.set("namespace", "tenant-alpha".into());
        v.set("name", "rpm".into());
        for (k, x) in pairs {
            v.set(k, x.clone());
        }
        v
    }

    fn errors_at(config: &Value) -> Vec<String> {
        let mut d = Diagnostics::new();
        validate(config, &mut d);
        d.iter()
            .filter_map(|x| x.attribute.as_ref().map(ToString::to_string))
            .collect()
    }

    #[test]
    fn rate_form_computes_the_stored_form() {
        let c = config(&[
            ("rate", Value::int(100)),
            ("per", "minute".into()),
            ("burst", Value::int(150)),
        ]);
        assert!(errors_at(&c).is_empty());
        assert_eq!(stored_form(&c), Some((150, 100, 60)));
        let c = config(&[("rate", Value::int(10)), ("per", "second".into())]);
        assert_eq!(stored_form(&c), Some((10, 10, 1)));
        let c = config(&[("rate", Value::unknown()), ("per", "second".into())]);
        assert_eq!(stored_form(&c), None);
    }

    #[test]
    fn forms_are_mutually_exclusive_and_complete() {
        let c = config(&[
            ("rate", Value::int(1)),
            ("per", "minute".into()),
            ("capacity", Value::int(5)),
        ]);
        assert_eq!(errors_at(&c), vec!["capacity"]);
        assert_eq!(errors_at(&config(&[("rate", Value::int(1))])), vec!["per"]);
        assert_eq!(errors_at(&config(&[("burst", Value::int(1))])), vec!["rate", "per"]);
        assert_eq!(
            errors_at(&config(&[
                ("capacity", Value::int(1)),
                ("refill_amount", Value::int(1))
            ])),
            vec!["refill_period_seconds"]
        );
        assert_eq!(errors_at(&config(&[])), vec!["rate"]);
    }

    #[test]
    fn numbers_follow_zae_limiter_bounds() {
        let c = config(&[("rate", Value::int(0)), ("per", "minute".into())]);
        assert_eq!(errors_at(&c), vec!["rate"]);
        let c = config(&[
            ("capacity", Value::int(MAX_TOKENS + 1)),
            ("refill_amount", Value::int(1)),
            ("refill_period_seconds", Value::int(MAX_PERIOD_SECONDS + 1)),
        ]);
        assert_eq!(errors_at(&c), vec!["capacity", "refill_period_seconds"]);
    }

    #[test]
    fn scope_conflicts_name_the_attribute() {
        let base = [("rate", Value::int(1)), ("per", Value::string("minute"))];
        let mut c = config(&base);
        c.set("scope", "system".into());
        c.set("resource", "gpt-4".into());
        assert_eq!(errors_at(&c), vec!["resource"]);
        let mut c = config(&base);
        c.set("scope", "entity".into());
        assert_eq!(errors_at(&c), vec!["entity_id"]);
        let mut c = config(&base);
        c.set("scope", "resource".into());
        c.set("resource", "gpt-4".into());
        c.set("entity_id", "k".into());
        assert_eq!(errors_at(&c), vec!["entity_id"]);
    }

    #[test]
    fn both_forms_appear_in_state() {
        let mut s = config(&[]);
        set_forms(&mut s, 150, 100, 60);
        assert_eq!(s.get("per"), &Value::string("minute"));
        assert_eq!(s.get("burst"), &Value::int(150));
        set_forms(&mut s, 5, 5, 120);
        assert!(s.get("per").is_null() && s.get("rate").is_null());
        assert_eq!(s.get("refill_period_seconds"), &Value::int(120));
    }

    #[test]
    fn default_resource_is_spelled_by_omission() {
        assert!(check_resource("_default_").unwrap_err().contains("omit"));
        assert!(check_resource("openai/gpt-4:8b").is_ok());
    }
}
