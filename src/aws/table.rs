//! The zae-limiter DynamoDB table (wire-format §2.1): create, find, wait, deletion protection,
//! delete; TTL, point-in-time recovery and tags live in the submodules and are re-exported
//! here.
//!
//! The stack resource creates a table in this order (each step its own call, so a failure
//! leaves a known, partially-created table to record):
//!
//! 1. [`create_table`] (keys, indexes, stream, billing, deletion protection, tags),
//! 2. [`wait_table_active`],
//! 3. [`enable_ttl`],
//! 4. [`set_pitr`] (skip when `pitr_recovery_days == 0`: a new table has PITR off).
//!
//! Every name (attributes, indexes, TTL attribute, Application tag) comes from
//! `zae_limiter::schema::table`.

pub mod definition;
pub mod info;
pub mod pitr;
pub mod tagging;
pub mod ttl;

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::BillingMode;

pub use definition::{BILLING_MODE, STREAM_VIEW_TYPE, effective_tags, projection_type_name};
pub use info::{AttributeSummary, DefinitionProblem, IndexSummary, KeyElement, SseSummary, TableInfo};
pub use pitr::{DEFAULT_PITR_DAYS, MAX_PITR_DAYS, PitrDescription, describe_pitr, set_pitr, validate_pitr_days};
pub use tagging::{list_tags, sync_tags};
pub use ttl::{TtlDescription, describe_ttl, enable_ttl};

use super::error::{AwsError, DeleteOutcome, Result, SdkResultExt};
use super::log_call;
use super::retry::{RetryPolicy, retry_with, send_with_retry};
use super::tags::{Tags, is_aws_managed};
use super::waiter::{WaitSpec, wait_for_absence, wait_for_state};

/// The AWS provider's default create timeout for tables.
pub const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The AWS provider's default update timeout for tables.
pub const DEFAULT_UPDATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// The AWS provider's default delete timeout for tables.
pub const DEFAULT_DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// DynamoDB allows at most 50 tags per resource.
pub const MAX_TAGS: usize = 50;

/// What the stack resource decides about its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSettings {
    /// Table name (= stack name).
    pub name: String,
    /// Point-in-time recovery period: 0 = off, 1..=35 days.
    pub pitr_recovery_days: u16,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// User tags; `Application=zae-limiter` is added (and wins), see [`effective_tags`].
    pub tags: Tags,
}

impl TableSettings {
    /// Settings with PITR off, no deletion protection and no user tags.
    pub fn new(name: impl Into<String>) -> Self {
        TableSettings {
            name: name.into(),
            pitr_recovery_days: 0,
            deletion_protection: false,
            tags: Tags::new(),
        }
    }

    /// The tags the table gets: the user's plus `Application=zae-limiter`.
    pub fn effective_tags(&self) -> Tags {
        effective_tags(&self.tags)
    }

    /// Checks the settings against DynamoDB's rules before any call.
    pub fn validate(&self) -> Result<()> {
        validate_table_name(&self.name)?;
        validate_pitr_days(self.pitr_recovery_days)?;
        if let Some(key) = self.tags.keys().find(|k| is_aws_managed(k)) {
            return Err(AwsError::InvalidInput {
                what: "tags".into(),
                detail: format!("tag key {key:?} uses the reserved aws: prefix"),
            });
        }
        let count = self.effective_tags().len();
        if count > MAX_TAGS {
            return Err(AwsError::InvalidInput {
                what: "tags".into(),
                detail: format!("{count} tags (including Application), DynamoDB allows {MAX_TAGS}"),
            });
        }
        Ok(())
    }
}

/// DynamoDB table names: 3–255 characters of `A-Z a-z 0-9 _ - .`.
pub fn validate_table_name(name: &str) -> Result<()> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !(3..=255).contains(&name.len()) || !valid_chars {
        return Err(AwsError::InvalidInput {
            what: "table name".into(),
            detail: format!("{name:?}: DynamoDB needs 3-255 characters of A-Z, a-z, 0-9, '_', '-', '.'"),
        });
    }
    Ok(())
}

pub(crate) fn resource(name: &str) -> String {
    format!("DynamoDB table \"{name}\"")
}

