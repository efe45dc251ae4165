//! One limit at a time: set, change, read or remove a single limit's composite attributes
//! (`l_{name}_cp`/`_ra`/`_rp`, wire-format §3.5) in the shared config item of its level, without
//! touching the other limits on that item.
//!
//! zae-limiter's own setters replace the whole config item (`PutItem`). Tools that manage
//! each limit separately (the Terraform provider's `zae_limiter_limit`) need writers that
//! cannot overwrite a neighbour's limit when two run at once: every write here is an
//! `UpdateItem` that sets or removes only the attributes of one limit, conditioned on that
//! limit's presence. The item's other attributes, the registries (§3.6) and the audit
//! events (§3.10) come out as zae-limiter writes them:
//!
//! * A config item created by [`NamespaceAdmin::create_limit`] holds exactly the attributes
//!   zae-limiter's full-replace `PutItem` would write for that level.
//! * Resource level: the resource registry `ADD` (as `set_resource_defaults`).
//! * Entity level: the item is created in a `TransactWriteItems` with the entity-config
//!   registry increment (as `set_limits` and the entity flag writers), falling back to an
//!   update conditioned on the item still existing (else the counted create is retried);
//!   the entity's existing buckets are re-parameterised.
//! * Every change writes a `limits_set` / `limits_deleted` audit event naming the limit.
//! * Removing the last limit of an item that carries no flag deletes the item (with the
//!   registry decrement or `DELETE`) using a two-step protocol that a concurrent writer
//!   always wins: see [`NamespaceAdmin::remove_limit`].

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnValue, TransactWriteItem};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use super::hooks::PausePoint;
use super::{NamespaceAdmin, Table};
use crate::ddb::{
    CONFLICT_BASE, CONFLICT_RETRIES, built, cancellation_codes, first_item_condition_failed, is_condition_failed,
    jitter, non_empty, transact_update,
};
use crate::error::{Error, Result};
use crate::limit::Limit;
use crate::schema::attrs::{self, Item, get_s, n, s};
use crate::schema::audit::{AuditAction, limit_to_json};
use crate::schema::config::{
    self, ConfigLevel, FIELD_CP, FIELD_RA, FIELD_RP, FIELD_RSCHED, FIELD_SCHED, FIELD_SOFT, LIMIT_ATTR_PREFIX,
    WINDOW_LIMIT_ATTR_PREFIX, limit_attr, strip_capacity_field, window_limit_attr,
};
use crate::schema::keys::{gsi3_pk_entity_config, pk_table_system, sk_namespace};
use crate::schema::namespace::NamespaceRecord;
use crate::schema::registry;
use crate::schema::version_record::UpdateRequest;
use crate::validate::{validate_config_resource, validate_identifier, validate_name, validate_resource};

/// Re-sends of `UnprocessedKeys` in [`Table::read_limit`].
const BATCH_GET_RETRIES: u32 = 5;
/// Base of the backoff between those re-sends.
const BATCH_GET_BASE: Duration = Duration::from_millis(50);
/// Rounds of create-or-add on an entity config item; a round repeats only when a
/// concurrent writer deleted the item between the failed create and the add.
const ENTITY_ITEM_ATTEMPTS: usize = 8;

/// Per-limit fields this module does not manage; their presence is reported, never
/// changed.
const UNMANAGED_FIELDS: [&str; 3] = [FIELD_SCHED, FIELD_RSCHED, FIELD_SOFT];

/// Item attributes that keep a config item alive after its last limit is removed.
const ITEM_FLAGS: [&str; 5] = [
    attrs::DISABLED,
    attrs::CASCADE,
    attrs::ON_UNAVAILABLE,
    attrs::AUDIT_RETENTION_DAYS,
    attrs::SCHED_TZ,
];

/// What a conditional single-limit write found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitWrite {
    /// The limit was written.
    Written,
    /// `create_limit`: the limit already exists on the item, with these parameters.
    AlreadyExists(Option<Limit>),
    /// `update_limit`: the limit does not exist (any more).
    Missing,
}

/// One limit as stored on a config item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLimit {
    /// Its parameters.
    pub limit: Limit,
    /// Per-limit features set on it that this crate does not manage (`soft`, `sched`,
    /// `rsched`), present on the item and left alone.
    pub unmanaged: Vec<String>,
}

