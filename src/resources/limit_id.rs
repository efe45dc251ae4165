//! The id of a `zae_limiter_limit`: `STACK/NAMESPACE/SCOPE/NAME`, where SCOPE is
//!
//! * `system`,
//! * `resource:RESOURCE`, or
//! * `entity:ENTITY_ID:RESOURCE` (RESOURCE `_default_` for every resource).
//!
//! Stack names and limit names contain neither `/` nor `:`, but namespace names may
//! contain anything, resource names may contain `/` and `:`, and entity ids may contain
//! `:`. So in NAMESPACE, RESOURCE and ENTITY_ID the characters `%`, `/` and `:` (and
//! control characters) are percent-encoded (`%25`, `%2F`, `%3A`): the id then always
//! splits into exactly four parts at `/`, and an entity scope into exactly three at `:`.
//! Ordinary names read as themselves: `zae-demo/tenant-alpha/resource:gpt-4/rpm`,
//! `zae-demo/tenant-alpha/entity:api-key-123:openai%2Fgpt-4/rpm`.

use std::fmt;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use zae_limiter::schema::config::ConfigLevel;
use zae_limiter::schema::keys::DEFAULT_RESOURCE;

/// Characters encoded in the free-form parts of an id.
const ENCODED: &AsciiSet = &CONTROLS.add(b'%').add(b'/').add(b':');

fn encode(part: &str) -> String {
    utf8_percent_encode(part, ENCODED).to_string()
}

fn decode(part: &str) -> Result<String, String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("{part:?} is not valid percent-encoded UTF-8"))
}

/// Which config item a limit lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The namespace's system defaults.
    System,
    /// A resource's defaults.
    Resource(String),
    /// An entity's limits for a resource, or for every resource (`None` = `_default_`).
    Entity {
        /// Entity id.
        entity_id: String,
        /// Resource, `None` for every resource.
        resource: Option<String>,
    },
}

impl Scope {
    /// The scope of a limit with these (optional) `entity_id` and `resource` arguments.
    pub fn of(entity_id: Option<&str>, resource: Option<&str>) -> Scope {
        match (entity_id, resource) {
            (Some(entity_id), resource) => Scope::Entity {
                entity_id: entity_id.to_string(),
                resource: resource.map(str::to_string),
            },
            (None, Some(resource)) => Scope::Resource(resource.to_string()),
            (None, None) => Scope::System,
        }
    }

    /// `system`, `resource` or `entity`.
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::System => "system",
            Scope::Resource(_) => "resource",
            Scope::Entity { .. } => "entity",
        }
    }

    /// The `resource` argument (`None` for system scope and entity-wide limits).
    pub fn resource(&self) -> Option<&str> {
        match self {
            Scope::System => None,
            Scope::Resource(r) => Some(r),
            Scope::Entity { resource, .. } => resource.as_deref(),
        }
    }

    /// The `entity_id` argument.
    pub fn entity_id(&self) -> Option<&str> {
        match self {
            Scope::Entity { entity_id, .. } => Some(entity_id),
            _ => None,
        }
    }

    /// The config item level in the client crate.
    pub fn level(&self) -> ConfigLevel {
        match self {
            Scope::System => ConfigLevel::System,
            Scope::Resource(r) => ConfigLevel::Resource(r.clone()),
            Scope::Entity { entity_id, resource } => ConfigLevel::Entity {
                entity_id: entity_id.clone(),
                resource: resource.clone().unwrap_or_else(|| DEFAULT_RESOURCE.to_string()),
            },
        }
    }

    fn parse(text: &str) -> Result<Scope, String> {
        match text.split_once(':') {
            None if text == "system" => Ok(Scope::System),
            Some(("resource", resource)) if !resource.is_empty() && !resource.contains(':') => {
                Ok(Scope::Resource(decode(resource)?))
            }
            Some(("entity", rest)) => match rest.split(':').collect::<Vec<_>>()[..] {
                [entity, resource] if !entity.is_empty() && !resource.is_empty() => {
                    let resource = decode(resource)?;
                    Ok(Scope::Entity {
                        entity_id: decode(entity)?,
                        resource: (resource != DEFAULT_RESOURCE).then_some(resource),
                    })
                }
                _ => Err(format!("{text:?} is not an entity scope (entity:ENTITY_ID:RESOURCE)")),
            },
            _ => Err(format!(
                "{text:?} is not a scope (system, resource:RESOURCE or entity:ENTITY_ID:RESOURCE)"
            )),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::System => f.write_str("system"),
            Scope::Resource(r) => write!(f, "resource:{}", encode(r)),
            Scope::Entity { entity_id, resource } => write!(
                f,
                "entity:{}:{}",
                encode(entity_id),
                encode(resource.as_deref().unwrap_or(DEFAULT_RESOURCE))
            ),
        }
    }
}

