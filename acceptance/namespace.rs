//! `zae_limiter_namespace` and the `zae_limiter_namespace` data source against the
//! emulator: create with TBAC tags, retag in place, drift (a tag removed by hand), import,
//! replace, soft delete, recover, purge, and bad input.

use std::cell::RefCell;
use std::rc::Rc;

use anyhow::ensure;
use testkit::Emulator;

use crate::data_plane::*;
use crate::harness::*;

const NS: &str = "zae_limiter_namespace.tenant";

fn namespace_block(stack_ref: &str, name: &str, extra: &str) -> String {
    format!(
        "resource \"zae_limiter_namespace\" \"tenant\" {{\n  stack = {stack_ref}\n  name  = \"{name}\"\n{extra}\n}}\n"
    )
}

/// Stores the namespace id of the applied state in `cell`.
fn remember_id(cell: &Rc<RefCell<String>>) -> Check {
    let cell = cell.clone();
    check(move |ctx| {
        *cell.borrow_mut() = ctx.state.attr_str(NS, "id")?.to_string();
        Ok(())
    })
}

/// The applied namespace id equals the one remembered earlier.
fn same_id(cell: &Rc<RefCell<String>>) -> Check {
    let cell = cell.clone();
    check(move |ctx| {
        let id = ctx.state.attr_str(NS, "id")?;
        ensure!(
            *id == *cell.borrow(),
            "namespace id changed from {} to {id}",
            cell.borrow()
        );
        Ok(())
    })
}

/// The registry has `name` active under the state's id, and every listed role and user
/// carries that id as its tag while the others do not.
fn registered_and_tagged(stack: &str, name: &str, roles: &[&str], users: &[&str], untagged: &[&str]) -> Check {
    let (stack, name) = (stack.to_string(), name.to_string());
    let roles: Vec<String> = roles.iter().map(|s| s.to_string()).collect();
    let users: Vec<String> = users.iter().map(|s| s.to_string()).collect();
    let untagged: Vec<String> = untagged.iter().map(|s| s.to_string()).collect();
    check(move |ctx| {
        let id = ctx.state.attr_str(NS, "id")?.to_string();
        ensure!(id.len() == 11, "namespace id {id:?} is not 11 characters");
        let record =
            namespace(ctx, &stack, &name)?.ok_or_else(|| anyhow::anyhow!("namespace {name} is not registered"))?;
        ensure!(record.id == id, "registry has id {}, state {id}", record.id);
        ensure!(record.status.as_str() == "active", "status {}", record.status.as_str());
        for role in &roles {
            ensure!(
                role_tag(ctx, role)?.as_deref() == Some(id.as_str()),
                "role {role} is not tagged {id}"
            );
        }
        for user in &users {
            ensure!(
                user_tag(ctx, user)?.as_deref() == Some(id.as_str()),
                "user {user} is not tagged {id}"
            );
        }
        for role in &untagged {
            ensure!(
                role_tag(ctx, role)?.is_none(),
                "role {role} still carries a namespace tag"
            );
        }
        Ok(())
    })
}

