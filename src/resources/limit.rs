//! `zae_limiter_limit`: one token-bucket limit of a namespace, at system, resource or
//! entity scope (wire-format §3.4–§3.5, §4).
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

use async_trait::async_trait;
use zae_limiter::Limit;
use zae_limiter::admin::{LimitWrite, Table, stored_limit};
use zae_limiter::limit::{MAX_PERIOD_SECONDS, MAX_TOKENS};
use zae_limiter::schema::keys::DEFAULT_RESOURCE;

use super::common::{audit_principal, data_error, error_diag, identity_string, known};
use super::limit_id::{LimitId, Scope};
use super::namespace::namespace_name_validator;
use crate::aws::AwsClients;
use crate::framework::validator::{OneOf, StringCheck};
use crate::framework::{
    Attribute, Block, Diagnostics, IdentityAttribute, ImportId, Known, ModelResource, Outcome, Partial, Plan, Private,
    RequiresReplace, ResourceModel, Schema, UseStateForUnknown,
};
use crate::model;

/// Resource type name.
pub const TYPE_NAME: &str = "zae_limiter_limit";

/// `per` values and their length in seconds.
pub const PERIODS: [(&str, i64); 4] = [("second", 1), ("minute", 60), ("hour", 3600), ("day", 86_400)];

const PER_VALUES: [&str; 4] = ["second", "minute", "hour", "day"];

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
            .description(
                "`STACK/NAMESPACE/SCOPE/NAME` with SCOPE `system`, `resource:RESOURCE` or \
                `entity:ENTITY_ID:RESOURCE` (`_default_` for every resource); `%`, `/` and `:` inside \
                namespace, resource and entity id are written `%25`, `%2F`, `%3A`. Also the import id.",
            )
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
            "The resource the limit applies to (e.g. `gpt-4`). Omit for every resource: at system scope \
                without `entity_id`, or the entity's `_default_` with it.",
        )
        .optional()
        .validator(StringCheck::new(
            "Invalid resource",
            "a zae-limiter resource name",
            check_resource,
        )),
    )
    .attribute(
        replacing_string(
            "entity_id",
            "The entity (e.g. an API key) for an entity-level limit. Omit for a resource or system default.",
        )
        .optional()
        .validator(StringCheck::new("Invalid entity id", "a zae-limiter entity id", |s| {
            zae_limiter::validate::validate_identifier(s, "entity_id").map_err(|e| e.to_string())
        })),
    )
    .attribute(
        Attribute::string("scope")
            .optional()
            .computed()
            .description(
                "`system`, `resource` or `entity`; follows from `resource` and `entity_id`. Setting \
                it makes a mismatch an error.",
            )
            .validator(OneOf(&["system", "resource", "entity"]))
            .plan_modifier(RequiresReplace),
    )
    .attribute(
        replacing_string(
            "name",
            "Limit name, e.g. `rpm`: a letter, then letters, digits, `_`, `.` or `-` (64 at most); `wcu` is reserved.",
        )
        .required()
        .validator(StringCheck::new(
            "Invalid limit name",
            "a zae-limiter limit name",
            |s| zae_limiter::validate::validate_name(s, "name").map_err(|e| e.to_string()),
        )),
    )
    .attribute(whole_number(
        "rate",
        "Tokens added per `per` (the refill amount). With `per`; conflicts with the stored form.",
    ))
    .attribute(
        Attribute::string("per")
            .optional()
            .computed()
            .description("`second`, `minute`, `hour` or `day`: the refill period of `rate`.")
            .validator(OneOf(&PER_VALUES)),
    )
    .attribute(whole_number(
        "burst",
        "Bucket ceiling in tokens; defaults to `rate`. Same as `capacity`.",
    ))
    .attribute(whole_number(
        "capacity",
        "Stored form: bucket ceiling in tokens (zae-limiter's `l_{name}_cp`).",
    ))
    .attribute(whole_number(
        "refill_amount",
        "Stored form: tokens added per refill period (`l_{name}_ra`).",
    ))
    .attribute(whole_number(
        "refill_period_seconds",
        "Stored form: refill period in seconds (`l_{name}_rp`).",
    ))
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

