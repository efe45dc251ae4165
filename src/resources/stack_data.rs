//! Data source `zae_limiter_stack`: looks up an existing stack by name (table, stream and
//! the six policy ARNs), e.g. from another Terraform configuration than the one that
//! created it. Uses the `zae_limiter_stack` resource's own refresh.

use async_trait::async_trait;

use super::stack::{self, POLICY_ATTRIBUTES};
use crate::framework::planning::empty_object;
use crate::framework::{
    Attribute, AttributePath, Block, DataSource, Diagnostics, Private, ReadDataRequest, Schema, Value,
};
use crate::aws::AwsClients;

/// Data source type name.
pub const TYPE_NAME: &str = "zae_limiter_stack";

/// Attributes copied from the resource's refreshed state.
const COPIED: [&str; 6] = [
    "table_name",
    "table_arn",
    "stream_arn",
    "schema_version",
    "default_namespace_id",
    "tags_all",
];

/// The `zae_limiter_stack` data source.
#[derive(Debug, Default)]
pub struct StackDataSource;

/// The data source schema.
pub fn schema() -> Schema {
    let mut block =
        Block::new("Looks up an existing zae-limiter stack by name: its table, stream and managed policy ARNs.")
            .attribute(Attribute::string("id").computed().description("The stack name."))
            .attribute(
                Attribute::string("name")
                    .required()
                    .description("Stack name (= DynamoDB table name).")
                    .validator(stack::stack_name_check()),
            )
            .attribute(
                Attribute::string("table_name")
                    .computed()
                    .description("DynamoDB table name."),
            )
            .attribute(
                Attribute::string("table_arn")
                    .computed()
                    .description("DynamoDB table ARN."),
            )
            .attribute(
                Attribute::string("stream_arn")
                    .computed()
                    .description("ARN of the table's stream."),
            )
            .attribute(
                Attribute::string("schema_version")
                    .computed()
                    .description("Schema version in the version record (null without one)."),
            )
            .attribute(
                Attribute::string("default_namespace_id")
                    .computed()
                    .description("Id of the `default` namespace."),
            )
            .attribute(
                Attribute::string_map("tags_all")
                    .computed()
                    .description("The table's tags."),
            );
    for (kind, attr) in POLICY_ATTRIBUTES {
        block = block.attribute(Attribute::string(attr).computed().description(format!(
            "ARN of the `{{name}}{}` managed policy (null when it does not exist): {}",
            kind.name_suffix(),
            kind.description()
        )));
    }
    Schema::new(block)
}

#[async_trait]
impl DataSource<AwsClients> for StackDataSource {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn read(&self, req: &ReadDataRequest<'_, AwsClients>, diags: &mut Diagnostics) -> Value {
        let mut out = req.config.clone();
        let name = req.config.get("name").as_str().unwrap_or_default().to_string();
        let mut found = empty_object(&stack::schema().block);
        found.set("name", name.clone().into());
        match stack::refresh(req.provider, &mut found, &mut Private::default()).await {
            Ok(true) => {}
            Ok(false) => {
                diags.attribute_error(
                    AttributePath::root("name"),
                    "Stack not found",
                    format!(
                        "There is no zae-limiter stack {name:?} (no DynamoDB table of that name) in region {}.",
                        req.provider.region
                    ),
                );
                return out;
            }
            Err(d) => {
                diags.extend(d);
                return out;
            }
        }
        out.set("id", name.into());
        for attr in COPIED.into_iter().chain(POLICY_ATTRIBUTES.iter().map(|(_, a)| *a)) {
            out.set(attr, found.get(attr).clone());
        }
        out
    }
}
