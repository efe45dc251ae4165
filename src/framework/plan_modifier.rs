//! Plan modifiers: per-attribute adjustments made while planning, such as forcing
//! replacement or keeping a computed value that will not change.

use super::diag::Diagnostics;
use super::path::AttributePath;
use super::value::Value;

/// What a plan modifier sees.
#[derive(Debug)]
pub struct PlanModifierRequest<'a> {
    /// The attribute's path.
    pub path: &'a AttributePath,
    /// The value in configuration.
    pub config: &'a Value,
    /// The value in prior state (null on create).
    pub state: &'a Value,
    /// Whether the resource is being created (no prior state).
    pub creating: bool,
}

/// What a plan modifier may change.
#[derive(Debug)]
pub struct PlanModifierResponse {
    /// The planned value; starts as the value planned so far.
    pub plan: Value,
    /// Set to request replacement of the resource.
    pub requires_replace: bool,
    /// Findings.
    pub diagnostics: Diagnostics,
}

/// An adjustment to one attribute's planned value.
pub trait PlanModifier: Send + Sync {
    /// What the modifier does, for documentation.
    fn description(&self) -> String;
    /// Adjusts `resp` given `req`.
    fn modify(&self, req: &PlanModifierRequest<'_>, resp: &mut PlanModifierResponse);
}

/// A change to this attribute destroys and re-creates the resource.
#[derive(Debug, Clone, Copy)]
pub struct RequiresReplace;

impl PlanModifier for RequiresReplace {
    fn description(&self) -> String {
        "changing this value forces replacement".into()
    }

    fn modify(&self, req: &PlanModifierRequest<'_>, resp: &mut PlanModifierResponse) {
        if req.creating {
            return;
        }
        if resp.plan.is_unknown() || !resp.plan.equivalent(req.state) {
            resp.requires_replace = true;
        }
    }
}

/// A computed value that does not change once set: plan the prior value instead of
/// "known after apply".
#[derive(Debug, Clone, Copy)]
pub struct UseStateForUnknown;

impl PlanModifier for UseStateForUnknown {
    fn description(&self) -> String {
        "keeps the prior value when the new value is not yet known".into()
    }

    fn modify(&self, req: &PlanModifierRequest<'_>, resp: &mut PlanModifierResponse) {
        if resp.plan.is_unknown() && !req.state.is_null() && req.config.is_null() {
            resp.plan = req.state.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(m: &dyn PlanModifier, config: Value, state: Value, plan: Value, creating: bool) -> PlanModifierResponse {
        let path = AttributePath::root("a");
        let req = PlanModifierRequest {
            path: &path,
            config: &config,
            state: &state,
            creating,
        };
        let mut resp = PlanModifierResponse {
            plan,
            requires_replace: false,
            diagnostics: Diagnostics::new(),
        };
        m.modify(&req, &mut resp);
        resp
    }

    #[test]
    fn requires_replace_only_on_change_of_existing_resource() {
        assert!(run(&RequiresReplace, "b".into(), "a".into(), "b".into(), false).requires_replace);
        assert!(!run(&RequiresReplace, "a".into(), "a".into(), "a".into(), false).requires_replace);
        assert!(!run(&RequiresReplace, "b".into(), Value::Null, "b".into(), true).requires_replace);
        assert!(run(&RequiresReplace, Value::unknown(), "a".into(), Value::unknown(), false).requires_replace);
    }

    #[test]
    fn use_state_for_unknown_keeps_prior_value() {
        let r = run(
            &UseStateForUnknown,
            Value::Null,
            "arn:1".into(),
            Value::unknown(),
            false,
        );
        assert_eq!(r.plan, Value::string("arn:1"));
        let r = run(&UseStateForUnknown, Value::Null, Value::Null, Value::unknown(), true);
        assert!(r.plan.is_unknown());
    }
}