model! {
    /// The state of a `zae_limiter_limit` (see [`schema`]).
    pub struct LimitModel, config LimitConfig, names LimitNames {
        /// `STACK/NAMESPACE/SCOPE/NAME`.
        pub id: Known<String>,
        /// Stack name.
        pub stack: String,
        /// Namespace name.
        pub namespace: String,
        /// Resource, for resource scope and per-resource entity limits.
        pub resource: Option<String>,
        /// Entity id, for entity scope.
        pub entity_id: Option<String>,
        /// `system`, `resource` or `entity`.
        pub scope: Known<String>,
        /// Limit name.
        pub name: String,
        /// Refill amount per `per`.
        pub rate: Known<i64>,
        /// `second`, `minute`, `hour` or `day`.
        pub per: Known<String>,
        /// Bucket ceiling (= capacity).
        pub burst: Known<i64>,
        /// Stored form: bucket ceiling.
        pub capacity: Known<i64>,
        /// Stored form: tokens per refill period.
        pub refill_amount: Known<i64>,
        /// Stored form: refill period in seconds.
        pub refill_period_seconds: Known<i64>,
        /// Opaque id of the namespace.
        pub namespace_id: Known<String>,
    }
}

model! {
    /// The identity of a `zae_limiter_limit`.
    pub struct LimitIdentity, config LimitIdentityConfig, names LimitIdentityNames {
        /// Stack name.
        pub stack: String,
        /// Namespace name.
        pub namespace: String,
        /// Resource (omitted for system scope and entity-wide limits).
        pub resource: Option<String>,
        /// Entity id (entity scope only).
        pub entity_id: Option<String>,
        /// Limit name.
        pub name: String,
    }
}

const NAMES: LimitNames = LimitModel::NAMES;

fn period_seconds(per: &str) -> Option<i64> {
    PERIODS.iter().find(|(p, _)| *p == per).map(|(_, s)| *s)
}

fn period_name(seconds: i64) -> Option<&'static str> {
    PERIODS.iter().find(|(_, s)| *s == seconds).map(|(p, _)| *p)
}

/// A limit in both forms the schema offers: `rate`/`per`/`burst` (null when the period
/// has no name) and the stored `capacity`/`refill_amount`/`refill_period_seconds`.
#[derive(Debug, Clone, PartialEq)]
struct Forms {
    rate: Known<i64>,
    per: Known<String>,
    burst: Known<i64>,
    capacity: Known<i64>,
    refill_amount: Known<i64>,
    refill_period_seconds: Known<i64>,
}

impl Forms {
    /// Both forms of `(capacity, refill_amount, period)`.
    fn of(capacity: i64, refill_amount: i64, period: i64) -> Forms {
        let named = period_name(period);
        Forms {
            rate: named.map(|_| refill_amount).into(),
            per: named.map(str::to_string).into(),
            burst: named.map(|_| capacity).into(),
            capacity: Known::Value(capacity),
            refill_amount: Known::Value(refill_amount),
            refill_period_seconds: Known::Value(period),
        }
    }
}

/// Writes both forms into a model or configuration view (they share these field types).
macro_rules! set_forms {
    ($target:expr, $forms:expr) => {{
        let forms: Forms = $forms;
        $target.rate = forms.rate;
        $target.per = forms.per;
        $target.burst = forms.burst;
        $target.capacity = forms.capacity;
        $target.refill_amount = forms.refill_amount;
        $target.refill_period_seconds = forms.refill_period_seconds;
    }};
}

impl LimitConfig {
    /// The scope, once `entity_id` and `resource` are known.
    fn scope(&self) -> Option<Scope> {
        if self.entity_id.is_unknown() || self.resource.is_unknown() {
            return None;
        }
        Some(Scope::of(self.entity_id.as_str(), self.resource.as_str()))
    }

