//! Attribute validators: checks run on known configuration values at validate time, each
//! reporting its findings against the attribute's path.

use super::diag::Diagnostics;
use super::path::AttributePath;
use super::value::Value;

/// A check on one known, non-null configuration value.
pub trait Validator: Send + Sync {
    /// What the validator requires, for documentation.
    fn description(&self) -> String;
    /// Adds an error to `diags` (at `path`) when `value` is not acceptable.
    fn validate(&self, value: &Value, path: &AttributePath, diags: &mut Diagnostics);
}

/// A whole number within `min..=max`.
#[derive(Debug, Clone, Copy)]
pub struct IntBetween {
    /// Smallest allowed value.
    pub min: i64,
    /// Largest allowed value.
    pub max: i64,
}

impl Validator for IntBetween {
    fn description(&self) -> String {
        format!("a whole number between {} and {}", self.min, self.max)
    }

    fn validate(&self, value: &Value, path: &AttributePath, diags: &mut Diagnostics) {
        match value.as_i64() {
            Some(n) if (self.min..=self.max).contains(&n) => {}
            Some(n) => diags.attribute_error(
                path.clone(),
                "Value out of range",
                format!("{path} must be {}, got {n}.", self.description()),
            ),
            None => diags.attribute_error(
                path.clone(),
                "Invalid number",
                format!("{path} must be {}.", self.description()),
            ),
        }
    }
}

/// A whole number that is one of a fixed set (e.g. the retention periods AWS accepts).
#[derive(Debug, Clone, Copy)]
pub struct IntIn(pub &'static [i32]);

impl Validator for IntIn {
    fn description(&self) -> String {
        let shown: Vec<String> = self.0.iter().map(i32::to_string).collect();
        format!("one of {}", shown.join(", "))
    }

    fn validate(&self, value: &Value, path: &AttributePath, diags: &mut Diagnostics) {
        let allowed = value
            .as_i64()
            .is_some_and(|n| self.0.iter().any(|&a| i64::from(a) == n));
        if !allowed {
            diags.attribute_error(
                path.clone(),
                "Value not allowed",
                format!("{path} must be {}.", self.description()),
            );
        }
    }
}

/// A string that is one of a fixed set.
#[derive(Debug, Clone)]
pub struct OneOf(pub &'static [&'static str]);

impl Validator for OneOf {
    fn description(&self) -> String {
        let quoted: Vec<String> = self.0.iter().map(|s| format!("{s:?}")).collect();
        format!("one of {}", quoted.join(", "))
    }

    fn validate(&self, value: &Value, path: &AttributePath, diags: &mut Diagnostics) {
        if let Some(s) = value.as_str()
            && !self.0.contains(&s)
        {
            diags.attribute_error(
                path.clone(),
                "Invalid value",
                format!("{path} must be {}, got {s:?}.", self.description()),
            );
        }
    }
}

/// A check of one string: `Err` carries the message for the user.
type StringCheckFn = dyn Fn(&str) -> Result<(), String> + Send + Sync;
/// A check of one map entry `(key, value)`.
type EntryCheckFn = dyn Fn(&str, &str) -> Result<(), String> + Send + Sync;

/// A check written as a function returning an error message for bad strings.
pub struct StringCheck {
    description: String,
    summary: &'static str,
    check: Box<StringCheckFn>,
}

impl StringCheck {
    /// Wraps `check`; its `Err` text becomes the diagnostic detail under `summary`.
    pub fn new(
        summary: &'static str,
        description: impl Into<String>,
        check: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
    ) -> StringCheck {
        StringCheck {
            description: description.into(),
            summary,
            check: Box::new(check),
        }
    }
}

impl Validator for StringCheck {
    fn description(&self) -> String {
        self.description.clone()
    }

    fn validate(&self, value: &Value, path: &AttributePath, diags: &mut Diagnostics) {
        if let Some(s) = value.as_str()
            && let Err(message) = (self.check)(s)
        {
            diags.attribute_error(path.clone(), self.summary, message);
        }
    }
}

/// Runs `check` on each string key and value of a map, reporting at the element's path.
pub struct MapEntries {
    check: Box<EntryCheckFn>,
    summary: &'static str,
}