/// Retried for control-plane calls: throttling, "… simultaneously" limits, server errors.
fn control_plane_retryable(err: &AwsError) -> bool {
    err.is_retryable()
}

/// Also retried while the table is being created or updated.
fn retryable_while_busy(err: &AwsError) -> bool {
    err.is_retryable() || err.has_code("ResourceInUseException")
}

/// Creates the zae-limiter table: PAY_PER_REQUEST, `PK`/`SK`, 15 `S` attributes, GSI1–4,
/// LSI1–5, stream `NEW_AND_OLD_IMAGES`, default encryption (no `SSESpecification`),
/// deletion protection and [`TableSettings::effective_tags`]. Throttling and
/// `LimitExceededException` are retried for [`RetryPolicy::CONTROL_PLANE`].
///
/// The table is usually `CREATING` when this returns: call [`wait_table_active`], then
/// [`enable_ttl`] and [`set_pitr`]. An existing table fails with `ResourceInUseException`,
/// unless it is the one this call created (a retry after a lost response).
pub async fn create_table(client: &Client, settings: &TableSettings) -> Result<TableInfo> {
    settings.validate()?;
    let name = settings.name.as_str();
    let request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(definition::attribute_definitions()?))
        .set_key_schema(Some(definition::key_schema(
            zae_limiter::schema::table::PK,
            zae_limiter::schema::table::SK,
        )?))
        .set_global_secondary_indexes(Some(definition::global_indexes()?))
        .set_local_secondary_indexes(Some(definition::local_indexes()?))
        .stream_specification(definition::stream_specification()?)
        .deletion_protection_enabled(settings.deletion_protection)
        .set_tags(Some(definition::sdk_tags(&settings.effective_tags(), "CreateTable")?));
    // Whether the table existed before: a ResourceInUse answer for a table that did not
    // can only come from a retry of this very call whose first response was lost.
    let existed_before = find_table(client, name).await?.is_some();
    let sent = send_with_retry(
        &RetryPolicy::CONTROL_PLANE,
        "CreateTable",
        &resource(name),
        control_plane_retryable,
        &request,
        |r| r.send(),
    )
    .await;
    let output = match sent {
        Ok(output) => output,
        Err(e) if e.has_code(RESOURCE_IN_USE) && !existed_before => {
            return recognise_own_table(client, settings, e).await;
        }
        Err(e) => return Err(e),
    };
    let description = output.table_description().ok_or_else(|| AwsError::InvalidResponse {
        operation: "CreateTable",
        resource: resource(name),
        detail: "no TableDescription in the response".into(),
    })?;
    TableInfo::from_description("CreateTable", name, description)
}

/// DynamoDB's answer to creating a table that exists.
const RESOURCE_IN_USE: &str = "ResourceInUseException";

/// A `CreateTable` whose response was lost is retried (by the SDK) and then fails with
/// `ResourceInUseException` although the table did not exist before the call: it is ours
/// when it matches the zae-limiter definition and carries exactly the tags we asked for
/// (anything else was created by someone else meanwhile, and the error stands).
async fn recognise_own_table(client: &Client, settings: &TableSettings, in_use: AwsError) -> Result<TableInfo> {
    let Some(info) = find_table(client, &settings.name).await? else {
        return Err(in_use);
    };
    if !info.definition_problems().is_empty() {
        return Err(in_use);
    }
    let tags = tagging::list_tags(client, &info.arn).await?;
    if tags != settings.effective_tags() {
        return Err(in_use);
    }
    let table = &settings.name;
    tracing::info!(target: super::LOG_TARGET, %table, "CreateTable was retried after its table was created");
    Ok(info)
}

/// Describes the table; `None` when it does not exist.
pub async fn find_table(client: &Client, name: &str) -> Result<Option<TableInfo>> {
    log_call("DescribeTable", &resource(name));
    match client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .context("DescribeTable", resource(name))
    {
        Ok(output) => match output.table() {
            Some(table) => TableInfo::from_description("DescribeTable", name, table).map(Some),
            None => Ok(None),
        },
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err),
    }
}

