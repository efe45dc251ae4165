//! Diagnostics and attribute paths ↔ `tfplugin6.Diagnostic` / `tfplugin6.AttributePath`.

use crate::framework::diag::{Diagnostic, Diagnostics, Severity};
use crate::framework::path::{AttributePath, PathStep};
use crate::server::proto::tfplugin6 as pb;
use pb::attribute_path::Step;
use pb::attribute_path::step::Selector;

/// Converts every diagnostic, in order.
pub(crate) fn diagnostics_to_proto(diags: &Diagnostics) -> Vec<pb::Diagnostic> {
    diags.iter().map(diagnostic_to_proto).collect()
}

/// Converts one diagnostic.
pub(crate) fn diagnostic_to_proto(diag: &Diagnostic) -> pb::Diagnostic {
    let severity = match diag.severity {
        Severity::Error => pb::diagnostic::Severity::Error,
        Severity::Warning => pb::diagnostic::Severity::Warning,
    };
    pb::Diagnostic {
        severity: i32::from(severity),
        summary: diag.summary.clone(),
        detail: diag.detail.clone(),
        attribute: diag.attribute.as_ref().map(path_to_proto),
    }
}

/// Converts a framework path into protocol steps.
pub(crate) fn path_to_proto(path: &AttributePath) -> pb::AttributePath {
    let steps = path
        .steps()
        .iter()
        .map(|step| {
            let selector = match step {
                PathStep::Attribute(name) => Selector::AttributeName(name.clone()),
                PathStep::Key(key) => Selector::ElementKeyString(key.clone()),
                PathStep::Index(index) => Selector::ElementKeyInt(*index),
            };
            Step {
                selector: Some(selector),
            }
        })
        .collect();
    pb::AttributePath { steps }
}

/// Converts protocol steps into a framework path (steps without a selector are skipped).
#[allow(
    dead_code,
    reason = "no request carries a path yet; the inverse of `path_to_proto`, used in tests"
)]
pub(crate) fn path_from_proto(path: &pb::AttributePath) -> AttributePath {
    path.steps
        .iter()
        .filter_map(|step| step.selector.as_ref())
        .fold(AttributePath::empty(), |acc, selector| match selector {
            Selector::AttributeName(name) => acc.attribute(name),
            Selector::ElementKeyString(key) => acc.key(key),
            Selector::ElementKeyInt(index) => acc.index(*index),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_keep_severity_order_and_paths() {
        let mut diags = Diagnostics::new();
        diags.warning("Careful", "");
        diags.attribute_error(
            AttributePath::root("rules").index(2).attribute("tags").key("team"),
            "Invalid tag",
            "too long",
        );
        let out = diagnostics_to_proto(&diags);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].severity, pb::diagnostic::Severity::Warning as i32);
        assert!(out[0].attribute.is_none());
        assert_eq!(out[1].severity, pb::diagnostic::Severity::Error as i32);
        assert_eq!(out[1].summary, "Invalid tag");
        assert_eq!(out[1].detail, "too long");
        let steps: Vec<_> = out[1]
            .attribute
            .as_ref()
            .expect("path")
            .steps
            .iter()
            .map(|s| s.selector.clone().expect("selector"))
            .collect();
        assert_eq!(
            steps,
            vec![
                Selector::AttributeName("rules".into()),
                Selector::ElementKeyInt(2),
                Selector::AttributeName("tags".into()),
                Selector::ElementKeyString("team".into()),
            ]
        );
    }

    #[test]
    fn paths_round_trip() {
        let path = AttributePath::root("a").key("k").index(-1).attribute("b");
        assert_eq!(path_from_proto(&path_to_proto(&path)), path);
        assert_eq!(path_from_proto(&pb::AttributePath::default()), AttributePath::empty());
    }
}
