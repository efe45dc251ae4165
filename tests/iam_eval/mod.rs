//! A small IAM policy evaluator for the subset of the policy language the provider's
//! documents use (wire-format §9.4), written for the policy simulation tests.
//!
//! * Statements: `Effect` Allow/Deny, `Action`/`NotAction` (wildcards, case-insensitive),
//!   `Resource`/`NotResource` (ARN matching segment by segment, wildcards, policy variables).
//! * Conditions: `String{Equals,NotEquals,EqualsIgnoreCase,NotEqualsIgnoreCase,Like,NotLike}`,
//!   `Bool` and `Null`, with the `ForAllValues:`/`ForAnyValue:` set qualifiers and the
//!   `IfExists` suffix; several operators, or several keys of one operator, must all hold,
//!   while the values of one key are alternatives.
//! * Policy variables `${key}` (e.g. `${aws:PrincipalTag/zael_namespace_id}`), `${key, 'default'}`
//!   and the escapes `${*}`, `${?}`, `${$}`. A variable whose key the request lacks makes the
//!   value that holds it match nothing. A substituted value is matched literally: a `*` in a
//!   tag value is not a wildcard.
//! * Decision: an explicit deny wins, then any allow, otherwise the implicit (default) deny.
//!
//! Anything outside this subset (another operator, a malformed statement) is an error, never
//! a silent allow or deny.

#![allow(dead_code)]

pub mod dynamodb;
pub mod recording;

use std::collections::BTreeMap;

use serde_json::Value;

/// A document the evaluator cannot read, or a construct it does not implement.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// The document or a statement does not have the expected shape.
    #[error("malformed policy: {0}")]
    Malformed(String),
    /// A condition operator outside the implemented subset.
    #[error("unsupported condition operator {0:?}")]
    UnsupportedOperator(String),
}

/// The authorization context of one request: the action, the resource and the condition keys
/// (`dynamodb:LeadingKeys`, `aws:PrincipalTag/...`), as IAM sees it.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The action, e.g. `dynamodb:GetItem`.
    pub action: String,
    /// The resource ARN, e.g. `arn:aws:dynamodb:us-east-1:123456789012:table/T`.
    pub resource: String,
    /// Condition keys, by lower-cased name (IAM key names are case-insensitive), with their
    /// values; a multi-valued key holds several.
    keys: BTreeMap<String, Vec<String>>,
}

impl RequestContext {
    /// A request for `action` on `resource` with no condition keys.
    pub fn new(action: &str, resource: &str) -> RequestContext {
        RequestContext {
            action: action.to_owned(),
            resource: resource.to_owned(),
            keys: BTreeMap::new(),
        }
    }

    /// Sets the condition key `name` to `values` (an empty list is a present, empty set).
    pub fn with_key<I, S>(mut self, name: &str, values: I) -> RequestContext
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.keys
            .insert(name.to_ascii_lowercase(), values.into_iter().map(Into::into).collect());
        self
    }

    /// Tags the principal: sets `aws:PrincipalTag/{tag}` to `value`.
    pub fn with_principal_tag(self, tag: &str, value: &str) -> RequestContext {
        self.with_key(&format!("aws:PrincipalTag/{tag}"), [value])
    }

    /// The values of the condition key `name` (`None` when the request lacks it).
    pub fn key(&self, name: &str) -> Option<&[String]> {
        self.keys.get(&name.to_ascii_lowercase()).map(Vec::as_slice)
    }

    /// The value a policy variable resolves to: a single-valued key's only value.
    fn variable(&self, name: &str) -> Option<&str> {
        match self.key(name) {
            Some([one]) => Some(one),
            _ => None,
        }
    }
}

/// What IAM decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// At least one statement allows and none denies.
    Allowed,
    /// A `Deny` statement applies.
    ExplicitDeny,
    /// No statement applies: the default deny.
    ImplicitDeny,
}

/// The decision and the statements (by Sid, or `#index` when unnamed) that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The decision.
    pub decision: Decision,
    /// The Allow statements that apply.
    pub allowed_by: Vec<String>,
    /// The Deny statements that apply.
    pub denied_by: Vec<String>,
}

impl Outcome {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.decision == Decision::Allowed
    }
}