#[test]
fn namespace_tags_retags_detects_drift_imports_replaces_and_soft_deletes() {
    let emulator = Emulator::start();
    let stack = unique_name("acc-ns");
    create_principals(&emulator, &["app-a", "app-b"], &["svc-u"]);
    let base = stack_config(&emulator, &stack);
    let config = |name: &str, roles: &str| {
        format!(
            "{base}{}",
            namespace_block(
                "zae_limiter_stack.main.name",
                name,
                &format!("  principal_tags = {{\n    roles = [{roles}]\n    users = [\"svc-u\"]\n  }}")
            )
        )
    };
    let first_id = Rc::new(RefCell::new(String::new()));
    let untag_by_hand = check(|ctx| {
        ctx.block_on(iam(ctx).untag_role().role_name("app-b").tag_keys(TAG).send())?;
        Ok(())
    });
    let gone_stack = stack.clone();
    let old_id = first_id.clone();
    TestCase {
        steps: vec![
            // Create: registered, both principals tagged.
            Step::Config(ConfigStep {
                hcl: config("tenant-alpha", "\"app-a\""),
                checks: vec![
                    registered_and_tagged(&stack, "tenant-alpha", &["app-a"], &["svc-u"], &["app-b"]),
                    attr_eq(NS, "status", "active"),
                    attr_eq(NS, "on_destroy", "soft_delete"),
                    attr_set(NS, "created_at"),
                    remember_id(&first_id),
                ],
                ..ConfigStep::default()
            }),
            // Update in place: app-a untagged, app-b tagged, same id.
            Step::Config(ConfigStep {
                hcl: config("tenant-alpha", "\"app-b\""),
                checks: vec![
                    registered_and_tagged(&stack, "tenant-alpha", &["app-b"], &["svc-u"], &["app-a"]),
                    same_id(&first_id),
                ],
                ..ConfigStep::default()
            }),
            // Drift: the tag removed by hand shows in the next plan ...
            Step::Config(ConfigStep {
                hcl: config("tenant-alpha", "\"app-b\""),
                checks: vec![untag_by_hand],
                expect_non_empty_plan: true,
                ..ConfigStep::default()
            }),
            // ... and the next apply puts it back.
            Step::Config(ConfigStep {
                hcl: config("tenant-alpha", "\"app-b\""),
                checks: vec![registered_and_tagged(
                    &stack,
                    "tenant-alpha",
                    &["app-b"],
                    &["svc-u"],
                    &["app-a"],
                )],
                ..ConfigStep::default()
            }),
            Step::Import(ImportStep {
                resource_address: NS.into(),
                by: ImportBy::Id(format!("{stack}/tenant-alpha")),
                // Which principals carry the tag cannot be discovered from the namespace.
                verify_ignore: vec!["principal_tags".into()],
            }),
            // Replace (new name): the old namespace is soft-deleted, the new one gets a
            // new id and the principals follow it.
            Step::Config(ConfigStep {
                hcl: config("tenant-beta", "\"app-b\""),
                checks: vec![
                    registered_and_tagged(&stack, "tenant-beta", &["app-b"], &["svc-u"], &["app-a"]),
                    check({
                        let (stack, old) = (stack.clone(), old_id.clone());
                        move |ctx| {
                            let id = ctx.state.attr_str(NS, "id")?;
                            ensure!(id != old.borrow().as_str(), "replacement kept id {id}");
                            ensure!(
                                namespace(ctx, &stack, "tenant-alpha")?.is_none(),
                                "tenant-alpha still active"
                            );
                            let reverse = namespace_by_id(ctx, &stack, &old.borrow())?;
                            ensure!(
                                reverse.as_ref().map(|r| r.status.as_str()) == Some("deleted"),
                                "old reverse record is {reverse:?}"
                            );
                            Ok(())
                        }
                    }),
                ],
                ..ConfigStep::default()
            }),
            // Destroy (the namespace leaves the configuration): soft delete, untag.
            Step::Config(ConfigStep {
                hcl: base.clone(),
                checks: vec![check(move |ctx| {
                    ensure!(
                        namespace(ctx, &gone_stack, "tenant-beta")?.is_none(),
                        "tenant-beta still registered"
                    );
                    let deleted = ctx.block_on(table(ctx, &gone_stack).find_deleted_namespaces("tenant-beta"))?;
                    ensure!(
                        deleted.len() == 1,
                        "expected one soft-deleted tenant-beta, got {deleted:?}"
                    );
                    ensure!(role_tag(ctx, "app-b")?.is_none(), "role app-b still tagged");
                    ensure!(user_tag(ctx, "svc-u")?.is_none(), "user svc-u still tagged");
                    Ok(())
                })],
                ..ConfigStep::default()
            }),
        ],
        check_destroy: Some(check(move |ctx| {
            for role in ["app-a", "app-b"] {
                ensure!(role_tag(ctx, role)?.is_none(), "role {role} still tagged");
            }
            ensure!(user_tag(ctx, "svc-u")?.is_none(), "user svc-u still tagged");
            Ok(())
        })),
        ..TestCase::default()
    }
    .run(&emulator);
}

