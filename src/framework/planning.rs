//! The schema-driven parts of validation and planning that every resource shares:
//! validators, defaults, "known after apply" for computed attributes, and plan modifiers.
//! A resource's own `modify_plan` runs after this.

use std::collections::BTreeMap;

use super::diag::Diagnostics;
use super::path::AttributePath;
use super::plan_modifier::{PlanModifierRequest, PlanModifierResponse};
use super::schema::{Attribute, AttributeKind, Block, Nesting};
use super::value::Value;

/// Runs every attribute validator on the known values of `config`.
pub fn validate_config(block: &Block, config: &Value, diags: &mut Diagnostics) {
    validate_block(block, config, &AttributePath::empty(), diags);
}

fn join(path: &AttributePath, name: &str) -> AttributePath {
    if path.steps().is_empty() {
        AttributePath::root(name)
    } else {
        path.clone().attribute(name)
    }
}

fn validate_block(block: &Block, config: &Value, path: &AttributePath, diags: &mut Diagnostics) {
    for attr in &block.attributes {
        let value = config.get(&attr.name);
        let attr_path = join(path, &attr.name);
        validate_attribute(attr, value, &attr_path, diags);
    }
    for nested in &block.blocks {
        let value = config.get(&nested.type_name);
        let nested_path = join(path, &nested.type_name);
        for_each_object(nested.nesting, value, &nested_path, &mut |obj, p| {
            validate_block(&nested.block, obj, p, diags)
        });
    }
}

fn validate_attribute(attr: &Attribute, value: &Value, path: &AttributePath, diags: &mut Diagnostics) {
    if value.is_null() || value.is_unknown() {
        return;
    }
    if value.is_fully_known() {
        for v in &attr.validators {
            v.validate(value, path, diags);
        }
    }
    if let AttributeKind::Nested { nesting, attributes } = &attr.kind {
        let inner = Block {
            attributes: attributes.clone(),
            ..Block::default()
        };
        for_each_object(*nesting, value, path, &mut |obj, p| {
            validate_block(&inner, obj, p, diags)
        });
    }
}

/// Calls `f` for each object of a nested block or nested attribute value.
fn for_each_object(nesting: Nesting, value: &Value, path: &AttributePath, f: &mut dyn FnMut(&Value, &AttributePath)) {
    match (nesting, value) {
        (Nesting::Single | Nesting::Group, Value::Object(_)) => f(value, path),
        (Nesting::List | Nesting::Set, Value::List(items) | Value::Set(items)) => {
            for (i, item) in items.iter().enumerate() {
                f(item, &path.clone().index(i as i64));
            }
        }
        (Nesting::Map, Value::Map(entries)) => {
            for (k, item) in entries {
                f(item, &path.clone().key(k));
            }
        }
        _ => {}
    }
}

/// The result of schema-driven planning.
#[derive(Debug, Default)]
pub struct PlannedChange {
    /// The planned new state.
    pub planned: Value,
    /// Attributes whose change forces replacement.
    pub requires_replace: Vec<AttributePath>,
    /// Findings of plan modifiers.
    pub diagnostics: Diagnostics,
}

/// Plans a create or update: applies defaults, marks computed attributes that configuration
/// leaves null as unknown when anything changes (or on create), then runs plan modifiers.
/// `proposed` is Terraform's proposed new state; a null `proposed` is a destroy and is
/// returned unchanged.
pub fn plan_change(block: &Block, config: &Value, prior: &Value, proposed: &Value) -> PlannedChange {
    let mut out = PlannedChange {
        planned: proposed.clone(),
        ..PlannedChange::default()
    };
    if proposed.is_null() {
        return out;
    }
    let creating = prior.is_null();
    apply_defaults(block, config, &mut out.planned);
    let changed = creating || !out.planned.equivalent(prior);
    if changed {
        mark_computed_unknown(block, config, &mut out.planned);
    }
    let mut ctx = ModifierContext {
        creating,
        requires_replace: Vec::new(),
        diagnostics: Diagnostics::new(),
    };
    run_modifiers(
        block,
        config,
        prior,
        &mut out.planned,
        &AttributePath::empty(),
        &mut ctx,
    );
    out.requires_replace = ctx.requires_replace;
    out.diagnostics = ctx.diagnostics;
    out
}

fn apply_defaults(block: &Block, config: &Value, planned: &mut Value) {
    for attr in &block.attributes {
        if let Some(default) = &attr.default
            && config.get(&attr.name).is_null()
        {
            planned.set(&attr.name, default.clone());
        }
    }
    for nested in &block.blocks {
        if let (Nesting::Single | Nesting::Group, Some(inner)) = (nested.nesting, planned.get_mut(&nested.type_name))
            && matches!(inner, Value::Object(_))
        {
            apply_defaults(&nested.block, config.get(&nested.type_name), inner);
        }
    }
}

fn mark_computed_unknown(block: &Block, config: &Value, planned: &mut Value) {
    for attr in &block.attributes {
        if attr.computed && attr.default.is_none() && config.get(&attr.name).is_null() {
            planned.set(&attr.name, Value::unknown());
        }
    }
    for nested in &block.blocks {
        let nested_config = config.get(&nested.type_name);
        match planned.get_mut(&nested.type_name) {
            Some(inner @ Value::Object(_)) => mark_computed_unknown(&nested.block, nested_config, inner),
            Some(Value::List(items)) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let item_config = nested_config.as_list().and_then(|l| l.get(i)).unwrap_or(&Value::Null);
                    mark_computed_unknown(&nested.block, item_config, item);
                }
            }
            _ => {}
        }
    }
}

struct ModifierContext {
    creating: bool,
    requires_replace: Vec<AttributePath>,
    diagnostics: Diagnostics,
}

