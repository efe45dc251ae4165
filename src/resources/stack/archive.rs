//! The audit archive (wire-format §7.4): the S3 bucket the aggregator writes expired audit
//! events to. SSE-S3, every public access blocked, a `TransitionToGlacier` lifecycle rule,
//! the stack's tags. Created before the aggregator (whose role and environment name it),
//! removed after it, and never emptied unless `force_destroy = true`.
//!
//! S3 bucket names are global, so the name is derived from the stack, the account and the
//! region: `{stack, lowercased, at most 40 characters}-audit-{8 hex digits of SHA-256 of
//! "account:region:stack"}`. The same stack in the same account and region always finds
//! its bucket again (after an import too); two stacks never collide.

use sha2::{Digest, Sha256};

use super::model::{ARCHIVE_NAMES, AuditArchiveModel, NAMES, StackModel};
use crate::aws::s3::{self, ArchiveBucketSettings};
use crate::aws::{AwsClients, Result as AwsResult};
use crate::framework::validator::IntBetween;
use crate::framework::{Attribute, AttributePath, Block, Diagnostics, Known, NestedBlock, Plan, Private};
use crate::resources::common::{OrDiagnostic, error_diag, known};

/// The block name.
pub(super) const BLOCK: &str = "audit_archive";

/// Private-state key: a refresh found the bucket without its encryption, public access
/// block or lifecycle rule.
const DRIFTED: &str = "archive_drift";

/// The `audit_archive` block.
pub(super) fn block() -> NestedBlock {
    NestedBlock::single(
        BLOCK,
        Block::new(
            "Archival of expired audit events to an S3 bucket (gzip JSON Lines, as zae-limiter 0.17.0 writes \
             them). Needs the `aggregator` block. Omit it for no archive.",
        )
        .attribute(
            Attribute::number(ARCHIVE_NAMES.glacier_transition_days)
                .default_value(i64::from(s3::DEFAULT_GLACIER_TRANSITION_DAYS))
                .description("Days after which archived objects move to S3 Glacier Instant Retrieval (default 90).")
                .validator(IntBetween { min: 1, max: 3650 }),
        )
        .attribute(
            Attribute::bool(ARCHIVE_NAMES.force_destroy)
                .default_value(false)
                .description(
                    "Whether destroying the stack, or removing this block, may delete archived objects. While \
                     false, a bucket that holds objects stops the destroy with an error.",
                ),
        ),
    )
}

/// The archive bucket's name for `stack` in `account` and `region` (see the module docs).
pub(super) fn bucket_name(stack: &str, account: &str, region: &str) -> String {
    let digest = Sha256::digest(format!("{account}:{region}:{stack}").as_bytes());
    let suffix: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let mut prefix: String = stack.to_ascii_lowercase().chars().take(40).collect();
    while prefix.ends_with('-') {
        prefix.pop();
    }
    format!("{prefix}-audit-{suffix}")
}

/// The bucket name for this stack, from the caller's account.
async fn derived_name(clients: &AwsClients, stack: &str) -> AwsResult<String> {
    let identity = clients.caller_identity().await?;
    Ok(bucket_name(stack, &identity.account_id, &clients.region))
}

/// The archive's part of the plan: the block needs the aggregator; the bucket name is
/// planned (kept from state, or derived) while the block is present, null otherwise.
pub(super) async fn plan(plan: &mut Plan<'_, crate::aws::AwsClients, StackModel>) {
    let drifted = !plan.prior_private.names(DRIFTED).is_empty();
    plan.planned_private.remove(DRIFTED);
    let Some(planned) = plan.planned.as_mut() else { return };
    if planned.audit_archive.is_null() {
        planned.archive_bucket_name = Known::Null;
        return;
    }
    if plan.config.aggregator.is_null() {
        plan.diagnostics.extend(error_diag(
            Some(BLOCK),
            "Audit archive needs the aggregator",
            "The aggregator archives expired audit events; add an `aggregator` block, or remove `audit_archive`.",
        ));
        return;
    }
    let kept = plan.prior.as_ref().and_then(|p| p.archive_bucket_name.value().cloned());
    if kept.is_some() && drifted {
        planned.archive_bucket_name = Known::Unknown;
        plan.diagnostics.attribute_warning(
            AttributePath::root(BLOCK),
            "Audit archive changed outside Terraform",
            "The archive bucket lost its encryption, public access block or lifecycle rule; this apply restores \
             them.",
        );
        return;
    }
    planned.archive_bucket_name = match (kept, plan.provider, planned.name.value()) {
        (Some(name), _, _) => Known::Value(name),
        (None, Some(clients), Some(stack)) => match derived_name(clients, stack).await {
            Ok(name) => Known::Value(name),
            Err(_) => Known::Unknown,
        },
        _ => Known::Unknown,
    };
}

