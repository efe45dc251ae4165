//! [`TableInfo`]: what `DescribeTable` says about a table, and every way it differs from the
//! zae-limiter definition.

use std::fmt;

use aws_sdk_dynamodb::types::{KeySchemaElement, Projection, TableDescription};
use zae_limiter::schema::table as schema;

use super::definition::{BILLING_MODE, STREAM_VIEW_TYPE, projection_type_name};
use crate::aws::error::{AwsError, Result};

/// One key schema element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyElement {
    /// Attribute name.
    pub attribute: String,
    /// `HASH` or `RANGE`.
    pub key_type: String,
}

/// One attribute definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeSummary {
    /// Attribute name.
    pub name: String,
    /// `S`, `N` or `B`.
    pub attribute_type: String,
}

/// A secondary index, global or local.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSummary {
    /// Index name.
    pub name: String,
    /// Hash key attribute.
    pub hash_key: Option<String>,
    /// Range key attribute.
    pub range_key: Option<String>,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection: Option<String>,
    /// Projected non-key attributes (`INCLUDE` only).
    pub non_key_attributes: Vec<String>,
    /// Index status (global indexes only).
    pub status: Option<String>,
}

/// Server-side encryption, when the table does not use the default AWS-owned key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseSummary {
    /// `ENABLED`, `UPDATING`, …
    pub status: Option<String>,
    /// `KMS` or `AES256`.
    pub sse_type: Option<String>,
    /// The KMS key.
    pub kms_key_arn: Option<String>,
}

/// A table as `DescribeTable` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Table name.
    pub name: String,
    /// Table ARN.
    pub arn: String,
    /// `CREATING`, `ACTIVE`, `UPDATING`, `DELETING`, …
    pub status: String,
    /// ARN of the latest stream (present while streams are enabled).
    pub stream_arn: Option<String>,
    /// Stream view type; `None` when streams are disabled.
    pub stream_view_type: Option<String>,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// `PAY_PER_REQUEST` or `PROVISIONED` (`None` when DynamoDB omits the summary, which it
    /// does for tables that were always provisioned).
    pub billing_mode: Option<String>,
    /// Table class, when DynamoDB reports one.
    pub table_class: Option<String>,
    /// Primary key.
    pub key_schema: Vec<KeyElement>,
    /// Attribute definitions.
    pub attribute_definitions: Vec<AttributeSummary>,
    /// Global secondary indexes.
    pub global_indexes: Vec<IndexSummary>,
    /// Local secondary indexes.
    pub local_indexes: Vec<IndexSummary>,
    /// Server-side encryption (`None` = DynamoDB's default AWS-owned key).
    pub sse: Option<SseSummary>,
}

/// One difference between a table and the zae-limiter definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionProblem {
    /// True when only a new table can fix it (keys, attribute definitions, indexes); false
    /// when `UpdateTable` could (billing mode, stream, encryption, table class).
    pub requires_replacement: bool,
    /// What differs, e.g. `index GSI3 projects ALL, expected KEYS_ONLY`.
    pub message: String,
}

impl fmt::Display for DefinitionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn key_elements(keys: &[KeySchemaElement]) -> Vec<KeyElement> {
    keys.iter()
        .map(|k| KeyElement {
            attribute: k.attribute_name().to_owned(),
            key_type: k.key_type().as_str().to_owned(),
        })
        .collect()
}

fn key_of(keys: &[KeySchemaElement], key_type: &str) -> Option<String> {
    keys.iter()
        .find(|k| k.key_type().as_str() == key_type)
        .map(|k| k.attribute_name().to_owned())
}

fn index_summary(
    name: Option<&str>,
    keys: &[KeySchemaElement],
    projection: Option<&Projection>,
    status: Option<String>,
) -> IndexSummary {
    IndexSummary {
        name: name.unwrap_or_default().to_owned(),
        hash_key: key_of(keys, "HASH"),
        range_key: key_of(keys, "RANGE"),
        projection: projection
            .and_then(|p| p.projection_type())
            .map(|p| p.as_str().to_owned()),
        non_key_attributes: projection.map(|p| p.non_key_attributes().to_vec()).unwrap_or_default(),
        status,
    }
}