/// A parsed limit id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitId {
    /// Stack name.
    pub stack: String,
    /// Namespace name.
    pub namespace: String,
    /// Scope.
    pub scope: Scope,
    /// Limit name.
    pub name: String,
}

impl LimitId {
    /// Parses `STACK/NAMESPACE/SCOPE/NAME`.
    pub fn parse(text: &str) -> Result<LimitId, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let [stack, namespace, scope, name] = parts[..] else {
            return Err(format!(
                "{text:?} is not a limit id: expected STACK/NAMESPACE/SCOPE/NAME (4 parts separated by /; a / inside a \
                 namespace or resource name is written %2F)"
            ));
        };
        if stack.is_empty() || namespace.is_empty() || name.is_empty() {
            return Err(format!("{text:?} has an empty part"));
        }
        Ok(LimitId {
            stack: stack.to_string(),
            namespace: decode(namespace)?,
            scope: Scope::parse(scope)?,
            name: name.to_string(),
        })
    }
}

impl fmt::Display for LimitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.stack,
            encode(&self.namespace),
            self.scope,
            self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(namespace: &str, scope: Scope) -> LimitId {
        LimitId {
            stack: "zae-demo".into(),
            namespace: namespace.into(),
            scope,
            name: "rpm".into(),
        }
    }

    #[test]
    fn plain_names_read_as_themselves() {
        assert_eq!(
            id("tenant-alpha", Scope::System).to_string(),
            "zae-demo/tenant-alpha/system/rpm"
        );
        assert_eq!(
            id("tenant-alpha", Scope::Resource("gpt-4".into())).to_string(),
            "zae-demo/tenant-alpha/resource:gpt-4/rpm"
        );
        assert_eq!(
            id("t", Scope::of(Some("api-key-123"), None)).to_string(),
            "zae-demo/t/entity:api-key-123:_default_/rpm"
        );
    }

    #[test]
    fn slashes_and_colons_round_trip() {
        let cases = [
            id("a/b:c%d", Scope::Resource("openai/gpt-4:8b".into())),
            id("ns", Scope::of(Some("user:1@x"), Some("llama3:8b/q4"))),
            id("ns", Scope::of(Some("e"), None)),
            id("ns", Scope::System),
        ];
        for case in cases {
            let text = case.to_string();
            assert_eq!(text.split('/').count(), 4, "{text}");
            assert_eq!(LimitId::parse(&text).unwrap(), case, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in [
            "zae-demo/ns/rpm",
            "a/b/c/d/e",
            "s/ns/bogus/rpm",
            "s/ns/entity:only/rpm",
            "s/ns/resource:a:b/rpm",
            "s//system/rpm",
        ] {
            assert!(LimitId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn levels_use_default_for_entity_wide_limits() {
        assert_eq!(
            Scope::of(Some("e"), None).level(),
            ConfigLevel::Entity {
                entity_id: "e".into(),
                resource: "_default_".into()
            }
        );
        assert_eq!(Scope::of(None, Some("r")).level(), ConfigLevel::Resource("r".into()));
    }
}