/// What [`Table::read_limit`] fetched in one request.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitReadout {
    /// The namespace's forward record (`None` when the name is not registered, e.g.
    /// soft-deleted).
    pub namespace: Option<NamespaceRecord>,
    /// The config item of the limit's level in the namespace id that was asked for.
    pub config_item: Option<Item>,
}

/// Decodes limit `name` of a config item (`None` when the item does not hold it).
///
/// A session-window (`w_`) or non-dripping limit of that name is [`Error::Unsupported`];
/// other limits of the item are not looked at.
pub fn stored_limit(item: &Item, name: &str) -> Result<Option<StoredLimit>> {
    let (pk, sk) = attrs::item_keys(item);
    let window_cp = window_limit_attr(name, FIELD_CP);
    if item.contains_key(&window_cp) {
        return Err(Error::Unsupported {
            feature: format!("session-window limit ({window_cp})"),
            location: format!("config item {pk} / {sk}"),
        });
    }
    let number = |field: &str| {
        attrs::try_get_n(item, &limit_attr(name, field)).map_err(|e| Error::CorruptItem {
            pk: pk.clone(),
            sk: sk.clone(),
            reason: format!("limit {name:?} cannot be reconstructed: {e}"),
        })
    };
    if !item.contains_key(&limit_attr(name, FIELD_CP)) {
        return Ok(None);
    }
    let capacity = number(FIELD_CP)?.unwrap_or(0);
    let refill_amount = number(FIELD_RA)?.unwrap_or(0);
    let period = number(FIELD_RP)?.unwrap_or(0);
    let unmanaged: Vec<String> = UNMANAGED_FIELDS
        .iter()
        .filter(|f| item.contains_key(&limit_attr(name, f)))
        .map(|f| (*f).to_string())
        .collect();
    if refill_amount == 0 && unmanaged.iter().any(|f| f == FIELD_RSCHED) {
        return Err(Error::Unsupported {
            feature: format!("calendar quota ({})", limit_attr(name, FIELD_RSCHED)),
            location: format!("config item {pk} / {sk}"),
        });
    }
    let limit = Limit::custom(name, capacity, refill_amount, period).map_err(|e| Error::CorruptItem {
        pk: pk.clone(),
        sk: sk.clone(),
        reason: format!("limit {name:?} cannot be reconstructed: {e}"),
    })?;
    Ok(Some(StoredLimit { limit, unmanaged }))
}

/// Whether the item holds any limit (`l_…_cp` or `w_…_cp`).
fn holds_limits(item: &Item) -> bool {
    item.keys().any(|k| {
        (k.starts_with(LIMIT_ATTR_PREFIX) || k.starts_with(WINDOW_LIMIT_ATTR_PREFIX))
            && strip_capacity_field(k).is_some()
    })
}

/// Whether the item holds limit `name` (`l_{name}_cp` or `w_{name}_cp`).
fn holds_limit(item: &Item, name: &str) -> bool {
    item.contains_key(&limit_attr(name, FIELD_CP)) || item.contains_key(&window_limit_attr(name, FIELD_CP))
}

/// Whether the item carries a flag that keeps it alive without limits.
fn holds_flags(item: &Item) -> bool {
    ITEM_FLAGS.iter().any(|f| item.contains_key(*f))
}

fn validate_level(level: &ConfigLevel) -> Result<()> {
    match level {
        ConfigLevel::System => Ok(()),
        ConfigLevel::Resource(r) => Ok(validate_resource(r)?),
        ConfigLevel::Entity { entity_id, resource } => {
            validate_identifier(entity_id, "entity_id")?;
            Ok(validate_config_resource(resource)?)
        }
    }
}

