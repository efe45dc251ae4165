//! Creating a table with zae-limiter's definition, for local development and tests.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, LocalSecondaryIndex, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};

use super::Table;
use crate::ddb::built;
use crate::error::{Error, Result};
use crate::schema::table::{self, GLOBAL_INDEXES, LOCAL_INDEXES};

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement> {
    built(KeySchemaElement::builder().attribute_name(name).key_type(kind).build())
}

fn projection(p: table::Projection) -> Projection {
    let kind = match p {
        table::Projection::All => ProjectionType::All,
        table::Projection::KeysOnly => ProjectionType::KeysOnly,
    };
    Projection::builder().projection_type(kind).build()
}

impl Table {
    /// Creates the table exactly as zae-limiter's `Repository.create_table()` does
    /// (`get_table_definition`: on-demand, 15 string key attributes, GSI1–4, LSI1–5,
    /// stream `NEW_AND_OLD_IMAGES`; no TTL, no PITR). Meant for local development and
    /// tests; production tables come from the stack.
    pub async fn create_table(&self) -> Result<()> {
        let mut req = self
            .client
            .create_table()
            .table_name(&self.name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(table::PK, KeyType::Hash)?)
            .key_schema(key(table::SK, KeyType::Range)?)
            .stream_specification(built(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build(),
            )?);
        for name in table::key_attributes() {
            req = req.attribute_definitions(built(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build(),
            )?);
        }
        for gsi in GLOBAL_INDEXES {
            req = req.global_secondary_indexes(built(
                GlobalSecondaryIndex::builder()
                    .index_name(gsi.name)
                    .key_schema(key(gsi.hash_key, KeyType::Hash)?)
                    .key_schema(key(gsi.range_key, KeyType::Range)?)
                    .projection(projection(gsi.projection))
                    .build(),
            )?);
        }
        for lsi in LOCAL_INDEXES {
            req = req.local_secondary_indexes(built(
                LocalSecondaryIndex::builder()
                    .index_name(lsi.name)
                    .key_schema(key(table::PK, KeyType::Hash)?)
                    .key_schema(key(lsi.range_key, KeyType::Range)?)
                    .projection(projection(lsi.projection))
                    .build(),
            )?);
        }
        req.send()
            .await
            .map_err(|e| Error::dynamo("CreateTable", &self.name, e))?;
        Ok(())
    }
}
