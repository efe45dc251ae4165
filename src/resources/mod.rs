//! The resource and data source types of the `zae` provider, one file each.

pub mod stack;

use std::sync::Arc;

use crate::framework::{DataSource, Resource};
use crate::provider::AwsClients;

/// Every managed resource type.
pub fn all() -> Vec<Arc<dyn Resource<AwsClients>>> {
    vec![Arc::new(stack::StackResource)]
}

/// Every data source type.
pub fn all_data_sources() -> Vec<Arc<dyn DataSource<AwsClients>>> {
    Vec::new()
}