#[test]
fn soft_deleted_namespace_is_refused_then_recovered_and_purge_warns_and_deletes_everything() {
    let emulator = Emulator::start();
    let stack = unique_name("acc-ns-rec");
    let base = stack_config(&emulator, &stack);
    let ns = |extra: &str| {
        format!(
            "{base}{}",
            namespace_block("zae_limiter_stack.main.name", "tenant-r", extra)
        )
    };
    let limit = r#"
resource "zae_limiter_limit" "rpm" {
  stack     = zae_limiter_stack.main.name
  namespace = zae_limiter_namespace.tenant.name
  name      = "rpm"
  rate      = 10
  per       = "minute"
}
"#;
    let first = Rc::new(RefCell::new(String::new()));
    let purged_stack = stack.clone();
    let purged_id = first.clone();
    TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: ns(""),
                checks: vec![remember_id(&first)],
                ..ConfigStep::default()
            }),
            // Removing the resource soft-deletes the namespace.
            Step::Config(ConfigStep {
                hcl: base.clone(),
                checks: vec![check({
                    let (stack, id) = (stack.clone(), first.clone());
                    move |ctx| {
                        let reverse = namespace_by_id(ctx, &stack, &id.borrow())?;
                        ensure!(
                            reverse.is_some_and(|r| r.status.as_str() == "deleted"),
                            "not soft-deleted"
                        );
                        Ok(())
                    }
                })],
                ..ConfigStep::default()
            }),
            // Creating it again without recover names the deleted id.
            Step::Config(ConfigStep {
                hcl: ns(""),
                expect_error: Some("was soft-deleted".into()),
                ..ConfigStep::default()
            }),
            // recover = true brings back the same id; a limit is set on it.
            Step::Config(ConfigStep {
                hcl: format!("{}{limit}", ns("  recover = true\n  on_destroy = \"purge\"")),
                checks: vec![same_id(&first), attr_eq(NS, "status", "active")],
                ..ConfigStep::default()
            }),
            // Destroying a purge namespace (and its limit) deletes every item of it.
            Step::Config(ConfigStep {
                hcl: base.clone(),
                checks: vec![check(move |ctx| {
                    let id = purged_id.borrow().clone();
                    ensure!(
                        namespace_by_id(ctx, &purged_stack, &id)?.is_none(),
                        "the reverse record survived the purge"
                    );
                    let left: Vec<_> = scan(ctx, &purged_stack)?
                        .into_iter()
                        .filter(|i| string(i, "PK").is_some_and(|pk| pk.starts_with(&format!("{id}/"))))
                        .collect();
                    ensure!(left.is_empty(), "items of the purged namespace remain: {left:?}");
                    Ok(())
                })],
                ..ConfigStep::default()
            }),
        ],
        ..TestCase::default()
    }
    .run(&emulator);
}

#[test]
fn destroying_a_purge_namespace_warns_in_the_plan() {
    let emulator = Emulator::start();
    let stack = unique_name("acc-ns-warn");
    let hcl = format!(
        "{}{}",
        stack_config(&emulator, &stack),
        namespace_block("zae_limiter_stack.main.name", "doomed", "  on_destroy = \"purge\"")
    );
    let workdir = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    workdir.write_config(&hcl);
    let tf = workdir.terraform();
    tf.init().unwrap();
    tf.apply().unwrap();
    let plan = tf.run(&["plan", "-destroy", "-no-color"]).unwrap();
    assert_eq!(plan.code, 0, "{}", plan.describe());
    let text = plan.combined_output().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("Namespace will be purged"),
        "no purge warning in the plan:\n{}",
        plan.stdout
    );
    assert!(text.contains("PERMANENTLY DELETES every item"), "{}", plan.stdout);
    // A soft-delete namespace plans its destroy without the warning.
    workdir.write_config(&hcl.replace("on_destroy = \"purge\"", "on_destroy = \"soft_delete\""));
    tf.apply().unwrap();
    let plan = tf.run(&["plan", "-destroy", "-no-color"]).unwrap();
    assert!(!plan.combined_output().contains("will be purged"), "{}", plan.stdout);
    tf.destroy().unwrap();
}