/// The `UpdateItem` that sets one limit and the level's identifying attributes (the same
/// attributes zae-limiter's `PutItem` writes, so a new item is indistinguishable).
fn set_limit_request(ns: &str, level: &ConfigLevel, limit: &Limit) -> UpdateRequest {
    let key = level.key(ns);
    let pk = get_s(&key, "PK").unwrap_or_default().to_string();
    let mut sets = vec![
        "#cv = :one".to_string(),
        "#cp = :cp".to_string(),
        "#ra = :ra".to_string(),
        "#rp = :rp".to_string(),
        "#g4pk = if_not_exists(#g4pk, :g4pk)".to_string(),
        "#g4sk = if_not_exists(#g4sk, :g4sk)".to_string(),
    ];
    let mut names = HashMap::from([
        ("#cv".to_string(), attrs::CONFIG_VERSION.to_string()),
        ("#cp".to_string(), limit_attr(limit.name(), FIELD_CP)),
        ("#ra".to_string(), limit_attr(limit.name(), FIELD_RA)),
        ("#rp".to_string(), limit_attr(limit.name(), FIELD_RP)),
        ("#g4pk".to_string(), attrs::GSI4PK.to_string()),
        ("#g4sk".to_string(), attrs::GSI4SK.to_string()),
    ]);
    let mut values = HashMap::from([
        (":one".to_string(), n(1)),
        (":cp".to_string(), n(limit.capacity())),
        (":ra".to_string(), n(limit.refill_amount())),
        (":rp".to_string(), n(limit.refill_period_seconds())),
        (":g4pk".to_string(), s(ns)),
        (":g4sk".to_string(), s(pk)),
    ]);
    match level {
        ConfigLevel::System => {}
        ConfigLevel::Resource(r) => {
            sets.push("#res = if_not_exists(#res, :res)".into());
            names.insert("#res".into(), attrs::RESOURCE.into());
            values.insert(":res".into(), s(r));
        }
        ConfigLevel::Entity { entity_id, resource } => {
            sets.push("#eid = if_not_exists(#eid, :eid)".into());
            sets.push("#res = if_not_exists(#res, :res)".into());
            sets.push("#g3pk = if_not_exists(#g3pk, :g3pk)".into());
            sets.push("#g3sk = if_not_exists(#g3sk, :eid)".into());
            names.insert("#eid".into(), attrs::ENTITY_ID.into());
            names.insert("#res".into(), attrs::RESOURCE.into());
            names.insert("#g3pk".into(), attrs::GSI3PK.into());
            names.insert("#g3sk".into(), attrs::GSI3SK.into());
            values.insert(":eid".into(), s(entity_id));
            values.insert(":res".into(), s(resource));
            values.insert(":g3pk".into(), s(gsi3_pk_entity_config(ns, resource)));
        }
    }
    UpdateRequest {
        key,
        update_expression: format!("SET {}", sets.join(", ")),
        condition_expression: None,
        names,
        values,
    }
}

/// Condition: limit `name` is not on the item under either prefix.
fn absent_condition(req: &mut UpdateRequest, name: &str) {
    req.names.insert("#wcp".into(), window_limit_attr(name, FIELD_CP));
    req.condition_expression = Some("attribute_not_exists(#cp) AND attribute_not_exists(#wcp)".into());
}

