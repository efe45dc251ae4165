//! The [`DataSource`] trait: read-only lookups.

use async_trait::async_trait;

use super::diag::Diagnostics;
use super::resource::ValidateRequest;
use super::schema::Schema;
use super::value::Value;

/// What a data source read sees.
pub struct ReadDataRequest<'a, D> {
    /// The configuration (fully known at read time).
    pub config: &'a Value,
    /// The configured provider.
    pub provider: &'a D,
}

/// A data source type. `D` is the provider's configured data.
#[async_trait]
pub trait DataSource<D: Send + Sync + 'static>: Send + Sync {
    /// The data source type name.
    fn type_name(&self) -> &'static str;
    /// The schema.
    fn schema(&self) -> Schema;
    /// Cross-attribute checks (schema validators have already run).
    async fn validate_config(&self, _req: &ValidateRequest<'_>, _diags: &mut Diagnostics) {}
    /// Reads the data; returns the full state (configuration plus computed values).
    async fn read(&self, req: &ReadDataRequest<'_, D>, diags: &mut Diagnostics) -> Value;
}