/// Waits until the table and all its global indexes are `ACTIVE`.
pub async fn wait_table_active(client: &Client, name: &str, timeout: Duration) -> Result<TableInfo> {
    let spec = WaitSpec::new(resource(name), &["CREATING", "UPDATING"], &["ACTIVE"], timeout);
    wait_for_state(&spec, || async {
        Ok(find_table(client, name).await?.map(|info| {
            let state = info.effective_status().to_owned();
            (info, state)
        }))
    })
    .await
}

/// Turns deletion protection on or off (`UpdateTable`), retrying while the table is busy.
pub async fn set_deletion_protection(client: &Client, name: &str, enabled: bool) -> Result<()> {
    retry_with(
        &RetryPolicy::CONTROL_PLANE,
        "UpdateTable",
        retryable_while_busy,
        || async {
            log_call("UpdateTable", &resource(name));
            client
                .update_table()
                .table_name(name)
                .deletion_protection_enabled(enabled)
                .send()
                .await
                .context("UpdateTable", resource(name))
        },
    )
    .await?;
    Ok(())
}

/// True when a delete failed because the table has deletion protection on (the message
/// differs between AWS and the emulator; both are recognised).
pub fn is_deletion_protected_error(err: &AwsError) -> bool {
    err.message_contains("protected against deletion") || err.message_contains("DeletionProtectionEnabled")
}

/// Deletes the table. Returns `false` when it did not exist. Retries while the table is being
/// created or updated; a table with deletion protection fails with a `ValidationException`
/// ([`is_deletion_protected_error`]).
pub async fn delete_table(client: &Client, name: &str) -> Result<bool> {
    let result = retry_with(
        &RetryPolicy::CONTROL_PLANE,
        "DeleteTable",
        retryable_while_busy,
        || async {
            log_call("DeleteTable", &resource(name));
            client
                .delete_table()
                .table_name(name)
                .send()
                .await
                .context("DeleteTable", resource(name))
        },
    )
    .await;
    result.deleted()
}

/// Waits until the table no longer exists.
pub async fn wait_table_deleted(client: &Client, name: &str, timeout: Duration) -> Result<()> {
    let spec = WaitSpec::new(resource(name), &["ACTIVE", "DELETING"], &[], timeout);
    wait_for_absence(&spec, || async {
        Ok(find_table(client, name).await?.map(|info| {
            let state = info.status.clone();
            (info, state)
        }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::error::tests::service_error;

    #[test]
    fn validates_names() {
        assert!(validate_table_name("zae-limiter").is_ok());
        assert!(validate_table_name("a.b_c-1").is_ok());
        assert!(validate_table_name("ab").is_err());
        assert!(validate_table_name("has space").is_err());
        assert!(validate_table_name(&"x".repeat(256)).is_err());
    }

    #[test]
    fn validates_settings() {
        let mut s = TableSettings::new("zae");
        assert!(s.validate().is_ok());
        s.pitr_recovery_days = 36;
        assert!(s.validate().is_err());
        s.pitr_recovery_days = 35;
        s.tags.insert("aws:x".into(), "y".into());
        let err = s.validate().unwrap_err();
        assert!(err.to_string().contains("reserved aws: prefix"), "{err}");
        s.tags.clear();
        for i in 0..50 {
            s.tags.insert(format!("k{i}"), "v".into());
        }
        assert!(s.validate().unwrap_err().to_string().contains("51 tags"));
    }

    #[test]
    fn recognises_deletion_protection_errors() {
        assert!(is_deletion_protected_error(&service_error(
            "ValidationException",
            "Resource cannot be deleted as it is currently protected against deletion. \
             Disable deletion protection first."
        )));
        assert!(is_deletion_protected_error(&service_error(
            "ValidationException",
            "1 validation error detected: Table 't1' can't be deleted while DeletionProtectionEnabled is set to True"
        )));
        assert!(!is_deletion_protected_error(&service_error(
            "ValidationException",
            "other"
        )));
    }

    #[test]
    fn busy_tables_are_retried() {
        assert!(retryable_while_busy(&service_error(
            "ResourceInUseException",
            "Table is being created"
        )));
        assert!(!control_plane_retryable(&service_error(
            "ResourceInUseException",
            "Table already exists"
        )));
    }
}
