//! Maps a DynamoDB API request (its `X-Amz-Target` operation and JSON body) to the
//! authorization checks IAM makes for it: action, resource ARN (table or index) and
//! `dynamodb:LeadingKeys`.
//!
//! * `GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`: one check, the item's partition key.
//! * `Query`: one check on the table or `…/index/NAME`; the leading key is the value the
//!   `KeyConditionExpression` (or legacy `KeyConditions`) sets the partition key of the
//!   table or index to (for a GSI, the index's own partition key).
//! * `Scan` and control-plane calls: one check without `dynamodb:LeadingKeys`.
//! * `BatchGetItem` / `BatchWriteItem`: one check per item with the batch action.
//! * `TransactGetItems` / `TransactWriteItems`: IAM authorizes each member as its own
//!   action (`GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`); there is
//!   no transaction-level permission.

use std::collections::BTreeMap;

use serde_json::Value;

use super::RequestContext;

/// A request that cannot be mapped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{operation}: {message}")]
pub struct MapError {
    /// The API operation.
    pub operation: String,
    /// What is missing or unexpected.
    pub message: String,
}

/// The partition key attribute of a table and of each of its indexes.
#[derive(Debug, Clone)]
pub struct KeySchemas {
    /// The region and account the table ARNs are built in.
    pub region: String,
    /// The account id.
    pub account: String,
    /// Table name → its partition key attribute and, per index name, the index's one.
    pub tables: BTreeMap<String, TableKeys>,
}

/// The partition key attributes of one table.
#[derive(Debug, Clone)]
pub struct TableKeys {
    /// The table's partition key attribute.
    pub hash_key: String,
    /// The table's sort key attribute (named in check details).
    pub range_key: Option<String>,
    /// Index name → partition key attribute.
    pub indexes: BTreeMap<String, String>,
}

/// One authorization check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The IAM action, e.g. `dynamodb:PutItem`.
    pub action: String,
    /// The table or index ARN.
    pub resource: String,
    /// `dynamodb:LeadingKeys`; `None` when the action does not carry it.
    pub leading_keys: Option<Vec<String>>,
    /// Where the check comes from, e.g. `TransactWriteItems[1].Update PK=… SK=…`.
    pub detail: String,
}

impl Check {
    /// The IAM request context of this check (without principal tags).
    pub fn context(&self) -> RequestContext {
        let context = RequestContext::new(&self.action, &self.resource);
        match &self.leading_keys {
            Some(keys) => context.with_key("dynamodb:LeadingKeys", keys.iter().cloned()),
            None => context,
        }
    }
}

impl KeySchemas {
    fn table(&self, operation: &str, name: &str) -> Result<(&TableKeys, String), MapError> {
        let short = name.rsplit_once(":table/").map_or(name, |(_, n)| n);
        let keys = self
            .tables
            .get(short)
            .ok_or_else(|| error(operation, format!("unknown table {name:?}")))?;
        let arn = if name.starts_with("arn:") {
            name.to_owned()
        } else {
            format!("arn:aws:dynamodb:{}:{}:table/{short}", self.region, self.account)
        };
        Ok((keys, arn))
    }

