//! Attribute paths: where in a configuration a value or a diagnostic belongs.

use std::fmt;

/// One step of an [`AttributePath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// An attribute or block of an object.
    Attribute(String),
    /// A map element.
    Key(String),
    /// A list element.
    Index(i64),
}

/// A path from the root of a resource's value to one attribute, e.g. `tags["team"]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributePath {
    steps: Vec<PathStep>,
}

impl AttributePath {
    /// The path of a top-level attribute.
    pub fn root(name: &str) -> AttributePath {
        AttributePath {
            steps: vec![PathStep::Attribute(name.to_string())],
        }
    }

    /// A path with no steps (the whole value).
    pub fn empty() -> AttributePath {
        AttributePath::default()
    }

    /// This path extended by an attribute step.
    pub fn attribute(mut self, name: &str) -> AttributePath {
        self.steps.push(PathStep::Attribute(name.to_string()));
        self
    }

    /// This path extended by a map-key step.
    pub fn key(mut self, key: &str) -> AttributePath {
        self.steps.push(PathStep::Key(key.to_string()));
        self
    }

    /// This path extended by a list-index step.
    pub fn index(mut self, index: i64) -> AttributePath {
        self.steps.push(PathStep::Index(index));
        self
    }

    /// The steps, outermost first.
    pub fn steps(&self) -> &[PathStep] {
        &self.steps
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if i == 0 => f.write_str(name)?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
                PathStep::Index(idx) => write!(f, "[{idx}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_hcl() {
        let p = AttributePath::root("tags").key("team");
        assert_eq!(p.to_string(), r#"tags["team"]"#);
        assert_eq!(
            AttributePath::root("timeouts").attribute("create").to_string(),
            "timeouts.create"
        );
        assert_eq!(AttributePath::root("l").index(2).to_string(), "l[2]");
    }
}