fn run_modifiers(
    block: &Block,
    config: &Value,
    prior: &Value,
    planned: &mut Value,
    path: &AttributePath,
    ctx: &mut ModifierContext,
) {
    for attr in &block.attributes {
        if attr.plan_modifiers.is_empty() {
            continue;
        }
        let attr_path = join(path, &attr.name);
        let current = planned.get(&attr.name).clone();
        let req = PlanModifierRequest {
            path: &attr_path,
            config: config.get(&attr.name),
            state: prior.get(&attr.name),
            creating: ctx.creating,
        };
        let mut resp = PlanModifierResponse {
            plan: current,
            requires_replace: false,
            diagnostics: Diagnostics::new(),
        };
        for m in &attr.plan_modifiers {
            m.modify(&req, &mut resp);
        }
        if resp.requires_replace {
            ctx.requires_replace.push(attr_path);
        }
        ctx.diagnostics.extend(resp.diagnostics);
        planned.set(&attr.name, resp.plan);
    }
    for nested in &block.blocks {
        if let (Nesting::Single | Nesting::Group, Some(inner)) = (nested.nesting, planned.get_mut(&nested.type_name))
            && matches!(inner, Value::Object(_))
        {
            let nested_path = join(path, &nested.type_name);
            run_modifiers(
                &nested.block,
                config.get(&nested.type_name),
                prior.get(&nested.type_name),
                inner,
                &nested_path,
                ctx,
            );
        }
    }
}

/// A null-valued object with every attribute and block of `block` (useful for building
/// states by hand).
pub fn empty_object(block: &Block) -> Value {
    let mut m = BTreeMap::new();
    for a in &block.attributes {
        m.insert(a.name.clone(), Value::Null);
    }
    for b in &block.blocks {
        let empty = match b.nesting {
            Nesting::List => Value::List(Vec::new()),
            Nesting::Set => Value::Set(Vec::new()),
            Nesting::Map => Value::Map(BTreeMap::new()),
            Nesting::Group => empty_object(&b.block),
            Nesting::Single => Value::Null,
        };
        m.insert(b.type_name.clone(), empty);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::plan_modifier::{RequiresReplace, UseStateForUnknown};
    use crate::framework::schema::NestedBlock;
    use crate::framework::validator::IntBetween;

    fn block() -> Block {
        Block::new("t")
            .attribute(Attribute::string("name").required().plan_modifier(RequiresReplace))
            .attribute(
                Attribute::number("days")
                    .default_value(0i64)
                    .validator(IntBetween { min: 0, max: 35 }),
            )
            .attribute(Attribute::string("arn").computed().plan_modifier(UseStateForUnknown))
            .attribute(Attribute::string("etag").computed())
            .block(NestedBlock::single(
                "timeouts",
                Block::new("").attribute(Attribute::string("create").optional()),
            ))
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        let mut v = empty_object(&block());
        for (k, x) in pairs {
            v.set(k, x.clone());
        }
        v
    }

    #[test]
    fn create_marks_computed_unknown_and_applies_defaults() {
        let config = obj(&[("name", "a".into())]);
        let out = plan_change(&block(), &config, &Value::Null, &config);
        assert_eq!(out.planned.get("days"), &Value::int(0));
        assert!(out.planned.get("arn").is_unknown());
        assert!(out.planned.get("etag").is_unknown());
        assert!(out.requires_replace.is_empty());
    }

    #[test]
    fn unchanged_update_keeps_prior_values() {
        let prior = obj(&[
            ("name", "a".into()),
            ("days", Value::int(0)),
            ("arn", "x".into()),
            ("etag", "e".into()),
        ]);
        let config = obj(&[("name", "a".into())]);
        let out = plan_change(&block(), &config, &prior, &prior);
        assert_eq!(out.planned, prior);
    }

    #[test]
    fn changed_update_marks_computed_unknown_except_use_state() {
        let prior = obj(&[
            ("name", "a".into()),
            ("days", Value::int(0)),
            ("arn", "x".into()),
            ("etag", "e".into()),
        ]);
        let config = obj(&[("name", "a".into()), ("days", Value::int(7))]);
        let mut proposed = prior.clone();
        proposed.set("days", Value::int(7));
        let out = plan_change(&block(), &config, &prior, &proposed);
        assert_eq!(out.planned.get("arn"), &Value::string("x"));
        assert!(out.planned.get("etag").is_unknown());
    }

    #[test]
    fn removing_an_optional_value_plans_its_default() {
        let prior = obj(&[
            ("name", "a".into()),
            ("days", Value::int(7)),
            ("arn", "x".into()),
            ("etag", "e".into()),
        ]);
        let config = obj(&[("name", "a".into())]);
        let out = plan_change(&block(), &config, &prior, &prior);
        assert_eq!(out.planned.get("days"), &Value::int(0));
    }

    #[test]
    fn renaming_requires_replace() {
        let prior = obj(&[
            ("name", "a".into()),
            ("days", Value::int(0)),
            ("arn", "x".into()),
            ("etag", "e".into()),
        ]);
        let config = obj(&[("name", "b".into())]);
        let mut proposed = prior.clone();
        proposed.set("name", "b".into());
        let out = plan_change(&block(), &config, &prior, &proposed);
        assert_eq!(out.requires_replace, vec![AttributePath::root("name")]);
    }

    #[test]
    fn validators_report_at_attribute_path() {
        let mut d = Diagnostics::new();
        validate_config(&block(), &obj(&[("days", Value::int(99))]), &mut d);
        assert_eq!(d.iter().next().unwrap().attribute, Some(AttributePath::root("days")));
    }
}