/// Evaluates `request` against identity-based policy documents (all attached to one
/// principal; no resource policies, boundaries or SCPs).
pub fn evaluate(policies: &[&Value], request: &RequestContext) -> Result<Outcome, PolicyError> {
    let mut allowed_by = Vec::new();
    let mut denied_by = Vec::new();
    for policy in policies {
        for (index, statement) in statements(policy)?.into_iter().enumerate() {
            let effect = statement
                .get("Effect")
                .and_then(Value::as_str)
                .ok_or_else(|| PolicyError::Malformed(format!("statement {index} has no Effect")))?;
            if !statement_applies(statement, request)? {
                continue;
            }
            let name = match statement.get("Sid").and_then(Value::as_str) {
                Some(sid) if !sid.is_empty() => sid.to_owned(),
                _ => format!("#{index}"),
            };
            match effect {
                "Allow" => allowed_by.push(name),
                "Deny" => denied_by.push(name),
                other => return Err(PolicyError::Malformed(format!("Effect {other:?}"))),
            }
        }
    }
    let decision = if !denied_by.is_empty() {
        Decision::ExplicitDeny
    } else if !allowed_by.is_empty() {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    };
    Ok(Outcome {
        decision,
        allowed_by,
        denied_by,
    })
}

fn statements(policy: &Value) -> Result<Vec<&Value>, PolicyError> {
    match policy.get("Statement") {
        Some(Value::Array(list)) => Ok(list.iter().collect()),
        Some(one @ Value::Object(_)) => Ok(vec![one]),
        _ => Err(PolicyError::Malformed("no Statement".into())),
    }
}