    /// Whether the limit is given as `rate` per `per` (else in the stored form).
    fn uses_rate_form(&self) -> bool {
        self.rate.is_set() || self.per.is_set()
    }

    /// The stored form (capacity, refill amount, period) the configuration asks for;
    /// `None` while any input is unknown or missing.
    fn stored_form(&self) -> Option<(i64, i64, i64)> {
        if self.uses_rate_form() {
            let rate = *self.rate.value()?;
            let period = period_seconds(self.per.as_str()?)?;
            let capacity = match &self.burst {
                Known::Null => rate,
                burst => *burst.value()?,
            };
            Some((capacity, rate, period))
        } else {
            Some((
                *self.capacity.value()?,
                *self.refill_amount.value()?,
                *self.refill_period_seconds.value()?,
            ))
        }
    }

    /// The id, once every part of it is known.
    fn limit_id(&self) -> Option<LimitId> {
        Some(LimitId {
            stack: self.stack.as_str()?.to_string(),
            namespace: self.namespace.as_str()?.to_string(),
            scope: self.scope()?,
            name: self.name.as_str()?.to_string(),
        })
    }
}

impl LimitModel {
    fn scope(&self) -> Scope {
        Scope::of(self.entity_id.as_deref(), self.resource.as_deref())
    }

    fn limit_id(&self) -> LimitId {
        LimitId {
            stack: self.stack.clone(),
            namespace: self.namespace.clone(),
            scope: self.scope(),
            name: self.name.clone(),
        }
    }

    /// The limit the (planned) state describes, in the stored form.
    fn limit(&self) -> Result<Limit, Diagnostics> {
        let invalid = |detail: String| error_diag(Some(NAMES.name), "Invalid limit", detail);
        let known = |value: &Known<i64>, attr: &str| {
            value
                .value()
                .copied()
                .ok_or_else(|| invalid(format!("{attr} is not known")))
        };
        let capacity = known(&self.capacity, NAMES.capacity)?;
        let refill_amount = known(&self.refill_amount, NAMES.refill_amount)?;
        let period = known(&self.refill_period_seconds, NAMES.refill_period_seconds)?;
        Limit::custom(&self.name, capacity, refill_amount, period).map_err(|e| invalid(e.to_string()))
    }

    /// The opaque namespace id recorded in state.
    fn recorded_namespace_id(&self) -> Result<&str, Diagnostics> {
        known(&self.namespace_id, NAMES.namespace_id).map(String::as_str)
    }

    /// Records where the limit was written: namespace id, scope and id.
    fn written_in(mut self, namespace_id: String) -> LimitModel {
        self.namespace_id = Known::Value(namespace_id);
        self.scope = Known::Value(self.scope().kind().to_string());
        self.id = Known::Value(self.limit_id().to_string());
        self
    }
}

/// Checks one whole-number argument: a known value must be positive and in range.
fn check_number(value: &Known<i64>, attr: &str, max: i64, diags: &mut Diagnostics) {
    let Some(&n) = value.value() else { return };
    if n <= 0 {
        diags.extend(error_diag(
            Some(attr),
            "Value must be positive",
            format!(
                "{attr} must be a whole number greater than 0, got {n}. A limit must refill (quotas are not \
                    supported here)."
            ),
        ));
    } else if n > max {
        diags.extend(error_diag(
            Some(attr),
            "Value too large",
            format!("{attr} must be at most {max} (zae-limiter's bound), got {n}."),
        ));
    }
}

