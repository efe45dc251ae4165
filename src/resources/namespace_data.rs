//! Data source `zae_limiter_namespace`: the id and status of a namespace, by stack and
//! name, for configurations that did not create it (e.g. an application repository that
//! tags its own roles or sets its own limits).
//!
//! An active namespace is found with one `GetItem` of its forward record; a soft-deleted
//! one (status `deleted`, with its id) through the registry's reverse records.

use async_trait::async_trait;
use zae_limiter::admin::Table;

use super::common::{data_error, error_diag};
use super::namespace::namespace_name_validator;
use crate::aws::AwsClients;
use crate::framework::{Attribute, Block, Diagnostics, Known, ModelDataSource, Schema};
use crate::model;

/// Data source type name.
pub const TYPE_NAME: &str = "zae_limiter_namespace";

/// The `zae_limiter_namespace` data source.
#[derive(Debug, Default)]
pub struct NamespaceDataSource;

/// The data source schema.
pub fn schema() -> Schema {
    let block = Block::new("Looks up a zae-limiter namespace by name: its opaque id and status.")
        .attribute(
            Attribute::string("stack")
                .required()
                .description("Stack name.")
                .validator(super::stack::stack_name_check()),
        )
        .attribute(
            Attribute::string("name")
                .required()
                .description("Namespace name.")
                .validator(namespace_name_validator()),
        )
        .attribute(
            Attribute::string("id")
                .computed()
                .description("The namespace's opaque id (the value of the `zael_namespace_id` principal tag)."),
        )
        .attribute(
            Attribute::string("status")
                .computed()
                .description("`active`, or `deleted` for a soft-deleted namespace that can still be recovered."),
        )
        .attribute(
            Attribute::string("created_at")
                .computed()
                .description("When the namespace was registered (UTC)."),
        )
        .attribute(
            Attribute::string("deleted_at")
                .computed()
                .description("When it was soft-deleted (null while active)."),
        );
    Schema::new(block)
}

model! {
    /// What the `zae_limiter_namespace` data source finds.
    pub struct NamespaceDataModel, config NamespaceDataConfig, names NamespaceDataNames {
        /// Stack name.
        pub stack: String,
        /// Namespace name.
        pub name: String,
        /// Opaque id.
        pub id: Known<String>,
        /// `active` or `deleted`.
        pub status: Known<String>,
        /// When it was registered.
        pub created_at: Known<String>,
        /// When it was soft-deleted.
        pub deleted_at: Known<String>,
    }
}

const NAMES: NamespaceDataNames = NamespaceDataModel::NAMES;

#[async_trait]
impl ModelDataSource<AwsClients> for NamespaceDataSource {
    type Model = NamespaceDataModel;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn read(&self, clients: &AwsClients, config: NamespaceDataModel) -> Result<NamespaceDataModel, Diagnostics> {
        let data = Table::new(clients.dynamodb.clone(), config.stack.as_str());
        let registry_error =
            |e: zae_limiter::Error| data_error(&e, "Cannot read the namespace registry", NAMES.stack, &config.stack);
        let found = match data.get_namespace(&config.name).await.map_err(registry_error)? {
            Some(active) => Some(active),
            None => data
                .find_deleted_namespaces(&config.name)
                .await
                .map_err(registry_error)?
                .into_iter()
                .next(),
        };
        let Some(record) = found else {
            return Err(error_diag(
                Some(NAMES.name),
                "Namespace not found",
                format!("Stack {:?} has no namespace named {:?}.", config.stack, config.name),
            ));
        };
        Ok(NamespaceDataModel {
            id: Known::Value(record.id),
            status: Known::Value(record.status.as_str().to_string()),
            created_at: Known::Value(record.created_at),
            deleted_at: record.deleted_at.into(),
            ..config
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_agrees_with_the_schema() {
        crate::framework::model::check_agreement::<NamespaceDataModel>(&schema().block).unwrap();
    }
}
