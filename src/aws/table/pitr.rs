//! Point-in-time recovery (continuous backups) with a recovery period of 1–35 days.
//!
//! The emulator (moto 5.2.5) stores and echoes `RecoveryPeriodInDays` but does not validate
//! its range, so [`validate_pitr_days`] runs before every call. When a description carries
//! no period (older DynamoDB answers), [`PitrDescription::effective_days`] assumes AWS's
//! default of 35 days.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{PointInTimeRecoveryDescription, PointInTimeRecoverySpecification};

use super::resource;
use crate::aws::error::{AwsError, Result, SdkResultExt};
use crate::aws::log_call;
use crate::aws::retry::{RetryPolicy, retry_with};

/// The longest recovery period DynamoDB allows.
pub const MAX_PITR_DAYS: u16 = 35;
/// The period DynamoDB uses when none is given.
pub const DEFAULT_PITR_DAYS: u16 = 35;

/// What `DescribeContinuousBackups` reports about point-in-time recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PitrDescription {
    /// `ENABLED` or `DISABLED`.
    pub status: String,
    /// The recovery period, when DynamoDB reports one.
    pub recovery_period_days: Option<u16>,
}

impl PitrDescription {
    /// True when PITR is enabled.
    pub fn is_enabled(&self) -> bool {
        self.status == "ENABLED"
    }

    /// The setting as the stack models it: 0 when off, else the period (35 when unreported).
    pub fn effective_days(&self) -> u16 {
        if self.is_enabled() {
            self.recovery_period_days.unwrap_or(DEFAULT_PITR_DAYS)
        } else {
            0
        }
    }
}

/// Accepts 0 (off) and 1..=35.
pub fn validate_pitr_days(days: u16) -> Result<()> {
    if days > MAX_PITR_DAYS {
        return Err(AwsError::InvalidInput {
            what: "point-in-time recovery period".into(),
            detail: format!("{days} days; use 0 (off) or 1-{MAX_PITR_DAYS}"),
        });
    }
    Ok(())
}

fn specification(days: u16) -> Result<PointInTimeRecoverySpecification> {
    validate_pitr_days(days)?;
    let builder = PointInTimeRecoverySpecification::builder().point_in_time_recovery_enabled(days > 0);
    let builder = if days > 0 {
        builder.recovery_period_in_days(i32::from(days))
    } else {
        builder
    };
    builder
        .build()
        .map_err(|e| AwsError::build("UpdateContinuousBackups", e))
}

/// Sets point-in-time recovery: `0` disables it, `1..=35` enables it with that recovery
/// period. Retries `ContinuousBackupsUnavailableException` (backups still being enabled on
/// a new table) and throttling for [`RetryPolicy::CONTROL_PLANE`].
pub async fn set_pitr(client: &Client, name: &str, days: u16) -> Result<()> {
    let spec = specification(days)?;
    let retryable = |e: &AwsError| e.is_retryable() || e.has_code("ContinuousBackupsUnavailableException");
    retry_with(
        &RetryPolicy::CONTROL_PLANE,
        "UpdateContinuousBackups",
        retryable,
        || async {
            log_call("UpdateContinuousBackups", &resource(name));
            client
                .update_continuous_backups()
                .table_name(name)
                .point_in_time_recovery_specification(spec.clone())
                .send()
                .await
                .context("UpdateContinuousBackups", resource(name))
        },
    )
    .await?;
    Ok(())
}

/// Reads the table's point-in-time recovery setting.
pub async fn describe_pitr(client: &Client, name: &str) -> Result<PitrDescription> {
    log_call("DescribeContinuousBackups", &resource(name));
    let output = client
        .describe_continuous_backups()
        .table_name(name)
        .send()
        .await
        .context("DescribeContinuousBackups", resource(name))?;
    let pitr = output
        .continuous_backups_description()
        .and_then(|c| c.point_in_time_recovery_description());
    Ok(PitrDescription {
        status: pitr
            .and_then(|p| p.point_in_time_recovery_status())
            .map_or_else(|| "DISABLED".to_owned(), |s| s.as_str().to_owned()),
        recovery_period_days: pitr
            .and_then(PointInTimeRecoveryDescription::recovery_period_in_days)
            .and_then(|d| u16::try_from(d).ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_disables_and_a_period_enables() {
        let off = specification(0).unwrap();
        assert!(!off.point_in_time_recovery_enabled());
        assert_eq!(off.recovery_period_in_days(), None);
        let on = specification(7).unwrap();
        assert!(on.point_in_time_recovery_enabled());
        assert_eq!(on.recovery_period_in_days(), Some(7));
        assert!(specification(35).is_ok());
        assert!(specification(36).is_err());
    }

    #[test]
    fn effective_days() {
        let d = |status: &str, days| PitrDescription {
            status: status.into(),
            recovery_period_days: days,
        };
        assert_eq!(d("DISABLED", Some(7)).effective_days(), 0);
        assert_eq!(d("ENABLED", Some(7)).effective_days(), 7);
        assert_eq!(d("ENABLED", None).effective_days(), 35);
    }
}
