//! The resource and data source types of the `zae` provider, one file each.

use std::sync::Arc;

use crate::framework::{DataSource, Resource};
use crate::provider::AwsClients;

/// Every managed resource type.
pub fn all() -> Vec<Arc<dyn Resource<AwsClients>>> {
    Vec::new()
}

/// Every data source type.
pub fn all_data_sources() -> Vec<Arc<dyn DataSource<AwsClients>>> {
    Vec::new()
}