impl TableInfo {
    /// Reads a `DescribeTable` / `CreateTable` description. `operation` and `name` label the
    /// error when the description lacks its ARN or status.
    pub(crate) fn from_description(operation: &'static str, name: &str, t: &TableDescription) -> Result<Self> {
        let missing = |field: &str| AwsError::InvalidResponse {
            operation,
            resource: format!("DynamoDB table \"{name}\""),
            detail: format!("the table description has no {field}"),
        };
        let stream = t.stream_specification().filter(|s| s.stream_enabled());
        Ok(TableInfo {
            name: t.table_name().unwrap_or(name).to_owned(),
            arn: t.table_arn().ok_or_else(|| missing("TableArn"))?.to_owned(),
            status: t
                .table_status()
                .ok_or_else(|| missing("TableStatus"))?
                .as_str()
                .to_owned(),
            stream_arn: t.latest_stream_arn().map(str::to_owned),
            stream_view_type: stream.and_then(|s| s.stream_view_type()).map(|v| v.as_str().to_owned()),
            deletion_protection: t.deletion_protection_enabled().unwrap_or(false),
            billing_mode: t
                .billing_mode_summary()
                .and_then(|b| b.billing_mode())
                .map(|b| b.as_str().to_owned()),
            table_class: t
                .table_class_summary()
                .and_then(|c| c.table_class())
                .map(|c| c.as_str().to_owned()),
            key_schema: key_elements(t.key_schema()),
            attribute_definitions: t
                .attribute_definitions()
                .iter()
                .map(|a| AttributeSummary {
                    name: a.attribute_name().to_owned(),
                    attribute_type: a.attribute_type().as_str().to_owned(),
                })
                .collect(),
            global_indexes: t
                .global_secondary_indexes()
                .iter()
                .map(|g| {
                    let status = g.index_status().map(|s| s.as_str().to_owned());
                    index_summary(g.index_name(), g.key_schema(), g.projection(), status)
                })
                .collect(),
            local_indexes: t
                .local_secondary_indexes()
                .iter()
                .map(|l| index_summary(l.index_name(), l.key_schema(), l.projection(), None))
                .collect(),
            sse: t.sse_description().map(|s| SseSummary {
                status: s.status().map(|v| v.as_str().to_owned()),
                sse_type: s.sse_type().map(|v| v.as_str().to_owned()),
                kms_key_arn: s.kms_master_key_arn().map(str::to_owned),
            }),
        })
    }

    /// The table status, except that an `ACTIVE` table whose global indexes are still being
    /// built reports `UPDATING`: the table is usable only when both are active.
    pub fn effective_status(&self) -> &str {
        let indexes_active = self
            .global_indexes
            .iter()
            .all(|g| g.status.as_deref().is_none_or(|s| s == "ACTIVE"));
        if self.status == "ACTIVE" && !indexes_active {
            "UPDATING"
        } else {
            &self.status
        }
    }

    /// True when the table is exactly the zae-limiter definition.
    pub fn matches_zae_definition(&self) -> bool {
        self.definition_problems().is_empty()
    }

    /// Every way this table differs from the zae-limiter definition (wire-format §2.1), for import
    /// validation and drift detection. TTL and point-in-time recovery are separate settings
    /// (see `describe_ttl` / `describe_pitr`) and not checked here.
    pub fn definition_problems(&self) -> Vec<DefinitionProblem> {
        let mut problems = Problems::default();
        self.check_keys(&mut problems);
        self.check_attributes(&mut problems);
        self.check_global_indexes(&mut problems);
        self.check_local_indexes(&mut problems);
        self.check_settings(&mut problems);
        problems.0
    }

