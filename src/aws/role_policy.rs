//! The inline policies of the aggregator's execution role (wire-format §9.4, "Aggregator
//! role inline policies").
//!
//! zae-limiter 0.17.0 gives its Python aggregator `DynamoDBAccess` (items, stream, DLQ),
//! `S3ArchiveAccess` with an archive and `XRayAccess` with tracing, plus the managed
//! `AWSLambdaBasicExecutionRole` (logs anywhere in the account). This provider narrows
//! both: logging is an inline `LogsAccess` on the function's own log group, and the
//! built-in Rust aggregator ([`CodeKind::BuiltIn`]) only writes items (`UpdateItem`,
//! `PutItem`, `ConditionCheckItem` on the table: no reads, no indexes). A user's package
//! ([`CodeKind::Python`]) keeps 0.17.0's item statement, since its code reads.

use serde_json::{Value, json};

/// Which code the role runs, and so which permissions it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// The provider's built-in Rust aggregator.
    BuiltIn,
    /// A user package (zae-limiter's Python aggregator or another implementation).
    Python,
}

/// What the role's policies name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatorGrants {
    /// The table ARN.
    pub table_arn: String,
    /// The table's stream ARN.
    pub stream_arn: String,
    /// The DLQ ARN.
    pub dlq_arn: String,
    /// The log group ARN (`arn:…:log-group:/aws/lambda/{function}`).
    pub log_group_arn: String,
    /// The archive bucket ARN, when archival is on.
    pub archive_bucket_arn: Option<String>,
    /// Whether X-Ray tracing is on.
    pub tracing: bool,
    /// Which code runs.
    pub code: CodeKind,
}

/// `DynamoDBAccess`.
pub const DYNAMODB_ACCESS: &str = "DynamoDBAccess";
/// `S3ArchiveAccess`.
pub const S3_ARCHIVE_ACCESS: &str = "S3ArchiveAccess";
/// `XRayAccess`.
pub const XRAY_ACCESS: &str = "XRayAccess";
/// `LogsAccess` (the narrow stand-in for `AWSLambdaBasicExecutionRole`).
pub const LOGS_ACCESS: &str = "LogsAccess";

/// Every inline policy name this module may write, so that a policy no longer wanted can
/// be removed.
pub const ALL_POLICY_NAMES: [&str; 4] = [DYNAMODB_ACCESS, S3_ARCHIVE_ACCESS, XRAY_ACCESS, LOGS_ACCESS];

/// The log group ARN of `log_group` (with `:*` for its streams, as IAM matches them).
pub fn log_group_arn(partition: &str, region: &str, account: &str, log_group: &str) -> String {
    format!("arn:{partition}:logs:{region}:{account}:log-group:{log_group}")
}

impl AggregatorGrants {
    /// The inline policies the role must hold, by name, in a fixed order.
    pub fn inline_policies(&self) -> Vec<(&'static str, Value)> {
        let mut policies = vec![(DYNAMODB_ACCESS, self.dynamodb_access())];
        if let Some(bucket) = &self.archive_bucket_arn {
            policies.push((
                S3_ARCHIVE_ACCESS,
                document(vec![json!({
                    "Effect": "Allow",
                    "Action": ["s3:PutObject"],
                    "Resource": [format!("{bucket}/*")]
                })]),
            ));
        }
        if self.tracing {
            policies.push((
                XRAY_ACCESS,
                document(vec![json!({
                    "Effect": "Allow",
                    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    "Resource": "*"
                })]),
            ));
        }
        policies.push((
            LOGS_ACCESS,
            document(vec![json!({
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [format!("{}:*", self.log_group_arn)]
            })]),
        ));
        policies
    }

    fn dynamodb_access(&self) -> Value {
        let items = match self.code {
            CodeKind::BuiltIn => json!({
                "Effect": "Allow",
                "Action": ["dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"],
                "Resource": [self.table_arn]
            }),
            CodeKind::Python => json!({
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                    "dynamodb:Query", "dynamodb:ConditionCheckItem"
                ],
                "Resource": [self.table_arn, format!("{}/index/*", self.table_arn)]
            }),
        };
        document(vec![
            items,
            json!({
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                    "dynamodb:DescribeStream", "dynamodb:ListStreams"
                ],
                "Resource": [self.stream_arn]
            }),
            json!({
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": [self.dlq_arn]
            }),
        ])
    }
}

fn document(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(code: CodeKind) -> AggregatorGrants {
        AggregatorGrants {
            table_arn: "arn:aws:dynamodb:us-east-1:1:table/t".into(),
            stream_arn: "arn:aws:dynamodb:us-east-1:1:table/t/stream/s".into(),
            dlq_arn: "arn:aws:sqs:us-east-1:1:t-aggregator-dlq".into(),
            log_group_arn: log_group_arn("aws", "us-east-1", "1", "/aws/lambda/t-aggregator"),
            archive_bucket_arn: None,
            tracing: false,
            code,
        }
    }

    fn names(policies: &[(&'static str, Value)]) -> Vec<&'static str> {
        policies.iter().map(|(n, _)| *n).collect()
    }

    #[test]
    fn the_built_in_aggregator_only_writes_items_and_logs_to_its_own_group() {
        let policies = grants(CodeKind::BuiltIn).inline_policies();
        assert_eq!(names(&policies), [DYNAMODB_ACCESS, LOGS_ACCESS]);
        let items = &policies[0].1["Statement"][0];
        assert_eq!(
            items["Action"],
            json!(["dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"])
        );
        assert_eq!(items["Resource"], json!(["arn:aws:dynamodb:us-east-1:1:table/t"]));
        assert_eq!(
            policies[1].1["Statement"][0]["Resource"],
            json!(["arn:aws:logs:us-east-1:1:log-group:/aws/lambda/t-aggregator:*"])
        );
    }

    #[test]
    fn a_python_package_gets_0_17_0_s_item_statement() {
        let mut g = grants(CodeKind::Python);
        g.archive_bucket_arn = Some("arn:aws:s3:::audit".into());
        g.tracing = true;
        let policies = g.inline_policies();
        assert_eq!(
            names(&policies),
            [DYNAMODB_ACCESS, S3_ARCHIVE_ACCESS, XRAY_ACCESS, LOGS_ACCESS]
        );
        assert_eq!(policies[0].1["Statement"][0]["Action"].as_array().unwrap().len(), 5);
        assert_eq!(
            policies[1].1["Statement"][0]["Resource"],
            json!(["arn:aws:s3:::audit/*"])
        );
    }
}
