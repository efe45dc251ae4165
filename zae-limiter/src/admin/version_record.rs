//! Reading and writing the version record.

use tracing::debug;

use super::Table;
use crate::clock;
use crate::ddb::non_empty;
use crate::error::{Error, Result};
use crate::schema::version_record::{VersionRecord, deploy_update, version_key};
use crate::version::CURRENT_SCHEMA_VERSION;

impl Table {
    /// Writes the version record the way `zae-limiter deploy`/`upgrade` does (wire-format §1.2,
    /// vector V0): one `UpdateItem` setting schema version `0.10.0`, `lambda_version`
    /// (`NULL` for `None`), `updated_by` and `updated_at`, keeping a stored
    /// `client_min_version` (`0.0.0` when there is none).
    pub async fn write_version_record(&self, lambda_version: Option<&str>, updated_by: &str) -> Result<()> {
        let req = deploy_update(
            CURRENT_SCHEMA_VERSION,
            lambda_version,
            updated_by,
            &clock::utc_now_string(),
        );
        debug!(table = %self.name, ?lambda_version, updated_by, "writing version record");
        self.client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(req.key))
            .update_expression(req.update_expression)
            .set_expression_attribute_names(non_empty(req.names))
            .set_expression_attribute_values(non_empty(req.values))
            .send()
            .await
            .map_err(|e| Error::dynamo("UpdateItem", &self.name, e))?;
        Ok(())
    }

    /// Reads the version record (`None` when absent). `consistent` asks for a strongly
    /// consistent read, as zae-limiter's feature gates do.
    pub async fn get_version_record(&self, consistent: bool) -> Result<Option<VersionRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(version_key()))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", &self.name, e))?;
        Ok(out.item().map(VersionRecord::decode))
    }
}
