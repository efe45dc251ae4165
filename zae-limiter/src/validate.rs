//! Input validation with zae-limiter 0.17.0's rules and messages (wire-format §12.1).

use crate::error::{ValidationError, ValidationKind};
use crate::schema::keys::{DEFAULT_RESOURCE, RESERVED_NAMESPACE};

/// Maximum length of entity ids, parent ids and principals.
pub const MAX_IDENTIFIER_LENGTH: usize = 256;
/// Maximum length of limit names and resource names.
pub const MAX_NAME_LENGTH: usize = 64;
/// Limit names reserved for infrastructure limits.
pub const RESERVED_LIMIT_NAMES: [&str; 1] = ["wcu"];
/// The key delimiter, forbidden in every validated name.
pub const FORBIDDEN_CHAR: char = '#';

fn is_identifier_tail(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | '@')
}

fn is_name_tail(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn is_resource_tail(c: char) -> bool {
    is_name_tail(c) || matches!(c, '/' | ':')
}

fn matches(value: &str, first: fn(char) -> bool, tail: fn(char) -> bool) -> bool {
    let mut chars = value.chars();
    chars.next().is_some_and(first) && chars.all(tail)
}

/// Validates an entity id, parent id or principal
/// (`^[a-zA-Z0-9][a-zA-Z0-9_.\-:@]*$`, 1–256 characters, no `#`).
pub fn validate_identifier(value: &str, field: &str) -> Result<(), ValidationError> {
    let err = |reason: String| Err(ValidationError::new(ValidationKind::Identifier, field, value, reason));
    if value.is_empty() {
        return err("cannot be empty".into());
    }
    if value.chars().count() > MAX_IDENTIFIER_LENGTH {
        return err(format!("exceeds maximum length of {MAX_IDENTIFIER_LENGTH}"));
    }
    if value.contains(FORBIDDEN_CHAR) {
        return err(format!("cannot contain '{FORBIDDEN_CHAR}' (reserved delimiter)"));
    }
    if !matches(value, |c| c.is_ascii_alphanumeric(), is_identifier_tail) {
        return err(
            "must start with alphanumeric and contain only alphanumeric, underscore, hyphen, dot, colon, \
             or @ characters"
                .into(),
        );
    }
    Ok(())
}

/// Validates a limit name (`^[a-zA-Z][a-zA-Z0-9_.\-]*$`, 1–64 characters, no `#`,
/// not `wcu`).
pub fn validate_name(value: &str, field: &str) -> Result<(), ValidationError> {
    let err = |reason: String| Err(ValidationError::new(ValidationKind::Name, field, value, reason));
    if value.is_empty() {
        return err("cannot be empty".into());
    }
    if value.chars().count() > MAX_NAME_LENGTH {
        return err(format!("exceeds maximum length of {MAX_NAME_LENGTH}"));
    }
    if value.contains(FORBIDDEN_CHAR) {
        return err(format!("cannot contain '{FORBIDDEN_CHAR}' (reserved delimiter)"));
    }
    if RESERVED_LIMIT_NAMES.contains(&value) {
        return err(format!("'{value}' is a reserved limit name"));
    }
    if !matches(value, |c| c.is_ascii_alphabetic(), is_name_tail) {
        return err(
            "must start with a letter and contain only alphanumeric, underscore, hyphen, or dot characters".into(),
        );
    }
    Ok(())
}

/// Validates a resource name (`^[a-zA-Z][a-zA-Z0-9_.\-/:]*$`, 1–64 characters, no `#`).
pub fn validate_resource(value: &str) -> Result<(), ValidationError> {
    validate_resource_field(value, "resource")
}

/// [`validate_resource`] reporting another field name.
pub fn validate_resource_field(value: &str, field: &str) -> Result<(), ValidationError> {
    let err = |reason: String| Err(ValidationError::new(ValidationKind::Name, field, value, reason));
    if value.is_empty() {
        return err("cannot be empty".into());
    }
    if value.chars().count() > MAX_NAME_LENGTH {
        return err(format!("exceeds maximum length of {MAX_NAME_LENGTH}"));
    }
    if value.contains(FORBIDDEN_CHAR) {
        return err(format!("cannot contain '{FORBIDDEN_CHAR}' (reserved delimiter)"));
    }
    if !matches(value, |c| c.is_ascii_alphabetic(), is_resource_tail) {
        return err(
            "must start with a letter and contain only alphanumeric, underscore, hyphen, dot, slash, \
             or colon characters"
                .into(),
        );
    }
    Ok(())
}

/// Validates the resource of an entity-level config: a resource name, or
/// `_default_` (entity-wide).
pub fn validate_config_resource(value: &str) -> Result<(), ValidationError> {
    if value == DEFAULT_RESOURCE {
        Ok(())
    } else {
        validate_resource(value)
    }
}

/// Validates a namespace name. zae-limiter rejects only the reserved name `_`.
pub fn validate_namespace_name(value: &str) -> Result<(), ValidationError> {
    if value == RESERVED_NAMESPACE {
        return Err(ValidationError::new(
            ValidationKind::Other,
            "namespace",
            value,
            "reserved for system use",
        ));
    }
    Ok(())
}

/// Validates an audit principal: ARNs pass as-is, anything else must be an identifier.
pub fn validate_principal(value: &str) -> Result<(), ValidationError> {
    if value.starts_with("arn:") {
        Ok(())
    } else {
        validate_identifier(value, "principal")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        for ok in ["user-1", "sk-proj-abc", "a@b.c", "0", "x:y_z.w", &"a".repeat(256)] {
            validate_identifier(ok, "entity_id").unwrap();
        }
        let msg = |v: &str| validate_identifier(v, "entity_id").unwrap_err().to_string();
        assert_eq!(msg(""), "Invalid entity_id: cannot be empty");
        assert_eq!(
            msg(&"a".repeat(257)),
            "Invalid entity_id: exceeds maximum length of 256"
        );
        assert_eq!(msg("a#b"), "Invalid entity_id: cannot contain '#' (reserved delimiter)");
        assert_eq!(
            msg("-abc"),
            concat!(
                "Invalid entity_id: must start with alphanumeric and contain only alphanumeric, ",
                "underscore, hyphen, dot, colon, or @ characters",
            )
        );
        assert!(validate_identifier("a/b", "entity_id").is_err());
        assert!(validate_identifier("$SYSTEM", "entity_id").is_err());
        assert!(validate_identifier("é", "entity_id").is_err());
    }

    #[test]
    fn names() {
        validate_name("rpm", "name").unwrap();
        validate_name("tok.en-s_1", "name").unwrap();
        let msg = |v: &str| validate_name(v, "name").unwrap_err().to_string();
        assert_eq!(msg("wcu"), "Invalid name: 'wcu' is a reserved limit name");
        assert_eq!(
            msg("1rpm"),
            concat!(
                "Invalid name: must start with a letter and contain only alphanumeric, underscore, ",
                "hyphen, or dot characters",
            )
        );
        assert_eq!(msg(&"r".repeat(65)), "Invalid name: exceeds maximum length of 64");
        assert_eq!(msg("a#"), "Invalid name: cannot contain '#' (reserved delimiter)");
        assert!(validate_name("a/b", "name").is_err());
    }

    #[test]
    fn resources() {
        for ok in ["gpt-4", "openai/gpt-4", "llama3:8b", "anthropic.claude-v2:1"] {
            validate_resource(ok).unwrap();
        }
        assert_eq!(
            validate_resource("_default_").unwrap_err().to_string(),
            concat!(
                "Invalid resource: must start with a letter and contain only alphanumeric, underscore, ",
                "hyphen, dot, slash, or colon characters",
            )
        );
        validate_config_resource("_default_").unwrap();
        // `wcu` is only reserved as a limit name.
        validate_resource("wcu").unwrap();
    }

    #[test]
    fn namespaces_and_principals() {
        validate_namespace_name("tenant alpha/with anything#").unwrap();
        assert_eq!(
            validate_namespace_name("_").unwrap_err().to_string(),
            "Invalid namespace: reserved for system use"
        );
        validate_principal("arn:aws:sts::123456789012:user/moto").unwrap();
        validate_principal("ci-bot").unwrap();
        assert!(validate_principal("ci bot").is_err());
    }
}
