//! The [`Provider`] trait: provider schema, configuration and the types it serves.

use std::sync::Arc;

use async_trait::async_trait;

use super::data_source::DataSource;
use super::diag::Diagnostics;
use super::resource::Resource;
use super::schema::Schema;
use super::value::Value;

/// A Terraform provider.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// What `configure` produces and every resource operation receives (e.g. SDK clients).
    type Data: Send + Sync + 'static;

    /// The provider type name (`zae`).
    fn type_name(&self) -> &'static str;

    /// The provider configuration schema.
    fn schema(&self) -> Schema;

    /// Cross-attribute checks on the provider configuration.
    async fn validate_config(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// Builds the configured data from the provider configuration. `None` with errors in
    /// `diags` when it cannot.
    async fn configure(&self, config: &Value, diags: &mut Diagnostics) -> Option<Self::Data>;

    /// The managed resource types.
    fn resources(&self) -> Vec<Arc<dyn Resource<Self::Data>>>;

    /// The data source types.
    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Self::Data>>> {
        Vec::new()
    }
}
