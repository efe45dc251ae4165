//! Limits at the system, resource and entity levels (wire-format §3.4), with the registries
//! and audit events zae-limiter writes.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use super::NamespaceAdmin;
use super::hooks::PausePoint;
use crate::ddb::{built, is_condition_failed};
use crate::error::{Error, Result};
use crate::limit::Limit;
use crate::schema::attrs::{self, Item};
use crate::schema::audit::{AuditAction, limit_to_json};
use crate::schema::config::{self, ConfigItem, ConfigLevel, DisabledFlag, OnUnavailable};
use crate::schema::registry;
use crate::validate::{validate_config_resource, validate_identifier, validate_resource};

/// The system-level defaults of a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemLimits {
    /// Limits applying to every resource without a more specific config.
    pub limits: Vec<Limit>,
    /// Behaviour when DynamoDB is unavailable.
    pub on_unavailable: Option<OnUnavailable>,
}

/// A resource's default limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceLimits {
    /// Resource name.
    pub resource: String,
    /// Limits.
    pub limits: Vec<Limit>,
    /// Stored `disabled` flag.
    pub disabled: Option<DisabledFlag>,
    /// Stored cascade policy.
    pub cascade: Option<bool>,
}

/// An entity's limits for one resource (or `_default_`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityLimits {
    /// Entity id.
    pub entity_id: String,
    /// Resource name or `_default_`.
    pub resource: String,
    /// Limits.
    pub limits: Vec<Limit>,
    /// Stored `disabled` flag.
    pub disabled: Option<DisabledFlag>,
    /// Stored cascade policy.
    pub cascade: Option<bool>,
}

/// Rounds of a registry read-modify-write before giving up: each round only repeats when
/// a concurrent writer changed the config item between two of its conditional writes.
const REGISTRY_ATTEMPTS: usize = 8;

fn check_unique(limits: &[Limit]) -> Result<()> {
    let mut seen = HashSet::new();
    for l in limits {
        if !seen.insert(l.name()) {
            return Err(Error::InvalidLimit(format!(
                "limit {:?} is listed more than once",
                l.name()
            )));
        }
    }
    Ok(())
}

fn limits_json(limits: &[Limit]) -> Value {
    Value::Array(limits.iter().map(limit_to_json).collect())
}

