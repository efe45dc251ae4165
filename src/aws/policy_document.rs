//! The six IAM managed policies of a zae-limiter stack (wire-format §9.3, §9.4): names,
//! descriptions and documents, exactly as the 0.17.0 CloudFormation template defines them,
//! and the semantic comparison of policy documents.
//!
//! Documents serialise with the template's key order (`Sid`, `Effect`, `Action`, `Resource`,
//! `Condition`), statements in template order, and the IAM policy variable
//! `${aws:PrincipalTag/zael_namespace_id}` verbatim.

use std::borrow::Cow;
use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::{Map, Value};

/// The principal tag that carries a namespace id; the namespace-scoped policies match
/// `dynamodb:LeadingKeys` against it. The only definition in the provider.
pub const NAMESPACE_TAG_KEY: &str = "zael_namespace_id";

/// The IAM policy language version of every document.
pub const POLICY_VERSION: &str = "2012-10-17";

/// `${aws:PrincipalTag/zael_namespace_id}`: the IAM policy variable (not a Terraform or
/// CloudFormation interpolation) that must reach IAM literally.
pub fn namespace_policy_variable() -> String {
    format!("${{aws:PrincipalTag/{NAMESPACE_TAG_KEY}}}")
}

/// Which documents the policies get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyCompatibility {
    /// This provider's default: like zae-limiter 0.17.0, except that `-ns-full` may only
    /// read the shared `_/*` items (version record, namespace registry). In 0.17.0 a
    /// tenant administrator can write them: change the version record (locking every
    /// client out) or repoint another tenant's namespace record.
    #[default]
    Hardened,
    /// Byte-identical to zae-limiter 0.17.0's CloudFormation template.
    ZaeLimiter0170,
}

impl PolicyCompatibility {
    /// The values of the stack's `policy_compatibility` attribute.
    pub const VALUES: [&'static str; 2] = ["hardened", "0.17.0"];

    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyCompatibility::Hardened => Self::VALUES[0],
            PolicyCompatibility::ZaeLimiter0170 => Self::VALUES[1],
        }
    }

    /// The setting an attribute value names.
    pub fn parse(value: &str) -> Option<PolicyCompatibility> {
        match value {
            "hardened" => Some(PolicyCompatibility::Hardened),
            "0.17.0" => Some(PolicyCompatibility::ZaeLimiter0170),
            _ => None,
        }
    }
}

/// One of the six managed policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKind {
    /// `{stack}-acq`: acquire only (reads, bucket writes).
    AcquireOnly,
    /// `{stack}-full`: every data-plane operation.
    FullAccess,
    /// `{stack}-read`: reads and DescribeTable.
    ReadOnly,
    /// `{stack}-ns-acq`: acquire within the principal's namespace.
    NamespaceAcquire,
    /// `{stack}-ns-full`: everything within the principal's namespace.
    NamespaceFullAccess,
    /// `{stack}-ns-read`: reads within the principal's namespace.
    NamespaceReadOnly,
}

impl PolicyKind {
    /// All six, in template order.
    pub const ALL: [PolicyKind; 6] = [
        PolicyKind::AcquireOnly,
        PolicyKind::FullAccess,
        PolicyKind::ReadOnly,
        PolicyKind::NamespaceAcquire,
        PolicyKind::NamespaceFullAccess,
        PolicyKind::NamespaceReadOnly,
    ];

