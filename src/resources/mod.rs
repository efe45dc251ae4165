//! The resource and data source types of the `zae` provider, one file each.

mod common;
pub mod limit;
pub mod limit_id;
pub mod namespace;
pub mod namespace_data;
pub mod stack;
pub mod stack_data;

use std::sync::Arc;

use crate::aws::AwsClients;
use crate::framework::{DataSource, Resource, Typed};

/// Every managed resource type.
pub fn all() -> Vec<Arc<dyn Resource<AwsClients>>> {
    vec![
        Arc::new(Typed(stack::StackResource)),
        Arc::new(Typed(namespace::NamespaceResource)),
        Arc::new(Typed(limit::LimitResource)),
    ]
}

/// Every data source type.
pub fn all_data_sources() -> Vec<Arc<dyn DataSource<AwsClients>>> {
    vec![
        Arc::new(Typed(stack_data::StackDataSource)),
        Arc::new(Typed(namespace_data::NamespaceDataSource)),
    ]
}