#[test]
fn bad_namespace_input_names_the_attribute_and_partial_failures_converge() {
    let emulator = Emulator::start();
    let stack = unique_name("acc-ns-bad");
    create_principals(&emulator, &["r1", "r2", "r3"], &[]);
    let base = stack_config(&emulator, &stack);
    let with_roles = |roles: &str| {
        format!(
            "{base}{}",
            namespace_block(
                "zae_limiter_stack.main.name",
                "tenant-x",
                &format!("  principal_tags = {{ roles = [{roles}] }}")
            )
        )
    };
    let create_missing_role = check(|ctx| {
        ctx.block_on(create_role(&iam(ctx), "zz-late"))?;
        Ok(())
    });
    let delete_r3 = check(|ctx| {
        let iam = iam(ctx);
        ctx.block_on(iam.untag_role().role_name("r3").tag_keys(TAG).send())?;
        ctx.block_on(iam.delete_role().role_name("r3").send())?;
        Ok(())
    });
    TestCase {
        steps: vec![
            // Reserved and unstorable names fail at plan, naming the attribute.
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", namespace_block("zae_limiter_stack.main.name", "_", "")),
                expect_error: Some("reserved for zae-limiter's table-level records".into()),
                ..ConfigStep::default()
            }),
            // An unknown stack.
            Step::Config(ConfigStep {
                hcl: format!(
                    "{}{}",
                    provider_config(&emulator),
                    namespace_block("\"no-such-stack\"", "t", "")
                ),
                expect_error: Some("Unknown stack".into()),
                ..ConfigStep::default()
            }),
            // Create fails on the third (missing) role: nothing is left behind.
            Step::Config(ConfigStep {
                hcl: with_roles("\"r1\", \"r2\", \"zz-late\""),
                expect_error: Some("IAM role zz-late does not exist".into()),
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: base.clone(),
                checks: vec![
                    check({
                        let stack = stack.clone();
                        move |ctx| {
                            ensure!(
                                namespace(ctx, &stack, "tenant-x")?.is_none(),
                                "half-created namespace registered"
                            );
                            for role in ["r1", "r2"] {
                                ensure!(
                                    role_tag(ctx, role)?.is_none(),
                                    "role {role} kept its tag after the failed create"
                                );
                            }
                            Ok(())
                        }
                    }),
                    create_missing_role,
                ],
                ..ConfigStep::default()
            }),
            // The next apply completes.
            Step::Config(ConfigStep {
                hcl: with_roles("\"r1\", \"r2\", \"zz-late\""),
                checks: vec![registered_and_tagged(
                    &stack,
                    "tenant-x",
                    &["r1", "r2", "zz-late"],
                    &[],
                    &["r3"],
                )],
                ..ConfigStep::default()
            }),
            // Update fails on a missing role; the state keeps what was done ...
            Step::Config(ConfigStep {
                hcl: with_roles("\"r1\", \"r2\", \"r3\", \"zz-gone\""),
                expect_error: Some("IAM role zz-gone does not exist".into()),
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: with_roles("\"r1\", \"r2\", \"r3\""),
                checks: vec![
                    registered_and_tagged(&stack, "tenant-x", &["r1", "r2", "r3"], &[], &[]),
                    delete_r3,
                ],
                // ... and a role deleted by hand shows as a change.
                expect_non_empty_plan: true,
                ..ConfigStep::default()
            }),
            // Applying with the deleted role names the attribute.
            Step::Config(ConfigStep {
                hcl: with_roles("\"r1\", \"r2\", \"r3\""),
                expect_error: Some(
                    r#"principal_tags = { roles = ["r1", "r2", "r3"] } IAM role r3 does not exist"#.into(),
                ),
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: with_roles("\"r1\", \"r2\""),
                checks: vec![registered_and_tagged(
                    &stack,
                    "tenant-x",
                    &["r1", "r2"],
                    &[],
                    &["zz-late"],
                )],
                ..ConfigStep::default()
            }),
        ],
        ..TestCase::default()
    }
    .run(&emulator);
}

