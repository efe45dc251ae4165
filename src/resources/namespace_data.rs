//! Data source `zae_limiter_namespace`: the id and status of a namespace, by stack and
//! name, for configurations that did not create it (e.g. an application repository that
//! tags its own roles or sets its own limits).
//!
//! An active namespace is found with one `GetItem` of its forward record; a soft-deleted
//! one (status `deleted`, with its id) through the registry's reverse records.

use async_trait::async_trait;
use zae_limiter::admin::Table;

use super::namespace::namespace_name_validator;
use crate::framework::{Attribute, AttributePath, Block, DataSource, Diagnostics, ReadDataRequest, Schema, Value};
use crate::aws::AwsClients;

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

#[async_trait]
impl DataSource<AwsClients> for NamespaceDataSource {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn read(&self, req: &ReadDataRequest<'_, AwsClients>, diags: &mut Diagnostics) -> Value {
        let mut out = req.config.clone();
        let stack = req.config.get("stack").as_str().unwrap_or_default();
        let name = req.config.get("name").as_str().unwrap_or_default();
        let data = Table::new(req.provider.dynamodb.clone(), stack);
        let found = match data.get_namespace(name).await {
            Ok(Some(record)) => Some(record),
            Ok(None) => data
                .find_deleted_namespaces(name)
                .await
                .map(|d| d.into_iter().next())
                .unwrap_or_default(),
            Err(zae_limiter::Error::TableNotFound { .. }) => {
                diags.attribute_error(
                    AttributePath::root("stack"),
                    "Unknown stack",
                    format!(
                        "There is no zae-limiter stack {stack:?}: its DynamoDB table does not exist in this region."
                    ),
                );
                return out;
            }
            Err(e) => {
                diags.error("Cannot read the namespace registry", e.to_string());
                return out;
            }
        };
        let Some(record) = found else {
            diags.attribute_error(
                AttributePath::root("name"),
                "Namespace not found",
                format!("Stack {stack:?} has no namespace named {name:?}."),
            );
            return out;
        };
        out.set("id", record.id.into());
        out.set("status", record.status.as_str().into());
        out.set("created_at", record.created_at.into());
        out.set("deleted_at", record.deleted_at.into());
        out
    }
}