/// The names of the arguments of each form that are set.
fn given_forms(config: &LimitConfig) -> (Vec<&'static str>, Vec<&'static str>) {
    let set = |pairs: [(&'static str, bool); 3]| pairs.into_iter().filter(|(_, s)| *s).map(|(n, _)| n).collect();
    let rate_form = set([
        (NAMES.rate, config.rate.is_set()),
        (NAMES.per, config.per.is_set()),
        (NAMES.burst, config.burst.is_set()),
    ]);
    let stored = set([
        (NAMES.capacity, config.capacity.is_set()),
        (NAMES.refill_amount, config.refill_amount.is_set()),
        (NAMES.refill_period_seconds, config.refill_period_seconds.is_set()),
    ]);
    (rate_form, stored)
}

/// Exactly one form, complete.
fn validate_forms(config: &LimitConfig, diags: &mut Diagnostics) {
    let (rate_form, stored) = given_forms(config);
    let mut error = |attr: &str, summary: &str, detail: String| diags.extend(error_diag(Some(attr), summary, detail));
    if !rate_form.is_empty() && !stored.is_empty() {
        for attr in &stored {
            error(
                attr,
                "Conflicting limit arguments",
                format!(
                    "{attr} conflicts with {}: give the limit either as rate + per (+ burst), or in the \
                        stored form capacity + refill_amount + refill_period_seconds.",
                    rate_form.join(", ")
                ),
            );
        }
    } else if !rate_form.is_empty() {
        for (required, set) in [(NAMES.rate, config.rate.is_set()), (NAMES.per, config.per.is_set())] {
            if !set {
                error(
                    required,
                    "Missing limit argument",
                    format!("{required} is required with {}.", rate_form.join(", ")),
                );
            }
        }
    } else if !stored.is_empty() {
        for required in [NAMES.capacity, NAMES.refill_amount, NAMES.refill_period_seconds] {
            if !stored.contains(&required) {
                error(
                    required,
                    "Missing limit argument",
                    format!(
                        "The stored form needs capacity, refill_amount and refill_period_seconds; {required} \
                            is missing."
                    ),
                );
            }
        }
    } else {
        error(
            NAMES.rate,
            "Missing limit arguments",
            "Give rate and per (and optionally burst), or capacity, refill_amount and refill_period_seconds.".into(),
        );
    }
}

/// `scope`, when given, must agree with `resource` and `entity_id`.
fn validate_scope(config: &LimitConfig, diags: &mut Diagnostics) {
    let Some(scope) = config.scope.as_str() else { return };
    let entity = config.entity_id.is_set();
    let resource = config.resource.is_set();
    let conflict = |attr: &str, detail: &str| error_diag(Some(attr), "Conflicting scope arguments", detail);
    let found = match scope {
        "system" if entity => Some(conflict(
            NAMES.entity_id,
            "scope = \"system\" cannot have an entity_id.",
        )),
        "system" if resource => Some(conflict(
            NAMES.resource,
            "scope = \"system\" applies to every resource: omit resource (or use scope = \"resource\").",
        )),
        "resource" if entity => Some(conflict(
            NAMES.entity_id,
            "scope = \"resource\" is a resource default: omit entity_id (or use scope = \"entity\").",
        )),
        "resource" if !resource => Some(conflict(NAMES.resource, "scope = \"resource\" needs a resource.")),
        "entity" if !entity => Some(conflict(NAMES.entity_id, "scope = \"entity\" needs an entity_id.")),
        _ => None,
    };
    if let Some(d) = found {
        diags.extend(d);
    }
}

/// zae-limiter's limit rules (wire-format §4.3) and this resource's argument rules, at plan time.
fn validate(config: &LimitConfig, diags: &mut Diagnostics) {
    validate_forms(config, diags);
    for (value, attr) in [
        (&config.rate, NAMES.rate),
        (&config.burst, NAMES.burst),
        (&config.capacity, NAMES.capacity),
        (&config.refill_amount, NAMES.refill_amount),
    ] {
        check_number(value, attr, MAX_TOKENS, diags);
    }
    check_number(
        &config.refill_period_seconds,
        NAMES.refill_period_seconds,
        MAX_PERIOD_SECONDS,
        diags,
    );
    validate_scope(config, diags);
}

/// A computed argument left null in configuration is unknown until its inputs are known.
fn unknown_unless_configured<T>(configured: &Known<T>, planned: &mut Known<T>) {
    if configured.is_null() {
        *planned = Known::Unknown;
    }
}

/// The plan: the scope, both forms of the limit and the id, as far as they are known.
fn plan_limit(config: &LimitConfig, planned: &mut LimitConfig) {
    if let Some(scope) = config.scope() {
        planned.scope = Known::Value(scope.kind().to_string());
    }
    match config.stored_form() {
        Some((capacity, refill_amount, period)) => set_forms!(planned, Forms::of(capacity, refill_amount, period)),
        None => {
            // Computed from arguments not known yet: unknown unless configured.
            unknown_unless_configured(&config.rate, &mut planned.rate);
            unknown_unless_configured(&config.per, &mut planned.per);
            unknown_unless_configured(&config.burst, &mut planned.burst);
            unknown_unless_configured(&config.capacity, &mut planned.capacity);
            unknown_unless_configured(&config.refill_amount, &mut planned.refill_amount);
            unknown_unless_configured(&config.refill_period_seconds, &mut planned.refill_period_seconds);
        }
    }
    if let Some(id) = config.limit_id() {
        planned.id = Known::Value(id.to_string());
    }
}

/// Whether the planned limit is stored (`None` when that cannot be read).
async fn limit_exists(data: &Table, plan: &LimitModel, namespace_id: &str) -> Option<bool> {
    let readout = data
        .read_limit(&plan.namespace, namespace_id, &plan.scope().level())
        .await
        .ok()?;
    match readout.config_item {
        Some(item) => stored_limit(&item, &plan.name).ok().map(|stored| stored.is_some()),
        None => Some(false),
    }
}

/// The id of the active namespace `name`, or a diagnostic at `namespace` (unknown or
/// soft-deleted) or `stack`.
async fn resolve_namespace(data: &Table, stack: &str, name: &str) -> Result<String, Diagnostics> {
    let registry_error =
        |e: zae_limiter::Error| data_error(&e, "Cannot read the namespace registry", NAMES.stack, stack);
    let verified = match data.verified_namespace(name).await {
        Err(e @ zae_limiter::Error::RegistryMismatch { .. }) => {
            return Err(error_diag(
                Some(NAMES.namespace),
                "Namespace registry records disagree",
                e,
            ));
        }
        other => other.map_err(registry_error)?,
    };
    if let Some(record) = verified
        && record.status.resolves()
    {
        return Ok(record.id);
    }
    let deleted = data.find_deleted_namespaces(name).await.map_err(registry_error)?;
    let detail = match deleted.first() {
        Some(record) => format!(
            "Namespace {name:?} of stack {stack:?} is soft-deleted (id {}). Limits cannot be set on a deleted \
                namespace: recover it first (recover = true on its zae_limiter_namespace).",
            record.id
        ),
        None => format!("Stack {stack:?} has no namespace named {name:?}. Register it first (zae_limiter_namespace)."),
    };
    Err(error_diag(Some(NAMES.namespace), "Unknown namespace", detail))
}

impl ResourceModel for LimitResource {
    type Model = LimitModel;
    type Identity = LimitIdentity;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn identity_attributes(&self) -> Vec<IdentityAttribute> {
        vec![
            identity_string("stack", true, "Stack name."),
            identity_string("namespace", true, "Namespace name."),
            identity_string(
                "resource",
                false,
                "Resource (omitted for system scope and entity-wide limits).",
            ),
            identity_string("entity_id", false, "Entity id (entity scope only)."),
            identity_string("name", true, "Limit name."),
        ]
    }

    fn identity(&self, state: &LimitModel) -> LimitIdentity {
        LimitIdentity {
            stack: state.stack.clone(),
            namespace: state.namespace.clone(),
            resource: state.resource.clone(),
            entity_id: state.entity_id.clone(),
            name: state.name.clone(),
        }
    }
}

#[async_trait]
impl ModelResource<AwsClients> for LimitResource {
    async fn validate(&self, config: &LimitConfig, diags: &mut Diagnostics) {
        validate(config, diags);
    }

    async fn plan(&self, plan: &mut Plan<'_, AwsClients, LimitModel>) {
        if let Some(planned) = plan.planned.as_mut() {
            plan_limit(&plan.config, planned);
        }
    }

    /// Create: resolve the namespace, then add this limit to its scope's config item.
    async fn create(&self, clients: &AwsClients, plan: LimitModel) -> Outcome<LimitModel> {
        let data = Table::new(clients.dynamodb.clone(), plan.stack.as_str());
        let namespace_id = resolve_namespace(&data, &plan.stack, &plan.namespace).await?;
        let limit = plan.limit()?;
        let scope = plan.scope();
        let principal = audit_principal(clients).await;
        let written = match data
            .namespace(&namespace_id)
            .create_limit(&scope.level(), &limit, principal.as_deref())
            .await
        {
            Ok(written) => written,
            Err(e) => {
                let diags = data_error(&e, "Cannot write the limit", NAMES.stack, &plan.stack);
                // The limit may exist although a later write (audit, registry) failed:
                // then record it, so it is not orphaned; read reconciles either way.
                return Err(match limit_exists(&data, &plan, &namespace_id).await {
                    Some(false) => diags.into(),
                    Some(true) | None => Partial::keeping(plan.written_in(namespace_id), diags),
                });
            }
        };
        if let LimitWrite::AlreadyExists(existing) = written {
            let detail = format!(
                "Namespace {:?} already has limit {:?} at {} scope{}. Import it instead: terraform import <address> {}",
                plan.namespace,
                limit.name(),
                scope.kind(),
                existing.map(|l| format!(" ({l})")).unwrap_or_default(),
                plan.limit_id()
            );
            return Err(error_diag(Some(NAMES.name), "Limit already exists", detail).into());
        }
        Ok(plan.written_in(namespace_id))
    }

    /// Read: the namespace's forward record and the config item, in one request. A limit
    /// whose namespace is gone or re-registered is gone too.
    async fn read(
        &self,
        clients: &AwsClients,
        state: LimitModel,
        _private: &mut Private,
        warnings: &mut Diagnostics,
    ) -> Result<Option<LimitModel>, Diagnostics> {
        let namespace_id = state.recorded_namespace_id()?.to_string();
        let data = Table::new(clients.dynamodb.clone(), state.stack.as_str());
        let readout = match data
            .read_limit(&state.namespace, &namespace_id, &state.scope().level())
            .await
        {
            Ok(readout) => readout,
            Err(zae_limiter::Error::TableNotFound { .. }) => return Ok(None),
            Err(e) => return Err(data_error(&e, "Cannot read the limit", NAMES.stack, &state.stack)),
        };
        let namespace_live = readout
            .namespace
            .as_ref()
            .is_some_and(|ns| ns.id == namespace_id && ns.status.resolves());
        let stored = match &readout.config_item {
            Some(item) => {
                stored_limit(item, &state.name).map_err(|e| error_diag(Some(NAMES.name), "Cannot read the limit", e))?
            }
            None => None,
        };
        let Some(stored) = stored.filter(|_| namespace_live) else {
            tracing::info!(stack = %state.stack, namespace = %state.namespace, limit = %state.name, "limit no \
                longer exists");
            return Ok(None);
        };
        if !stored.unmanaged.is_empty() {
            warnings.attribute_warning(
                crate::framework::AttributePath::root(NAMES.name),
                "Limit has settings Terraform does not manage",
                format!(
                    "Limit {:?} also carries {} (set outside Terraform); they are left as they are.",
                    state.name,
                    stored.unmanaged.join(", ")
                ),
            );
        }
        let mut state = state;
        let l = &stored.limit;
        set_forms!(
            state,
            Forms::of(l.capacity(), l.refill_amount(), l.refill_period_seconds())
        );
        Ok(Some(state.written_in(namespace_id)))
    }

    /// Update: rewrite this limit's attributes (again, when deleted since the last refresh).
    async fn update(&self, clients: &AwsClients, prior: LimitModel, plan: LimitModel) -> Outcome<LimitModel> {
        let namespace_id = prior.recorded_namespace_id()?.to_string();
        let limit = plan.limit()?;
        let level = plan.scope().level();
        let principal = audit_principal(clients).await;
        let admin = Table::new(clients.dynamodb.clone(), plan.stack.as_str()).namespace(&namespace_id);
        let failed = |e: zae_limiter::Error| data_error(&e, "Cannot update the limit", NAMES.stack, &plan.stack);
        let mut written = admin
            .update_limit(&level, &limit, principal.as_deref())
            .await
            .map_err(failed)?;
        if written == LimitWrite::Missing {
            written = admin
                .create_limit(&level, &limit, principal.as_deref())
                .await
                .map_err(failed)?;
        }
        if written != LimitWrite::Written {
            let detail = format!("The limit could not be written ({written:?}); run terraform apply again.");
            return Err(error_diag(Some(NAMES.name), "Limit changed outside Terraform during apply", detail).into());
        }
        Ok(plan.written_in(namespace_id))
    }

    /// Delete: remove this limit's attributes; a missing stack means nothing is left.
    async fn delete(&self, clients: &AwsClients, prior: LimitModel) -> Result<(), Diagnostics> {
        let namespace_id = prior.recorded_namespace_id()?;
        let principal = audit_principal(clients).await;
        let removed = Table::new(clients.dynamodb.clone(), prior.stack.as_str())
            .namespace(namespace_id)
            .remove_limit(&prior.scope().level(), &prior.name, principal.as_deref())
            .await;
        match removed {
            Ok(_) | Err(zae_limiter::Error::TableNotFound { .. }) => Ok(()),
            Err(e) => Err(data_error(&e, "Cannot remove the limit", NAMES.stack, &prior.stack)),
        }
    }

    /// Import by `STACK/NAMESPACE/SCOPE/NAME` or by identity; read completes the state.
    async fn import(&self, clients: &AwsClients, id: ImportId<'_, LimitIdentity>) -> Result<LimitModel, Diagnostics> {
        let id = match id {
            ImportId::Identity(identity) => LimitId {
                scope: Scope::of(identity.entity_id.as_deref(), identity.resource.as_deref()),
                stack: identity.stack,
                namespace: identity.namespace,
                name: identity.name,
            },
            ImportId::Text(text) => LimitId::parse(text).map_err(|e| error_diag(None, "Invalid import id", e))?,
        };
        let data = Table::new(clients.dynamodb.clone(), id.stack.as_str());
        let namespace_id = resolve_namespace(&data, &id.stack, &id.namespace).await?;
        let imported = LimitModel {
            resource: id.scope.resource().map(str::to_string),
            entity_id: id.scope.entity_id().map(str::to_string),
            stack: id.stack,
            namespace: id.namespace,
            name: id.name,
            ..LimitModel::default()
        };
        Ok(imported.written_in(namespace_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::typed::check_agreement;

    fn known<T>(value: T) -> Known<T> {
        Known::Value(value)
    }

    fn config() -> LimitConfig {
        LimitConfig {
            stack: known("zae-demo".into()),
            namespace: known("tenant-alpha".into()),
            name: known("rpm".into()),
            ..LimitConfig::default()
        }
    }

    fn rate_config(rate: i64, per: &str) -> LimitConfig {
        LimitConfig {
            rate: known(rate),
            per: known(per.into()),
            ..config()
        }
    }

    fn errors_at(config: &LimitConfig) -> Vec<String> {
        let mut d = Diagnostics::new();
        validate(config, &mut d);
        d.iter()
            .filter_map(|x| x.attribute.as_ref().map(ToString::to_string))
            .collect()
    }

    #[test]
    fn the_models_agree_with_the_schemas() {
        check_agreement(&LimitResource).unwrap();
    }

    #[test]
    fn rate_form_computes_the_stored_form() {
        let c = LimitConfig {
            burst: known(150),
            ..rate_config(100, "minute")
        };
        assert!(errors_at(&c).is_empty());
        assert_eq!(c.stored_form(), Some((150, 100, 60)));
        assert_eq!(rate_config(10, "second").stored_form(), Some((10, 10, 1)));
        let c = LimitConfig {
            rate: Known::Unknown,
            ..rate_config(1, "second")
        };
        assert_eq!(c.stored_form(), None);
    }

    #[test]
    fn forms_are_mutually_exclusive_and_complete() {
        let c = LimitConfig {
            capacity: known(5),
            ..rate_config(1, "minute")
        };
        assert_eq!(errors_at(&c), vec!["capacity"]);
        let rate_only = LimitConfig {
            rate: known(1),
            ..config()
        };
        assert_eq!(errors_at(&rate_only), vec!["per"]);
        let burst_only = LimitConfig {
            burst: known(1),
            ..config()
        };
        assert_eq!(errors_at(&burst_only), vec!["rate", "per"]);
        let two_of_three = LimitConfig {
            capacity: known(1),
            refill_amount: known(1),
            ..config()
        };
        assert_eq!(errors_at(&two_of_three), vec!["refill_period_seconds"]);
        assert_eq!(errors_at(&config()), vec!["rate"]);
    }

    #[test]
    fn numbers_follow_zae_limiter_bounds() {
        assert_eq!(errors_at(&rate_config(0, "minute")), vec!["rate"]);
        let c = LimitConfig {
            capacity: known(MAX_TOKENS + 1),
            refill_amount: known(1),
            refill_period_seconds: known(MAX_PERIOD_SECONDS + 1),
            ..config()
        };
        assert_eq!(errors_at(&c), vec!["capacity", "refill_period_seconds"]);
    }

    #[test]
    fn scope_conflicts_name_the_attribute() {
        let c = LimitConfig {
            scope: known("system".into()),
            resource: known("gpt-4".into()),
            ..rate_config(1, "minute")
        };
        assert_eq!(errors_at(&c), vec!["resource"]);
        let c = LimitConfig {
            scope: known("entity".into()),
            ..rate_config(1, "minute")
        };
        assert_eq!(errors_at(&c), vec!["entity_id"]);
        let c = LimitConfig {
            scope: known("resource".into()),
            resource: known("gpt-4".into()),
            entity_id: known("k".into()),
            ..rate_config(1, "minute")
        };
        assert_eq!(errors_at(&c), vec!["entity_id"]);
        let unknown_resource = LimitConfig {
            scope: known("resource".into()),
            resource: Known::Unknown,
            ..rate_config(1, "minute")
        };
        assert!(errors_at(&unknown_resource).is_empty());
    }

    #[test]
    fn both_forms_appear_in_state() {
        let mut s = LimitModel::default();
        set_forms!(s, Forms::of(150, 100, 60));
        assert_eq!(s.per, known("minute".to_string()));
        assert_eq!(s.burst, known(150));
        set_forms!(s, Forms::of(5, 5, 120));
        assert!(s.per.is_null() && s.rate.is_null());
        assert_eq!(s.refill_period_seconds, known(120));
    }

    #[test]
    fn plans_show_both_forms_and_the_id_once_known() {
        let c = LimitConfig {
            resource: known("gpt-4".into()),
            ..rate_config(100, "minute")
        };
        let mut planned = c.clone();
        plan_limit(&c, &mut planned);
        assert_eq!(planned.capacity, known(100));
        assert_eq!(planned.scope, known("resource".to_string()));
        assert_eq!(
            planned.id,
            known("zae-demo/tenant-alpha/resource:gpt-4/rpm".to_string())
        );
        let c = LimitConfig {
            rate: Known::Unknown,
            entity_id: Known::Unknown,
            ..rate_config(1, "minute")
        };
        let mut planned = c.clone();
        plan_limit(&c, &mut planned);
        assert!(planned.capacity.is_unknown() && planned.burst.is_unknown());
        assert!(planned.rate.is_unknown() && planned.per == known("minute".to_string()));
        assert!(planned.id.is_null() && planned.scope.is_null());
    }

    #[test]
    fn default_resource_is_spelled_by_omission() {
        assert!(check_resource("_default_").unwrap_err().contains("omit"));
        assert!(check_resource("openai/gpt-4:8b").is_ok());
    }
}
