//! The namespace registry: register, look up, soft delete, recover, purge (wire-format §3.2).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, DeleteRequest, Put, TransactWriteItem, Update, WriteRequest};
use tracing::{debug, info, warn};

use super::namespace_verify::{mismatch, validate_namespace_id};
use super::{Registration, Table};
use crate::clock;
use crate::ddb::{built, cancellation_codes, jitter};
use crate::error::{Error, Result};
use crate::schema::attrs::{self, Item, s};
use crate::schema::keys::{SK_NAMESPACE_PREFIX, SK_NSID_PREFIX, pk_table_system, sk_namespace, sk_nsid};
use crate::schema::namespace::{NamespaceRecord, NamespaceStatus};
use crate::schema::table::GSI4;
use crate::validate::validate_namespace_name;

/// Items per `BatchWriteItem`.
const BATCH_WRITE_MAX_ITEMS: usize = 25;
/// Re-sends of `UnprocessedItems` before giving up.
const BATCH_WRITE_MAX_RETRIES: u32 = 5;
/// Base of the full-jitter backoff between re-sends.
const BATCH_WRITE_BASE: Duration = Duration::from_millis(50);

/// What [`Table::purge_namespace`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PurgeReport {
    /// Data items deleted (excluding the reverse record).
    pub items_deleted: usize,
    /// Whether a reverse record existed (a purge of an unknown id is a no-op).
    pub found: bool,
}

impl Table {
    /// Registers `name` (idempotent) and returns its id: one `TransactWriteItems` of the
    /// forward and reverse records, each conditioned `attribute_not_exists(PK)`; when
    /// the name exists, the existing id is returned.
    pub async fn register_namespace(&self, name: &str) -> Result<String> {
        match self
            .register_namespace_with_id(name, &clock::new_namespace_id())
            .await?
        {
            Registration::Registered(record) => Ok(record.id),
            Registration::NameTaken(existing) if existing.status.resolves() => {
                debug!(namespace = name, namespace_id = %existing.id, "namespace already registered");
                Ok(existing.id)
            }
            Registration::NameTaken(existing) => Err(Error::NamespaceState {
                message: format!(
                    "namespace {name:?} has a forward record in state {:?} (id {})",
                    existing.status.as_str(),
                    existing.id
                ),
                namespace: name.to_string(),
                state: existing.status.as_str().to_string(),
            }),
        }
    }

    async fn get_registry_item(&self, sk: String) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(attrs::key(pk_table_system(), sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", &self.name, e))?;
        Ok(out.item)
    }

    /// The forward record of `name`, whatever its status (`None` when absent).
    pub async fn get_namespace(&self, name: &str) -> Result<Option<NamespaceRecord>> {
        self.get_registry_item(sk_namespace(name))
            .await?
            .as_ref()
            .map(NamespaceRecord::decode)
            .transpose()
    }

    /// The reverse record of namespace id `id` (`None` when absent). This is where a
    /// deleted namespace's status and `deleted_at` live.
    pub async fn get_namespace_by_id(&self, id: &str) -> Result<Option<NamespaceRecord>> {
        self.get_registry_item(sk_nsid(id))
            .await?
            .as_ref()
            .map(NamespaceRecord::decode)
            .transpose()
    }

    /// The id of an active namespace (`None` when absent, deleted or purging), as
    /// zae-limiter resolves names on connect.
    pub async fn resolve_namespace(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .get_namespace(name)
            .await?
            .filter(|r| r.status.resolves())
            .map(|r| r.id))
    }

