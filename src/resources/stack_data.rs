//! Data source `zae_limiter_stack`: looks up an existing stack by name (table, stream and
//! the six policy ARNs), e.g. from another Terraform configuration than the one that
//! created it. Uses the `zae_limiter_stack` resource's own refresh.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::common::error_diag;
use super::stack::{self, POLICY_ATTRIBUTES, StackModel};
use crate::aws::AwsClients;
use crate::framework::{Attribute, Block, Diagnostics, Known, ModelDataSource, Private, Schema};
use crate::model;

/// Data source type name.
pub const TYPE_NAME: &str = "zae_limiter_stack";

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

model! {
    /// What the `zae_limiter_stack` data source finds.
    pub struct StackDataModel, config StackDataConfig, names StackDataNames {
        /// The stack name.
        pub id: Known<String>,
        /// Stack name.
        pub name: String,
        /// Table name.
        pub table_name: Known<String>,
        /// Table ARN.
        pub table_arn: Known<String>,
        /// Stream ARN.
        pub stream_arn: Known<String>,
        /// Schema version.
        pub schema_version: Known<String>,
        /// Id of the `default` namespace.
        pub default_namespace_id: Known<String>,
        /// The table's tags.
        pub tags_all: Known<BTreeMap<String, String>>,
        /// ARN of the `-acq` policy.
        pub acquire_only_policy_arn: Known<String>,
        /// ARN of the `-full` policy.
        pub full_access_policy_arn: Known<String>,
        /// ARN of the `-read` policy.
        pub read_only_policy_arn: Known<String>,
        /// ARN of the `-ns-acq` policy.
        pub namespace_acquire_policy_arn: Known<String>,
        /// ARN of the `-ns-full` policy.
        pub namespace_full_access_policy_arn: Known<String>,
        /// ARN of the `-ns-read` policy.
        pub namespace_read_only_policy_arn: Known<String>,
    }
}

impl From<StackModel> for StackDataModel {
    fn from(stack: StackModel) -> StackDataModel {
        StackDataModel {
            id: stack.id,
            name: stack.name,
            table_name: stack.table_name,
            table_arn: stack.table_arn,
            stream_arn: stack.stream_arn,
            schema_version: stack.schema_version,
            default_namespace_id: stack.default_namespace_id,
            tags_all: stack.tags_all,
            acquire_only_policy_arn: stack.acquire_only_policy_arn,
            full_access_policy_arn: stack.full_access_policy_arn,
            read_only_policy_arn: stack.read_only_policy_arn,
            namespace_acquire_policy_arn: stack.namespace_acquire_policy_arn,
            namespace_full_access_policy_arn: stack.namespace_full_access_policy_arn,
            namespace_read_only_policy_arn: stack.namespace_read_only_policy_arn,
        }
    }
}

#[async_trait]
impl ModelDataSource<AwsClients> for StackDataSource {
    type Model = StackDataModel;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn read(&self, clients: &AwsClients, config: StackDataModel) -> Result<StackDataModel, Diagnostics> {
        let wanted = StackModel {
            name: config.name.clone(),
            ..StackModel::default()
        };
        match stack::refresh(clients, wanted, &mut Private::default()).await? {
            Some(found) => Ok(found.into()),
            None => Err(error_diag(
                Some(StackDataModel::NAMES.name),
                "Stack not found",
                format!(
                    "There is no zae-limiter stack {:?} (no DynamoDB table of that name) in region {}.",
                    config.name, clients.region
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_agrees_with_the_schema() {
        crate::framework::model::check_agreement::<StackDataModel>(&schema().block).unwrap();
    }
}