    /// The checks for one API call: `operation` is the `X-Amz-Target` suffix (`GetItem`).
    pub fn checks(&self, operation: &str, body: &Value) -> Result<Vec<Check>, MapError> {
        match operation {
            "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" => {
                let field = if operation == "PutItem" { "Item" } else { "Key" };
                Ok(vec![self.item_check(operation, operation, body, field)?])
            }
            "Query" => Ok(vec![self.query_check(body)?]),
            "BatchGetItem" => self.batch(operation, body, |table, request| {
                let keys = request
                    .get("Keys")
                    .and_then(Value::as_array)
                    .ok_or_else(|| error(operation, format!("{table}: no Keys")))?;
                Ok(keys.iter().map(|key| ("Get", key)).collect())
            }),
            "BatchWriteItem" => self.batch(operation, body, |table, requests| {
                let requests = requests
                    .as_array()
                    .ok_or_else(|| error(operation, format!("{table}: requests are not a list")))?;
                requests
                    .iter()
                    .map(|r| match (r.get("PutRequest"), r.get("DeleteRequest")) {
                        (Some(put), None) => put
                            .get("Item")
                            .map(|item| ("PutRequest", item))
                            .ok_or_else(|| error(operation, "PutRequest without Item")),
                        (None, Some(delete)) => delete
                            .get("Key")
                            .map(|key| ("DeleteRequest", key))
                            .ok_or_else(|| error(operation, "DeleteRequest without Key")),
                        _ => Err(error(operation, format!("unexpected request {r}"))),
                    })
                    .collect()
            }),
            "TransactWriteItems" | "TransactGetItems" => self.transaction(operation, body),
            _ => {
                // Scan, DescribeTable and the control plane: no leading keys.
                let table = body
                    .get("TableName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| error(operation, "no TableName"))?;
                let (_, mut arn) = self.table(operation, table)?;
                if let Some(index) = body.get("IndexName").and_then(Value::as_str) {
                    arn = format!("{arn}/index/{index}");
                }
                Ok(vec![Check {
                    action: format!("dynamodb:{operation}"),
                    resource: arn,
                    leading_keys: None,
                    detail: operation.to_owned(),
                }])
            }
        }
    }

    /// A single-item check: `key_field` (`Key` or `Item`) of `body` holds the item key.
    fn item_check(&self, operation: &str, action: &str, body: &Value, key_field: &str) -> Result<Check, MapError> {
        let table = body
            .get("TableName")
            .and_then(Value::as_str)
            .ok_or_else(|| error(operation, "no TableName"))?;
        let (keys, arn) = self.table(operation, table)?;
        let key = body
            .get(key_field)
            .ok_or_else(|| error(operation, format!("no {key_field}")))?;
        let pk = string_attribute(key, &keys.hash_key)
            .ok_or_else(|| error(operation, format!("{key_field} has no string {}", keys.hash_key)))?;
        let sk = keys
            .range_key
            .as_ref()
            .and_then(|name| Some(format!(" {name}={}", string_attribute(key, name)?)))
            .unwrap_or_default();
        Ok(Check {
            action: format!("dynamodb:{action}"),
            resource: arn,
            leading_keys: Some(vec![pk.clone()]),
            detail: format!("{operation} {}={pk}{sk}", keys.hash_key),
        })
    }

    fn query_check(&self, body: &Value) -> Result<Check, MapError> {
        let operation = "Query";
        let table = body
            .get("TableName")
            .and_then(Value::as_str)
            .ok_or_else(|| error(operation, "no TableName"))?;
        let (keys, mut arn) = self.table(operation, table)?;
        let mut hash_key = &keys.hash_key;
        let index = body.get("IndexName").and_then(Value::as_str);
        if let Some(index) = index {
            hash_key = keys
                .indexes
                .get(index)
                .ok_or_else(|| error(operation, format!("unknown index {index:?}")))?;
            arn = format!("{arn}/index/{index}");
        }
        let value = match (body.get("KeyConditionExpression"), body.get("KeyConditions")) {
            (Some(Value::String(expression)), _) => {
                let names = body.get("ExpressionAttributeNames").cloned().unwrap_or(Value::Null);
                let values = body.get("ExpressionAttributeValues").cloned().unwrap_or(Value::Null);
                key_condition_value(expression, hash_key, &names, &values)
            }
            (None, Some(conditions)) => conditions
                .get(hash_key)
                .filter(|c| c.get("ComparisonOperator").and_then(Value::as_str) == Some("EQ"))
                .and_then(|c| c.get("AttributeValueList")?.get(0)?.get("S")?.as_str())
                .map(str::to_owned),
            _ => None,
        }
        .ok_or_else(|| error(operation, format!("no `{hash_key} = :v` key condition in {body}")))?;
        Ok(Check {
            action: "dynamodb:Query".into(),
            resource: arn,
            leading_keys: Some(vec![value.clone()]),
            detail: format!(
                "Query {}{hash_key}={value}",
                index.map_or(String::new(), |i| format!("{i} "))
            ),
        })
    }

    /// `RequestItems` of a batch: `members` lists each table's (label, key or item) pairs.
    fn batch<'a>(
        &self,
        operation: &str,
        body: &'a Value,
        members: impl Fn(&str, &'a Value) -> Result<Vec<(&'static str, &'a Value)>, MapError>,
    ) -> Result<Vec<Check>, MapError> {
        let items = body
            .get("RequestItems")
            .and_then(Value::as_object)
            .ok_or_else(|| error(operation, "no RequestItems"))?;
        let mut out = Vec::new();
        for (table, request) in items {
            for (i, (label, key)) in members(table, request)?.into_iter().enumerate() {
                let wrapped = serde_json::json!({"TableName": table, "Key": key});
                let mut check = self.item_check(operation, operation, &wrapped, "Key")?;
                check.detail = format!("{operation}[{i}].{label}{}", check.detail.trim_start_matches(operation));
                out.push(check);
            }
        }
        Ok(out)
    }

    fn transaction(&self, operation: &str, body: &Value) -> Result<Vec<Check>, MapError> {
        let members = body
            .get("TransactItems")
            .and_then(Value::as_array)
            .ok_or_else(|| error(operation, "no TransactItems"))?;
        let mut out = Vec::new();
        for (i, member) in members.iter().enumerate() {
            let (kind, inner) = member
                .as_object()
                .and_then(|m| m.iter().next())
                .ok_or_else(|| error(operation, format!("empty member {i}")))?;
            let (action, field) = match kind.as_str() {
                "Get" => ("GetItem", "Key"),
                "Put" => ("PutItem", "Item"),
                "Update" => ("UpdateItem", "Key"),
                "Delete" => ("DeleteItem", "Key"),
                "ConditionCheck" => ("ConditionCheckItem", "Key"),
                other => return Err(error(operation, format!("unknown member kind {other}"))),
            };
            let mut check = self.item_check(operation, action, inner, field)?;
            check.detail = format!("{operation}[{i}].{kind}{}", check.detail.trim_start_matches(operation));
            out.push(check);
        }
        Ok(out)
    }
}

fn error(operation: &str, message: impl Into<String>) -> MapError {
    MapError {
        operation: operation.to_owned(),
        message: message.into(),
    }
}

/// The `S` value of attribute `name` in a DynamoDB JSON item or key.
fn string_attribute(item: &Value, name: &str) -> Option<String> {
    item.get(name)?.get("S")?.as_str().map(str::to_owned)
}

/// The value the key condition `expression` gives `hash_key`: the `name = :value` (or
/// `:value = name`) term whose name resolves to it through `ExpressionAttributeNames`.
fn key_condition_value(expression: &str, hash_key: &str, names: &Value, values: &Value) -> Option<String> {
    let resolve_name = |token: &str| -> Option<String> {
        if token.starts_with('#') {
            names.get(token)?.as_str().map(str::to_owned)
        } else {
            Some(token.to_owned())
        }
    };
    let resolve_value = |token: &str| -> Option<String> { values.get(token)?.get("S")?.as_str().map(str::to_owned) };
    for term in split_and(expression) {
        let term = term.trim().trim_start_matches('(').trim_end_matches(')').trim();
        let Some((left, right)) = term.split_once('=') else {
            continue;
        };
        // `<=`, `>=` and `<>` are not equality.
        if left.ends_with(['<', '>']) || right.starts_with(['<', '>']) {
            continue;
        }
        let (left, right) = (left.trim(), right.trim());
        let (name, value) = if right.starts_with(':') {
            (left, right)
        } else {
            (right, left)
        };
        if resolve_name(name).as_deref() == Some(hash_key) {
            return resolve_value(value);
        }
    }
    None
}

/// Splits a key condition at its top-level `AND`s (case-insensitive, outside parentheses).
fn split_and(expression: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let bytes = expression.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ if depth == 0
                && i + 5 <= bytes.len()
                && bytes[i] == b' '
                && bytes[i + 1..i + 4].eq_ignore_ascii_case(b"AND")
                && bytes[i + 4] == b' ' =>
            {
                out.push(&expression[start..i]);
                start = i + 5;
                i += 5;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&expression[start..]);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schemas() -> KeySchemas {
        let indexes = (1..=4).map(|i| (format!("GSI{i}"), format!("GSI{i}PK"))).collect();
        KeySchemas {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            tables: BTreeMap::from([(
                "T".to_owned(),
                TableKeys {
                    hash_key: "PK".into(),
                    range_key: Some("SK".into()),
                    indexes,
                },
            )]),
        }
    }

    const ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/T";

    fn key(pk: &str, sk: &str) -> Value {
        json!({"PK": {"S": pk}, "SK": {"S": sk}})
    }

    #[test]
    fn single_item_operations_carry_the_partition_key() {
        let s = schemas();
        for op in ["GetItem", "UpdateItem", "DeleteItem"] {
            let checks = s
                .checks(op, &json!({"TableName": "T", "Key": key("ns/ENTITY#e", "#META")}))
                .unwrap();
            assert_eq!(checks.len(), 1);
            assert_eq!(checks[0].action, format!("dynamodb:{op}"));
            assert_eq!(checks[0].resource, ARN);
            assert_eq!(checks[0].leading_keys, Some(vec!["ns/ENTITY#e".to_owned()]));
            assert_eq!(checks[0].detail, format!("{op} PK=ns/ENTITY#e SK=#META"));
        }
        let item =
            json!({"TableName": ARN, "Item": {"PK": {"S": "_/SYSTEM#"}, "SK": {"S": "#VERSION"}, "x": {"N": "1"}}});
        let put = s.checks("PutItem", &item).unwrap();
        assert_eq!(put[0].leading_keys, Some(vec!["_/SYSTEM#".to_owned()]));
        assert_eq!(put[0].resource, ARN);
        assert_eq!(put[0].detail, "PutItem PK=_/SYSTEM# SK=#VERSION");
        assert!(
            s.checks("GetItem", &json!({"TableName": "T", "Key": {"SK": {"S": "x"}}}))
                .is_err()
        );
        assert!(
            s.checks("GetItem", &json!({"TableName": "U", "Key": key("a", "b")}))
                .is_err()
        );
    }

    #[test]
    fn queries_use_the_partition_key_of_the_table_or_index() {
        let s = schemas();
        let body = json!({"TableName": "T", "KeyConditionExpression": "PK = :pk AND begins_with(SK, :p)",
            "ExpressionAttributeValues": {":pk": {"S": "ns/SYSTEM#"}, ":p": {"S": "#"}}});
        let q = &s.checks("Query", &body).unwrap()[0];
        assert_eq!(
            (q.resource.as_str(), q.leading_keys.clone()),
            (ARN, Some(vec!["ns/SYSTEM#".to_owned()]))
        );
        let body = json!({"TableName": "T", "IndexName": "GSI4",
            "KeyConditionExpression": "#sk BETWEEN :a AND :b AND (#pk = :v)",
            "ExpressionAttributeNames": {"#pk": "GSI4PK", "#sk": "GSI4SK"},
            "ExpressionAttributeValues": {":v": {"S": "ns"}, ":a": {"S": "a"}, ":b": {"S": "b"}}});
        let q = &s.checks("Query", &body).unwrap()[0];
        assert_eq!(q.resource, format!("{ARN}/index/GSI4"));
        assert_eq!(q.leading_keys, Some(vec!["ns".to_owned()]));
        // The sort key's equality is not the leading key.
        let body = json!({"TableName": "T", "IndexName": "GSI3",
            "KeyConditionExpression": "GSI3SK = :s and :p = GSI3PK",
            "ExpressionAttributeValues": {":p": {"S": "ns/ENTITY#e"}, ":s": {"S": "x"}}});
        assert_eq!(
            s.checks("Query", &body).unwrap()[0].leading_keys,
            Some(vec!["ns/ENTITY#e".to_owned()])
        );
        let legacy = json!({"TableName": "T", "KeyConditions": {"PK": {"ComparisonOperator": "EQ",
            "AttributeValueList": [{"S": "ns/AUDIT#e"}]}}});
        assert_eq!(
            s.checks("Query", &legacy).unwrap()[0].leading_keys,
            Some(vec!["ns/AUDIT#e".to_owned()])
        );
        let no_pk = json!({"TableName": "T", "KeyConditionExpression": "SK >= :a",
            "ExpressionAttributeValues": {":a": {"S": "x"}}});
        assert!(s.checks("Query", &no_pk).is_err());
    }

    #[test]
    fn batches_and_transactions_check_every_member() {
        let s = schemas();
        let get = json!({"RequestItems": {"T": {"Keys": [key("a/1", "x"), key("b/2", "y")]}}});
        let checks = s.checks("BatchGetItem", &get).unwrap();
        assert_eq!(checks.len(), 2);
        assert!(checks.iter().all(|c| c.action == "dynamodb:BatchGetItem"));
        assert_eq!(checks[1].leading_keys, Some(vec!["b/2".to_owned()]));
        assert_eq!(checks[1].detail, "BatchGetItem[1].Get PK=b/2 SK=y");
        let write = json!({"RequestItems": {"T": [{"PutRequest": {"Item": key("a/1", "x")}},
            {"DeleteRequest": {"Key": key("_/SYSTEM#", "#NSID#q")}}]}});
        let checks = s.checks("BatchWriteItem", &write).unwrap();
        assert!(checks.iter().all(|c| c.action == "dynamodb:BatchWriteItem"));
        assert_eq!(checks[1].leading_keys, Some(vec!["_/SYSTEM#".to_owned()]));
        let tx = json!({"TransactItems": [
            {"Put": {"TableName": "T", "Item": key("a/1", "x")}},
            {"Update": {"TableName": "T", "Key": key("a/2", "x")}},
            {"Delete": {"TableName": "T", "Key": key("a/3", "x")}},
            {"ConditionCheck": {"TableName": "T", "Key": key("a/4", "x")}}]});
        let actions: Vec<_> = s
            .checks("TransactWriteItems", &tx)
            .unwrap()
            .into_iter()
            .map(|c| (c.action, c.leading_keys.unwrap()[0].clone()))
            .collect();
        assert_eq!(
            actions,
            [
                ("dynamodb:PutItem".to_owned(), "a/1".to_owned()),
                ("dynamodb:UpdateItem".to_owned(), "a/2".to_owned()),
                ("dynamodb:DeleteItem".to_owned(), "a/3".to_owned()),
                ("dynamodb:ConditionCheckItem".to_owned(), "a/4".to_owned()),
            ]
        );
        let tg = json!({"TransactItems": [{"Get": {"TableName": "T", "Key": key("a/1", "x")}}]});
        assert_eq!(s.checks("TransactGetItems", &tg).unwrap()[0].action, "dynamodb:GetItem");
    }

    #[test]
    fn scans_and_control_plane_calls_have_no_leading_keys() {
        let s = schemas();
        let scan = &s
            .checks("Scan", &json!({"TableName": "T", "IndexName": "GSI2"}))
            .unwrap()[0];
        assert_eq!(scan.action, "dynamodb:Scan");
        assert_eq!(scan.resource, format!("{ARN}/index/GSI2"));
        assert_eq!(scan.leading_keys, None);
        let describe = &s.checks("DescribeTable", &json!({"TableName": "T"})).unwrap()[0];
        assert_eq!(
            (describe.action.as_str(), describe.resource.as_str()),
            ("dynamodb:DescribeTable", ARN)
        );
    }
}
