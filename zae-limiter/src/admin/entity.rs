//! Entities: create (with parent and cascade) and get.

use std::collections::BTreeMap;

use serde_json::json;
use tracing::info;

use super::NamespaceAdmin;
use crate::clock;
use crate::ddb::{CONFLICT_BASE, CONFLICT_RETRIES, is_condition_failed, is_transaction_conflict, jitter};
use crate::error::{Error, Result};
use crate::schema::audit::AuditAction;
use crate::schema::entity::EntityMeta;
use crate::validate::validate_identifier;

/// What to create with [`NamespaceAdmin::create_entity`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewEntity {
    /// Entity id.
    pub entity_id: String,
    /// Display name (defaults to the id).
    pub name: Option<String>,
    /// Parent entity.
    pub parent_id: Option<String>,
    /// Whether acquires also debit the parent.
    pub cascade: bool,
    /// String metadata.
    pub metadata: BTreeMap<String, String>,
}

impl NewEntity {
    /// An entity with just an id.
    pub fn new(entity_id: impl Into<String>) -> NewEntity {
        NewEntity {
            entity_id: entity_id.into(),
            ..NewEntity::default()
        }
    }

    /// Sets the parent and the cascade flag.
    pub fn with_parent(mut self, parent_id: impl Into<String>, cascade: bool) -> NewEntity {
        self.parent_id = Some(parent_id.into());
        self.cascade = cascade;
        self
    }
}

impl NamespaceAdmin {
    /// Creates an entity's META item (`attribute_not_exists(PK)`, retried on transaction
    /// conflicts) and writes an `entity_created` audit event. Errors with
    /// [`Error::EntityExists`] when it exists.
    pub async fn create_entity(&self, spec: &NewEntity, principal: Option<&str>) -> Result<EntityMeta> {
        validate_identifier(&spec.entity_id, "entity_id")?;
        if let Some(parent) = &spec.parent_id {
            validate_identifier(parent, "parent_id")?;
        }
        Self::check_principal(principal)?;
        let now = clock::now_ms();
        let meta = EntityMeta {
            entity_id: spec.entity_id.clone(),
            name: spec.name.clone().unwrap_or_else(|| spec.entity_id.clone()),
            parent_id: spec.parent_id.clone(),
            cascade: spec.cascade,
            parent_generation: now,
            incarnation: clock::new_incarnation(),
            has_stored_incarnation: true,
            metadata: spec.metadata.clone(),
            created_at: Some(clock::format_utc(now.div_euclid(1000))),
        };
        let item = meta.to_item(&self.ns);
        let mut attempt = 0;
        loop {
            let result = self
                .table
                .client
                .put_item()
                .table_name(&self.table.name)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(PK)")
                .send()
                .await;
            match result {
                Ok(_) => break,
                Err(err) if is_condition_failed(&err) => {
                    return Err(Error::EntityExists {
                        entity_id: spec.entity_id.clone(),
                    });
                }
                Err(err) if is_transaction_conflict(&err) && attempt < CONFLICT_RETRIES => {
                    tokio::time::sleep(jitter(CONFLICT_BASE, attempt)).await;
                    attempt += 1;
                }
                Err(err) => return Err(Error::dynamo("PutItem", &self.table.name, err)),
            }
        }
        let details = json!({
            "name": meta.name,
            "parent_id": meta.parent_id,
            "cascade": meta.cascade,
            "metadata": meta.metadata,
        });
        self.log_audit(AuditAction::EntityCreated, &meta.entity_id, principal, None, details)
            .await?;
        info!(namespace_id = %self.ns, entity_id = %meta.entity_id, parent = ?meta.parent_id, "created entity");
        Ok(meta)
    }

    /// An entity's META (`None` when it does not exist).
    pub async fn get_entity(&self, entity_id: &str, consistent: bool) -> Result<Option<EntityMeta>> {
        validate_identifier(entity_id, "entity_id")?;
        let out = self
            .table
            .client
            .get_item()
            .table_name(&self.table.name)
            .set_key(Some(EntityMeta::key(&self.ns, entity_id)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", &self.table.name, e))?;
        out.item.as_ref().map(EntityMeta::decode).transpose()
    }
}