#[test]
fn namespace_data_source_finds_active_and_soft_deleted_namespaces() {
    let emulator = Emulator::start();
    let stack = unique_name("acc-ns-data");
    let base = stack_config(&emulator, &stack);
    let managed = namespace_block("zae_limiter_stack.main.name", "tenant-d", "");
    let lookup = |name: &str| {
        format!(
            "data \"zae_limiter_namespace\" \"found\" {{\n  stack = zae_limiter_stack.main.name\n  name = \"{name}\"\
             \n}}\n"
        )
    };
    let first = Rc::new(RefCell::new(String::new()));
    let deleted_id = first.clone();
    TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: format!("{base}{managed}"),
                checks: vec![remember_id(&first)],
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: format!("{base}{managed}{}", lookup("tenant-d")),
                checks: vec![
                    check(|ctx| {
                        let found = ctx.state.attr_str("data.zae_limiter_namespace.found", "id")?;
                        let managed = ctx.state.attr_str(NS, "id")?;
                        ensure!(found == managed, "data source id {found}, resource id {managed}");
                        Ok(())
                    }),
                    attr_eq("data.zae_limiter_namespace.found", "status", "active"),
                    attr_null("data.zae_limiter_namespace.found", "deleted_at"),
                ],
                ..ConfigStep::default()
            }),
            // Import by identity (a configuration of the namespace alone).
            Step::Config(ConfigStep {
                hcl: format!("{base}{managed}"),
                checks: vec![import_by_identity_alone(
                    emulator.aws_env(),
                    format!(
                        "{}{}",
                        provider_config(&emulator),
                        namespace_block(&format!("\"{stack}\""), "tenant-d", "")
                    ),
                    NS,
                    &[],
                )],
                ..ConfigStep::default()
            }),
            // Once soft-deleted, the data source reports it with its id.
            Step::config(base.clone()),
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", lookup("tenant-d")),
                checks: vec![
                    attr_eq("data.zae_limiter_namespace.found", "status", "deleted"),
                    attr_set("data.zae_limiter_namespace.found", "deleted_at"),
                    check(move |ctx| {
                        let found = ctx.state.attr_str("data.zae_limiter_namespace.found", "id")?;
                        ensure!(*found == *deleted_id.borrow(), "found {found}");
                        Ok(())
                    }),
                ],
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", lookup("never-registered")),
                expect_error: Some("has no namespace named \"never-registered\"".into()),
                ..ConfigStep::default()
            }),
        ],
        ..TestCase::default()
    }
    .run(&emulator);
}