/// A string or an array of strings (`Action`, `Resource`, condition values; scalars are
/// read as their text, as IAM does for `true` or `10`).
fn strings(value: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(PolicyError::Malformed(format!("{what}: unexpected {other}"))),
    };
    match value {
        Value::Array(list) => list.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

/// The strings of `positive` (true when one matches) or of `negative` (true when none does);
/// exactly one of them must be present.
fn element_matches(
    statement: &Value,
    positive: &str,
    negative: &str,
    matches: impl Fn(&str) -> bool,
) -> Result<bool, PolicyError> {
    match (statement.get(positive), statement.get(negative)) {
        (Some(list), None) => Ok(strings(list, positive)?.iter().any(|p| matches(p))),
        (None, Some(list)) => Ok(!strings(list, negative)?.iter().any(|p| matches(p))),
        _ => Err(PolicyError::Malformed(format!(
            "a statement needs exactly one of {positive} and {negative}"
        ))),
    }
}

fn statement_applies(statement: &Value, request: &RequestContext) -> Result<bool, PolicyError> {
    let action = element_matches(statement, "Action", "NotAction", |pattern| {
        action_matches(pattern, &request.action)
    })?;
    if !action {
        return Ok(false);
    }
    let resource = element_matches(statement, "Resource", "NotResource", |pattern| {
        resource_matches(pattern, &request.resource, request)
    })?;
    if !resource {
        return Ok(false);
    }
    match statement.get("Condition") {
        None => Ok(true),
        Some(Value::Object(block)) => {
            for (operator, keys) in block {
                let Value::Object(keys) = keys else {
                    return Err(PolicyError::Malformed(format!("condition {operator} is not an object")));
                };
                for (key, values) in keys {
                    if !condition_holds(operator, key, &strings(values, key)?, request)? {
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        }
        Some(other) => Err(PolicyError::Malformed(format!("Condition {other}"))),
    }
}

/// One token of a pattern: a literal character or a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `*`: any run of characters, also empty.
    Any,
    /// `?`: exactly one character.
    One,
}

/// Expands the policy variables of `pattern` and turns `*`/`?` into wildcards when
/// `wildcards`. `None` when a variable cannot be resolved: the value then matches nothing.
fn tokens(pattern: &str, request: Option<&RequestContext>, wildcards: bool) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while !rest.is_empty() {
        if let (Some(after), Some(request)) = (rest.strip_prefix("${"), request)
            && let Some(end) = after.find('}')
        {
            let inner = &after[..end];
            rest = &after[end + 1..];
            match inner {
                "*" => out.push(Token::Literal('*')),
                "?" => out.push(Token::Literal('?')),
                "$" => out.push(Token::Literal('$')),
                _ => {
                    let (name, default) = match inner.split_once(',') {
                        Some((name, default)) => {
                            let default = default.trim();
                            let default = default.strip_prefix('\'').and_then(|d| d.strip_suffix('\''));
                            (name.trim(), default)
                        }
                        None => (inner.trim(), None),
                    };
                    let value = request.variable(name).or(default)?;
                    out.extend(value.chars().map(Token::Literal));
                }
            }
            continue;
        }
        let mut chars = rest.chars();
        let c = chars.next().expect("rest is not empty");
        rest = chars.as_str();
        out.push(match c {
            '*' if wildcards => Token::Any,
            '?' if wildcards => Token::One,
            c => Token::Literal(c),
        });
    }
    Some(out)
}

/// Whether `text` matches `pattern` (iterative wildcard matching with one backtrack point).
fn glob(pattern: &[Token], text: &[char], ignore_case: bool) -> bool {
    let same = |a: char, b: char| {
        if ignore_case {
            a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Token::One) => {
                p += 1;
                t += 1;
            }
            Some(Token::Literal(c)) if same(*c, text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|token| *token == Token::Any)
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// `Action` matching: `service:Name` with wildcards, case-insensitive.
fn action_matches(pattern: &str, action: &str) -> bool {
    let pattern = tokens(pattern, None, true).expect("no variables in actions");
    glob(&pattern, &chars(action), true)
}

/// `Resource` matching. An ARN pattern is matched segment by segment
/// (`arn:partition:service:region:account:resource`): a wildcard in one of the first five
/// segments never spans a `:`, while the resource segment may contain `:` and `/`.
/// Resource matching is case-sensitive.
fn resource_matches(pattern: &str, resource: &str, request: &RequestContext) -> bool {
    let Some(pattern) = tokens(pattern, Some(request), true) else {
        return false;
    };
    let pattern_segments = split_arn_tokens(&pattern);
    let text = chars(resource);
    if pattern_segments.len() < 6 {
        return glob(&pattern, &text, false);
    }
    let text_segments: Vec<&[char]> = text.splitn(6, |c| *c == ':').collect();
    text_segments.len() == 6
        && pattern_segments
            .iter()
            .zip(&text_segments)
            .all(|(p, t)| glob(p, t, false))
}

fn split_arn_tokens(pattern: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, token) in pattern.iter().enumerate() {
        if out.len() == 5 {
            break;
        }
        if *token == Token::Literal(':') {
            out.push(&pattern[start..i]);
            start = i + 1;
        }
    }
    out.push(&pattern[start..]);
    out
}

/// A condition operator: the base test, its set qualifier and `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    None,
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StringTest {
    Equals { ignore_case: bool },
    Like,
    Bool,
}

fn condition_holds(
    operator: &str,
    key: &str,
    values: &[String],
    request: &RequestContext,
) -> Result<bool, PolicyError> {
    let unsupported = || PolicyError::UnsupportedOperator(operator.to_owned());
    let present = request.key(key).filter(|v| !v.is_empty());
    if operator == "Null" {
        // `Null: true` holds when the key is absent, `Null: false` when it is present.
        let mut holds = false;
        for value in values {
            holds |= match value.to_ascii_lowercase().as_str() {
                "true" => present.is_none(),
                "false" => present.is_some(),
                _ => return Err(PolicyError::Malformed(format!("Null value {value:?}"))),
            };
        }
        return Ok(holds);
    }
    let (qualifier, rest) = if let Some(rest) = operator.strip_prefix("ForAllValues:") {
        (Qualifier::ForAllValues, rest)
    } else if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
        (Qualifier::ForAnyValue, rest)
    } else {
        (Qualifier::None, operator)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let (test, negated) = match base {
        "StringEquals" => (StringTest::Equals { ignore_case: false }, false),
        "StringNotEquals" => (StringTest::Equals { ignore_case: false }, true),
        "StringEqualsIgnoreCase" => (StringTest::Equals { ignore_case: true }, false),
        "StringNotEqualsIgnoreCase" => (StringTest::Equals { ignore_case: true }, true),
        "StringLike" => (StringTest::Like, false),
        "StringNotLike" => (StringTest::Like, true),
        "Bool" if qualifier == Qualifier::None => (StringTest::Bool, false),
        _ => return Err(unsupported()),
    };
    let patterns: Vec<Vec<Token>> = values
        .iter()
        .filter_map(|v| tokens(v, Some(request), test == StringTest::Like))
        .collect();
    let matches_one = |value: &str| {
        let text = chars(value);
        patterns.iter().any(|p| match test {
            StringTest::Equals { ignore_case } => p.len() == text.len() && glob(p, &text, ignore_case),
            StringTest::Like => glob(p, &text, false),
            StringTest::Bool => glob(p, &text, true),
        })
    };
    // Each request value passes when it matches a policy value (or, negated, matches none).
    let passes = |value: &String| matches_one(value) != negated;
    Ok(match (qualifier, present) {
        (_, None) if if_exists => true,
        (Qualifier::ForAllValues, None) => true,
        (Qualifier::ForAnyValue, None) => false,
        (Qualifier::None, None) => negated,
        (Qualifier::ForAllValues, Some(v)) => v.iter().all(passes),
        (Qualifier::ForAnyValue, Some(v)) => v.iter().any(passes),
        (Qualifier::None, Some(v)) if negated => v.iter().all(passes),
        (Qualifier::None, Some(v)) => v.iter().any(passes),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/T";
    const TAG: &str = "zael_namespace_id";

    fn leading(action: &str, resource: &str, keys: &[&str]) -> RequestContext {
        RequestContext::new(action, resource)
            .with_key("dynamodb:LeadingKeys", keys.iter().copied())
            .with_principal_tag(TAG, "ns1")
    }

    fn decide(policy: &Value, request: &RequestContext) -> Decision {
        evaluate(&[policy], request).unwrap().decision
    }

    fn ns_policy(operator: &str, extra: Value) -> Value {
        let mut condition = json!({
            operator: {"dynamodb:LeadingKeys": ["${aws:PrincipalTag/zael_namespace_id}/*", "_/*"]}
        });
        if let (Value::Object(c), Value::Object(e)) = (&mut condition, extra) {
            c.extend(e);
        }
        json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "S", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
            "Resource": [TABLE, format!("{TABLE}/index/*")], "Condition": condition}]})
    }

    #[test]
    fn default_deny_and_allow() {
        let policy = json!({"Statement": {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE}});
        assert_eq!(
            decide(&policy, &RequestContext::new("dynamodb:GetItem", TABLE)),
            Decision::Allowed
        );
        assert_eq!(
            decide(&policy, &RequestContext::new("dynamodb:PutItem", TABLE)),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(&policy, &RequestContext::new("dynamodb:GetItem", &format!("{TABLE}2"))),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(&[], &RequestContext::new("a:b", "*")).unwrap().decision,
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn explicit_deny_wins_over_allow() {
        let allow = json!({"Statement": [{"Sid": "A", "Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]});
        let deny = json!({"Statement": [{"Sid": "D", "Effect": "Deny", "Action": "dynamodb:DeleteItem",
            "Resource": TABLE}]});
        let out = evaluate(&[&allow, &deny], &RequestContext::new("dynamodb:DeleteItem", TABLE)).unwrap();
        assert_eq!(out.decision, Decision::ExplicitDeny);
        assert_eq!(
            (out.allowed_by, out.denied_by),
            (vec!["A".to_owned()], vec!["D".to_owned()])
        );
        let out = evaluate(&[&allow, &deny], &RequestContext::new("dynamodb:GetItem", TABLE)).unwrap();
        assert_eq!(out.decision, Decision::Allowed);
    }

    #[test]
    fn action_wildcards_are_case_insensitive_and_not_action_inverts() {
        let policy = json!({"Statement": {"Effect": "Allow", "Action": "DynamoDB:Get*", "Resource": "*"}});
        assert_eq!(
            decide(&policy, &RequestContext::new("dynamodb:GetItem", TABLE)),
            Decision::Allowed
        );
        assert_eq!(
            decide(&policy, &RequestContext::new("dynamodb:BatchGetItem", TABLE)),
            Decision::ImplicitDeny
        );
        let policy = json!({"Statement": {"Effect": "Allow", "Action": "dynamodb:?etItem", "Resource": "*"}});
        assert_eq!(
            decide(&policy, &RequestContext::new("dynamodb:GetItem", TABLE)),
            Decision::Allowed
        );
        let not = json!({"Statement": {"Effect": "Allow", "NotAction": "dynamodb:Delete*", "Resource": "*"}});
        assert_eq!(
            decide(&not, &RequestContext::new("dynamodb:GetItem", TABLE)),
            Decision::Allowed
        );
        assert_eq!(
            decide(&not, &RequestContext::new("dynamodb:DeleteItem", TABLE)),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn resources_match_arn_segments_and_indexes() {
        let policy = json!({"Statement": {"Effect": "Allow", "Action": "dynamodb:Query",
            "Resource": [TABLE, format!("{TABLE}/index/*")]}});
        let query = |resource: &str| decide(&policy, &RequestContext::new("dynamodb:Query", resource));
        assert_eq!(query(TABLE), Decision::Allowed);
        assert_eq!(query(&format!("{TABLE}/index/GSI4")), Decision::Allowed);
        assert_eq!(query(&format!("{TABLE}x")), Decision::ImplicitDeny);
        assert_eq!(query(&format!("{TABLE}x/index/GSI4")), Decision::ImplicitDeny);
        assert_eq!(query(&format!("{TABLE}/stream/2026")), Decision::ImplicitDeny);
        assert_eq!(
            query("arn:aws:dynamodb:eu-west-1:123456789012:table/T"),
            Decision::ImplicitDeny
        );
        // A wildcard in the region segment does not span into the account.
        let regions = json!({"Statement": {"Effect": "Allow", "Action": "*",
            "Resource": "arn:aws:dynamodb:*:123456789012:table/T"}});
        let get = |resource: &str| decide(&regions, &RequestContext::new("dynamodb:GetItem", resource));
        assert_eq!(
            get("arn:aws:dynamodb:eu-west-1:123456789012:table/T"),
            Decision::Allowed
        );
        assert_eq!(
            get("arn:aws:dynamodb:eu-west-1:1:123456789012:table/T"),
            Decision::ImplicitDeny
        );
        // Resources are case-sensitive.
        assert_eq!(
            get("arn:aws:dynamodb:eu-west-1:123456789012:table/t"),
            Decision::ImplicitDeny
        );
        let not = json!({"Statement": {"Effect": "Allow", "Action": "*", "NotResource": format!("{TABLE}/index/*")}});
        assert_eq!(
            decide(&not, &RequestContext::new("dynamodb:GetItem", TABLE)),
            Decision::Allowed
        );
        let index = format!("{TABLE}/index/GSI1");
        assert_eq!(
            decide(&not, &RequestContext::new("dynamodb:GetItem", &index)),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn resource_variables_resolve_from_principal_tags() {
        let policy = json!({"Statement": {"Effect": "Allow", "Action": "*",
            "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/${aws:PrincipalTag/team}-*"}});
        let request = |tags: &[(&str, &str)]| {
            let mut r = RequestContext::new("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/a-x");
            for (k, v) in tags {
                r = r.with_principal_tag(k, v);
            }
            r
        };
        assert_eq!(decide(&policy, &request(&[("team", "a")])), Decision::Allowed);
        assert_eq!(decide(&policy, &request(&[("team", "b")])), Decision::ImplicitDeny);
        assert_eq!(decide(&policy, &request(&[])), Decision::ImplicitDeny);
    }

    #[test]
    fn for_all_values_string_like_checks_every_leading_key() {
        let policy = ns_policy("ForAllValues:StringLike", json!({}));
        let get = |keys: &[&str]| decide(&policy, &leading("dynamodb:GetItem", TABLE, keys));
        assert_eq!(get(&["ns1/ENTITY#e"]), Decision::Allowed);
        assert_eq!(get(&["_/SYSTEM#"]), Decision::Allowed);
        assert_eq!(get(&["ns1/ENTITY#e", "_/SYSTEM#"]), Decision::Allowed);
        assert_eq!(get(&["ns2/ENTITY#e"]), Decision::ImplicitDeny);
        assert_eq!(get(&["ns1/ENTITY#e", "ns2/ENTITY#e"]), Decision::ImplicitDeny);
        // The bare namespace id does not match `ns1/*`.
        assert_eq!(get(&["ns1"]), Decision::ImplicitDeny);
        assert_eq!(get(&["ns10/ENTITY#e"]), Decision::ImplicitDeny);
    }

    #[test]
    fn for_all_values_holds_on_an_empty_or_missing_set_unless_null_requires_the_key() {
        let policy = ns_policy("ForAllValues:StringLike", json!({}));
        let empty = RequestContext::new("dynamodb:GetItem", TABLE)
            .with_key("dynamodb:LeadingKeys", Vec::<String>::new())
            .with_principal_tag(TAG, "ns1");
        assert_eq!(
            decide(&policy, &empty),
            Decision::Allowed,
            "vacuous truth on an empty set"
        );
        let missing = RequestContext::new("dynamodb:GetItem", TABLE).with_principal_tag(TAG, "ns1");
        assert_eq!(
            decide(&policy, &missing),
            Decision::Allowed,
            "vacuous truth on a missing key"
        );
        let guarded = ns_policy(
            "ForAllValues:StringLike",
            json!({"Null": {"dynamodb:LeadingKeys": "false"}}),
        );
        assert_eq!(decide(&guarded, &missing), Decision::ImplicitDeny);
        assert_eq!(decide(&guarded, &empty), Decision::ImplicitDeny);
        let present = leading("dynamodb:GetItem", TABLE, &["ns1/BUCKET#x"]);
        assert_eq!(decide(&guarded, &present), Decision::Allowed);
        let null_true = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"Null": {"dynamodb:LeadingKeys": "true"}}}});
        assert_eq!(decide(&null_true, &missing), Decision::Allowed);
        assert_eq!(decide(&null_true, &present), Decision::ImplicitDeny);
    }

    #[test]
    fn for_any_value_needs_one_match_and_fails_on_an_empty_set() {
        let policy = ns_policy("ForAnyValue:StringLike", json!({}));
        let get = |keys: &[&str]| decide(&policy, &leading("dynamodb:GetItem", TABLE, keys));
        assert_eq!(get(&["ns2/x", "ns1/x"]), Decision::Allowed);
        assert_eq!(get(&["ns2/x"]), Decision::ImplicitDeny);
        assert_eq!(get(&[]), Decision::ImplicitDeny);
        let equals = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"ForAnyValue:StringEquals": {"dynamodb:LeadingKeys": ["a", "b"]}}}});
        let keys = |k: &[&str]| leading("dynamodb:GetItem", TABLE, k);
        assert_eq!(decide(&equals, &keys(&["x", "b"])), Decision::Allowed);
        assert_eq!(decide(&equals, &keys(&["x", "b*"])), Decision::ImplicitDeny);
    }

    #[test]
    fn a_missing_principal_tag_matches_nothing() {
        let policy = ns_policy("ForAllValues:StringLike", json!({}));
        let untagged = RequestContext::new("dynamodb:GetItem", TABLE).with_key("dynamodb:LeadingKeys", ["ns1/x"]);
        assert_eq!(decide(&policy, &untagged), Decision::ImplicitDeny);
        // In particular the unresolved `${...}/*` must not degrade to `/*` or `*`.
        let untagged = RequestContext::new("dynamodb:GetItem", TABLE).with_key("dynamodb:LeadingKeys", ["/x"]);
        assert_eq!(decide(&policy, &untagged), Decision::ImplicitDeny);
        // Shared keys stay readable: the other value of the key still matches.
        let shared = RequestContext::new("dynamodb:GetItem", TABLE).with_key("dynamodb:LeadingKeys", ["_/SYSTEM#"]);
        assert_eq!(decide(&policy, &shared), Decision::Allowed);
        // A default value stands in for a missing key.
        let defaulted = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"StringEquals": {"dynamodb:LeadingKeys": "${aws:PrincipalTag/none, 'dflt'}"}}}});
        let request = RequestContext::new("dynamodb:GetItem", TABLE).with_key("dynamodb:LeadingKeys", ["dflt"]);
        assert_eq!(decide(&defaulted, &request), Decision::Allowed);
    }

    #[test]
    fn substituted_values_are_literal() {
        let policy = ns_policy("ForAllValues:StringLike", json!({}));
        let starry = RequestContext::new("dynamodb:GetItem", TABLE)
            .with_key("dynamodb:LeadingKeys", ["ns9/x"])
            .with_principal_tag(TAG, "*");
        assert_eq!(decide(&policy, &starry), Decision::ImplicitDeny);
        let literal = starry.clone().with_key("dynamodb:LeadingKeys", ["*/x"]);
        assert_eq!(decide(&policy, &literal), Decision::Allowed);
        let escaped = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"StringLike": {"dynamodb:LeadingKeys": "a${*}b${?}${$}"}}}});
        let request = |k: &str| RequestContext::new("x:y", TABLE).with_key("dynamodb:LeadingKeys", [k]);
        assert_eq!(decide(&escaped, &request("a*b?$")), Decision::Allowed);
        assert_eq!(decide(&escaped, &request("axb?$")), Decision::ImplicitDeny);
    }

    #[test]
    fn string_operators_and_negations() {
        let request = |k: Option<&str>| {
            let r = RequestContext::new("x:y", "*");
            match k {
                Some(k) => r.with_key("s3:prefix", [k]),
                None => r,
            }
        };
        let cond = |op: &str, v: &str| {
            json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {op: {"S3:Prefix": v}}}})
        };
        let allowed = |op: &str, v: &str, k: Option<&str>| decide(&cond(op, v), &request(k)) == Decision::Allowed;
        assert!(allowed("StringEquals", "abc", Some("abc")));
        assert!(!allowed("StringEquals", "abc", Some("ABC")));
        assert!(
            !allowed("StringEquals", "a*", Some("abc")),
            "no wildcards in StringEquals"
        );
        assert!(allowed("StringEqualsIgnoreCase", "abc", Some("ABC")));
        assert!(allowed("StringLike", "a*", Some("abc")));
        assert!(!allowed("StringLike", "a*", None));
        assert!(allowed("StringNotEquals", "abc", Some("abd")));
        assert!(!allowed("StringNotEquals", "abc", Some("abc")));
        assert!(
            allowed("StringNotEquals", "abc", None),
            "negated operators hold on a missing key"
        );
        assert!(allowed("StringNotLike", "a*", Some("bc")));
        assert!(!allowed("StringNotLike", "a*", Some("ac")));
        assert!(allowed("StringEqualsIfExists", "abc", None));
        assert!(!allowed("StringEqualsIfExists", "abc", Some("x")));
        assert!(allowed("Bool", "true", Some("TRUE")));
        assert!(!allowed("Bool", "true", Some("false")));
    }

    #[test]
    fn every_operator_and_key_must_hold() {
        let policy = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"StringEquals": {"k:a": "1", "k:b": "2"}}}});
        let r = RequestContext::new("x:y", "*").with_key("k:a", ["1"]);
        assert_eq!(decide(&policy, &r), Decision::ImplicitDeny);
        assert_eq!(decide(&policy, &r.with_key("k:b", ["2"])), Decision::Allowed);
    }

    #[test]
    fn unsupported_or_malformed_policies_are_errors() {
        let policy = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"NumericLessThan": {"k:a": "1"}}}});
        let r = RequestContext::new("x:y", "*");
        assert_eq!(
            evaluate(&[&policy], &r),
            Err(PolicyError::UnsupportedOperator("NumericLessThan".into()))
        );
        let both = json!({"Statement": {"Effect": "Allow", "Action": "*", "NotAction": "a:b", "Resource": "*"}});
        assert!(matches!(evaluate(&[&both], &r), Err(PolicyError::Malformed(_))));
        let no_effect = json!({"Statement": {"Action": "*", "Resource": "*"}});
        assert!(matches!(evaluate(&[&no_effect], &r), Err(PolicyError::Malformed(_))));
    }

    #[test]
    fn glob_backtracks() {
        let p = tokens("a*b*c", None, true).unwrap();
        assert!(glob(&p, &chars("aXbYbZc"), false));
        assert!(glob(&p, &chars("abc"), false));
        assert!(!glob(&p, &chars("aXbYbZ"), false));
        assert!(glob(&tokens("*", None, true).unwrap(), &chars(""), false));
        assert!(!glob(&tokens("?", None, true).unwrap(), &chars(""), false));
    }
}