    /// The default name's suffix: the policy is named `{stack}-{suffix}`.
    pub fn name_suffix(self) -> &'static str {
        match self {
            PolicyKind::AcquireOnly => "acq",
            PolicyKind::FullAccess => "full",
            PolicyKind::ReadOnly => "read",
            PolicyKind::NamespaceAcquire => "ns-acq",
            PolicyKind::NamespaceFullAccess => "ns-full",
            PolicyKind::NamespaceReadOnly => "ns-read",
        }
    }

    /// The default policy name, `{stack}-{suffix}`.
    pub fn policy_name(self, stack: &str) -> String {
        format!("{stack}-{}", self.name_suffix())
    }

    /// The description, byte-identical to the template's. IAM cannot change a policy's
    /// description: a different one means a new policy.
    pub fn description(self) -> &'static str {
        match self {
            PolicyKind::AcquireOnly => "Rate limiter acquire-only access (read + transact write)",
            PolicyKind::FullAccess => "Rate limiter full access (all operations)",
            PolicyKind::ReadOnly => "Rate limiter read-only access (monitoring)",
            PolicyKind::NamespaceAcquire => "Namespace-scoped acquire-only access (read + update within namespace)",
            PolicyKind::NamespaceFullAccess => "Namespace-scoped full access (all operations within namespace)",
            PolicyKind::NamespaceReadOnly => "Namespace-scoped read-only access (monitoring within namespace)",
        }
    }

    /// The template's logical id, e.g. `AcquireOnlyPolicy`; its output is `{logical_id}Arn`.
    pub fn logical_id(self) -> &'static str {
        match self {
            PolicyKind::AcquireOnly => "AcquireOnlyPolicy",
            PolicyKind::FullAccess => "FullAccessPolicy",
            PolicyKind::ReadOnly => "ReadOnlyPolicy",
            PolicyKind::NamespaceAcquire => "NamespaceAcquirePolicy",
            PolicyKind::NamespaceFullAccess => "NamespaceFullAccessPolicy",
            PolicyKind::NamespaceReadOnly => "NamespaceReadOnlyPolicy",
        }
    }

    /// The (hardened) policy document for the table `table_arn`, as compact JSON in
    /// template key order.
    pub fn document_json(self, table_arn: &str) -> String {
        self.document_json_with(table_arn, PolicyCompatibility::Hardened)
    }

    /// The (hardened) policy document for the table `table_arn`, as a JSON value.
    pub fn document(self, table_arn: &str) -> Value {
        self.document_with(table_arn, PolicyCompatibility::Hardened)
    }

    /// The policy document for `table_arn` under `compatibility`, as compact JSON.
    pub fn document_json_with(self, table_arn: &str, compatibility: PolicyCompatibility) -> String {
        serde_json::to_string(&self.build(table_arn, compatibility)).expect("policy documents always serialise")
    }

    /// The policy document for `table_arn` under `compatibility`, as a JSON value.
    pub fn document_with(self, table_arn: &str, compatibility: PolicyCompatibility) -> Value {
        serde_json::to_value(self.build(table_arn, compatibility)).expect("policy documents always serialise")
    }

    fn build(self, table_arn: &str, compatibility: PolicyCompatibility) -> Document {
        let table = || vec![table_arn.to_owned()];
        let table_and_indexes = || vec![table_arn.to_owned(), format!("{table_arn}/index/*")];
        let ns = namespace_policy_variable();
        let statement = match self {
            PolicyKind::AcquireOnly => vec![
                Statement::allow(
                    None,
                    &[GET, BATCH_GET, QUERY, CONDITION_CHECK],
                    table_and_indexes(),
                    None,
                ),
                Statement::allow(
                    Some("BucketWrites"),
                    &[PUT, UPDATE],
                    table(),
                    Some(leading_keys(&["*/BUCKET#*"], true)),
                ),
            ],
            PolicyKind::FullAccess => vec![Statement::allow(
                None,
                &[
                    GET,
                    BATCH_GET,
                    QUERY,
                    SCAN,
                    DESCRIBE_TABLE,
                    PUT,
                    DELETE,
                    UPDATE,
                    BATCH_WRITE,
                    CONDITION_CHECK,
                ],
                table_and_indexes(),
                None,
            )],
            PolicyKind::ReadOnly => vec![Statement::allow(
                None,
                &[GET, BATCH_GET, QUERY, SCAN, DESCRIBE_TABLE],
                table_and_indexes(),
                None,
            )],
            PolicyKind::NamespaceAcquire => vec![
                Statement::allow(
                    Some("NamespaceAcquireAccess"),
                    &[GET, BATCH_GET, QUERY, CONDITION_CHECK],
                    table_and_indexes(),
                    Some(leading_keys(&[&format!("{ns}/*")], false)),
                ),
                Statement::allow(
                    Some("NamespaceBucketWrites"),
                    &[PUT, UPDATE],
                    table(),
                    Some(leading_keys(&[&format!("{ns}/BUCKET#*")], true)),
                ),
                Statement::allow(
                    Some("SharedReadAccess"),
                    &[GET, BATCH_GET, QUERY],
                    table_and_indexes(),
                    Some(leading_keys(&[SHARED], false)),
                ),
            ],
            PolicyKind::NamespaceFullAccess if compatibility == PolicyCompatibility::ZaeLimiter0170 => {
                vec![Statement::allow(
                    Some("NamespaceFullAccess"),
                    &[GET, BATCH_GET, QUERY, PUT, UPDATE, DELETE, BATCH_WRITE, CONDITION_CHECK],
                    table_and_indexes(),
                    Some(leading_keys(&[&format!("{ns}/*"), &ns, SHARED], false)),
                )]
            }
            PolicyKind::NamespaceFullAccess => vec![
                Statement::allow(
                    Some("NamespaceFullAccess"),
                    &[GET, BATCH_GET, QUERY, PUT, UPDATE, DELETE, BATCH_WRITE, CONDITION_CHECK],
                    table_and_indexes(),
                    Some(leading_keys(&[&format!("{ns}/*"), &ns], false)),
                ),
                Statement::allow(
                    Some("SharedReadAccess"),
                    &[GET, BATCH_GET, QUERY, CONDITION_CHECK],
                    table_and_indexes(),
                    Some(leading_keys(&[SHARED], false)),
                ),
            ],
            PolicyKind::NamespaceReadOnly => vec![Statement::allow(
                Some("NamespaceReadAccess"),
                &[GET, BATCH_GET, QUERY],
                table_and_indexes(),
                Some(leading_keys(&[&format!("{ns}/*"), SHARED], false)),
            )],
        };
        Document {
            version: POLICY_VERSION,
            statement,
        }
    }
}