/// A tenant admin with write access to `_/SYSTEM#` (zae-limiter 0.17.0's `-ns-full`)
/// forges registry records; the provider refuses to act on them, names both records, and
/// tags nobody with another tenant's id.
#[test]
fn forged_registry_records_are_refused_and_name_both_items() {
    let emulator = Emulator::start();
    let stack = unique_name("acc-ns-forged");
    create_principals(&emulator, &["victim-app", "evil-app"], &[]);
    let base = stack_config(&emulator, &stack);
    let victim = |extra: &str| {
        format!(
            "{base}{}",
            namespace_block(
                "zae_limiter_stack.main.name",
                "victim",
                &format!("  principal_tags = {{ roles = [\"victim-app\"] }}\n{extra}")
            )
        )
    };
    let workdir = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    let tf = workdir.terraform();
    tf.init().unwrap();
    workdir.write_config(&victim(""));
    tf.apply().unwrap();
    let victim_id = tf.show_json().unwrap().attr_str(NS, "id").unwrap().to_string();

    let rt = runtime();
    let table = rt.block_on(async { zae_limiter::Table::from_config(&emulator.sdk_config().await, &stack) });
    let forge = |item| {
        rt.block_on(
            table
                .client()
                .put_item()
                .table_name(table.name())
                .set_item(Some(item))
                .send(),
        )
        .expect("forged put");
    };
    // 1. The victim's reverse record rewritten as a soft-deleted namespace "evil": a
    //    `recover = true` of "evil" would otherwise tag evil-app with the victim's id.
    let mut reverse = zae_limiter::schema::namespace::NamespaceRecord::new_active(&victim_id, "evil", "t0");
    reverse.status = zae_limiter::schema::namespace::NamespaceStatus::Deleted;
    reverse.deleted_at = Some("2026-01-01T00:00:00Z".into());
    forge(reverse.reverse_item());
    let evil = format!(
        "{}{}",
        victim(""),
        r#"
resource "zae_limiter_namespace" "evil" {
  stack          = zae_limiter_stack.main.name
  name           = "evil"
  recover        = true
  principal_tags = { roles = ["evil-app"] }
}
"#
    );
    workdir.write_config(&evil);
    let error = tf.apply_expect_error().unwrap();
    let flat = error.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Namespace registry records disagree"), "{error}");
    assert!(
        flat.contains(&format!("#NSID#{victim_id}")),
        "names the reverse record: {error}"
    );
    assert!(flat.contains("#NAMESPACE#victim"), "names the forward record: {error}");
    assert!(flat.contains("with zae_limiter_namespace.evil"), "{error}");
    let evil_tag = rt.block_on(async {
        let iam = aws_sdk_iam::Client::new(&emulator.sdk_config().await);
        let tags = iam.list_role_tags().role_name("evil-app").send().await.expect("tags");
        tags.tags()
            .iter()
            .find(|t| t.key() == TAG)
            .map(|t| t.value().to_string())
    });
    assert_eq!(evil_tag, None, "evil-app must not be tagged with the victim's id");

    // 2. A forward record repointed at the victim's id: a limit on that name, and an
    //    import of it, refuse instead of writing into the victim's namespace.
    forge(reverse.clone().reverse_item());
    forge(zae_limiter::schema::namespace::NamespaceRecord::new_active(&victim_id, "evil", "t0").forward_item());
    let limit = format!(
        "{}{}",
        victim(""),
        r#"
resource "zae_limiter_limit" "evil" {
  stack     = zae_limiter_stack.main.name
  namespace = "evil"
  name      = "rpm"
  rate      = 1
  per       = "minute"
}
"#
    );
    workdir.write_config(&limit);
    let error = tf.apply_expect_error().unwrap();
    let flat = error.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Namespace registry records disagree"), "{error}");
    assert!(
        flat.contains("namespace = \"evil\""),
        "points at the attribute: {error}"
    );
    let victim_limits = rt.block_on(table.namespace(&victim_id).get_system_limits()).unwrap();
    assert!(victim_limits.is_none(), "nothing written into the victim's namespace");

    workdir.write_config(&format!(
        "{}resource \"zae_limiter_namespace\" \"evil\" {{\n  stack = zae_limiter_stack.main.name\n  name = \"evil\"\n}}\n",
        victim("")
    ));
    let error = tf
        .import_expect_error("zae_limiter_namespace.evil", &format!("{stack}/evil"))
        .unwrap();
    assert!(error.contains("registry records disagree"), "{error}");

    // Repaired by hand, the registry lets the victim's namespace be destroyed again.
    forge(zae_limiter::schema::namespace::NamespaceRecord::new_active(&victim_id, "victim", "t0").reverse_item());
    rt.block_on(table.delete_namespace("evil")).ok();
    workdir.write_config(&base);
    tf.apply().unwrap();
    let reverse = rt.block_on(table.get_namespace_by_id(&victim_id)).unwrap();
    assert!(
        reverse.is_some_and(|r| r.status.as_str() == "deleted"),
        "victim soft-deleted"
    );
    tf.destroy().unwrap();
}
