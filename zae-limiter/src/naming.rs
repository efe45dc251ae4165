//! Stack (table) names: zae-limiter's validation rules and messages (wire-format §2.2) and the
//! names derived from a stack name.

use crate::error::{ValidationError, ValidationKind};

/// Longest stack name (IAM role names need room for a component suffix).
pub const MAX_STACK_NAME_LENGTH: usize = 55;

/// Stack name used when none is given.
pub const DEFAULT_STACK_NAME: &str = "zae-limiter";

/// Validates a stack name in zae-limiter's order, with its messages: empty, underscore,
/// period, space, pattern `^[A-Za-z][A-Za-z0-9-]*$`, length.
///
/// DynamoDB also requires table names of at least 3 characters; zae-limiter does not check
/// that, but a name that short fails at table creation, so it is refused here too.
pub fn validate_stack_name(name: &str) -> Result<(), ValidationError> {
    let err = |reason: &str| Err(ValidationError::new(ValidationKind::Other, "name", name, reason));
    if name.is_empty() {
        return err("Name cannot be empty");
    }
    if name.contains('_') {
        return err("Contains underscore. Use hyphens instead (e.g., 'rate-limits' not 'rate_limits')");
    }
    if name.contains('.') {
        return err("Contains period. Only alphanumeric characters and hyphens are allowed.");
    }
    if name.contains(' ') {
        return err("Contains spaces. Use hyphens instead (e.g., 'my-app' not 'my app')");
    }
    let mut chars = name.chars();
    let pattern_ok =
        chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !pattern_ok {
        return err("Must start with a letter and contain only alphanumeric characters and hyphens.");
    }
    if name.len() > MAX_STACK_NAME_LENGTH {
        return err("Too long. Name exceeds 55 character limit (IAM role constraints).");
    }
    if name.len() < 3 {
        return err("Too short. DynamoDB table names need at least 3 characters.");
    }
    Ok(())
}

/// Name of the aggregator Lambda function of a stack.
pub fn aggregator_function_name(stack: &str) -> String {
    format!("{stack}-aggregator")
}

/// Name of the limits-provisioner Lambda function of a stack.
pub fn provisioner_function_name(stack: &str) -> String {
    format!("{stack}-limits-provisioner")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(name: &str) -> String {
        validate_stack_name(name).unwrap_err().reason
    }

    #[test]
    fn accepts_valid_names() {
        for ok in ["zae-limiter", "prod-limiter", "ZAEL-legacy", "abc", &"a".repeat(55)] {
            assert!(validate_stack_name(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_in_zae_limiters_order_with_its_messages() {
        assert_eq!(reason(""), "Name cannot be empty");
        assert!(reason("a_b.c").starts_with("Contains underscore"));
        assert!(reason("a.b c").starts_with("Contains period"));
        assert!(reason("a b").starts_with("Contains spaces"));
        assert!(reason("1abc").starts_with("Must start with a letter"));
        assert!(reason(&"a".repeat(56)).starts_with("Too long"));
        assert!(reason("ab").starts_with("Too short"));
    }
}
