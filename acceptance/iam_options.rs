//! The stack's `iam` block against the emulator: the app/admin/read-only roles with a
//! permission boundary and name formats (also on the aggregator's role and the policies),
//! a format change renaming only what it names, import, no-IAM mode making no IAM call at
//! all (counted by a proxy), and the impossible combinations as diagnostics.

use std::sync::Arc;

use anyhow::{Context, ensure};
use testkit::Emulator;
use testkit::faults::{FaultPlan, FaultProxy};

use crate::harness::*;

const STACK: &str = "zae_limiter_stack.main";
const ACCOUNT: &str = testkit::ACCOUNT_ID;

use crate::stack::named_stack_config as stack_config;

fn iam(ctx: &CheckContext<'_>) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(ctx.sdk_config())
}

/// Role `name` exists with `boundary`, the `Role` tag and exactly `policy` attached.
fn role_is(name: String, tag: &'static str, policy: String, boundary: Option<&'static str>) -> Check {
    check(move |ctx| {
        let role = ctx.block_on(iam(ctx).get_role().role_name(&name).send())?;
        let role = role.role().context("no role")?;
        let got = role.permissions_boundary().and_then(|b| b.permissions_boundary_arn());
        let want = boundary.map(|b| format!("arn:aws:iam::{ACCOUNT}:policy/{b}"));
        ensure!(got == want.as_deref(), "{name} boundary {got:?}, expected {want:?}");
        if !tag.is_empty() {
            let tags = ctx.block_on(iam(ctx).list_role_tags().role_name(&name).send())?;
            ensure!(
                tags.tags().iter().any(|t| t.key() == "Role" && t.value() == tag),
                "{name} tags {:?}",
                tags.tags()
            );
        }
        if !policy.is_empty() {
            let attached = ctx.block_on(iam(ctx).list_attached_role_policies().role_name(&name).send())?;
            let names: Vec<&str> = attached
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_name())
                .collect();
            ensure!(names == [policy.as_str()], "{name} has {names:?}, expected [{policy}]");
        }
        Ok(())
    })
}

/// None of these roles or policies (`path/name` after `policy/`) exist.
fn gone(roles: Vec<String>, policies: Vec<String>) -> Check {
    check(move |ctx| {
        for r in &roles {
            ensure!(
                ctx.block_on(iam(ctx).get_role().role_name(r).send()).is_err(),
                "role {r} still exists"
            );
        }
        for p in &policies {
            let arn = format!("arn:aws:iam::{ACCOUNT}:policy/{p}");
            ensure!(
                ctx.block_on(iam(ctx).get_policy().policy_arn(&arn).send()).is_err(),
                "policy {p} still exists"
            );
        }
        Ok(())
    })
}