fn settings(
    clients: &AwsClients,
    state: &StackModel,
    archive: &AuditArchiveModel,
    name: &str,
) -> Result<ArchiveBucketSettings, Diagnostics> {
    let mut settings = ArchiveBucketSettings::new(name, clients.region.clone());
    settings.glacier_transition_days =
        i32::try_from(archive.glacier_transition_days).unwrap_or(s3::DEFAULT_GLACIER_TRANSITION_DAYS);
    settings.tags = known(&state.tags_all, NAMES.tags_all)?.clone();
    Ok(settings)
}

/// Creates the bucket when the plan wants an archive and state has none; brings the
/// lifecycle rule and tags to the plan otherwise. Records the name in `state`.
pub(super) async fn ensure(
    clients: &AwsClients,
    prior: Option<&StackModel>,
    plan: &StackModel,
    state: &mut StackModel,
) -> Result<(), Diagnostics> {
    let Some(archive) = &plan.audit_archive else {
        // The archive goes after the aggregator; refuse now, before anything changes,
        // when that would delete archived objects.
        return match prior {
            Some(p) if state.archive_bucket_name.value().is_some() => refuse_if_holding_objects(clients, p).await,
            _ => Ok(()),
        };
    };
    let name = match plan.archive_bucket_name.value() {
        Some(name) => name.clone(),
        None => derived_name(clients, &plan.name)
            .await
            .or_error_at(BLOCK, "Cannot name the audit archive bucket")?,
    };
    let wanted = settings(clients, plan, archive, &name)?;
    match state.archive_bucket_name.as_str() {
        None => {
            s3::create_bucket(&clients.s3, &name, &clients.region)
                .await
                .or_error_at(BLOCK, "Cannot create the audit archive bucket")?;
            // Recorded before it is configured: a failure below leaves a bucket the
            // next refresh finds unconfigured (drift) and the next apply configures.
            state.archive_bucket_name = Known::Value(name);
            s3::configure_archive_bucket(&clients.s3, &wanted)
                .await
                .or_error_at(BLOCK, "Cannot configure the audit archive bucket")?;
        }
        Some(_) if plan.archive_bucket_name.is_unknown() => {
            s3::configure_archive_bucket(&clients.s3, &wanted)
                .await
                .or_error_at(BLOCK, "Cannot restore the audit archive bucket's configuration")?;
        }
        Some(_) => {
            let before = prior.and_then(|p| p.audit_archive.as_ref());
            if before.map(|b| b.glacier_transition_days) != Some(archive.glacier_transition_days) {
                s3::put_glacier_lifecycle(&clients.s3, &name, wanted.glacier_transition_days)
                    .await
                    .or_error_at(BLOCK, "Cannot update the archive's lifecycle rule")?;
            }
            if prior.map(|p| &p.tags_all) != Some(&plan.tags_all) {
                s3::put_tags(&clients.s3, &name, &wanted.tags)
                    .await
                    .or_error_at(BLOCK, "Cannot tag the audit archive bucket")?;
            }
        }
    }
    state.audit_archive = Some(archive.clone());
    Ok(())
}

/// Deletes the bucket recorded in `state` when the plan has no archive (after the
/// aggregator stopped writing to it).
pub(super) async fn retire(
    clients: &AwsClients,
    prior: Option<&StackModel>,
    plan: &StackModel,
    state: &mut StackModel,
) -> Result<(), Diagnostics> {
    if plan.audit_archive.is_some() {
        return Ok(());
    }
    if let Some(name) = state.archive_bucket_name.value().cloned() {
        let force = prior
            .and_then(|p| p.audit_archive.as_ref())
            .is_some_and(|a| a.force_destroy);
        delete_bucket(clients, &name, force).await?;
    }
    state.archive_bucket_name = Known::Null;
    state.audit_archive = None;
    Ok(())
}