    fn check_keys(&self, p: &mut Problems) {
        let expected = [(schema::PK, "HASH"), (schema::SK, "RANGE")].map(|(a, t)| KeyElement {
            attribute: a.into(),
            key_type: t.into(),
        });
        if self.key_schema != expected {
            p.replace(format!(
                "primary key is {}, expected {}",
                render_keys(&self.key_schema),
                render_keys(&expected)
            ));
        }
    }

    fn check_attributes(&self, p: &mut Problems) {
        let expected = schema::key_attributes();
        for name in &expected {
            match self.attribute_definitions.iter().find(|a| a.name == *name) {
                None => p.replace(format!("attribute {name} is not defined")),
                Some(a) if a.attribute_type != "S" => {
                    p.replace(format!("attribute {name} has type {}, expected S", a.attribute_type))
                }
                Some(_) => {}
            }
        }
        for extra in self
            .attribute_definitions
            .iter()
            .filter(|a| !expected.contains(&a.name.as_str()))
        {
            p.replace(format!(
                "unexpected attribute definition {} ({})",
                extra.name, extra.attribute_type
            ));
        }
    }

    fn check_global_indexes(&self, p: &mut Problems) {
        for gsi in &schema::GLOBAL_INDEXES {
            match self.global_indexes.iter().find(|g| g.name == gsi.name) {
                None => p.replace(format!("global index {} is missing", gsi.name)),
                Some(actual) => check_index(p, "global", actual, gsi.hash_key, gsi.range_key, gsi.projection),
            }
        }
        for extra in self
            .global_indexes
            .iter()
            .filter(|g| !schema::GLOBAL_INDEXES.iter().any(|e| e.name == g.name))
        {
            p.replace(format!("unexpected global index {}", extra.name));
        }
    }

    fn check_local_indexes(&self, p: &mut Problems) {
        for lsi in &schema::LOCAL_INDEXES {
            match self.local_indexes.iter().find(|l| l.name == lsi.name) {
                None => p.replace(format!("local index {} is missing", lsi.name)),
                Some(actual) => check_index(p, "local", actual, schema::PK, lsi.range_key, lsi.projection),
            }
        }
        for extra in self
            .local_indexes
            .iter()
            .filter(|l| !schema::LOCAL_INDEXES.iter().any(|e| e.name == l.name))
        {
            p.replace(format!("unexpected local index {}", extra.name));
        }
    }

    fn check_settings(&self, p: &mut Problems) {
        if self.billing_mode.as_deref() != Some(BILLING_MODE) {
            let actual = self.billing_mode.as_deref().unwrap_or("PROVISIONED");
            p.update(format!("billing mode is {actual}, expected {BILLING_MODE}"));
        }
        match self.stream_view_type.as_deref() {
            None => p.update(format!("streams are disabled, expected {STREAM_VIEW_TYPE}")),
            Some(view) if view != STREAM_VIEW_TYPE => {
                p.update(format!("stream view type is {view}, expected {STREAM_VIEW_TYPE}"))
            }
            Some(_) => {}
        }
        if let Some(sse) = &self.sse {
            let active = !matches!(sse.status.as_deref(), Some("DISABLED" | "DISABLING"));
            if active {
                p.update(format!(
                    "server-side encryption uses {} (key {}), expected DynamoDB's default AWS-owned key",
                    sse.sse_type.as_deref().unwrap_or("an unknown type"),
                    sse.kms_key_arn.as_deref().unwrap_or("unknown")
                ));
            }
        }
        if let Some(class) = self.table_class.as_deref().filter(|c| *c != "STANDARD") {
            p.update(format!("table class is {class}, expected STANDARD"));
        }
    }
}

