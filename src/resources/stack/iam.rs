//! The `iam` block: whether the stack creates IAM at all (`create_policies = false` is
//! zae-limiter's `--no-iam`), the app/admin/read-only roles (`--create-iam-roles`), the
//! permission boundary and the role and policy name formats of organisations that require
//! them. Names follow zae-limiter 0.17.0 (`StackOptions.get_role_name` /
//! `get_policy_name`): the format's one `{}` is replaced by the default name
//! (`{stack}-aggr`, `{stack}-app`, `{stack}-acq`, …).

use super::model::{IAM_NAMES, IamConfig, IamModel, StackConfig, StackModel};
use crate::aws::policy_document::PolicyKind;
use crate::framework::validator::StringCheck;
use crate::framework::{Attribute, AttributePath, Block, Diagnostics, Known, NestedBlock};

/// The block name.
pub(super) const BLOCK: &str = "iam";

/// IAM's longest role name.
const MAX_ROLE_NAME: usize = 64;
/// IAM's longest managed policy name.
const MAX_POLICY_NAME: usize = 128;

/// The role components of 0.17.0's names: `{stack}-{component}`.
pub(super) const ROLE_COMPONENTS: [&str; 4] = ["aggr", "app", "admin", "read"];

/// The `iam` block.
pub(super) fn block() -> NestedBlock {
    let n = IAM_NAMES;
    let format_check = |what: &'static str| {
        StringCheck::new(
            "Invalid name format",
            "a name format with exactly one {}",
            move |s| match s.matches("{}").count() {
                1 => Ok(()),
                found => Err(format!("{what} {s:?} must contain exactly one {{}}, found {found}")),
            },
        )
    };
    NestedBlock::single(
        BLOCK,
        Block::new("IAM options: no-IAM mode, the app/admin/read-only roles, permission boundary, name formats.")
            .attribute(Attribute::bool(n.create_policies).default_value(true).description(
                "false = no IAM at all (zae-limiter's --no-iam): no managed policies, no roles; an aggregator \
                         then needs aggregator.role_arn.",
            ))
            .attribute(Attribute::bool(n.create_roles).default_value(false).description(
                "true = the roles {name}-app, {name}-admin and {name}-read (--create-iam-roles), assumable \
                         by the account, with the -acq, -full and -read policies.",
            ))
            .attribute(
                Attribute::string(n.permission_boundary)
                    .optional()
                    .description("A permission boundary for every role the stack creates: a policy ARN or name."),
            )
            .attribute(
                Attribute::string(n.role_name_format)
                    .optional()
                    .description("Role name format, e.g. \"pb-{}-PowerUser\": {} is the default role name.")
                    .validator(format_check("role_name_format")),
            )
            .attribute(
                Attribute::string(n.policy_name_format)
                    .optional()
                    .description("Managed policy name format: {} is the default policy name.")
                    .validator(format_check("policy_name_format")),
            )
            .attribute(
                Attribute::string(n.path)
                    .default_value("/")
                    .description("IAM path of every role and managed policy the stack creates (default \"/\").")
                    .validator(StringCheck::new("Invalid IAM path", "an IAM path such as /zae/", |s| {
                        let valid = s.starts_with('/')
                            && s.ends_with('/')
                            && s.len() <= 512
                            && s.chars().all(|c| c.is_ascii_graphic() && c != '\\');
                        if valid {
                            Ok(())
                        } else {
                            Err(format!(
                                "{s:?} is not an IAM path: it starts and ends with /, e.g. \"/zae/\""
                            ))
                        }
                    })),
            ),
    )
}

/// The block's settings, 0.17.0's defaults without a block.
pub(super) fn settings(state: &StackModel) -> IamModel {
    state.iam.clone().unwrap_or(IamModel {
        create_policies: true,
        create_roles: false,
        permission_boundary: None,
        role_name_format: None,
        policy_name_format: None,
        path: "/".to_string(),
    })
}

/// Whether policy `kind` has another name or path in `plan` than in `prior` (so a new one
/// is created and the old one deleted).
pub(super) fn policy_moved(prior: &StackModel, plan: &StackModel, kind: PolicyKind) -> bool {
    policy_name(prior, kind) != policy_name(plan, kind) || settings(prior).path != settings(plan).path
}

/// Whether role `component` has another name or path in `plan` than in `prior`.
pub(super) fn role_moved(prior: &StackModel, plan: &StackModel, component: &str) -> bool {
    role_name(prior, component) != role_name(plan, component) || settings(prior).path != settings(plan).path
}