const GET: &str = "dynamodb:GetItem";
const BATCH_GET: &str = "dynamodb:BatchGetItem";
const QUERY: &str = "dynamodb:Query";
const SCAN: &str = "dynamodb:Scan";
const DESCRIBE_TABLE: &str = "dynamodb:DescribeTable";
const PUT: &str = "dynamodb:PutItem";
const UPDATE: &str = "dynamodb:UpdateItem";
const DELETE: &str = "dynamodb:DeleteItem";
const BATCH_WRITE: &str = "dynamodb:BatchWriteItem";
const CONDITION_CHECK: &str = "dynamodb:ConditionCheckItem";
const LEADING_KEYS: &str = "dynamodb:LeadingKeys";
/// Leading keys of the reserved namespace `_` (shared config, registries).
const SHARED: &str = "_/*";

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Document {
    version: &'static str,
    statement: Vec<Statement>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Statement {
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'static str>,
    effect: &'static str,
    action: Vec<String>,
    resource: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<BTreeMap<&'static str, BTreeMap<&'static str, ConditionValue>>>,
}

impl Statement {
    fn allow(
        sid: Option<&'static str>,
        actions: &[&str],
        resource: Vec<String>,
        condition: Option<BTreeMap<&'static str, BTreeMap<&'static str, ConditionValue>>>,
    ) -> Self {
        Statement {
            sid,
            effect: "Allow",
            action: actions.iter().map(|a| (*a).to_owned()).collect(),
            resource,
            condition,
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum ConditionValue {
    One(String),
    Many(Vec<String>),
}

/// `ForAllValues:StringLike` on `dynamodb:LeadingKeys`, plus `Null: false` (the key must be
/// present) when `require_key`.
fn leading_keys(
    patterns: &[&str],
    require_key: bool,
) -> BTreeMap<&'static str, BTreeMap<&'static str, ConditionValue>> {
    let mut condition = BTreeMap::new();
    let values = ConditionValue::Many(patterns.iter().map(|p| (*p).to_owned()).collect());
    condition.insert("ForAllValues:StringLike", BTreeMap::from([(LEADING_KEYS, values)]));
    if require_key {
        condition.insert(
            "Null",
            BTreeMap::from([(LEADING_KEYS, ConditionValue::One("false".into()))]),
        );
    }
    condition
}

/// A policy document as IAM receives it.
///
/// JSON text (`str`, `String`, e.g. [`PolicyKind::document_json`]) is sent as is, keeping
/// the template's key order; a [`Value`] is serialised compactly, with object keys in
/// alphabetical order. Both are the same policy to IAM.
pub trait PolicyText {
    /// The JSON text to send.
    fn policy_text(&self) -> Cow<'_, str>;
}

impl PolicyText for str {
    fn policy_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl PolicyText for String {
    fn policy_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl PolicyText for Value {
    fn policy_text(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_string())
    }
}

/// A policy document that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Neither JSON nor URL-encoded JSON.
    #[error("policy document is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// URL-encoded, but the bytes are not UTF-8.
    #[error("policy document is URL-encoded but does not decode to UTF-8")]
    Encoding,
}

/// Reads a policy document as IAM returns it: URL-encoded JSON (real AWS, RFC 3986) or plain
/// JSON (the emulator).
pub fn decode_document(raw: &str) -> Result<Value, DocumentError> {
    match serde_json::from_str(raw) {
        Ok(value) => Ok(value),
        Err(plain_err) if raw.contains('%') => {
            let decoded = percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| DocumentError::Encoding)?;
            serde_json::from_str(&decoded).map_err(|_| DocumentError::Json(plain_err))
        }
        Err(err) => Err(DocumentError::Json(err)),
    }
}

/// The resources a policy document names (every `Resource` string of every statement).
pub fn named_resources(document: &Value) -> Vec<String> {
    let statements = match document.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for statement in statements {
        match statement.get("Resource") {
            Some(Value::String(one)) => out.push(one.clone()),
            Some(Value::Array(many)) => out.extend(many.iter().filter_map(|r| r.as_str().map(str::to_owned))),
            _ => {}
        }
    }
    out
}

/// Whether a document grants access to table `table_arn` (or its indexes) and to nothing
/// else: the test for adopting a policy found by name, whose name is account-global.
pub fn grants_only_table(document: &Value, table_arn: &str) -> bool {
    let index_prefix = format!("{table_arn}/index/");
    let resources = named_resources(document);
    !resources.is_empty() && resources.iter().all(|r| r == table_arn || r.starts_with(&index_prefix))
}

/// True when two documents grant the same thing as IAM stores them; see [`normalize`].
pub fn documents_equivalent(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

/// Decodes both documents (plain or URL-encoded) and compares them with
/// [`documents_equivalent`].
pub fn raw_documents_equivalent(a: &str, b: &str) -> Result<bool, DocumentError> {
    Ok(documents_equivalent(&decode_document(a)?, &decode_document(b)?))
}

/// The canonical form of a policy document, for comparison:
///
/// * object key order and whitespace do not matter (JSON values);
/// * `Statement` as a single object equals a one-element array; **statement order stays
///   significant** (IAM keeps it);
/// * `Action`/`NotAction`/`Resource`/`NotResource`, principal lists and condition values:
///   a single string equals a one-element array, and order and duplicates do not matter;
/// * action names and condition keys are case-insensitive (lower-cased);
/// * condition values `true`/`1` equal `"true"`/`"1"`;
/// * an empty `Sid` equals no `Sid`.
pub fn normalize(doc: &Value) -> Value {
    let Value::Object(map) = doc else {
        return doc.clone();
    };
    map.iter()
        .map(|(k, v)| {
            let v = if k == "Statement" {
                normalize_statements(v)
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect::<Map<_, _>>()
        .into()
}

fn normalize_statements(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(normalize_statement).collect()),
        single @ Value::Object(_) => Value::Array(vec![normalize_statement(single)]),
        other => other.clone(),
    }
}

fn normalize_statement(value: &Value) -> Value {
    let Value::Object(map) = value else {
        return value.clone();
    };
    let mut out = Map::new();
    for (key, v) in map {
        let normalized = match key.as_str() {
            "Sid" if v.as_str() == Some("") => continue,
            "Action" | "NotAction" => string_set(v, true),
            "Resource" | "NotResource" => string_set(v, false),
            "Principal" | "NotPrincipal" => map_values(v, |inner| string_set(inner, false), false),
            "Condition" => map_values(
                v,
                |keys| map_values(keys, |values| string_set(values, false), true),
                false,
            ),
            _ => v.clone(),
        };
        out.insert(key.clone(), normalized);
    }
    Value::Object(out)
}

/// Applies `f` to every value of an object (keys lower-cased when `lowercase_keys`);
/// anything else is returned unchanged.
fn map_values(value: &Value, f: impl Fn(&Value) -> Value, lowercase_keys: bool) -> Value {
    let Value::Object(map) = value else {
        return value.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        let key = if lowercase_keys { k.to_lowercase() } else { k.clone() };
        out.insert(key, f(v));
    }
    Value::Object(out)
}

/// A string or array of scalars as a sorted, de-duplicated array of strings.
fn string_set(value: &Value, lowercase: bool) -> Value {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut strings: Vec<String> = items
        .into_iter()
        .map(|item| match item {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .map(|s| if lowercase { s.to_lowercase() } else { s })
        .collect();
    strings.sort();
    strings.dedup();
    Value::Array(strings.into_iter().map(Value::String).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const T: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/zae";

    /// The spec text of a document with `T` standing for the table ARN, made compact: line
    /// breaks and the indentation after them are dropped, so long lines may be wrapped anywhere.
    fn spec_text(text: &str) -> String {
        let compact: String = text.lines().map(str::trim_start).collect();
        compact
            .replace("\"T\"", &format!("\"{T}\""))
            .replace("\"T/index/*\"", &format!("\"{T}/index/*\""))
    }

    /// wire-format §9.4, verbatim.
    const ACQ: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query",
   "dynamodb:ConditionCheckItem"],"Resource":["T","T/index/*"]},
 {"Sid":"BucketWrites","Effect":"Allow","Action":["dynamodb:PutItem","dynamodb:UpdateItem"],"Resource":["T"],
  "Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["*/BUCKET#*"]},
    "Null":{"dynamodb:LeadingKeys":"false"}}}]}"#;

    /// wire-format §9.4, verbatim.
    const NS_ACQ: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"NamespaceAcquireAccess","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:BatchGetItem",
   "dynamodb:Query","dynamodb:ConditionCheckItem"],"Resource":["T","T/index/*"],
  "Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["${aws:PrincipalTag/zael_namespace_id}/*"]}}},
 {"Sid":"NamespaceBucketWrites","Effect":"Allow","Action":["dynamodb:PutItem","dynamodb:UpdateItem"],"Resource":["T"],
  "Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["${aws:PrincipalTag/zael_namespace_id}/BUCKET#*"]},
    "Null":{"dynamodb:LeadingKeys":"false"}}},
 {"Sid":"SharedReadAccess","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query"],
   "Resource":["T","T/index/*"],
  "Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["_/*"]}}}]}"#;

    /// wire-format §9.4 prose, written out in template key order.
    const FULL: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query","dynamodb:Scan",
   "dynamodb:DescribeTable","dynamodb:PutItem","dynamodb:DeleteItem","dynamodb:UpdateItem","dynamodb:BatchWriteItem",
   "dynamodb:ConditionCheckItem"],"Resource":["T","T/index/*"]}]}"#;

    const READ: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query","dynamodb:Scan",
   "dynamodb:DescribeTable"],"Resource":["T","T/index/*"]}]}"#;

    const NS_FULL: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"NamespaceFullAccess","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query",
   "dynamodb:PutItem","dynamodb:UpdateItem","dynamodb:DeleteItem","dynamodb:BatchWriteItem",
   "dynamodb:ConditionCheckItem"],"Resource":["T","T/index/*"],
  "Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["${aws:PrincipalTag/zael_namespace_id}/*",
    "${aws:PrincipalTag/zael_namespace_id}","_/*"]}}}]}"#;

    const NS_READ: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"NamespaceReadAccess","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query"],
   "Resource":["T","T/index/*"],
  "Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["${aws:PrincipalTag/zael_namespace_id}/*",
    "_/*"]}}}]}"#;

    fn expected(kind: PolicyKind) -> &'static str {
        match kind {
            PolicyKind::AcquireOnly => ACQ,
            PolicyKind::FullAccess => FULL,
            PolicyKind::ReadOnly => READ,
            PolicyKind::NamespaceAcquire => NS_ACQ,
            PolicyKind::NamespaceFullAccess => NS_FULL,
            PolicyKind::NamespaceReadOnly => NS_READ,
        }
    }

    /// The hardened `-ns-full`: the 0.17.0 statement without `_/*`, plus shared reads.
    const NS_FULL_HARDENED: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"NamespaceFullAccess","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query",
   "dynamodb:PutItem","dynamodb:UpdateItem","dynamodb:DeleteItem","dynamodb:BatchWriteItem",
   "dynamodb:ConditionCheckItem"],"Resource":["T","T/index/*"],
  "Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["${aws:PrincipalTag/zael_namespace_id}/*",
    "${aws:PrincipalTag/zael_namespace_id}"]}}},
 {"Sid":"SharedReadAccess","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query",
   "dynamodb:ConditionCheckItem"],"Resource":["T","T/index/*"],
  "Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["_/*"]}}}]}"#;

    #[test]
    fn documents_are_byte_identical_to_the_spec() {
        for kind in PolicyKind::ALL {
            let compat = PolicyCompatibility::ZaeLimiter0170;
            assert_eq!(
                kind.document_json_with(T, compat),
                spec_text(expected(kind)),
                "{kind:?}"
            );
            let parsed: Value = serde_json::from_str(&spec_text(expected(kind))).unwrap();
            assert_eq!(kind.document_with(T, compat), parsed, "{kind:?}");
        }
    }

    #[test]
    fn hardened_documents_differ_only_in_the_tenant_admin_policy() {
        for kind in PolicyKind::ALL {
            let hardened = kind.document_json(T);
            if kind == PolicyKind::NamespaceFullAccess {
                assert_eq!(hardened, spec_text(NS_FULL_HARDENED));
            } else {
                assert_eq!(hardened, spec_text(expected(kind)), "{kind:?}");
            }
        }
    }

    #[test]
    fn the_policy_variable_reaches_iam_literally() {
        assert_eq!(namespace_policy_variable(), "${aws:PrincipalTag/zael_namespace_id}");
        for kind in [
            PolicyKind::NamespaceAcquire,
            PolicyKind::NamespaceFullAccess,
            PolicyKind::NamespaceReadOnly,
        ] {
            assert!(
                kind.document_json(T)
                    .contains("\"${aws:PrincipalTag/zael_namespace_id}/*\""),
                "{kind:?}"
            );
        }
        for kind in [PolicyKind::AcquireOnly, PolicyKind::FullAccess, PolicyKind::ReadOnly] {
            assert!(!kind.document_json(T).contains("PrincipalTag"), "{kind:?}");
        }
    }

    #[test]
    fn no_policy_grants_transact_write_items() {
        for kind in PolicyKind::ALL {
            assert!(!kind.document_json(T).contains("TransactWriteItems"), "{kind:?}");
        }
    }

    #[test]
    fn names_and_descriptions_match_the_template() {
        let names: Vec<_> = PolicyKind::ALL.iter().map(|k| k.policy_name("zae")).collect();
        assert_eq!(
            names,
            [
                "zae-acq",
                "zae-full",
                "zae-read",
                "zae-ns-acq",
                "zae-ns-full",
                "zae-ns-read"
            ]
        );
        let descriptions: Vec<_> = PolicyKind::ALL.iter().map(|k| k.description()).collect();
        assert_eq!(
            descriptions,
            [
                "Rate limiter acquire-only access (read + transact write)",
                "Rate limiter full access (all operations)",
                "Rate limiter read-only access (monitoring)",
                "Namespace-scoped acquire-only access (read + update within namespace)",
                "Namespace-scoped full access (all operations within namespace)",
                "Namespace-scoped read-only access (monitoring within namespace)",
            ]
        );
        assert_eq!(PolicyKind::NamespaceReadOnly.logical_id(), "NamespaceReadOnlyPolicy");
    }

    #[test]
    fn text_and_values_are_sent_as_json() {
        let text = PolicyKind::AcquireOnly.document_json(T);
        assert_eq!(text.policy_text(), text);
        assert_eq!(text.as_str().policy_text(), text);
        let value = PolicyKind::AcquireOnly.document(T);
        assert_eq!(decode_document(&value.policy_text()).unwrap(), value);
    }

    #[test]
    fn decodes_plain_and_url_encoded_documents() {
        let plain = PolicyKind::NamespaceAcquire.document_json(T);
        let encoded: String =
            percent_encoding::utf8_percent_encode(&plain, percent_encoding::NON_ALPHANUMERIC).to_string();
        assert!(encoded.starts_with("%7B%22Version%22"));
        assert_eq!(decode_document(&plain).unwrap(), decode_document(&encoded).unwrap());
        assert!(raw_documents_equivalent(&plain, &encoded).unwrap());
        assert!(matches!(decode_document("not json"), Err(DocumentError::Json(_))));
        assert!(matches!(decode_document("%7Bnot json"), Err(DocumentError::Json(_))));
    }

    #[test]
    fn a_json_document_containing_percent_signs_is_read_as_json() {
        let doc = concat!(
            r#"{"Version":"2012-10-17","Statement":"#,
            r#"[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/100%25"}]}"#,
        );
        assert_eq!(
            decode_document(doc).unwrap()["Statement"][0]["Resource"],
            "arn:aws:s3:::b/100%25"
        );
    }

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        let a = json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]
        });
        let b: Value = serde_json::from_str(concat!(
            r#"{ "Statement" : [ { "Resource":"*", "Action":"s3:GetObject", "Effect":"Allow" } ], "#,
            r#""Version":"2012-10-17" }"#,
        ))
        .unwrap();
        assert!(documents_equivalent(&a, &b));
    }

    #[test]
    fn a_single_string_equals_a_one_element_array() {
        let a = json!({"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "T",
            "Condition": {"Null": {"dynamodb:LeadingKeys": "false"}}}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": ["T"],
            "Condition": {"Null": {"dynamodb:LeadingKeys": ["false"]}}}]});
        assert!(documents_equivalent(&a, &b));
    }

    #[test]
    fn a_single_statement_object_equals_a_one_element_array() {
        let a = json!({"Statement": {"Effect": "Allow", "Action": "a:b", "Resource": "*"}});
        let b = json!({"Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": "*"}]});
        assert!(documents_equivalent(&a, &b));
    }

    #[test]
    fn order_within_actions_resources_and_condition_values_does_not_matter() {
        let a = json!({"Statement": [{"Effect": "Allow", "Action": ["a:X", "a:Y"], "Resource": ["r1", "r2"],
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["x/*", "_/*"]}}}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Action": ["a:Y", "a:X", "a:Y"], "Resource": ["r2", "r1"],
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["_/*", "x/*"]}}}]});
        assert!(documents_equivalent(&a, &b));
    }

    #[test]
    fn action_names_and_condition_keys_are_case_insensitive_but_resources_are_not() {
        let a = json!({"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:T",
            "Condition": {"Null": {"dynamodb:LeadingKeys": "false"}}}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Action": "DynamoDB:getitem", "Resource": "arn:T",
            "Condition": {"Null": {"DynamoDB:leadingkeys": "false"}}}]});
        assert!(documents_equivalent(&a, &b));
        let c = json!({"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "ARN:T",
            "Condition": {"Null": {"dynamodb:LeadingKeys": "false"}}}]});
        assert!(!documents_equivalent(&a, &c));
    }

    #[test]
    fn scalar_condition_values_equal_their_strings() {
        let a = json!({"Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": true}, "NumericLessThan": {"s3:max-keys": 10}}}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}, "NumericLessThan": {"s3:max-keys": ["10"]}}}]});
        assert!(documents_equivalent(&a, &b));
    }

    #[test]
    fn an_empty_sid_equals_no_sid() {
        let a = json!({"Statement": [{"Sid": "", "Effect": "Allow", "Action": "a:b", "Resource": "*"}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": "*"}]});
        assert!(documents_equivalent(&a, &b));
        let c = json!({"Statement": [{"Sid": "X", "Effect": "Allow", "Action": "a:b", "Resource": "*"}]});
        assert!(!documents_equivalent(&a, &c));
    }

    #[test]
    fn statement_order_is_significant() {
        let s1 = json!({"Effect": "Allow", "Action": "a:b", "Resource": "*"});
        let s2 = json!({"Effect": "Deny", "Action": "a:c", "Resource": "*"});
        let a = json!({"Statement": [s1.clone(), s2.clone()]});
        let b = json!({"Statement": [s2, s1]});
        assert!(!documents_equivalent(&a, &b));
    }

    #[test]
    fn real_differences_are_detected() {
        let base = PolicyKind::NamespaceFullAccess.document(T);
        let mut other_table = PolicyKind::NamespaceFullAccess.document("arn:aws:dynamodb:us-east-1:1:table/other");
        assert!(!documents_equivalent(&base, &other_table));
        other_table = base.clone();
        other_table["Statement"][0]["Action"].as_array_mut().unwrap().pop();
        assert!(!documents_equivalent(&base, &other_table));
        for a in PolicyKind::ALL {
            for b in PolicyKind::ALL {
                assert_eq!(
                    documents_equivalent(&a.document(T), &b.document(T)),
                    a == b,
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn principals_are_normalised() {
        let a = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "sts:AssumeRole"}
        ]});
        let b = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::1:root"]}, "Action": ["sts:AssumeRole"]}
        ]});
        assert!(documents_equivalent(&a, &b));
    }

    #[test]
    fn a_policy_of_another_table_is_not_this_stacks() {
        let ours = "arn:aws:dynamodb:us-east-1:123456789012:table/prod";
        let other_region = "arn:aws:dynamodb:eu-west-1:123456789012:table/prod";
        for kind in PolicyKind::ALL {
            assert!(grants_only_table(&kind.document(ours), ours), "{kind:?}");
            assert!(!grants_only_table(&kind.document(other_region), ours), "{kind:?}");
        }
        let prefix_trick = PolicyKind::ReadOnly.document("arn:aws:dynamodb:us-east-1:123456789012:table/prod-x");
        assert!(!grants_only_table(&prefix_trick, ours));
        assert!(!grants_only_table(&serde_json::json!({"Statement": []}), ours));
    }
}