fn check_index(
    p: &mut Problems,
    kind: &str,
    actual: &IndexSummary,
    hash: &str,
    range: &str,
    projection: schema::Projection,
) {
    if actual.hash_key.as_deref() != Some(hash) || actual.range_key.as_deref() != Some(range) {
        p.replace(format!(
            "{kind} index {} is keyed on ({}, {}), expected ({hash}, {range})",
            actual.name,
            actual.hash_key.as_deref().unwrap_or("-"),
            actual.range_key.as_deref().unwrap_or("-"),
        ));
    }
    let expected = projection_type_name(projection);
    if actual.projection.as_deref() != Some(expected) {
        let found = actual.projection.as_deref().unwrap_or("nothing");
        let extra = if actual.non_key_attributes.is_empty() {
            String::new()
        } else {
            format!(" ({})", actual.non_key_attributes.join(", "))
        };
        p.replace(format!(
            "{kind} index {} projects {found}{extra}, expected {expected}",
            actual.name
        ));
    }
}

fn render_keys(keys: &[KeyElement]) -> String {
    let parts: Vec<_> = keys.iter().map(|k| format!("{} {}", k.attribute, k.key_type)).collect();
    format!("({})", parts.join(", "))
}

#[derive(Default)]
struct Problems(Vec<DefinitionProblem>);

impl Problems {
    fn replace(&mut self, message: String) {
        self.0.push(DefinitionProblem {
            requires_replacement: true,
            message,
        });
    }

    fn update(&mut self, message: String) {
        self.0.push(DefinitionProblem {
            requires_replacement: false,
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, BillingModeSummary, GlobalSecondaryIndexDescription, IndexStatus,
        LocalSecondaryIndexDescription, ScalarAttributeType, SseDescription, SseType, StreamSpecification,
        StreamViewType, TableStatus,
    };

    use super::super::definition::{attribute_definitions, global_indexes, key_schema, local_indexes};
    use super::*;

    /// A description of a table exactly as `create_table` defines it.
    fn zae_description() -> TableDescription {
        let gsis = global_indexes().unwrap().into_iter().map(|g| {
            GlobalSecondaryIndexDescription::builder()
                .index_name(g.index_name())
                .set_key_schema(Some(g.key_schema().to_vec()))
                .set_projection(g.projection().cloned())
                .index_status(IndexStatus::Active)
                .build()
        });
        let lsis = local_indexes().unwrap().into_iter().map(|l| {
            LocalSecondaryIndexDescription::builder()
                .index_name(l.index_name())
                .set_key_schema(Some(l.key_schema().to_vec()))
                .set_projection(l.projection().cloned())
                .build()
        });
        TableDescription::builder()
            .table_name("zae")
            .table_arn("arn:aws:dynamodb:us-east-1:123456789012:table/zae")
            .table_status(TableStatus::Active)
            .set_key_schema(Some(key_schema("PK", "SK").unwrap()))
            .set_attribute_definitions(Some(attribute_definitions().unwrap()))
            .set_global_secondary_indexes(Some(gsis.collect()))
            .set_local_secondary_indexes(Some(lsis.collect()))
            .billing_mode_summary(
                BillingModeSummary::builder()
                    .billing_mode(BillingMode::PayPerRequest)
                    .build(),
            )
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .unwrap(),
            )
            .latest_stream_arn("arn:aws:dynamodb:us-east-1:123456789012:table/zae/stream/x")
            .deletion_protection_enabled(false)
            .build()
    }

    fn info(t: &TableDescription) -> TableInfo {
        TableInfo::from_description("DescribeTable", "zae", t).unwrap()
    }

    fn messages(info: &TableInfo) -> Vec<String> {
        info.definition_problems().into_iter().map(|p| p.message).collect()
    }

    #[test]
    fn the_reference_table_has_no_problems() {
        let info = info(&zae_description());
        assert!(info.matches_zae_definition(), "{:?}", info.definition_problems());
        assert_eq!(info.arn, "arn:aws:dynamodb:us-east-1:123456789012:table/zae");
        assert_eq!(info.stream_view_type.as_deref(), Some("NEW_AND_OLD_IMAGES"));
        assert_eq!(info.global_indexes.len(), 4);
        assert_eq!(info.local_indexes.len(), 5);
        assert_eq!(info.effective_status(), "ACTIVE");
    }

    #[test]
    fn reports_wrong_keys_attributes_and_indexes_as_needing_replacement() {
        let mut info = info(&zae_description());
        info.key_schema.swap(0, 1);
        info.attribute_definitions.retain(|a| a.name != "LSI5SK");
        info.attribute_definitions.push(AttributeSummary {
            name: "other".into(),
            attribute_type: "N".into(),
        });
        info.global_indexes[2].projection = Some("ALL".into());
        info.global_indexes.remove(3);
        info.global_indexes.push(IndexSummary {
            name: "GSI9".into(),
            hash_key: Some("other".into()),
            range_key: None,
            projection: Some("INCLUDE".into()),
            non_key_attributes: vec!["x".into()],
            status: Some("ACTIVE".into()),
        });
        info.local_indexes[1].range_key = Some("LSI1SK".into());
        assert_eq!(
            messages(&info),
            vec![
                "primary key is (SK RANGE, PK HASH), expected (PK HASH, SK RANGE)",
                "attribute LSI5SK is not defined",
                "unexpected attribute definition other (N)",
                "global index GSI3 projects ALL, expected KEYS_ONLY",
                "global index GSI4 is missing",
                "unexpected global index GSI9",
                "local index LSI2 is keyed on (PK, LSI1SK), expected (PK, LSI2SK)",
            ]
        );
        assert!(info.definition_problems().iter().all(|p| p.requires_replacement));
    }

    #[test]
    fn reports_changeable_settings_as_updatable() {
        let mut d = zae_description();
        d.billing_mode_summary = None;
        d.stream_specification = Some(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::KeysOnly)
                .build()
                .unwrap(),
        );
        d.sse_description = Some(
            SseDescription::builder()
                .status(aws_sdk_dynamodb::types::SseStatus::Enabled)
                .sse_type(SseType::Kms)
                .kms_master_key_arn("arn:aws:kms:us-east-1:123456789012:key/k")
                .build(),
        );
        let info = info(&d);
        assert_eq!(
            messages(&info),
            vec![
                "billing mode is PROVISIONED, expected PAY_PER_REQUEST",
                "stream view type is KEYS_ONLY, expected NEW_AND_OLD_IMAGES",
                "server-side encryption uses KMS (key arn:aws:kms:us-east-1:123456789012:key/k), \
                 expected DynamoDB's default AWS-owned key",
            ]
        );
        assert!(info.definition_problems().iter().all(|p| !p.requires_replacement));
    }

