//! The Terraform state as `terraform show -json` prints it, with lookups by resource
//! address and attribute path.
//!
//! Attribute paths are dot-separated: `name`, `tags.Environment`, `policy_arns.acquire_only`,
//! and list elements by index, `rule.0.id`.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde_json::Value;

/// A parsed `terraform show -json` document.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    json: Value,
}

impl State {
    /// Wraps the JSON of `terraform show -json`.
    pub fn new(json: Value) -> State {
        State { json }
    }

    /// The whole document.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Every resource object (`address`, `type`, `values`, `identity`, ...), modules included.
    pub fn resources(&self) -> Vec<&Value> {
        let mut found = Vec::new();
        if let Some(root) = self.json.pointer("/values/root_module") {
            collect_resources(root, &mut found);
        }
        found
    }

    /// The addresses of every resource, e.g. `zae_limiter_stack.main`.
    pub fn addresses(&self) -> Vec<String> {
        self.resources()
            .iter()
            .filter_map(|r| r["address"].as_str())
            .map(String::from)
            .collect()
    }

    /// Whether the state holds no resources.
    pub fn is_empty(&self) -> bool {
        self.resources().is_empty()
    }

    /// The resource object at `address` (with `values` and, on Terraform ≥ 1.12, `identity`).
    pub fn resource(&self, address: &str) -> anyhow::Result<&Value> {
        self.resources()
            .into_iter()
            .find(|r| r["address"] == address)
            .with_context(|| format!("no resource {address} in the state; it holds {:?}", self.addresses()))
    }

    /// The attribute values of the resource at `address`.
    pub fn values(&self, address: &str) -> anyhow::Result<&Value> {
        Ok(&self.resource(address)?["values"])
    }

    /// The value at `path` in the attributes of `address`; JSON `null` when the attribute
    /// is null, an error when the path does not exist.
    pub fn attr(&self, address: &str, path: &str) -> anyhow::Result<&Value> {
        lookup(self.values(address)?, path).with_context(|| format!("{address} has no attribute {path}"))
    }

    /// A string attribute.
    pub fn attr_str(&self, address: &str, path: &str) -> anyhow::Result<&str> {
        match self.attr(address, path)? {
            Value::String(s) => Ok(s),
            other => bail!("{address}.{path} is {other}, not a string"),
        }
    }

    /// The value of root module output `name`.
    pub fn output(&self, name: &str) -> anyhow::Result<&Value> {
        self.json
            .pointer(&format!("/values/outputs/{name}/value"))
            .with_context(|| format!("no output {name:?} in the state"))
    }

    /// The attributes of `address` flattened to `path → leaf value` (see [`flatten`]).
    pub fn flat_values(&self, address: &str) -> anyhow::Result<BTreeMap<String, Value>> {
        Ok(flatten(self.values(address)?))
    }
}

fn collect_resources<'a>(module: &'a Value, found: &mut Vec<&'a Value>) {
    if let Some(resources) = module["resources"].as_array() {
        found.extend(resources);
    }
    if let Some(children) = module["child_modules"].as_array() {
        for child in children {
            collect_resources(child, found);
        }
    }
}

/// The value at a dot-separated `path` (object keys or list indexes) below `value`.
pub fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |current, step| match current {
        Value::Object(map) => map.get(step),
        Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// Flattens nested objects and lists to `dotted.path → leaf`, the way
/// terraform-plugin-testing compares imported and applied state. Empty collections and
/// `null` are leaves, so `tags = {}` and `tags = null` differ.
pub fn flatten(value: &Value) -> BTreeMap<String, Value> {
    let mut flat = BTreeMap::new();
    flatten_into(String::new(), value, &mut flat);
    flat
}

fn flatten_into(prefix: String, value: &Value, flat: &mut BTreeMap<String, Value>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                flatten_into(join(key), child, flat);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, child) in items.iter().enumerate() {
                flatten_into(join(&i.to_string()), child, flat);
            }
        }
        leaf => {
            flat.insert(prefix, leaf.clone());
        }
    }
}

/// Whether `path` is ignored by an entry of `ignore`: equal to it, or below it
/// (`tags` ignores `tags.Environment`).
pub fn is_ignored(path: &str, ignore: &[String]) -> bool {
    ignore
        .iter()
        .any(|i| path == i || path.strip_prefix(i.as_str()).is_some_and(|rest| rest.starts_with('.')))
}

/// The differences between two flattened attribute maps, one line each, leaving out ignored
/// paths. Empty when they agree.
pub fn diff(
    expected_label: &str,
    expected: &BTreeMap<String, Value>,
    actual_label: &str,
    actual: &BTreeMap<String, Value>,
    ignore: &[String],
) -> Vec<String> {
    let mut keys: Vec<&String> = expected.keys().chain(actual.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !is_ignored(k, ignore))
        .filter_map(|k| {
            let (e, a) = (expected.get(k), actual.get(k));
            (e != a).then(|| format!("  {k}: {expected_label} {}, {actual_label} {}", show(e), show(a)))
        })
        .collect()
}

fn show(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_string(), Value::to_string)
}
