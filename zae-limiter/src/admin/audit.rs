//! Writing audit events: principal resolution and the namespace's retention.

use serde_json::Value;
use tracing::debug;

use super::{NamespaceAdmin, Table};
use crate::clock;
use crate::error::{Error, Result};
use crate::schema::attrs::{self, get_n};
use crate::schema::audit::{AuditAction, AuditEvent, DEFAULT_AUDIT_RETENTION_DAYS};
use crate::schema::config::ConfigLevel;
use crate::validate::validate_principal;

impl Table {
    /// The STS caller ARN, looked up once per table handle (`None` without STS or when
    /// the lookup fails, as in zae-limiter).
    pub async fn caller_arn(&self) -> Option<String> {
        let Some(sts) = &self.sts else { return None };
        self.caller_arn
            .get_or_init(|| async {
                match sts.get_caller_identity().send().await {
                    Ok(out) => out.arn().map(str::to_string),
                    Err(err) => {
                        debug!(error = %err, "GetCallerIdentity failed; audit principal will be NULL");
                        None
                    }
                }
            })
            .await
            .clone()
    }
}

impl NamespaceAdmin {
    /// `audit_retention_days` of the namespace's system config (default 90), read once
    /// per table handle and namespace.
    pub async fn audit_retention_days(&self) -> Result<i64> {
        if let Some(days) = self
            .table
            .audit_retention
            .lock()
            .ok()
            .and_then(|m| m.get(&self.ns).copied())
        {
            return Ok(days);
        }
        let out = self
            .table
            .client
            .get_item()
            .table_name(&self.table.name)
            .set_key(Some(ConfigLevel::System.key(&self.ns)))
            .consistent_read(false)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", &self.table.name, e))?;
        let days = out
            .item()
            .and_then(|item| get_n(item, attrs::AUDIT_RETENTION_DAYS))
            .filter(|d| *d != 0)
            .unwrap_or(DEFAULT_AUDIT_RETENTION_DAYS);
        if let Ok(mut cache) = self.table.audit_retention.lock() {
            cache.insert(self.ns.clone(), days);
        }
        Ok(days)
    }

    /// Writes one audit event. `principal` is validated unless it is an ARN; `None`
    /// uses the STS caller ARN.
    pub(crate) async fn log_audit(
        &self,
        action: AuditAction,
        entity_id: &str,
        principal: Option<&str>,
        resource: Option<&str>,
        details: Value,
    ) -> Result<AuditEvent> {
        let principal = match principal {
            Some(p) => Some(p.to_string()),
            None => self.table.caller_arn().await,
        };
        if let Some(p) = principal.as_deref() {
            validate_principal(p)?;
        }
        let days = self.audit_retention_days().await?;
        let now = clock::now_ms();
        let event = AuditEvent {
            event_id: clock::ulid_at(now),
            entity_id: entity_id.to_string(),
            action: action.as_str().to_string(),
            timestamp: clock::format_utc(now.div_euclid(1000)),
            principal,
            resource: resource.map(str::to_string),
            details,
            ttl: audit_expiry(now, days),
        };
        self.table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(event.to_item(&self.ns)))
            .send()
            .await
            .map_err(|e| Error::dynamo("PutItem", &self.table.name, e))?;
        Ok(event)
    }

    /// Validates a caller-supplied principal before any write.
    pub(crate) fn check_principal(principal: Option<&str>) -> Result<()> {
        if let Some(p) = principal {
            validate_principal(p)?;
        }
        Ok(())
    }
}

/// The epoch second an audit event written at `now_ms` expires, `days` later. The stored
/// `audit_retention_days` is any number; where zae-limiter's integer exceeds `i64` the
/// expiry saturates (never expires) instead of wrapping into the past.
fn audit_expiry(now_ms: i64, days: i64) -> i64 {
    now_ms.div_euclid(1000).saturating_add(days.saturating_mul(86_400))
}

#[cfg(test)]
mod expiry_tests {
    use super::audit_expiry;

    #[test]
    fn retention_days_saturate_instead_of_wrapping() {
        assert_eq!(audit_expiry(1_795_400_235_000, 90), 1_795_400_235 + 90 * 86_400);
        assert_eq!(audit_expiry(1_795_400_235_000, -1), 1_795_400_235 - 86_400);
        assert_eq!(audit_expiry(1_795_400_235_000, i64::MAX / 86_400 + 1), i64::MAX);
        assert_eq!(audit_expiry(1_795_400_235_000, i64::MAX), i64::MAX);
        assert_eq!(audit_expiry(-1_000, i64::MIN), i64::MIN);
    }
}