impl NamespaceAdmin {
    async fn send_update(
        &self,
        req: UpdateRequest,
        return_new: bool,
    ) -> std::result::Result<Option<Item>, UpdateFailure> {
        let out = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(req.key))
            .update_expression(req.update_expression)
            .set_condition_expression(req.condition_expression)
            .set_expression_attribute_names(non_empty(req.names))
            .set_expression_attribute_values(non_empty(req.values))
            .set_return_values(return_new.then_some(ReturnValue::AllNew))
            .send()
            .await;
        match out {
            Ok(out) => Ok(out.attributes),
            Err(err) if is_condition_failed(&err) => Err(UpdateFailure::Condition),
            Err(err) => Err(UpdateFailure::Other(Error::dynamo("UpdateItem", &self.table.name, err))),
        }
    }

    async fn get_item(&self, key: Item) -> Result<Option<Item>> {
        let out = self
            .table
            .client
            .get_item()
            .table_name(&self.table.name)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", &self.table.name, e))?;
        Ok(out.item)
    }

    async fn existing_limit(&self, level: &ConfigLevel, name: &str) -> Option<Limit> {
        match self.get_item(level.key(&self.ns)).await {
            Ok(Some(item)) => stored_limit(&item, name).ok().flatten().map(|s| s.limit),
            _ => None,
        }
    }

    /// Adds `limit` to the config item of `level`, creating the item (and its registry
    /// entry) when needed. Returns [`LimitWrite::AlreadyExists`] and changes nothing when
    /// a different limit of that name is already there. Writes a `limits_set` audit event.
    ///
    /// Idempotent: when the stored limit of that name equals `limit`, the create counts as
    /// done, since that is what a retry sees after the first attempt's response was lost.
    /// The registry and audit bookkeeping the first attempt never reached is finished.
    pub async fn create_limit(
        &self,
        level: &ConfigLevel,
        limit: &Limit,
        principal: Option<&str>,
    ) -> Result<LimitWrite> {
        match self.add_limit(level, limit, principal).await? {
            LimitWrite::AlreadyExists(Some(existing)) if existing == *limit => {
                info!(
                    namespace_id = %self.ns, level = ?level, limit = limit.name(),
                    "limit already stored with these parameters; finishing its create"
                );
                let item = self.get_item(level.key(&self.ns)).await?.unwrap_or_default();
                self.after_set(level, limit, item, principal).await?;
                Ok(LimitWrite::Written)
            }
            other => Ok(other),
        }
    }

    /// [`Self::create_limit`] without the idempotent retry.
    async fn add_limit(&self, level: &ConfigLevel, limit: &Limit, principal: Option<&str>) -> Result<LimitWrite> {
        validate_level(level)?;
        Self::check_principal(principal)?;
        let mut req = set_limit_request(&self.ns, level, limit);
        absent_condition(&mut req, limit.name());
        let new_item = match level {
            ConfigLevel::Entity { resource, .. } => {
                match self.add_to_entity_item(req, level, limit.name(), resource).await? {
                    Ok(item) => Some(item),
                    Err(found) => return Ok(found),
                }
            }
            _ => match self.send_update(req, true).await {
                Ok(item) => item,
                Err(UpdateFailure::Condition) => {
                    return Ok(LimitWrite::AlreadyExists(
                        self.existing_limit(level, limit.name()).await,
                    ));
                }
                Err(UpdateFailure::Other(e)) => return Err(e),
            },
        };
        self.after_set(level, limit, new_item.unwrap_or_default(), principal)
            .await?;
        info!(namespace_id = %self.ns, level = ?level, limit = limit.name(), "created limit");
        Ok(LimitWrite::Written)
    }

    /// Entity level: creates the config item holding the limit together with the
    /// registry increment, or adds the limit to the item while it still exists. The
    /// inner `Err` is [`LimitWrite::AlreadyExists`] when the limit is already there.
    ///
    /// The add is conditioned on the item existing: an `UpdateItem` on a missing item
    /// creates it, and when a concurrent removal of the item's last limit deleted it
    /// (taking its registry count back) between the failed create and the add, that
    /// would leave a config the registry does not count. Then the transactional create
    /// is tried again (a bounded number of rounds).
    async fn add_to_entity_item(
        &self,
        req: UpdateRequest,
        level: &ConfigLevel,
        name: &str,
        resource: &str,
    ) -> Result<std::result::Result<Item, LimitWrite>> {
        let mut add = req.clone();
        add.condition_expression = add
            .condition_expression
            .map(|c| format!("attribute_exists(PK) AND {c}"));
        for _ in 0..ENTITY_ITEM_ATTEMPTS {
            if let Some(item) = self.create_entity_item(req.clone(), resource).await? {
                return Ok(Ok(item));
            }
            self.table.pause(PausePoint::EntityLimitAdd).await;
            match self.send_update(add.clone(), true).await {
                Ok(item) => return Ok(Ok(item.unwrap_or_default())),
                Err(UpdateFailure::Condition) => match self.get_item(level.key(&self.ns)).await? {
                    Some(item) if holds_limit(&item, name) => {
                        let existing = stored_limit(&item, name).ok().flatten().map(|s| s.limit);
                        return Ok(Err(LimitWrite::AlreadyExists(existing)));
                    }
                    _ => debug!(namespace_id = %self.ns, resource, "entity config deleted before the add; creating it"),
                },
                Err(UpdateFailure::Other(e)) => return Err(e),
            }
        }
        Err(Error::Unavailable(format!(
            "the entity config for resource {resource:?} kept being created and deleted concurrently"
        )))
    }

    /// Entity level, first limit of the item: the item and the registry increment in one
    /// transaction. `Ok(None)` when the item already exists (nothing written).
    async fn create_entity_item(&self, mut req: UpdateRequest, resource: &str) -> Result<Option<Item>> {
        req.condition_expression = Some("attribute_not_exists(PK)".into());
        req.names.remove("#wcp");
        let inc = registry::increment_entity_config(&self.ns, resource);
        let key = req.key.clone();
        let config = TransactWriteItem::builder()
            .update(transact_update(&self.table.name, req)?)
            .build();
        if self.write_with_registry(config, inc).await? {
            Ok(Some(self.get_item(key).await?.unwrap_or_default()))
        } else {
            Ok(None)
        }
    }

    /// Writes an entity config item (`config`, a conditioned `Put`, `Update` or `Delete`)
    /// and the entity-config registry counter change `counter` in one `TransactWriteItems`,
    /// as zae-limiter does. `Ok(false)` when `config`'s condition failed (nothing written).
    /// A transaction conflict (another transaction on one of the items) is retried a few
    /// times with jittered backoff.
    pub(super) async fn write_with_registry(&self, config: TransactWriteItem, counter: UpdateRequest) -> Result<bool> {
        let counter = TransactWriteItem::builder()
            .update(transact_update(&self.table.name, counter)?)
            .build();
        let mut attempt = 0;
        loop {
            let result = self
                .table
                .client
                .transact_write_items()
                .transact_items(config.clone())
                .transact_items(counter.clone())
                .send()
                .await;
            let conflicted =
                |err: &_| cancellation_codes(err).is_some_and(|codes| codes.iter().any(|c| c == "TransactionConflict"));
            match result {
                Ok(_) => return Ok(true),
                Err(err) if first_item_condition_failed(&err) => return Ok(false),
                Err(err) if conflicted(&err) && attempt < CONFLICT_RETRIES => {
                    tokio::time::sleep(jitter(CONFLICT_BASE, attempt)).await;
                    attempt += 1;
                }
                Err(err) => return Err(Error::dynamo("TransactWriteItems", &self.table.name, err)),
            }
        }
    }

    /// Changes the parameters of an existing limit. Returns [`LimitWrite::Missing`] and
    /// writes nothing when the limit is not on the item. Writes a `limits_set` audit event.
    pub async fn update_limit(
        &self,
        level: &ConfigLevel,
        limit: &Limit,
        principal: Option<&str>,
    ) -> Result<LimitWrite> {
        validate_level(level)?;
        Self::check_principal(principal)?;
        let mut req = set_limit_request(&self.ns, level, limit);
        req.condition_expression = Some("attribute_exists(#cp)".into());
        let item = match self.send_update(req, true).await {
            Ok(item) => item.unwrap_or_default(),
            Err(UpdateFailure::Condition) => return Ok(LimitWrite::Missing),
            Err(UpdateFailure::Other(e)) => return Err(e),
        };
        self.after_set(level, limit, item, principal).await?;
        info!(namespace_id = %self.ns, level = ?level, limit = limit.name(), "updated limit");
        Ok(LimitWrite::Written)
    }

    /// Registry, bucket and audit follow-ups of a set (`item` = the item after the write).
    async fn after_set(&self, level: &ConfigLevel, limit: &Limit, item: Item, principal: Option<&str>) -> Result<()> {
        match level {
            ConfigLevel::System => {}
            ConfigLevel::Resource(r) => self.sync_resource_registry(r, true).await?,
            ConfigLevel::Entity { entity_id, resource } => self.sync_after_change(entity_id, resource, &item).await?,
        }
        let mut details = json!({"limits": [limit_to_json(limit)]});
        if *level == ConfigLevel::System {
            details["on_unavailable"] = get_s(&item, attrs::ON_UNAVAILABLE).map_or(Value::Null, Value::from);
        }
        self.log_audit(
            AuditAction::LimitsSet,
            &level.audit_entity_id(),
            principal,
            level.audit_resource(),
            details,
        )
        .await
        .map(|_| ())
    }

    /// Re-parameterises the entity's buckets after its config for `resource` changed, as
    /// `set_limits` does; an item this crate cannot fully decode is left to zae-limiter.
    async fn sync_after_change(&self, entity_id: &str, resource: &str, item: &Item) -> Result<()> {
        match config::decode_limits(item) {
            Ok(limits) => self.sync_entity_buckets(entity_id, resource, &limits).await,
            Err(err) => {
                warn!(namespace_id = %self.ns, entity_id, resource, error = %err, "buckets not re-parameterised");
                Ok(())
            }
        }
    }

    /// Removes limit `name` from the config item of `level`. Returns `false` when it was
    /// not there. Writes a `limits_deleted` audit event (details: the limit's name).
    ///
    /// When no limit and no flag is left on the item, the item is deleted too (with the
    /// entity-config registry decrement or the resource registry `DELETE`), in two steps
    /// that never lose a concurrent writer's limit: `REMOVE config_version` returning the
    /// item (a limit that arrived meanwhile shows there, and the attribute is restored),
    /// then a delete conditioned on `config_version` still being absent (every limit
    /// writer sets it).
    pub async fn remove_limit(&self, level: &ConfigLevel, name: &str, principal: Option<&str>) -> Result<bool> {
        validate_level(level)?;
        validate_name(name, "name")?;
        Self::check_principal(principal)?;
        let req = UpdateRequest {
            key: level.key(&self.ns),
            update_expression: "REMOVE #cp, #ra, #rp".into(),
            condition_expression: Some("attribute_exists(#cp)".into()),
            names: HashMap::from([
                ("#cp".to_string(), limit_attr(name, FIELD_CP)),
                ("#ra".to_string(), limit_attr(name, FIELD_RA)),
                ("#rp".to_string(), limit_attr(name, FIELD_RP)),
            ]),
            values: HashMap::new(),
        };
        let item = match self.send_update(req, true).await {
            Ok(item) => item.unwrap_or_default(),
            Err(UpdateFailure::Condition) => return Ok(false),
            Err(UpdateFailure::Other(e)) => return Err(e),
        };
        if !holds_limits(&item) && !holds_flags(&item) {
            self.delete_if_empty(level).await?;
        } else if let ConfigLevel::Entity { entity_id, resource } = level {
            self.sync_after_change(entity_id, resource, &item).await?;
        }
        let mut details = json!({"limits": [name]});
        if *level == ConfigLevel::System {
            details["on_unavailable"] = get_s(&item, attrs::ON_UNAVAILABLE).map_or(Value::Null, Value::from);
        }
        self.log_audit(
            AuditAction::LimitsDeleted,
            &level.audit_entity_id(),
            principal,
            level.audit_resource(),
            details,
        )
        .await?;
        info!(namespace_id = %self.ns, level = ?level, limit = name, "removed limit");
        Ok(true)
    }

    /// Deletes the config item of `level` unless a limit or flag arrives meanwhile.
    async fn delete_if_empty(&self, level: &ConfigLevel) -> Result<()> {
        let key = level.key(&self.ns);
        let unmark = UpdateRequest {
            key: key.clone(),
            update_expression: "REMOVE #cv".into(),
            condition_expression: Some("attribute_exists(PK)".into()),
            names: HashMap::from([("#cv".to_string(), attrs::CONFIG_VERSION.to_string())]),
            values: HashMap::new(),
        };
        let item = match self.send_update(unmark, true).await {
            Ok(item) => item.unwrap_or_default(),
            Err(UpdateFailure::Condition) => return Ok(()),
            Err(UpdateFailure::Other(e)) => return Err(e),
        };
        if holds_limits(&item) || holds_flags(&item) {
            debug!(namespace_id = %self.ns, level = ?level, "config item gained a limit; kept");
            return self.restore_config_version(key).await;
        }
        let mut condition = vec!["attribute_not_exists(#cv)".to_string()];
        let mut names = HashMap::from([("#cv".to_string(), attrs::CONFIG_VERSION.to_string())]);
        for (i, flag) in ITEM_FLAGS.iter().enumerate() {
            condition.push(format!("attribute_not_exists(#f{i})"));
            names.insert(format!("#f{i}"), (*flag).to_string());
        }
        let condition = condition.join(" AND ");
        let deleted = match level {
            ConfigLevel::Entity { resource, .. } => {
                self.delete_entity_item(key.clone(), condition, names, resource).await?
            }
            _ => {
                let out = self
                    .table
                    .client
                    .delete_item()
                    .table_name(&self.table.name)
                    .set_key(Some(key.clone()))
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(names))
                    .send()
                    .await;
                match out {
                    Ok(_) => true,
                    Err(err) if is_condition_failed(&err) => false,
                    Err(err) => return Err(Error::dynamo("DeleteItem", &self.table.name, err)),
                }
            }
        };
        if !deleted {
            debug!(namespace_id = %self.ns, level = ?level, "config item changed meanwhile; kept");
            return self.restore_config_version(key).await;
        }
        if let ConfigLevel::Resource(r) = level {
            self.sync_resource_registry(r, false).await?;
        }
        Ok(())
    }

    async fn restore_config_version(&self, key: Item) -> Result<()> {
        let restore = UpdateRequest {
            key,
            update_expression: "SET #cv = :one".into(),
            condition_expression: Some("attribute_exists(PK)".into()),
            names: HashMap::from([("#cv".to_string(), attrs::CONFIG_VERSION.to_string())]),
            values: HashMap::from([(":one".to_string(), n(1))]),
        };
        match self.send_update(restore, false).await {
            Ok(_) | Err(UpdateFailure::Condition) => Ok(()),
            Err(UpdateFailure::Other(e)) => Err(e),
        }
    }

    /// Entity level: the config `Delete` (under `condition`) and the registry decrement in
    /// one `TransactWriteItems`, then the conditional registry clean-up, as zae-limiter's
    /// `delete_limits`. `false` when the condition failed (nothing written).
    pub(super) async fn delete_entity_item(
        &self,
        key: Item,
        condition: String,
        names: HashMap<String, String>,
        resource: &str,
    ) -> Result<bool> {
        let dec = registry::decrement_entity_config(&self.ns, resource);
        let delete = built(
            aws_sdk_dynamodb::types::Delete::builder()
                .table_name(&self.table.name)
                .set_key(Some(key))
                .condition_expression(condition)
                .set_expression_attribute_names(non_empty(names))
                .build(),
        )?;
        let config = TransactWriteItem::builder().delete(delete).build();
        if !self.write_with_registry(config, dec).await? {
            return Ok(false);
        }
        let cleanup = registry::cleanup_entity_config(&self.ns, resource);
        match self.send_update(cleanup, false).await {
            Ok(_) | Err(UpdateFailure::Condition) => Ok(true),
            Err(UpdateFailure::Other(e)) => Err(e),
        }
    }
}