    async fn query_registry(&self, prefix: &str) -> Result<Vec<NamespaceRecord>> {
        let mut records = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.name)
                .key_condition_expression("PK = :pk AND begins_with(SK, :sk_prefix)")
                .expression_attribute_values(":pk", s(pk_table_system()))
                .expression_attribute_values(":sk_prefix", s(prefix))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| Error::dynamo("Query", &self.name, e))?;
            for item in out.items() {
                records.push(NamespaceRecord::decode(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(records),
            }
        }
    }

    /// Every registered namespace (forward records).
    pub async fn list_namespaces(&self) -> Result<Vec<NamespaceRecord>> {
        self.query_registry(SK_NAMESPACE_PREFIX).await
    }

    /// Soft-deleted namespaces whose data is still in the table.
    pub async fn list_orphan_namespaces(&self) -> Result<Vec<NamespaceRecord>> {
        Ok(self
            .query_registry(SK_NSID_PREFIX)
            .await?
            .into_iter()
            .filter(|r| r.status == NamespaceStatus::Deleted)
            .collect())
    }

    /// Soft-deletes `name`: deletes the forward record and marks the reverse record
    /// `deleted` with `deleted_at`, in one transaction conditioned on both records naming
    /// each other, so an interruption leaves either both writes or neither. Data items
    /// stay (orphaned). No-op when absent.
    pub async fn delete_namespace(&self, name: &str) -> Result<()> {
        validate_namespace_name(name)?;
        let Some(forward) = self.get_namespace(name).await? else {
            return Ok(());
        };
        self.soft_delete(&forward).await
    }

    /// Soft-deletes namespace `name` whose id the caller recorded as `id` (the provider's
    /// state). Also finishes a delete that another client interrupted between its two
    /// writes (forward record gone, reverse record still `active`). A no-op when the name
    /// is absent or now belongs to another id.
    pub async fn delete_namespace_with_id(&self, name: &str, id: &str) -> Result<()> {
        validate_namespace_name(name)?;
        validate_namespace_id(id)?;
        match self.get_namespace(name).await? {
            Some(forward) if forward.id == id => self.soft_delete(&forward).await,
            Some(_) => Ok(()),
            None => match self.get_namespace_by_id(id).await? {
                Some(reverse) if reverse.name == name && reverse.status == NamespaceStatus::Active => {
                    self.set_reverse_status(&reverse, NamespaceStatus::Deleted).await
                }
                _ => Ok(()),
            },
        }
    }

    async fn soft_delete(&self, forward: &NamespaceRecord) -> Result<()> {
        let (name, id) = (forward.name.as_str(), forward.id.as_str());
        let delete_forward = TransactWriteItem::builder()
            .delete(built(
                Delete::builder()
                    .table_name(&self.name)
                    .set_key(Some(attrs::key(pk_table_system(), sk_namespace(name))))
                    .condition_expression("namespace_id = :id")
                    .expression_attribute_values(":id", s(id))
                    .build(),
            )?)
            .build();
        let result = self
            .client
            .transact_write_items()
            .transact_items(delete_forward)
            .transact_items(self.reverse_status_update(forward, &NamespaceStatus::Deleted)?)
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(err) if cancellation_codes(&err).is_some() => {
                // Either the writes already happened (a retry after a lost response) or
                // the records disagree: tell which.
                let now_forward = self.get_namespace(name).await?;
                let now_reverse = self.get_namespace_by_id(id).await?;
                let done = now_forward.as_ref().is_none_or(|f| f.id != id)
                    && now_reverse
                        .as_ref()
                        .is_some_and(|r| r.name == name && r.status == NamespaceStatus::Deleted);
                if !done {
                    return Err(mismatch(
                        name,
                        now_forward.as_ref(),
                        id,
                        now_reverse.as_ref(),
                        format!("cannot soft-delete namespace {name:?}: its two registry records disagree"),
                    ));
                }
            }
            Err(err) => return Err(Error::dynamo("TransactWriteItems", &self.name, err)),
        }
        info!(table = %self.name, namespace = name, namespace_id = id, "soft-deleted namespace");
        Ok(())
    }

    /// The reverse-record update to `status` (with `deleted_at` for `deleted`),
    /// conditioned on the record naming `record`'s namespace and id; never creates it.
    fn reverse_status_update(&self, record: &NamespaceRecord, status: &NamespaceStatus) -> Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.name)
            .set_key(Some(attrs::key(pk_table_system(), sk_nsid(&record.id))))
            .condition_expression("namespace_id = :id AND namespace_name = :name AND #status <> :purging")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":id", s(&record.id))
            .expression_attribute_values(":name", s(&record.name))
            .expression_attribute_values(":purging", s(NamespaceStatus::Purging.as_str()))
            .expression_attribute_values(":status", s(status.as_str()));
        let update = if *status == NamespaceStatus::Deleted {
            update
                .update_expression("SET #status = :status, deleted_at = :now")
                .expression_attribute_values(":now", s(clock::utc_now_string()))
        } else {
            update.update_expression("SET #status = :status REMOVE deleted_at")
        };
        Ok(TransactWriteItem::builder().update(built(update.build())?).build())
    }

    /// Sets the reverse record of `record` to `status` on its own (finishing an
    /// interrupted delete or recover).
    async fn set_reverse_status(&self, record: &NamespaceRecord, status: NamespaceStatus) -> Result<()> {
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.reverse_status_update(record, &status)?)
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(err) if cancellation_codes(&err).is_some() => {
                let now = self.get_namespace_by_id(&record.id).await?;
                if now.as_ref().is_none_or(|r| r.name != record.name || r.status != status) {
                    return Err(mismatch(
                        &record.name,
                        None,
                        &record.id,
                        now.as_ref(),
                        format!("cannot mark namespace {:?} {:?}", record.name, status.as_str()),
                    ));
                }
            }
            Err(err) => return Err(Error::dynamo("TransactWriteItems", &self.name, err)),
        }
        info!(
            table = %self.name, namespace = %record.name, namespace_id = %record.id, status = status.as_str(),
            "finished an interrupted namespace change"
        );
        Ok(())
    }

    /// Recovers a soft-deleted namespace by id and returns its name: the forward record
    /// comes back and the reverse record turns `active` in one transaction, so retrying
    /// after a lost response or an interruption is safe. Refuses an active or purging
    /// namespace, one whose name was registered again meanwhile, and a registry in which
    /// another name claims `id`. Finishes a recover another client interrupted (forward
    /// record back, reverse record still `deleted`).
    pub async fn recover_namespace(&self, id: &str) -> Result<String> {
        validate_namespace_id(id)?;
        let Some(record) = self.get_namespace_by_id(id).await? else {
            return Err(Error::NamespaceNotFound {
                namespace: id.to_string(),
            });
        };
        validate_namespace_name(&record.name)?;
        let state_err = |message: String, state: &str| Error::NamespaceState {
            message,
            namespace: record.name.clone(),
            state: state.to_string(),
        };
        match record.status {
            NamespaceStatus::Purging => {
                return Err(state_err(
                    format!(
                        "Cannot recover namespace '{}' — purge is in progress and is terminal",
                        record.name
                    ),
                    "purging",
                ));
            }
            NamespaceStatus::Active => {
                return Err(state_err(
                    format!("Namespace '{}' is already active (not deleted)", record.name),
                    "active",
                ));
            }
            _ => {}
        }
        if record.id != id {
            return Err(mismatch(
                &record.name,
                None,
                id,
                Some(&record),
                "the reverse record stores another namespace_id",
            ));
        }
        self.check_sole_claim(&record).await?;
        let re_registered = || {
            state_err(
                format!(
                    "Cannot recover namespace '{}' — the name has been re-registered by another caller",
                    record.name
                ),
                "re-registered",
            )
        };
        match self.get_namespace(&record.name).await? {
            Some(forward) if forward.id == id => {
                self.set_reverse_status(&record, NamespaceStatus::Active).await?;
            }
            Some(_) => return Err(re_registered()),
            None => {
                let forward = NamespaceRecord {
                    status: NamespaceStatus::Active,
                    deleted_at: None,
                    ..record.clone()
                };
                let put_forward = TransactWriteItem::builder()
                    .put(built(
                        Put::builder()
                            .table_name(&self.name)
                            .set_item(Some(forward.forward_item()))
                            .condition_expression("attribute_not_exists(PK)")
                            .build(),
                    )?)
                    .build();
                let result = self
                    .client
                    .transact_write_items()
                    .transact_items(put_forward)
                    .transact_items(self.reverse_status_update(&record, &NamespaceStatus::Active)?)
                    .send()
                    .await;
                match result {
                    Ok(_) => {}
                    Err(err) if cancellation_codes(&err).is_some() => {
                        // Already recovered (a retry after a lost response), or someone
                        // else took the name or changed the reverse record meanwhile.
                        match self.verified_namespace(&record.name).await? {
                            Some(now) if now.id == id => {}
                            Some(_) => return Err(re_registered()),
                            None => {
                                return Err(state_err(
                                    format!(
                                        "Cannot recover namespace '{}' — its reverse record changed meanwhile",
                                        record.name
                                    ),
                                    "changed",
                                ));
                            }
                        }
                    }
                    Err(err) => return Err(Error::dynamo("TransactWriteItems", &self.name, err)),
                }
            }
        }
        info!(table = %self.name, namespace = %record.name, namespace_id = id, "recovered namespace");
        Ok(record.name)
    }

    /// Purges a deleted namespace by id (terminal): marks it `purging`, deletes every
    /// item GSI4 lists for it in `BatchWriteItem`s of 25 (re-sending unprocessed items
    /// with backoff), then deletes the reverse record. Refuses an active namespace;
    /// a no-op for an unknown id. Re-running finishes an interrupted purge.
    ///
    /// Refuses `_` and anything that is not a namespace id (GSI4 lists the registry itself
    /// under `_`), and a namespace that some name still resolves to, whatever its reverse
    /// record says.
    pub async fn purge_namespace(&self, id: &str) -> Result<PurgeReport> {
        validate_namespace_id(id)?;
        let Some(record) = self.get_namespace_by_id(id).await? else {
            return Ok(PurgeReport::default());
        };
        if record.status == NamespaceStatus::Active {
            return Err(Error::NamespaceState {
                message: format!(
                    "Cannot purge active namespace '{}'. Delete it first with delete_namespace().",
                    record.name
                ),
                namespace: record.name,
                state: "active".into(),
            });
        }
        if record.id != id {
            return Err(mismatch(
                &record.name,
                None,
                id,
                Some(&record),
                "the reverse record stores another namespace_id",
            ));
        }
        if let Some(forward) = self.get_namespace(&record.name).await?
            && forward.id == id
        {
            return Err(mismatch(
                &record.name,
                Some(&forward),
                id,
                Some(&record),
                format!(
                    "id {id:?} is marked {:?} but still resolves by name",
                    record.status.as_str()
                ),
            ));
        }
        self.check_sole_claim(&record).await?;
        if record.status != NamespaceStatus::Purging {
            self.client
                .update_item()
                .table_name(&self.name)
                .set_key(Some(attrs::key(pk_table_system(), sk_nsid(id))))
                .update_expression("SET #status = :purging")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":purging", s("purging"))
                .send()
                .await
                .map_err(|e| Error::dynamo("UpdateItem", &self.name, e))?;
        }
        let mut report = PurgeReport {
            items_deleted: 0,
            found: true,
        };
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.name)
                .index_name(GSI4.name)
                .key_condition_expression("GSI4PK = :pk")
                .expression_attribute_values(":pk", s(id))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| Error::dynamo("Query", &self.name, e))?;
            let keys: Vec<Item> = out
                .items()
                .iter()
                .filter_map(|item| {
                    Some(HashMap::from([
                        ("PK".to_string(), item.get("PK")?.clone()),
                        ("SK".to_string(), item.get("SK")?.clone()),
                    ]))
                })
                .collect();
            report.items_deleted += self.batch_delete(id, keys).await?;
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        self.client
            .delete_item()
            .table_name(&self.name)
            .set_key(Some(attrs::key(pk_table_system(), sk_nsid(id))))
            .send()
            .await
            .map_err(|e| Error::dynamo("DeleteItem", &self.name, e))?;
        info!(table = %self.name, namespace_id = id, items = report.items_deleted, "purged namespace");
        Ok(report)
    }

    /// Deletes `keys` with `BatchWriteItem`, 25 at a time, re-sending unprocessed items.
    pub(crate) async fn batch_delete(&self, id: &str, keys: Vec<Item>) -> Result<usize> {
        let mut deleted = 0;
        for chunk in keys.chunks(BATCH_WRITE_MAX_ITEMS) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|key| {
                    Ok(WriteRequest::builder()
                        .delete_request(built(DeleteRequest::builder().set_key(Some(key.clone())).build())?)
                        .build())
                })
                .collect::<Result<_>>()?;
            let mut attempts = 0;
            loop {
                let sent = pending.len();
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.name, pending)
                    .send()
                    .await
                    .map_err(|e| Error::dynamo("BatchWriteItem", &self.name, e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.name))
                    .unwrap_or_default();
                deleted += sent - pending.len();
                if pending.is_empty() {
                    break;
                }
                attempts += 1;
                if attempts > BATCH_WRITE_MAX_RETRIES {
                    return Err(Error::Unavailable(format!(
                        "Could not purge namespace '{id}': DynamoDB left {} delete(s) unprocessed after \
                         {BATCH_WRITE_MAX_RETRIES} retries; run the purge again to finish",
                        pending.len()
                    )));
                }
                warn!(
                    unprocessed = pending.len(),
                    attempts, "BatchWriteItem left unprocessed items; retrying"
                );
                tokio::time::sleep(jitter(BATCH_WRITE_BASE, attempts - 1)).await;
            }
        }
        Ok(deleted)
    }
}