#[test]
fn roles_boundary_and_name_formats_rename_only_what_they_name() {
    crate::aggregator::built_package();
    let emulator = Emulator::start();
    let name = unique_name("acc-iam");
    let first = stack_config(
        &emulator.endpoint(),
        &name,
        r#"  aggregator {}
  iam {
    create_roles        = true
    permission_boundary = "Boundary"
    role_name_format    = "pb-{}-PowerUser"
    policy_name_format  = "org-{}"
  }"#,
    );
    let second = stack_config(
        &emulator.endpoint(),
        &name,
        r#"  aggregator {}
  iam {
    create_roles     = true
    role_name_format = "team-{}"
    path             = "/zae/"
  }"#,
    );
    let n = name.clone();
    let pb = |c: &str| format!("pb-{n}-{c}-PowerUser");
    let team = |c: &str| format!("team-{n}-{c}");
    TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: first,
                checks: vec![
                    role_is(pb("app"), "app", format!("org-{n}-acq"), Some("Boundary")),
                    role_is(pb("admin"), "admin", format!("org-{n}-full"), Some("Boundary")),
                    role_is(pb("read"), "readonly", format!("org-{n}-read"), Some("Boundary")),
                    role_is(pb("aggr"), "", String::new(), Some("Boundary")),
                    attr_eq(
                        STACK,
                        "app_role_arn",
                        format!("arn:aws:iam::{ACCOUNT}:role/{}", pb("app")).as_str(),
                    ),
                    attr_eq(
                        STACK,
                        "namespace_full_access_policy_arn",
                        format!("arn:aws:iam::{ACCOUNT}:policy/org-{n}-ns-full").as_str(),
                    ),
                ],
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: second,
                checks: vec![
                    role_is(team("app"), "app", format!("{n}-acq"), None),
                    role_is(team("read"), "readonly", format!("{n}-read"), None),
                    role_is(team("aggr"), "", String::new(), None),
                    attr_eq(
                        STACK,
                        "aggregator_role_arn",
                        format!("arn:aws:iam::{ACCOUNT}:role/zae/{}", team("aggr")).as_str(),
                    ),
                    attr_eq(
                        STACK,
                        "acquire_only_policy_arn",
                        format!("arn:aws:iam::{ACCOUNT}:policy/zae/{n}-acq").as_str(),
                    ),
                    gone(
                        ["app", "admin", "read", "aggr"].iter().map(|c| pb(c)).collect(),
                        ["acq", "full", "read", "ns-acq", "ns-full", "ns-read"]
                            .iter()
                            .map(|k| format!("org-{n}-{k}"))
                            .collect(),
                    ),
                ],
                ..ConfigStep::default()
            }),
            // An import cannot discover name formats or the path: it records what it finds
            // under the default names (here: none of the roles and policies, and the
            // formatted aggregator role as a role of the user's); the next apply adopts
            // them (an_imported_stack_with_name_formats_is_adopted_by_the_first_apply).
            Step::Import(ImportStep {
                resource_address: STACK.into(),
                by: ImportBy::Id(name.clone()),
                verify_ignore: [
                    "iam",
                    "app_role_arn",
                    "admin_role_arn",
                    "readonly_role_arn",
                    "aggregator.role_arn",
                    "acquire_only_policy_arn",
                    "full_access_policy_arn",
                    "read_only_policy_arn",
                    "namespace_acquire_policy_arn",
                    "namespace_full_access_policy_arn",
                    "namespace_read_only_policy_arn",
                ]
                .map(String::from)
                .to_vec(),
            }),
        ],
        check_destroy: Some(gone(
            ["app", "admin", "read", "aggr"].iter().map(|c| team(c)).collect(),
            ["acq", "full", "read"].iter().map(|k| format!("zae/{n}-{k}")).collect(),
        )),
        ..TestCase::default()
    }
    .run(&emulator);
}

#[test]
fn no_iam_mode_makes_no_iam_call() {
    crate::aggregator::built_package();
    let emulator = Emulator::start();
    let name = unique_name("acc-noiam");
    // The operator's own role for the aggregator, made outside the stack (and the proxy).
    let role_arn = {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = rt.block_on(emulator.sdk_config());
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let out = rt
            .block_on(
                aws_sdk_iam::Client::new(&config)
                    .create_role()
                    .role_name(format!("{name}-own-aggregator"))
                    .assume_role_policy_document(trust)
                    .send(),
            )
            .expect("create the operator's role");
        out.role().expect("role").arn().to_string()
    };
    let proxy = Arc::new(FaultProxy::start(emulator.addr(), FaultPlan::none()));
    let body =
        format!("  aggregator {{\n    role_arn = \"{role_arn}\"\n  }}\n  iam {{\n    create_policies = false\n  }}");
    let counted = proxy.clone();
    let no_iam_calls = check(move |_ctx| {
        let stats = counted.stats();
        let iam_calls: Vec<(&String, &u64)> = stats.requests.iter().filter(|(k, _)| k.starts_with("iam:")).collect();
        ensure!(iam_calls.is_empty(), "IAM was called: {iam_calls:?}");
        ensure!(
            stats.requests.contains_key("lambda:CreateFunction"),
            "the proxy saw no CreateFunction: {stats:?}"
        );
        Ok(())
    });
    let n = name.clone();
    TestCase {
        steps: vec![Step::Config(ConfigStep {
            hcl: stack_config(&proxy.endpoint(), &name, &body),
            checks: vec![
                attr_null(STACK, "acquire_only_policy_arn"),
                attr_null(STACK, "app_role_arn"),
                attr_eq(STACK, "aggregator_role_arn", role_arn.as_str()),
                no_iam_calls,
            ],
            ..ConfigStep::default()
        })],
        // No table and no `{name}-*` policy, during (none made) or after.
        check_destroy: Some(crate::stack::nothing_left(n)),
        ..TestCase::default()
    }
    .run(&emulator);
}