    #[test]
    fn disabled_streams_are_a_problem() {
        let mut d = zae_description();
        d.stream_specification = Some(StreamSpecification::builder().stream_enabled(false).build().unwrap());
        let info = info(&d);
        assert_eq!(info.stream_view_type, None);
        assert_eq!(
            messages(&info),
            vec!["streams are disabled, expected NEW_AND_OLD_IMAGES"]
        );
    }

    #[test]
    fn an_active_table_with_a_building_index_is_updating() {
        let mut info = info(&zae_description());
        info.global_indexes[1].status = Some("CREATING".into());
        assert_eq!(info.effective_status(), "UPDATING");
    }

    #[test]
    fn a_description_without_an_arn_is_unusable() {
        let mut d = zae_description();
        d.table_arn = None;
        let err = TableInfo::from_description("DescribeTable", "zae", &d).unwrap_err();
        assert!(matches!(err, AwsError::InvalidResponse { .. }), "{err:?}");
    }

    #[test]
    fn attribute_types_are_checked() {
        let mut d = zae_description();
        let mut attrs = attribute_definitions().unwrap();
        attrs[0] = AttributeDefinition::builder()
            .attribute_name("PK")
            .attribute_type(ScalarAttributeType::N)
            .build()
            .unwrap();
        d.attribute_definitions = Some(attrs);
        assert_eq!(messages(&info(&d)), vec!["attribute PK has type N, expected S"]);
    }
}