/// The IAM path of the stack's roles and policies.
pub(super) fn path(state: &StackModel) -> String {
    settings(state).path
}

/// Whether the stack creates IAM policies (and so may create roles).
pub(super) fn creates_policies(state: &StackModel) -> bool {
    settings(state).create_policies
}

fn formatted(format: Option<&str>, default: &str) -> String {
    match format {
        Some(f) => f.replacen("{}", default, 1),
        None => default.to_string(),
    }
}

/// The planned `create_policies`, `policy_name_format` (null = none) and `path`; unknown
/// while the configuration is.
pub(super) fn planned_policy_settings(planned: &StackConfig) -> (Known<bool>, Known<String>, Known<String>) {
    match &planned.iam {
        Known::Value(iam) => (
            iam.create_policies.clone(),
            iam.policy_name_format.clone(),
            iam.path.clone(),
        ),
        Known::Unknown => (Known::Unknown, Known::Unknown, Known::Unknown),
        Known::Null => (Known::Value(true), Known::Null, Known::Value("/".to_string())),
    }
}

/// The planned `role_name_format` (null = none) and `path`; unknown while the
/// configuration is.
pub(super) fn planned_role_settings(planned: &StackConfig) -> (Known<String>, Known<String>) {
    match &planned.iam {
        Known::Value(iam) => (iam.role_name_format.clone(), iam.path.clone()),
        Known::Unknown => (Known::Unknown, Known::Unknown),
        Known::Null => (Known::Null, Known::Value("/".to_string())),
    }
}

/// Whether `prior`'s roles keep their names and path under the planned settings.
pub(super) fn roles_stay(prior: &StackModel, planned: &StackConfig) -> bool {
    let before = settings(prior);
    planned_role_settings(planned) == (Known::from(before.role_name_format), Known::Value(before.path))
}

/// The name of the role `component` (`aggr`, `app`, `admin`, `read`) of the stack.
pub(super) fn role_name(state: &StackModel, component: &str) -> String {
    formatted(
        settings(state).role_name_format.as_deref(),
        &format!("{}-{component}", state.name),
    )
}

/// The name of managed policy `kind` of the stack.
pub(super) fn policy_name(state: &StackModel, kind: PolicyKind) -> String {
    formatted(
        settings(state).policy_name_format.as_deref(),
        &kind.policy_name(&state.name),
    )
}

/// The permission boundary's ARN: the value when it is an ARN, else the customer managed
/// policy of that name in the caller's account (0.17.0's `PermissionBoundaryIsArn`).
pub(super) fn boundary_arn(state: &StackModel, partition: &str, account: &str) -> Option<String> {
    settings(state).permission_boundary.map(|b| {
        if b.split(':').next() == Some("arn") {
            b
        } else {
            format!("arn:{partition}:iam::{account}:policy/{b}")
        }
    })
}

fn error_at(diags: &mut Diagnostics, attribute: &str, summary: &str, detail: String) {
    diags.attribute_error(AttributePath::root(BLOCK).attribute(attribute), summary, detail);
}

