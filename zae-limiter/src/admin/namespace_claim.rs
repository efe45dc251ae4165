//! Registering a namespace under an id chosen beforehand, and finding soft-deleted
//! namespaces by name (wire-format §3.2).
//!
//! [`Table::register_namespace`] generates the id and registers in one step. A tool that
//! must prepare things under the id first (the Terraform provider tags IAM principals with
//! it before the namespace becomes visible) generates it with
//! [`crate::clock::new_namespace_id`] and registers with
//! [`Table::register_namespace_with_id`]: the same `TransactWriteItems` of the forward and
//! reverse records, each conditioned `attribute_not_exists(PK)`.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use tracing::info;

use super::Table;
use crate::clock;
use crate::ddb::{built, cancellation_codes};
use crate::error::{Error, Result};
use crate::schema::attrs::Item;
use crate::schema::namespace::NamespaceRecord;
use crate::validate::validate_namespace_name;

/// What [`Table::register_namespace_with_id`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// The namespace was registered with the requested id.
    Registered(NamespaceRecord),
    /// The name was already registered (forward record present), under this record.
    NameTaken(NamespaceRecord),
}

impl Table {
    /// Registers `name` under `id` (11-character base64url as zae-limiter generates, see
    /// [`clock::new_namespace_id`]). When the name is already registered nothing is
    /// written and the existing record is returned. A retry whose first attempt did
    /// register (its response was lost) finds the name registered under `id` itself and
    /// reports [`Registration::Registered`].
    pub async fn register_namespace_with_id(&self, name: &str, id: &str) -> Result<Registration> {
        validate_namespace_name(name)?;
        let record = NamespaceRecord::new_active(id, name, &clock::utc_now_string());
        let put = |item: Item| -> Result<TransactWriteItem> {
            Ok(TransactWriteItem::builder()
                .put(built(
                    Put::builder()
                        .table_name(&self.name)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(PK)")
                        .build(),
                )?)
                .build())
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(put(record.forward_item())?)
            .transact_items(put(record.reverse_item())?)
            .send()
            .await;
        match result {
            Ok(_) => {
                info!(table = %self.name, namespace = name, namespace_id = id, "registered namespace");
                Ok(Registration::Registered(record))
            }
            Err(err) if cancellation_codes(&err).is_some() => match self.get_namespace(name).await? {
                // Our own registration, seen again by a retry after a lost response.
                Some(existing) if existing.id == id => match self.verified_namespace(name).await? {
                    Some(verified) => Ok(Registration::Registered(verified)),
                    None => Err(Error::dynamo("TransactWriteItems", &self.name, err)),
                },
                Some(existing) => Ok(Registration::NameTaken(existing)),
                // The id collided with another namespace's reverse record (2^-64).
                None => Err(Error::dynamo("TransactWriteItems", &self.name, err)),
            },
            Err(err) => Err(Error::dynamo("TransactWriteItems", &self.name, err)),
        }
    }

    /// Soft-deleted namespaces that were named `name` (reverse records with status
    /// `deleted`), newest deletion first.
    pub async fn find_deleted_namespaces(&self, name: &str) -> Result<Vec<NamespaceRecord>> {
        let mut found: Vec<NamespaceRecord> = self
            .list_orphan_namespaces()
            .await?
            .into_iter()
            .filter(|r| r.name == name)
            .collect();
        found.sort_by(|a, b| b.deleted_at.cmp(&a.deleted_at));
        Ok(found)
    }
}