impl MapEntries {
    /// Wraps a check of one `(key, value)` entry.
    pub fn new(
        summary: &'static str,
        check: impl Fn(&str, &str) -> Result<(), String> + Send + Sync + 'static,
    ) -> MapEntries {
        MapEntries {
            check: Box::new(check),
            summary,
        }
    }
}

impl Validator for MapEntries {
    fn description(&self) -> String {
        "valid map entries".into()
    }

    fn validate(&self, value: &Value, path: &AttributePath, diags: &mut Diagnostics) {
        let Some(entries) = value.as_map() else { return };
        for (k, v) in entries {
            let Some(v) = v.as_str() else { continue };
            if let Err(message) = (self.check)(k, v) {
                diags.attribute_error(path.clone().key(k), self.summary, message);
            }
        }
    }
}

/// Applies a validator to every element of a list or set (diagnostics at the collection's
/// path: set elements have no path of their own).
pub struct Each<V>(pub V);

impl<V: Validator> Validator for Each<V> {
    fn description(&self) -> String {
        format!("each element {}", self.0.description())
    }

    fn validate(&self, value: &Value, path: &AttributePath, diags: &mut Diagnostics) {
        for element in value.as_list().unwrap_or_default() {
            if element.is_fully_known() && !element.is_null() {
                self.0.validate(element, path, diags);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_in_accepts_only_listed_values() {
        let check = IntIn(&[1, 7, 30]);
        let mut ok = Diagnostics::new();
        check.validate(&Value::int(7), &AttributePath::root("days"), &mut ok);
        assert!(ok.is_empty());
        let mut d = Diagnostics::new();
        check.validate(&Value::int(8), &AttributePath::root("days"), &mut d);
        let diag = d.iter().next().expect("an error");
        assert!(diag.detail.contains("one of 1, 7, 30"), "{}", diag.detail);
    }

    #[test]
    fn int_between_reports_out_of_range_at_path() {
        let mut d = Diagnostics::new();
        IntBetween { min: 0, max: 35 }.validate(&Value::int(36), &AttributePath::root("pitr"), &mut d);
        let diag = d.iter().next().expect("an error");
        assert_eq!(diag.attribute, Some(AttributePath::root("pitr")));
        assert!(diag.detail.contains("between 0 and 35, got 36"), "{}", diag.detail);
        let mut ok = Diagnostics::new();
        IntBetween { min: 0, max: 35 }.validate(&Value::int(35), &AttributePath::root("pitr"), &mut ok);
        assert!(ok.is_empty());
    }

    #[test]
    fn one_of_accepts_members_only() {
        let mut d = Diagnostics::new();
        OneOf(&["a", "b"]).validate(&Value::string("c"), &AttributePath::root("x"), &mut d);
        assert!(d.has_errors());
        let mut ok = Diagnostics::new();
        OneOf(&["a", "b"]).validate(&Value::string("b"), &AttributePath::root("x"), &mut ok);
        assert!(ok.is_empty());
    }

    #[test]
    fn map_entries_point_at_the_key() {
        let mut d = Diagnostics::new();
        let v = MapEntries::new("Bad tag", |k, _| {
            if k.starts_with("aws:") {
                Err("reserved".into())
            } else {
                Ok(())
            }
        });
        v.validate(
            &Value::string_map([("aws:x", "1"), ("ok", "2")]),
            &AttributePath::root("tags"),
            &mut d,
        );
        assert_eq!(d.iter().count(), 1);
        assert_eq!(
            d.iter().next().unwrap().attribute,
            Some(AttributePath::root("tags").key("aws:x"))
        );
    }

    #[test]
    fn each_checks_every_known_element() {
        let v = Each(StringCheck::new("Bad", "short", |s| {
            if s.len() < 3 {
                Ok(())
            } else {
                Err(format!("{s} is long"))
            }
        }));
        let mut d = Diagnostics::new();
        let set = Value::Set(vec!["ab".into(), "abcd".into(), Value::unknown(), "xyz".into()]);
        v.validate(&set, &AttributePath::root("roles"), &mut d);
        let details: Vec<&str> = d.iter().map(|x| x.detail.as_str()).collect();
        assert_eq!(details, vec!["abcd is long", "xyz is long"]);
    }
}
