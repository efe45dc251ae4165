//! The CreateTable request parts of a zae-limiter table (wire-format §2.1), built from
//! `zae_limiter::schema::table`, and the tags every table carries.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, GlobalSecondaryIndex, KeySchemaElement, KeyType, LocalSecondaryIndex, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, Tag,
};
use zae_limiter::schema::table as schema;

use crate::aws::error::{AwsError, Result};
use crate::aws::tags::Tags;

const OPERATION: &str = "CreateTable";

/// The stream view every zae-limiter table publishes (the aggregator reads both images).
pub const STREAM_VIEW_TYPE: &str = "NEW_AND_OLD_IMAGES";

/// The billing mode of every zae-limiter table.
pub const BILLING_MODE: &str = "PAY_PER_REQUEST";

/// The DynamoDB name of a schema projection.
pub fn projection_type_name(projection: schema::Projection) -> &'static str {
    match projection {
        schema::Projection::All => "ALL",
        schema::Projection::KeysOnly => "KEYS_ONLY",
    }
}

/// The tags to put on the table: the user's tags plus `Application=zae-limiter`.
///
/// The managed tag wins: a user value for `Application` is replaced, as the zae-limiter CLI
/// does for its managed stack tags (wire-format §9.6). Compute `tags_all` in plan with this function
/// so that plan and apply agree.
pub fn effective_tags(user: &Tags) -> Tags {
    let mut tags = user.clone();
    let (key, value) = schema::APPLICATION_TAG;
    tags.insert(key.to_owned(), value.to_owned());
    tags
}

/// All 15 key attributes, each of type `S`.
pub(crate) fn attribute_definitions() -> Result<Vec<AttributeDefinition>> {
    schema::key_attributes()
        .into_iter()
        .map(|name| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| AwsError::build(OPERATION, e))
        })
        .collect()
}

/// A HASH (+ RANGE) key schema.
pub(crate) fn key_schema(hash: &str, range: &str) -> Result<Vec<KeySchemaElement>> {
    [(hash, KeyType::Hash), (range, KeyType::Range)]
        .into_iter()
        .map(|(name, key_type)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(|e| AwsError::build(OPERATION, e))
        })
        .collect()
}

fn projection(projection: schema::Projection) -> Projection {
    let projection_type = match projection {
        schema::Projection::All => ProjectionType::All,
        schema::Projection::KeysOnly => ProjectionType::KeysOnly,
    };
    Projection::builder().projection_type(projection_type).build()
}

/// GSI1–GSI4 with their projections (on-demand: no provisioned throughput).
pub(crate) fn global_indexes() -> Result<Vec<GlobalSecondaryIndex>> {
    schema::GLOBAL_INDEXES
        .iter()
        .map(|gsi| {
            GlobalSecondaryIndex::builder()
                .index_name(gsi.name)
                .set_key_schema(Some(key_schema(gsi.hash_key, gsi.range_key)?))
                .projection(projection(gsi.projection))
                .build()
                .map_err(|e| AwsError::build(OPERATION, e))
        })
        .collect()
}

/// LSI1–LSI5 (hash key `PK`) with their projections.
pub(crate) fn local_indexes() -> Result<Vec<LocalSecondaryIndex>> {
    schema::LOCAL_INDEXES
        .iter()
        .map(|lsi| {
            LocalSecondaryIndex::builder()
                .index_name(lsi.name)
                .set_key_schema(Some(key_schema(schema::PK, lsi.range_key)?))
                .projection(projection(lsi.projection))
                .build()
                .map_err(|e| AwsError::build(OPERATION, e))
        })
        .collect()
}

/// Stream enabled with both images.
pub(crate) fn stream_specification() -> Result<StreamSpecification> {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::from(STREAM_VIEW_TYPE))
        .build()
        .map_err(|e| AwsError::build(OPERATION, e))
}

/// DynamoDB tags from a tag map.
pub(crate) fn sdk_tags(tags: &Tags, operation: &'static str) -> Result<Vec<Tag>> {
    crate::aws::tags::sdk_tags(tags, operation, |key, value| {
        Tag::builder().key(key).value(value).build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defines_the_fifteen_key_attributes_as_strings() {
        let attrs = attribute_definitions().unwrap();
        assert_eq!(attrs.len(), 15);
        assert!(attrs.iter().all(|a| a.attribute_type() == &ScalarAttributeType::S));
        let names: Vec<_> = attrs.iter().map(|a| a.attribute_name()).collect();
        assert_eq!(names, schema::key_attributes());
    }

    #[test]
    fn builds_four_gsis_and_five_lsis() {
        let gsis = global_indexes().unwrap();
        let summary: Vec<_> = gsis
            .iter()
            .map(|g| {
                let keys: Vec<_> = g
                    .key_schema()
                    .iter()
                    .map(|k| (k.attribute_name(), k.key_type().as_str()))
                    .collect();
                (
                    g.index_name(),
                    keys,
                    g.projection().unwrap().projection_type().unwrap().as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("GSI1", vec![("GSI1PK", "HASH"), ("GSI1SK", "RANGE")], "ALL"),
                ("GSI2", vec![("GSI2PK", "HASH"), ("GSI2SK", "RANGE")], "ALL"),
                ("GSI3", vec![("GSI3PK", "HASH"), ("GSI3SK", "RANGE")], "KEYS_ONLY"),
                ("GSI4", vec![("GSI4PK", "HASH"), ("GSI4SK", "RANGE")], "KEYS_ONLY"),
            ]
        );
        let lsis = local_indexes().unwrap();
        assert_eq!(lsis.len(), 5);
        for lsi in &lsis {
            assert_eq!(lsi.key_schema()[0].attribute_name(), "PK");
            assert_eq!(lsi.key_schema()[1].attribute_name(), format!("{}SK", lsi.index_name()));
        }
        let projections: Vec<_> = lsis
            .iter()
            .map(|l| l.projection().unwrap().projection_type().unwrap().as_str())
            .collect();
        assert_eq!(projections, ["ALL", "KEYS_ONLY", "ALL", "KEYS_ONLY", "ALL"]);
    }

    #[test]
    fn streams_both_images() {
        let stream = stream_specification().unwrap();
        assert!(stream.stream_enabled());
        assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewAndOldImages));
    }

    #[test]
    fn the_application_tag_wins_over_user_tags() {
        let user: Tags = [
            ("Application".to_string(), "mine".to_string()),
            ("team".to_string(), "a".to_string()),
        ]
        .into_iter()
        .collect();
        let tags = effective_tags(&user);
        assert_eq!(tags.get("Application").map(String::as_str), Some("zae-limiter"));
        assert_eq!(tags.get("team").map(String::as_str), Some("a"));
        assert_eq!(effective_tags(&Tags::new()).len(), 1);
    }
}
