//! The `zae` provider: configuration, AWS clients, and the resource types it serves.

pub mod clients;
pub mod config;
pub mod schema;

use std::sync::Arc;

use async_trait::async_trait;

pub use crate::aws::AwsClients;
pub use crate::aws::sts::CallerIdentity;
pub use config::ProviderConfig;

use crate::framework::{DataSource, Diagnostics, Provider, Resource, Schema, Value};

/// The provider type name: resources named `zae_limiter_*` belong to it.
pub const TYPE_NAME: &str = "zae";

/// The `zae` provider.
#[derive(Debug, Default)]
pub struct ZaeProvider;

#[async_trait]
impl Provider for ZaeProvider {
    type Data = AwsClients;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema::provider_schema()
    }

    async fn validate_config(&self, config: &Value, diags: &mut Diagnostics) {
        ProviderConfig::from_value(config, diags);
        ProviderConfig::warn_of_unused_endpoints(config, diags);
    }

    async fn configure(&self, config: &Value, diags: &mut Diagnostics) -> Option<AwsClients> {
        let cfg = ProviderConfig::from_value(config, diags);
        if diags.has_errors() {
            return None;
        }
        clients::build(&cfg, diags).await
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<AwsClients>>> {
        crate::resources::all()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<AwsClients>>> {
        crate::resources::all_data_sources()
    }
}