#[test]
fn impossible_iam_combinations_name_the_attribute() {
    let emulator = Emulator::start();
    let name = unique_name("acc-iam-bad");
    let long = "x".repeat(60);
    let cases = [
        (
            "  iam {\n    create_policies = false\n    create_roles    = true\n  }".to_string(),
            "Roles without policies",
        ),
        (
            "  aggregator {}\n  iam {\n    create_policies = false\n  }".to_string(),
            "Aggregator needs a role",
        ),
        (
            "  iam {\n    role_name_format = \"no-placeholder\"\n  }".to_string(),
            "must contain exactly one {}",
        ),
        (
            "  iam {\n    policy_name_format = \"{}-{}\"\n  }".to_string(),
            "must contain exactly one {}",
        ),
        (
            format!("  iam {{\n    role_name_format = \"{long}-{{}}\"\n  }}"),
            "IAM allows 64",
        ),
        (
            "  iam {\n    create_policies     = false\n    permission_boundary = \"B\"\n  }".to_string(),
            "Boundary without roles",
        ),
        ("  iam {\n    path = \"zae\"\n  }".to_string(), "is not an IAM path"),
    ];
    crate::stack::bad_input_cases(&emulator, &name, &cases);
}

/// A stack using name formats and a path, imported into a configuration that has them: the
/// import cannot find its roles and policies, and the first apply adopts them (no new
/// role or policy, no error); the plan after it is empty and destroy removes everything.
#[test]
fn an_imported_stack_with_name_formats_is_adopted_by_the_first_apply() {
    let emulator = Emulator::start();
    let name = unique_name("acc-iam-adopt");
    let hcl = stack_config(
        &emulator.endpoint(),
        &name,
        "  iam {\n    create_roles       = true\n    role_name_format   = \"team-{}\"\n    policy_name_format = \"org-{}\"\n    path               = \"/zae/\"\n  }",
    );
    let first = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    first.write_config(&hcl);
    let outcome = (|| -> anyhow::Result<()> {
        first.terraform().apply()?;
        let applied = first.terraform().show_json()?;
        let second = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
        second.write_config(&hcl);
        second.terraform().import(STACK, &name)?;
        second.terraform().apply()?;
        ensure!(
            matches!(second.terraform().plan()?, Plan::NoChanges),
            "the plan after adopting is not empty"
        );
        let adopted = second.terraform().show_json()?;
        for attr in ["app_role_arn", "acquire_only_policy_arn", "aggregator_role_arn"] {
            let (a, b) = (applied.attr(STACK, attr)?, adopted.attr(STACK, attr)?);
            ensure!(a == b, "{attr}: {a} before, {b} after the import");
        }
        second.terraform().destroy()?;
        Ok(())
    })();
    if let Err(err) = outcome {
        panic!("{}", crate::harness::steps::report(&err));
    }
}

/// A role whose policy was detached outside Terraform shows in the next plan and gets it
/// back.
#[test]
fn a_role_changed_outside_terraform_is_restored() {
    let emulator = Emulator::start();
    let name = unique_name("acc-iam-drift");
    let hcl = stack_config(&emulator.endpoint(), &name, "  iam {\n    create_roles = true\n  }");
    let role = format!("{name}-app");
    let detach = {
        let role = role.clone();
        check(move |ctx| {
            let policy = ctx.state.attr_str(STACK, "acquire_only_policy_arn")?;
            ctx.block_on(iam(ctx).detach_role_policy().role_name(&role).policy_arn(policy).send())?;
            Ok(())
        })
    };
    TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: hcl.clone(),
                checks: vec![detach],
                expect_non_empty_plan: true,
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl,
                checks: vec![role_is(role, "app", format!("{name}-acq"), None)],
                ..ConfigStep::default()
            }),
        ],
        check_destroy: Some(crate::stack::nothing_left(name.clone())),
        ..TestCase::default()
    }
    .run(&emulator);
}