/// Combinations zae-limiter refuses, and names IAM would refuse, as diagnostics on the
/// attribute at fault.
pub(super) fn validate(config: &StackConfig, diags: &mut Diagnostics) {
    let n = IAM_NAMES;
    let iam = match &config.iam {
        Known::Value(iam) => iam.clone(),
        Known::Unknown => return,
        Known::Null => IamConfig::default(),
    };
    let no_iam = iam.create_policies == Known::Value(false);
    if no_iam && iam.create_roles == Known::Value(true) {
        error_at(
            diags,
            n.create_roles,
            "Roles without policies",
            "create_roles = true needs create_policies = true: the roles are the policies' holders, and without \
             IAM nothing can be created."
                .into(),
        );
    }
    if no_iam
        && let Known::Value(aggregator) = &config.aggregator
        && aggregator.role_arn.is_null()
    {
        diags.attribute_error(
            AttributePath::root("aggregator").attribute("role_arn"),
            "Aggregator needs a role",
            "With create_policies = false the stack creates no IAM, so the aggregator needs an existing execution \
             role: set aggregator.role_arn.",
        );
    }
    if no_iam && iam.permission_boundary.is_set() {
        error_at(
            diags,
            n.permission_boundary,
            "Boundary without roles",
            "permission_boundary applies to the roles the stack creates; with create_policies = false it creates none."
                .into(),
        );
    }
    let Some(stack) = config.name.value() else { return };
    let probe = StackModel {
        name: stack.clone(),
        iam: Some(IamModel {
            create_policies: true,
            create_roles: true,
            permission_boundary: None,
            role_name_format: iam.role_name_format.value().cloned(),
            policy_name_format: iam.policy_name_format.value().cloned(),
            path: "/".to_string(),
        }),
        ..StackModel::default()
    };
    if iam
        .role_name_format
        .value()
        .is_some_and(|f| f.matches("{}").count() == 1)
    {
        for component in ROLE_COMPONENTS {
            let name = role_name(&probe, component);
            if name.len() > MAX_ROLE_NAME {
                error_at(
                    diags,
                    n.role_name_format,
                    "Role name too long",
                    format!(
                        "The role name {name:?} has {} characters; IAM allows {MAX_ROLE_NAME}.",
                        name.len()
                    ),
                );
                break;
            }
        }
    }
    if iam
        .policy_name_format
        .value()
        .is_some_and(|f| f.matches("{}").count() == 1)
    {
        for (kind, _) in super::policies::POLICY_ATTRIBUTES {
            let name = policy_name(&probe, kind);
            if name.len() > MAX_POLICY_NAME {
                error_at(
                    diags,
                    n.policy_name_format,
                    "Policy name too long",
                    format!(
                        "The policy name {name:?} has {} characters; IAM allows {MAX_POLICY_NAME}.",
                        name.len()
                    ),
                );
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(iam: IamModel) -> StackModel {
        StackModel {
            name: "prod".into(),
            iam: Some(iam),
            ..StackModel::default()
        }
    }

    fn iam(role: Option<&str>, policy: Option<&str>, boundary: Option<&str>) -> IamModel {
        IamModel {
            create_policies: true,
            create_roles: true,
            permission_boundary: boundary.map(str::to_owned),
            role_name_format: role.map(str::to_owned),
            policy_name_format: policy.map(str::to_owned),
            path: "/".to_string(),
        }
    }

    #[test]
    fn names_follow_zae_limiter_s_formats() {
        let plain = stack(iam(None, None, None));
        assert_eq!(role_name(&plain, "aggr"), "prod-aggr");
        assert_eq!(policy_name(&plain, PolicyKind::NamespaceFullAccess), "prod-ns-full");
        let formatted = stack(iam(Some("pb-{}-PowerUser"), Some("org/{}"), None));
        assert_eq!(role_name(&formatted, "read"), "pb-prod-read-PowerUser");
        assert_eq!(policy_name(&formatted, PolicyKind::AcquireOnly), "org/prod-acq");
    }

    #[test]
    fn a_boundary_name_becomes_an_arn_in_the_account() {
        let by_name = stack(iam(None, None, Some("Boundary")));
        assert_eq!(
            boundary_arn(&by_name, "aws", "123456789012").as_deref(),
            Some("arn:aws:iam::123456789012:policy/Boundary")
        );
        let by_arn = stack(iam(None, None, Some("arn:aws:iam::1:policy/B")));
        assert_eq!(
            boundary_arn(&by_arn, "aws", "2").as_deref(),
            Some("arn:aws:iam::1:policy/B")
        );
    }

    fn config(iam: IamConfig, name: &str) -> StackConfig {
        StackConfig {
            name: Known::Value(name.into()),
            iam: Known::Value(iam),
            ..StackConfig::default()
        }
    }

    #[test]
    fn impossible_combinations_and_long_names_are_diagnostics_on_the_attribute() {
        let mut d = Diagnostics::new();
        let roles_without_policies = IamConfig {
            create_policies: Known::Value(false),
            create_roles: Known::Value(true),
            ..IamConfig::default()
        };
        validate(&config(roles_without_policies, "prod"), &mut d);
        let diag = d.iter().next().expect("an error");
        assert_eq!(
            diag.attribute,
            Some(AttributePath::root(BLOCK).attribute("create_roles"))
        );

        let mut d = Diagnostics::new();
        let long = IamConfig {
            role_name_format: Known::Value(format!("{}-{{}}", "x".repeat(50))),
            ..IamConfig::default()
        };
        validate(&config(long, "prod-limiter"), &mut d);
        let diag = d.iter().next().expect("an error");
        assert!(diag.detail.contains("IAM allows 64"), "{}", diag.detail);
    }
}