/// Refuses, before anything is deleted, to destroy a stack whose archive holds objects
/// while `force_destroy` is false.
pub(super) async fn refuse_if_holding_objects(clients: &AwsClients, prior: &StackModel) -> Result<(), Diagnostics> {
    let (Some(name), Some(archive)) = (prior.archive_bucket_name.as_str(), prior.audit_archive.as_ref()) else {
        return Ok(());
    };
    if archive.force_destroy {
        return Ok(());
    }
    let holds = s3::holds_objects(&clients.s3, name)
        .await
        .or_error_at(BLOCK, "Cannot list the audit archive")?;
    if holds {
        return Err(not_empty(name));
    }
    Ok(())
}

fn not_empty(name: &str) -> Diagnostics {
    let mut d = Diagnostics::new();
    d.attribute_error(
        AttributePath::root(BLOCK).attribute(ARCHIVE_NAMES.force_destroy),
        "Audit archive is not empty",
        format!(
            "Bucket {name} holds archived audit events, and force_destroy is false, so it is kept and nothing \
             was deleted. Copy what you need, then set force_destroy = true and apply before destroying."
        ),
    );
    d
}

/// Empties (when `force`) and deletes the bucket.
async fn delete_bucket(clients: &AwsClients, name: &str, force: bool) -> Result<(), Diagnostics> {
    if force {
        s3::empty_bucket(&clients.s3, name)
            .await
            .or_error_at(BLOCK, "Cannot empty the audit archive bucket")?;
    } else if s3::holds_objects(&clients.s3, name)
        .await
        .or_error_at(BLOCK, "Cannot list the audit archive")?
    {
        return Err(not_empty(name));
    }
    s3::delete_bucket(&clients.s3, name)
        .await
        .or_error_at(BLOCK, "Cannot delete the audit archive bucket")?;
    Ok(())
}

/// Deletes the bucket of a destroyed stack (checked by [`refuse_if_holding_objects`]).
pub(super) async fn delete(clients: &AwsClients, prior: &StackModel) -> Result<(), Diagnostics> {
    match prior.archive_bucket_name.as_str() {
        Some(name) => {
            let force = prior.audit_archive.as_ref().is_some_and(|a| a.force_destroy);
            delete_bucket(clients, name, force).await
        }
        None => Ok(()),
    }
}

/// Refreshes the bucket: gone → null; its lifecycle days into the block. When importing,
/// finds the bucket by its derived name.
pub(super) async fn read(
    clients: &AwsClients,
    state: &mut StackModel,
    private: &mut Private,
    importing: bool,
) -> Result<(), Diagnostics> {
    private.remove(DRIFTED);
    let name = match (state.archive_bucket_name.as_str(), importing) {
        (Some(name), _) => name.to_string(),
        (None, true) => match derived_name(clients, &state.name).await {
            Ok(name) => name,
            Err(_) => return Ok(()),
        },
        (None, false) => return Ok(()),
    };
    let found = s3::find_bucket(&clients.s3, &name)
        .await
        .or_error_at(BLOCK, "Cannot read the audit archive bucket")?;
    let Some(bucket) = found else {
        state.archive_bucket_name = Known::Null;
        return Ok(());
    };
    state.archive_bucket_name = Known::Value(bucket.name.clone());
    let configured = bucket.sse_algorithm.as_deref() == Some("AES256")
        && bucket.public_access_blocked
        && bucket.glacier_transition_days.is_some();
    if !configured && state.audit_archive.is_some() {
        private.set_names(DRIFTED, std::slice::from_ref(&bucket.name));
    }
    let days = bucket.glacier_transition_days.map_or(0, i64::from);
    match state.audit_archive.as_mut() {
        Some(archive) => archive.glacier_transition_days = days,
        None if importing => {
            state.audit_archive = Some(AuditArchiveModel {
                glacier_transition_days: days,
                force_destroy: false,
            })
        }
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_are_valid_stable_and_distinct() {
        let a = bucket_name("Prod-Limiter", "123456789012", "us-east-1");
        assert_eq!(a, bucket_name("Prod-Limiter", "123456789012", "us-east-1"));
        assert!(
            a.starts_with("prod-limiter-audit-") && a.len() == "prod-limiter-audit-".len() + 8,
            "{a}"
        );
        assert_ne!(a, bucket_name("Prod-Limiter", "123456789012", "eu-west-1"));
        assert_ne!(a, bucket_name("Prod-Limiter", "210987654321", "us-east-1"));
        let long = bucket_name(&format!("a{}", "-b".repeat(27)), "1", "us-east-1");
        assert!(long.len() <= 63, "{long}");
        assert!(!long.contains("--audit"), "{long}");
        assert!(
            long.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }
}