/// Why a conditional update did not apply.
enum UpdateFailure {
    /// The condition expression failed.
    Condition,
    /// Any other error.
    Other(Error),
}

impl Table {
    /// Reads, in one `BatchGetItem` (eventually consistent), the forward record of
    /// namespace `namespace_name` and the config item of `level` in namespace id
    /// `namespace_id`: everything needed to tell whether a limit still exists.
    pub async fn read_limit(
        &self,
        namespace_name: &str,
        namespace_id: &str,
        level: &ConfigLevel,
    ) -> Result<LimitReadout> {
        let ns_key = attrs::key(pk_table_system(), sk_namespace(namespace_name));
        let config_key = level.key(namespace_id);
        let mut pending = vec![ns_key.clone(), config_key.clone()];
        let mut found: Vec<Item> = Vec::new();
        let mut attempt = 0;
        while !pending.is_empty() {
            let keys = built(KeysAndAttributes::builder().set_keys(Some(pending.clone())).build())?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.name, keys)
                .send()
                .await
                .map_err(|e| Error::dynamo("BatchGetItem", &self.name, e))?;
            if let Some(mut responses) = out.responses {
                found.extend(responses.remove(&self.name).unwrap_or_default());
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut m| m.remove(&self.name))
                .map(|k| k.keys)
                .unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            attempt += 1;
            if attempt > BATCH_GET_RETRIES {
                return Err(Error::Unavailable(format!(
                    "DynamoDB left {} key(s) unprocessed after {BATCH_GET_RETRIES} retries",
                    pending.len()
                )));
            }
            tokio::time::sleep(jitter(BATCH_GET_BASE, attempt - 1)).await;
        }
        let same_key = |item: &Item, key: &Item| item.get("PK") == key.get("PK") && item.get("SK") == key.get("SK");
        let namespace = found
            .iter()
            .find(|i| same_key(i, &ns_key))
            .map(NamespaceRecord::decode)
            .transpose()?;
        let config_item = found.into_iter().find(|i| same_key(i, &config_key));
        Ok(LimitReadout { namespace, config_item })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    /// The item an `UpdateItem` of `SET` clauses creates when no item exists.
    fn apply_set_to_empty_item(req: &UpdateRequest) -> Item {
        let mut applied: Item = req.key.clone();
        let body = req.update_expression.trim_start_matches("SET ");
        let (mut depth, mut start, mut clauses) = (0, 0, Vec::new());
        for (i, c) in body.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    clauses.push(body[start..i].trim());
                    start = i + 1;
                }
                _ => {}
            }
        }
        clauses.push(body[start..].trim());
        for clause in clauses {
            let (name, value) = clause.split_once(" = ").unwrap();
            let value = value
                .strip_prefix("if_not_exists(")
                .map(|v| v.trim_end_matches(')').split(", ").nth(1).unwrap())
                .unwrap_or(value);
            applied.insert(req.names[name].clone(), req.values[value].clone());
        }
        applied
    }

    #[test]
    fn a_new_system_item_matches_the_full_replace_put() {
        let limit = Limit::per_minute("rpm", 100, None).unwrap();
        let req = set_limit_request("ZCtndc_pcZY", &ConfigLevel::System, &limit);
        // Applying the SET clauses to an empty item gives vector V2's item.
        let applied = apply_set_to_empty_item(&req);
        let expected = crate::schema::config::ConfigItem::new(ConfigLevel::System, vec![limit]).to_item("ZCtndc_pcZY");
        assert_eq!(applied, expected);
    }

    #[test]
    fn a_new_entity_item_matches_the_full_replace_put() {
        let limit = Limit::per_minute("rpm", 10, None).unwrap();
        let level = ConfigLevel::Entity {
            entity_id: "user-1".into(),
            resource: "gpt-4".into(),
        };
        let req = set_limit_request("ns", &level, &limit);
        let applied = apply_set_to_empty_item(&req);
        let expected = crate::schema::config::ConfigItem::new(level, vec![limit]).to_item("ns");
        assert_eq!(applied, expected);
    }

    #[test]
    fn decodes_one_limit_and_reports_unmanaged_fields() {
        let it = item(&[
            ("PK", s("ns/SYSTEM#")),
            ("SK", s("#CONFIG")),
            ("l_rpm_cp", n(150)),
            ("l_rpm_ra", n(100)),
            ("l_rpm_rp", n(60)),
            ("l_rpm_soft", attrs::b(true)),
            ("l_tpm_cp", n(5)),
        ]);
        let got = stored_limit(&it, "rpm").unwrap().unwrap();
        assert_eq!(got.limit, Limit::custom("rpm", 150, 100, 60).unwrap());
        assert_eq!(got.unmanaged, vec!["soft".to_string()]);
        assert_eq!(stored_limit(&it, "rph").unwrap(), None);
        let window = item(&[("w_rpm_cp", n(1))]);
        assert!(matches!(stored_limit(&window, "rpm"), Err(Error::Unsupported { .. })));
    }

    #[test]
    fn empty_items_are_told_apart() {
        assert!(!holds_limits(&item(&[("config_version", n(1)), ("GSI4PK", s("ns"))])));
        assert!(holds_limits(&item(&[("l_a_b_cp", n(1))])));
        assert!(holds_limits(&item(&[("w_x_cp", n(1))])));
        assert!(holds_flags(&item(&[("disabled", attrs::b(false))])));
        assert!(!holds_flags(&item(&[("resource", s("r"))])));
    }
}