/// Names of every limit stored on a config item (`l_` or `w_`), without decoding them.
fn stored_limit_names(item: &Item) -> Vec<String> {
    let mut names: Vec<String> = item
        .keys()
        .filter_map(|k| {
            let rest = k
                .strip_prefix(config::LIMIT_ATTR_PREFIX)
                .or_else(|| k.strip_prefix(config::WINDOW_LIMIT_ATTR_PREFIX))?;
            config::strip_capacity_field(rest)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

impl NamespaceAdmin {
    async fn get_config_item(&self, level: &ConfigLevel) -> Result<Option<Item>> {
        let out = self
            .table
            .client
            .get_item()
            .table_name(&self.table.name)
            .set_key(Some(level.key(&self.ns)))
            .consistent_read(false)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", &self.table.name, e))?;
        Ok(out.item)
    }

    async fn delete_config_item(&self, level: &ConfigLevel) -> Result<Option<Item>> {
        let out = self
            .table
            .client
            .delete_item()
            .table_name(&self.table.name)
            .set_key(Some(level.key(&self.ns)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| Error::dynamo("DeleteItem", &self.table.name, e))?;
        Ok(out.attributes.filter(|a| !a.is_empty()))
    }

    async fn put_config(&self, item: Item) -> Result<Option<Item>> {
        let out = self
            .table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| Error::dynamo("PutItem", &self.table.name, e))?;
        Ok(out.attributes.filter(|a| !a.is_empty()))
    }

    /// A `ConditionCheck` of `resource`'s config item under `condition`.
    fn resource_config_check(&self, resource: &str, condition: &str) -> Result<TransactWriteItem> {
        let check = built(
            ConditionCheck::builder()
                .table_name(&self.table.name)
                .set_key(Some(ConfigLevel::Resource(resource.to_string()).key(&self.ns)))
                .condition_expression(condition)
                .build(),
        )?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Makes the resource registry say whether `resource`'s config item exists, after this
    /// caller wrote (`expect_config = true`) or deleted it (wire-format §3.6).
    ///
    /// zae-limiter sends the registry `ADD`/`DELETE` unconditionally after its config
    /// write, so a set and a delete of the same resource interleaving between their two
    /// writes can leave the registry naming a resource without config, or missing one
    /// that has it. Here each registry update is one transaction with a `ConditionCheck`
    /// that the config item is (`ADD`) or is not (`DELETE`) there, starting with what
    /// this caller expects; when neither holds in turn the item changed in between and
    /// the round repeats. The last registry update therefore always matches the config
    /// item as it is after the last config write. The registry item's attributes are
    /// the ones zae-limiter writes.
    pub(super) async fn sync_resource_registry(&self, resource: &str, expect_config: bool) -> Result<()> {
        self.table.pause(PausePoint::ResourceRegistry).await;
        let add = || -> Result<_> {
            Ok((
                self.resource_config_check(resource, "attribute_exists(PK)")?,
                registry::add_resource(&self.ns, resource),
            ))
        };
        let remove = || -> Result<_> {
            Ok((
                self.resource_config_check(resource, "attribute_not_exists(PK)")?,
                registry::remove_resource(&self.ns, resource),
            ))
        };
        for _ in 0..REGISTRY_ATTEMPTS {
            let order = if expect_config {
                [add()?, remove()?]
            } else {
                [remove()?, add()?]
            };
            for (check, update) in order {
                if self.write_with_registry(check, update).await? {
                    return Ok(());
                }
            }
            debug!(namespace_id = %self.ns, resource, "resource config changed during the registry update; again");
        }
        Err(Error::Unavailable(format!(
            "the config of resource {resource:?} kept changing while its registry entry was updated"
        )))
    }

    fn warn_unpropagated_flags(&self, what: &str, old: Option<&Item>) {
        if let Some(old) = old {
            let flags: Vec<&str> = [attrs::DISABLED, attrs::CASCADE]
                .into_iter()
                .filter(|f| old.contains_key(*f))
                .chain(old.keys().any(|k| k.ends_with("_soft")).then_some("soft limits"))
                .collect();
            if !flags.is_empty() {
                warn!(
                    namespace_id = %self.ns,
                    target = what,
                    ?flags,
                    "removed config carried flags whose bucket fan-out this client does not implement; \
                     existing bucket stamps are left as they are"
                );
            }
        }
    }

    // ---- system ---------------------------------------------------------------------

    /// Replaces the system defaults (zae-limiter's `set_system_defaults`): a full-replace
    /// `PutItem` of `{ns}/SYSTEM#`/`#CONFIG`, then a `limits_set` audit event for
    /// `$SYSTEM`. Like zae-limiter, this drops any stored `audit_retention_days`.
    pub async fn set_system_limits(
        &self,
        limits: &[Limit],
        on_unavailable: Option<OnUnavailable>,
        principal: Option<&str>,
    ) -> Result<()> {
        check_unique(limits)?;
        Self::check_principal(principal)?;
        let mut cfg = ConfigItem::new(ConfigLevel::System, limits.to_vec());
        cfg.on_unavailable = on_unavailable;
        let old = self.put_config(cfg.to_item(&self.ns)).await?;
        if old.as_ref().is_some_and(|o| o.keys().any(|k| k.ends_with("_soft"))) {
            self.warn_unpropagated_flags("system", old.as_ref());
        }
        let details =
            json!({"limits": limits_json(limits), "on_unavailable": on_unavailable.map(OnUnavailable::as_str)});
        self.log_audit(AuditAction::LimitsSet, "$SYSTEM", principal, None, details)
            .await?;
        info!(namespace_id = %self.ns, limits = limits.len(), "set system limits");
        Ok(())
    }

    /// The system defaults (`None` when no system config exists).
    pub async fn get_system_limits(&self) -> Result<Option<SystemLimits>> {
        let Some(item) = self.get_config_item(&ConfigLevel::System).await? else {
            return Ok(None);
        };
        let cfg = ConfigItem::decode(ConfigLevel::System, &item)?;
        Ok(Some(SystemLimits {
            limits: cfg.limits,
            on_unavailable: cfg.on_unavailable,
        }))
    }

    /// Deletes the system defaults and writes a `limits_deleted` audit event (details:
    /// the deleted limit names and `on_unavailable`). Returns whether a config existed.
    pub async fn delete_system_limits(&self, principal: Option<&str>) -> Result<bool> {
        Self::check_principal(principal)?;
        let old = self.delete_config_item(&ConfigLevel::System).await?;
        let (names, on_unavailable) = match &old {
            Some(item) => (
                stored_limit_names(item),
                attrs::get_s(item, attrs::ON_UNAVAILABLE).map(str::to_string),
            ),
            None => (Vec::new(), None),
        };
        self.warn_unpropagated_flags("system", old.as_ref());
        let details = json!({"limits": names, "on_unavailable": on_unavailable});
        self.log_audit(AuditAction::LimitsDeleted, "$SYSTEM", principal, None, details)
            .await?;
        Ok(old.is_some())
    }

    // ---- resource -------------------------------------------------------------------

    /// Replaces a resource's defaults (zae-limiter's `set_resource_defaults`): reads the
    /// stored flags (kept), full-replace `PutItem`, resource-registry `ADD`, and a
    /// `limits_set` audit event for `$RESOURCE:{resource}`.
    pub async fn set_resource_limits(&self, resource: &str, limits: &[Limit], principal: Option<&str>) -> Result<()> {
        validate_resource(resource)?;
        check_unique(limits)?;
        Self::check_principal(principal)?;
        let level = ConfigLevel::Resource(resource.to_string());
        let stored = self.get_config_item(&level).await?;
        let mut cfg = ConfigItem::new(level.clone(), limits.to_vec());
        if let Some(stored) = &stored {
            cfg.disabled = config::decode_disabled(stored);
            cfg.cascade = config::decode_cascade(stored);
        }
        let old = self.put_config(cfg.to_item(&self.ns)).await?;
        if old.as_ref().is_some_and(|o| o.keys().any(|k| k.ends_with("_soft"))) {
            self.warn_unpropagated_flags(resource, old.as_ref());
        }
        self.sync_resource_registry(resource, true).await?;
        let details = json!({"limits": limits_json(limits)});
        self.log_audit(
            AuditAction::LimitsSet,
            &level.audit_entity_id(),
            principal,
            Some(resource),
            details,
        )
        .await?;
        info!(namespace_id = %self.ns, resource, limits = limits.len(), "set resource limits");
        Ok(())
    }

    /// A resource's defaults (`None` when it has no config item).
    pub async fn get_resource_limits(&self, resource: &str) -> Result<Option<ResourceLimits>> {
        validate_resource(resource)?;
        let level = ConfigLevel::Resource(resource.to_string());
        let Some(item) = self.get_config_item(&level).await? else {
            return Ok(None);
        };
        let cfg = ConfigItem::decode(level, &item)?;
        Ok(Some(ResourceLimits {
            resource: resource.to_string(),
            limits: cfg.limits,
            disabled: cfg.disabled,
            cascade: cfg.cascade,
        }))
    }

    /// Deletes a resource's defaults: `DeleteItem`, registry `DELETE`, `limits_deleted`
    /// audit event. Returns whether a config existed.
    pub async fn delete_resource_limits(&self, resource: &str, principal: Option<&str>) -> Result<bool> {
        validate_resource(resource)?;
        Self::check_principal(principal)?;
        let level = ConfigLevel::Resource(resource.to_string());
        let old = self.delete_config_item(&level).await?;
        self.warn_unpropagated_flags(resource, old.as_ref());
        self.sync_resource_registry(resource, false).await?;
        self.log_audit(
            AuditAction::LimitsDeleted,
            &level.audit_entity_id(),
            principal,
            Some(resource),
            json!({}),
        )
        .await?;
        Ok(old.is_some())
    }

    /// Resources with a resource-level config, from the resource registry (sorted).
    pub async fn list_resources_with_limits(&self) -> Result<Vec<String>> {
        let out = self
            .table
            .client
            .get_item()
            .table_name(&self.table.name)
            .set_key(Some(registry::resource_registry_key(&self.ns)))
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", &self.table.name, e))?;
        let mut names: Vec<String> = match out.item.as_ref().and_then(|i| i.get(registry::RESOURCES)) {
            Some(aws_sdk_dynamodb::types::AttributeValue::Ss(set)) => set.clone(),
            _ => Vec::new(),
        };
        names.sort();
        Ok(names)
    }

    // ---- entity ---------------------------------------------------------------------

    /// Replaces an entity's limits for `resource` (or `_default_`), like zae-limiter's
    /// `set_limits`: reads the stored flags (kept), then a `TransactWriteItems` of the
    /// config `Put` (`attribute_not_exists(PK)`) and the entity-config registry
    /// increment, falling back to a `PutItem` when the config already exists;
    /// then re-parameterises the entity's existing buckets for that resource and writes
    /// a `limits_set` audit event.
    ///
    /// Unlike zae-limiter's unconditional fallback, the replace is conditioned on the
    /// item still existing: a delete between the two writes has taken its count back, so
    /// the replace would recreate the config uncounted. Then the transactional create is
    /// tried again (a bounded number of rounds).
    pub async fn set_entity_limits(
        &self,
        entity_id: &str,
        resource: &str,
        limits: &[Limit],
        principal: Option<&str>,
    ) -> Result<()> {
        validate_identifier(entity_id, "entity_id")?;
        validate_config_resource(resource)?;
        check_unique(limits)?;
        Self::check_principal(principal)?;
        let level = ConfigLevel::Entity {
            entity_id: entity_id.to_string(),
            resource: resource.to_string(),
        };
        let stored = self.get_config_item(&level).await?;
        let mut cfg = ConfigItem::new(level.clone(), limits.to_vec());
        if let Some(stored) = &stored {
            cfg.disabled = config::decode_disabled(stored);
            cfg.cascade = config::decode_cascade(stored);
        }
        let item = cfg.to_item(&self.ns);
        self.put_entity_config(item, resource).await?;
        self.sync_entity_buckets(entity_id, resource, limits).await?;
        let details = json!({"limits": limits_json(limits)});
        self.log_audit(AuditAction::LimitsSet, entity_id, principal, Some(resource), details)
            .await?;
        info!(namespace_id = %self.ns, entity_id, resource, limits = limits.len(), "set entity limits");
        Ok(())
    }

    /// Writes a full entity config `item` counted exactly once in the entity-config
    /// registry: created with the increment, or replaced while it still exists.
    async fn put_entity_config(&self, item: Item, resource: &str) -> Result<()> {
        for _ in 0..REGISTRY_ATTEMPTS {
            let create = built(
                Put::builder()
                    .table_name(&self.table.name)
                    .set_item(Some(item.clone()))
                    .condition_expression("attribute_not_exists(PK)")
                    .build(),
            )?;
            let inc = registry::increment_entity_config(&self.ns, resource);
            if self
                .write_with_registry(TransactWriteItem::builder().put(create).build(), inc)
                .await?
            {
                return Ok(());
            }
            self.table.pause(PausePoint::EntityConfigReplace).await;
            // The config exists and is counted: replace it without counting it again.
            let replaced = self
                .table
                .client
                .put_item()
                .table_name(&self.table.name)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_exists(PK)")
                .send()
                .await;
            match replaced {
                Ok(_) => return Ok(()),
                Err(err) if is_condition_failed(&err) => {
                    debug!(namespace_id = %self.ns, resource, "entity config deleted before its replace; creating it");
                }
                Err(err) => return Err(Error::dynamo("PutItem", &self.table.name, err)),
            }
        }
        Err(Error::Unavailable(format!(
            "an entity config for resource {resource:?} kept being created and deleted concurrently"
        )))
    }

    /// An entity's limits for `resource` or `_default_` (`None` when not configured).
    pub async fn get_entity_limits(&self, entity_id: &str, resource: &str) -> Result<Option<EntityLimits>> {
        validate_identifier(entity_id, "entity_id")?;
        validate_config_resource(resource)?;
        let level = ConfigLevel::Entity {
            entity_id: entity_id.to_string(),
            resource: resource.to_string(),
        };
        let Some(item) = self.get_config_item(&level).await? else {
            return Ok(None);
        };
        let cfg = ConfigItem::decode(level, &item)?;
        Ok(Some(EntityLimits {
            entity_id: entity_id.to_string(),
            resource: resource.to_string(),
            limits: cfg.limits,
            disabled: cfg.disabled,
            cascade: cfg.cascade,
        }))
    }

    /// Deletes an entity's limits for `resource`: a `TransactWriteItems` of the config
    /// `Delete` (`attribute_exists(PK)`) and the registry decrement, then the conditional
    /// registry clean-up and a `limits_deleted` audit event. Returns whether a config
    /// existed (nothing is written or audited when it did not).
    pub async fn delete_entity_limits(&self, entity_id: &str, resource: &str, principal: Option<&str>) -> Result<bool> {
        validate_identifier(entity_id, "entity_id")?;
        validate_config_resource(resource)?;
        Self::check_principal(principal)?;
        let level = ConfigLevel::Entity {
            entity_id: entity_id.to_string(),
            resource: resource.to_string(),
        };
        let deleted = self
            .delete_entity_item(
                level.key(&self.ns),
                "attribute_exists(PK)".into(),
                Default::default(),
                resource,
            )
            .await?;
        if !deleted {
            return Ok(false);
        }
        self.log_audit(
            AuditAction::LimitsDeleted,
            entity_id,
            principal,
            Some(resource),
            json!({}),
        )
        .await?;
        Ok(true)
    }
}
