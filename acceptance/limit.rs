//! `zae_limiter_limit` against the emulator: the three scopes, both argument forms, the
//! items, registries and audit events zae-limiter expects, update in place, replace,
//! import (id and identity), drift, destroy, parallel limits on one scope, and bad input.

use std::collections::HashMap;

use anyhow::{Context, ensure};
use aws_sdk_dynamodb::types::AttributeValue;
use testkit::Emulator;

use crate::data_plane::*;
use crate::harness::*;

/// moto's caller identity: the audit principal the provider must record.
const MOTO_CALLER: &str = "arn:aws:sts::123456789012:user/moto";

const SYSTEM: &str = "zae_limiter_limit.system_rpm";
const RESOURCE: &str = "zae_limiter_limit.model_tpm";
const ENTITY: &str = "zae_limiter_limit.key_rpm";
const ENTITY_WIDE: &str = "zae_limiter_limit.key_rpd";

fn namespace_config(emulator: &Emulator, stack: &str, namespace: &str) -> String {
    format!(
        "{}\nresource \"zae_limiter_namespace\" \"t\" {{\n  stack = zae_limiter_stack.main.name\
         \n  name  = \"{namespace}\"\n  on_destroy = \"purge\"\n}}\n",
        stack_config(emulator, stack)
    )
}

fn limit(label: &str, body: &str) -> String {
    format!(
        "resource \"zae_limiter_limit\" \"{label}\" {{\n  stack     = zae_limiter_stack.main.name\
         \n  namespace = zae_limiter_namespace.t.name\n{body}\n}}\n"
    )
}

/// The four limits of the lifecycle test; `system_rate` and `tpm_name` vary per step.
fn four_limits(system_rate: i64, tpm_name: &str) -> String {
    [
        limit(
            "system_rpm",
            &format!("  name = \"rpm\"\n  rate = {system_rate}\n  per = \"minute\"\n  burst = 150"),
        ),
        limit(
            "model_tpm",
            &format!(
                "  resource = \"openai/gpt-4:8b\"\n  name = \"{tpm_name}\"\n  capacity = 1000\n  refill_amount = 500\
                 \n  refill_period_seconds = 60"
            ),
        ),
        limit(
            "key_rpm",
            "  entity_id = \"api-key-123\"\n  resource = \"gpt-4\"\n  name = \"rpm\"\n  rate = 10\n  per = \"second\"",
        ),
        limit(
            "key_rpd",
            "  entity_id = \"api-key-123\"\n  name = \"rpd\"\n  rate = 5000\n  per = \"day\"\n  burst = 6000",
        ),
    ]
    .concat()
}

type Item = HashMap<String, AttributeValue>;

/// The config item (PK, SK) in the namespace of the applied state.
fn config_item(ctx: &CheckContext<'_>, stack: &str, pk_suffix: &str, sk: &str) -> anyhow::Result<Option<Item>> {
    let ns = ctx.state.attr_str("zae_limiter_namespace.t", "id")?;
    item(ctx, stack, &format!("{ns}/{pk_suffix}"), sk)
}

/// `l_{name}_cp/ra/rp` of an item.
fn limit_attrs(item: &Item, name: &str) -> (Option<i64>, Option<i64>, Option<i64>) {
    (
        number(item, &format!("l_{name}_cp")),
        number(item, &format!("l_{name}_ra")),
        number(item, &format!("l_{name}_rp")),
    )
}

/// The config item holds limit `name` with these parameters.
fn stored(stack: &str, pk_suffix: &str, sk: &str, name: &str, expected: (i64, i64, i64)) -> Check {
    let (stack, pk_suffix, sk, name) = (
        stack.to_string(),
        pk_suffix.to_string(),
        sk.to_string(),
        name.to_string(),
    );
    check(move |ctx| {
        let item =
            config_item(ctx, &stack, &pk_suffix, &sk)?.with_context(|| format!("no config item {pk_suffix} {sk}"))?;
        let got = limit_attrs(&item, &name);
        ensure!(
            got == (Some(expected.0), Some(expected.1), Some(expected.2)),
            "{pk_suffix} {sk} holds {name} = {got:?}, expected {expected:?}"
        );
        ensure!(
            number(&item, "config_version") == Some(1),
            "config_version missing on {pk_suffix} {sk}"
        );
        Ok(())
    })
}

/// Audit events of `entity` in the state's namespace, oldest first.
fn audit_events(ctx: &CheckContext<'_>, stack: &str, entity: &str) -> anyhow::Result<Vec<Item>> {
    let ns = ctx.state.attr_str("zae_limiter_namespace.t", "id")?.to_string();
    let pk = format!("{ns}/AUDIT#{entity}");
    let mut events: Vec<Item> = scan(ctx, stack)?
        .into_iter()
        .filter(|i| string(i, "PK") == Some(pk.as_str()))
        .collect();
    events.sort_by(|a, b| string(a, "SK").cmp(&string(b, "SK")));
    Ok(events)
}

#[test]
fn limits_at_three_scopes_update_replace_import_drift_and_destroy() {
    let emulator = Emulator::start();
    let stack = unique_name("acc-limit");
    let base = namespace_config(&emulator, &stack, "tenant-l");
    let s = stack.clone();
    let created_checks = vec![
        attr_eq(SYSTEM, "capacity", 150),
        attr_eq(SYSTEM, "refill_amount", 100),
        attr_eq(SYSTEM, "refill_period_seconds", 60),
        attr_eq(SYSTEM, "scope", "system"),
        attr_eq(SYSTEM, "id", format!("{stack}/tenant-l/system/rpm")),
        attr_eq(RESOURCE, "rate", 500),
        attr_eq(RESOURCE, "per", "minute"),
        attr_eq(RESOURCE, "burst", 1000),
        attr_eq(
            RESOURCE,
            "id",
            format!("{stack}/tenant-l/resource:openai%2Fgpt-4%3A8b/tpm"),
        ),
        attr_eq(ENTITY, "capacity", 10),
        attr_eq(ENTITY, "id", format!("{stack}/tenant-l/entity:api-key-123:gpt-4/rpm")),
        attr_eq(
            ENTITY_WIDE,
            "id",
            format!("{stack}/tenant-l/entity:api-key-123:_default_/rpd"),
        ),
        stored(&stack, "SYSTEM#", "#CONFIG", "rpm", (150, 100, 60)),
        stored(&stack, "RESOURCE#openai/gpt-4:8b", "#CONFIG", "tpm", (1000, 500, 60)),
        stored(&stack, "ENTITY#api-key-123", "#CONFIG#gpt-4", "rpm", (10, 10, 1)),
        stored(
            &stack,
            "ENTITY#api-key-123",
            "#CONFIG#_default_",
            "rpd",
            (6000, 5000, 86_400),
        ),
        check(move |ctx| {
            // Items and registries exactly as zae-limiter writes them.
            let ns = ctx.state.attr_str("zae_limiter_namespace.t", "id")?.to_string();
            let entity = config_item(ctx, &s, "ENTITY#api-key-123", "#CONFIG#gpt-4")?.context("entity item")?;
            ensure!(
                string(&entity, "GSI3PK") == Some(format!("{ns}/ENTITY_CONFIG#gpt-4").as_str()),
                "GSI3PK {entity:?}"
            );
            ensure!(string(&entity, "GSI3SK") == Some("api-key-123"), "GSI3SK");
            ensure!(
                string(&entity, "GSI4SK") == Some(format!("{ns}/ENTITY#api-key-123").as_str()),
                "GSI4SK"
            );
            ensure!(
                string(&entity, "entity_id") == Some("api-key-123") && string(&entity, "resource") == Some("gpt-4"),
                "ids"
            );
            let resource = config_item(ctx, &s, "RESOURCE#openai/gpt-4:8b", "#CONFIG")?.context("resource item")?;
            ensure!(
                string(&resource, "resource") == Some("openai/gpt-4:8b"),
                "resource attribute"
            );
            let registry = config_item(ctx, &s, "SYSTEM#", "#RESOURCES")?.context("resource registry")?;
            ensure!(
                registry.get("resources") == Some(&AttributeValue::Ss(vec!["openai/gpt-4:8b".into()])),
                "resource registry {registry:?}"
            );
            let counters = config_item(ctx, &s, "SYSTEM#", "#ENTITY_CONFIG_RESOURCES")?.context("entity registry")?;
            ensure!(
                number(&counters, "gpt-4") == Some(1) && number(&counters, "_default_") == Some(1),
                "{counters:?}"
            );
            // One limits_set event per limit, recorded for the caller.
            let events = audit_events(ctx, &s, "$SYSTEM")?;
            ensure!(events.len() == 1, "system audit events: {events:?}");
            ensure!(string(&events[0], "action") == Some("limits_set"), "action");
            ensure!(
                string(&events[0], "principal") == Some(MOTO_CALLER),
                "principal {:?}",
                events[0].get("principal")
            );
            let resource_events = audit_events(ctx, &s, "$RESOURCE:openai/gpt-4:8b")?;
            ensure!(resource_events.len() == 1, "resource audit events: {resource_events:?}");
            ensure!(
                string(&resource_events[0], "resource") == Some("openai/gpt-4:8b"),
                "audit resource"
            );
            ensure!(audit_events(ctx, &s, "api-key-123")?.len() == 2, "entity audit events");
            Ok(())
        }),
    ];
    let drift_stack = stack.clone();
    let change_by_hand = check(move |ctx| {
        let ns = ctx.state.attr_str("zae_limiter_namespace.t", "id")?.to_string();
        let ddb = aws_sdk_dynamodb::Client::new(ctx.sdk_config());
        ctx.block_on(
            ddb.update_item()
                .table_name(&drift_stack)
                .key("PK", AttributeValue::S(format!("{ns}/SYSTEM#")))
                .key("SK", AttributeValue::S("#CONFIG".into()))
                .update_expression("SET l_rpm_cp = :v")
                .expression_attribute_values(":v", AttributeValue::N("999".into()))
                .send(),
        )?;
        Ok(())
    });
    let delete_stack = stack.clone();
    let delete_by_hand = check(move |ctx| {
        let ns = ctx.state.attr_str("zae_limiter_namespace.t", "id")?.to_string();
        let ddb = aws_sdk_dynamodb::Client::new(ctx.sdk_config());
        ctx.block_on(
            ddb.update_item()
                .table_name(&delete_stack)
                .key("PK", AttributeValue::S(format!("{ns}/ENTITY#api-key-123")))
                .key("SK", AttributeValue::S("#CONFIG#gpt-4".into()))
                .update_expression("REMOVE l_rpm_cp, l_rpm_ra, l_rpm_rp")
                .send(),
        )?;
        Ok(())
    });
    let gone = stack.clone();
    TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", four_limits(100, "tpm")),
                checks: created_checks,
                ..ConfigStep::default()
            }),
            // Update in place.
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", four_limits(120, "tpm")),
                checks: vec![
                    attr_eq(SYSTEM, "refill_amount", 120),
                    stored(&stack, "SYSTEM#", "#CONFIG", "rpm", (150, 120, 60)),
                    stored(&stack, "RESOURCE#openai/gpt-4:8b", "#CONFIG", "tpm", (1000, 500, 60)),
                ],
                ..ConfigStep::default()
            }),
            // Drift: a value changed by hand shows in the plan, the next apply restores it.
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", four_limits(120, "tpm")),
                checks: vec![change_by_hand],
                expect_non_empty_plan: true,
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", four_limits(120, "tpm")),
                checks: vec![stored(&stack, "SYSTEM#", "#CONFIG", "rpm", (150, 120, 60))],
                ..ConfigStep::default()
            }),
            // Drift: a limit deleted by hand is planned for creation and comes back.
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", four_limits(120, "tpm")),
                checks: vec![delete_by_hand],
                expect_non_empty_plan: true,
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", four_limits(120, "tpm")),
                checks: vec![stored(
                    &stack,
                    "ENTITY#api-key-123",
                    "#CONFIG#gpt-4",
                    "rpm",
                    (10, 10, 1),
                )],
                ..ConfigStep::default()
            }),
            Step::Import(ImportStep {
                resource_address: SYSTEM.into(),
                by: ImportBy::Id(format!("{stack}/tenant-l/system/rpm")),
                verify_ignore: vec![],
            }),
            Step::Import(ImportStep {
                resource_address: RESOURCE.into(),
                by: ImportBy::IdFromAttribute("id".into()),
                verify_ignore: vec![],
            }),
            Step::Import(ImportStep {
                resource_address: ENTITY_WIDE.into(),
                by: ImportBy::Id(format!("{stack}/tenant-l/entity:api-key-123:_default_/rpd")),
                verify_ignore: vec![],
            }),
            // Import by identity, in a configuration of that limit alone.
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", four_limits(120, "tpm")),
                checks: vec![import_by_identity_alone(
                    emulator.aws_env(),
                    format!(
                        "{}resource \"zae_limiter_limit\" \"key_rpm\" {{\n  stack = \"{stack}\"\
                         \n  namespace = \"tenant-l\"\n  entity_id = \"api-key-123\"\n  resource = \"gpt-4\"\
                         \n  name = \"rpm\"\n  rate = 10\n  per = \"second\"\n}}\n",
                        provider_config(&emulator)
                    ),
                    ENTITY,
                    &[],
                )],
                ..ConfigStep::default()
            }),
            // Replace: a new name removes the old limit's attributes and adds the new ones.
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", four_limits(120, "tokens")),
                checks: vec![
                    stored(&stack, "RESOURCE#openai/gpt-4:8b", "#CONFIG", "tokens", (1000, 500, 60)),
                    check({
                        let s = stack.clone();
                        move |ctx| {
                            let item = config_item(ctx, &s, "RESOURCE#openai/gpt-4:8b", "#CONFIG")?.context("item")?;
                            ensure!(
                                limit_attrs(&item, "tpm") == (None, None, None),
                                "tpm still stored: {item:?}"
                            );
                            Ok(())
                        }
                    }),
                ],
                ..ConfigStep::default()
            }),
            // Destroy: the limits leave the configuration; empty config items and their
            // registry entries go, limits_deleted events are written.
            Step::Config(ConfigStep {
                hcl: base.clone(),
                checks: vec![check(move |ctx| {
                    for (pk, sk) in [
                        ("SYSTEM#", "#CONFIG"),
                        ("RESOURCE#openai/gpt-4:8b", "#CONFIG"),
                        ("ENTITY#api-key-123", "#CONFIG#gpt-4"),
                        ("ENTITY#api-key-123", "#CONFIG#_default_"),
                    ] {
                        ensure!(
                            config_item(ctx, &gone, pk, sk)?.is_none(),
                            "config item {pk} {sk} remains"
                        );
                    }
                    let registry = config_item(ctx, &gone, "SYSTEM#", "#RESOURCES")?;
                    ensure!(
                        registry.as_ref().is_none_or(|r| !r.contains_key("resources")),
                        "resource registry still lists: {registry:?}"
                    );
                    let counters =
                        config_item(ctx, &gone, "SYSTEM#", "#ENTITY_CONFIG_RESOURCES")?.context("entity registry")?;
                    ensure!(
                        !counters.contains_key("gpt-4") && !counters.contains_key("_default_"),
                        "{counters:?}"
                    );
                    let events = audit_events(ctx, &gone, "$SYSTEM")?;
                    let last = events.last().context("no system audit events")?;
                    ensure!(string(last, "action") == Some("limits_deleted"), "last event {last:?}");
                    ensure!(string(last, "principal") == Some(MOTO_CALLER), "principal");
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
fn parallel_limits_on_one_scope_never_overwrite_each_other() {
    let emulator = Emulator::start();
    let stack = unique_name("acc-limit-par");
    let base = namespace_config(&emulator, &stack, "tenant-p");
    let many = |names: &[String]| -> String {
        names
            .iter()
            .map(|n| {
                limit(
                    n,
                    &format!("  resource = \"gpt-4\"\n  name = \"{n}\"\n  rate = 10\n  per = \"minute\""),
                )
            })
            .collect()
    };
    let first: Vec<String> = (0..24).map(|i| format!("l{i:02}")).collect();
    let second: Vec<String> = (20..30).map(|i| format!("l{i:02}")).collect();
    let holds = |stack: &str, names: Vec<String>| {
        let stack = stack.to_string();
        check(move |ctx| {
            let item = config_item(ctx, &stack, "RESOURCE#gpt-4", "#CONFIG")?.context("no config item")?;
            let mut stored: Vec<String> = item
                .keys()
                .filter_map(|k| {
                    k.strip_prefix("l_")
                        .and_then(|k| k.strip_suffix("_cp"))
                        .map(str::to_string)
                })
                .collect();
            stored.sort();
            ensure!(stored == names, "the item holds {stored:?}, expected {names:?}");
            Ok(())
        })
    };
    TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", many(&first)),
                checks: vec![holds(&stack, first.clone())],
                ..ConfigStep::default()
            }),
            // 20 removed and 6 added in one apply, concurrently.
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", many(&second)),
                checks: vec![holds(&stack, second.clone())],
                ..ConfigStep::default()
            }),
        ],
        ..TestCase::default()
    }
    .run(&emulator);
}

#[test]
fn bad_limit_input_names_the_attribute() {
    let emulator = Emulator::start();
    let stack = unique_name("acc-limit-bad");
    let base = namespace_config(&emulator, &stack, "tenant-b");
    let rate = "  name = \"rpm\"\n  rate = 1\n  per = \"minute\"";
    let on_namespace = |namespace: &str| {
        format!(
            "resource \"zae_limiter_limit\" \"x\" {{\n  stack = zae_limiter_stack.main.name\
             \n  namespace = \"{namespace}\"\n{rate}\n  depends_on = [zae_limiter_namespace.t]\n}}\n"
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (
            limit("x", &format!("{rate}\n  capacity = 5")),
            "capacity conflicts with rate, per",
        ),
        (
            limit("x", "  name = \"rpm\"\n  burst = 5"),
            "rate is required with burst",
        ),
        (
            limit("x", "  name = \"1rpm\"\n  rate = 1\n  per = \"minute\""),
            "Invalid name: must start with a letter",
        ),
        (
            limit("x", "  name = \"wcu\"\n  rate = 1\n  per = \"minute\""),
            "'wcu' is a reserved limit name",
        ),
        (
            limit("x", "  name = \"rpm\"\n  rate = 0\n  per = \"minute\""),
            "rate must be a whole number greater than 0",
        ),
        (
            limit("x", &format!("{rate}\n  per = \"week\"")).replace("  per = \"minute\"\n", ""),
            "per must be one of",
        ),
        (
            limit("x", &format!("{rate}\n  scope = \"system\"\n  resource = \"gpt-4\"")),
            "Conflicting scope arguments",
        ),
        (
            limit("x", &format!("{rate}\n  resource = \"_default_\"")),
            "omit `resource` instead",
        ),
        (
            on_namespace("no-such-namespace"),
            "has no namespace named \"no-such-namespace\"",
        ),
    ];
    let mut steps: Vec<Step> = vec![Step::config(base.clone())];
    for (body, error) in cases {
        steps.push(Step::Config(ConfigStep {
            hcl: format!("{base}{body}"),
            expect_error: Some(error.into()),
            ..ConfigStep::default()
        }));
    }
    // A soft-deleted namespace: remove the namespace, then try to put a limit on it.
    let stack_only = stack_config(&emulator, &stack);
    steps.push(Step::Config(ConfigStep {
        hcl: format!(
            "{stack_only}\nresource \"zae_limiter_namespace\" \"t\" {{\
             \n  stack = zae_limiter_stack.main.name\n  name = \"tenant-b\"\n}}\n"
        ),
        ..ConfigStep::default()
    }));
    steps.push(Step::config(stack_only.clone()));
    steps.push(Step::Config(ConfigStep {
        hcl: format!(
            "{stack_only}resource \"zae_limiter_limit\" \"x\" {{\n  stack = zae_limiter_stack.main.name\
             \n  namespace = \"tenant-b\"\n{rate}\n}}\n"
        ),
        expect_error: Some("is soft-deleted".into()),
        ..ConfigStep::default()
    }));
    steps.push(Step::Config(ConfigStep {
        hcl: format!(
            "{}resource \"zae_limiter_limit\" \"x\" {{\n  stack = \"no-such-stack\"\n  namespace = \"n\"\n{rate}\n}}\n",
            provider_config(&emulator)
        ),
        expect_error: Some("Unknown stack".into()),
        ..ConfigStep::default()
    }));
    TestCase {
        steps,
        ..TestCase::default()
    }
    .run(&emulator);
}

#[test]
fn stack_data_source_looks_up_an_existing_stack() {
    let emulator = Emulator::start();
    let stack = unique_name("acc-stack-data");
    let base = stack_config(&emulator, &stack);
    let lookup = |name: &str| format!("data \"zae_limiter_stack\" \"s\" {{\n  name = \"{name}\"\n}}\n");
    TestCase {
        steps: vec![
            Step::config(base.clone()),
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", lookup(&stack)),
                checks: vec![check(|ctx| {
                    for attr in [
                        "table_arn",
                        "stream_arn",
                        "default_namespace_id",
                        "schema_version",
                        "namespace_acquire_policy_arn",
                        "full_access_policy_arn",
                    ] {
                        let found = ctx.state.attr_str("data.zae_limiter_stack.s", attr)?;
                        let managed = ctx.state.attr_str("zae_limiter_stack.main", attr)?;
                        ensure!(found == managed, "{attr}: data source {found:?}, resource {managed:?}");
                    }
                    Ok(())
                })],
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: format!("{base}{}", lookup("no-such-stack")),
                expect_error: Some("There is no zae-limiter stack \"no-such-stack\"".into()),
                ..ConfigStep::default()
            }),
        ],
        ..TestCase::default()
    }
    .run(&emulator);
}

/// A limit create whose config write succeeded but whose audit event kept failing (the
/// fault proxy answers every PutItem with HTTP 500): the apply fails, yet the limit is in
/// state, so nothing is orphaned; once the faults stop, the next apply converges.
#[test]
fn a_limit_create_failing_after_its_first_write_keeps_the_limit_in_state() {
    use testkit::faults::{Fault, FaultPlan, FaultProxy, Rule};
    let emulator = Emulator::start();
    let proxy = FaultProxy::start(
        emulator.addr(),
        FaultPlan::seeded(3).rule(Rule::new(Fault::Status(500)).service("dynamodb").operation("PutItem")),
    );
    proxy.set_enabled(false);
    let stack = unique_name("acc-limit-partial");
    // Through the proxy, with few retries so the failure comes quickly.
    let endpoint = format!("endpoint_url = \"{}\"", emulator.endpoint());
    let base = namespace_config(&emulator, &stack, "tenant-p").replace(
        &endpoint,
        &format!("endpoint_url = \"{}\"\n  max_retries  = 1", proxy.endpoint()),
    );
    let with_limit = format!(
        "{base}{}",
        limit("system_rpm", "  name = \"rpm\"\n  rate = 10\n  per  = \"minute\"")
    );
    let workdir = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    let tf = workdir.terraform();
    tf.init().unwrap();
    workdir.write_config(&base);
    tf.apply().unwrap();

    proxy.set_enabled(true);
    workdir.write_config(&with_limit);
    let error = tf.apply_expect_error().unwrap();
    assert!(
        proxy.stats().injected_into("dynamodb:PutItem") > 0,
        "the audit write was faulted"
    );
    assert!(error.contains("Cannot write the limit"), "{error}");
    assert!(
        tf.state_list().unwrap().iter().any(|a| a == SYSTEM),
        "the written limit is in state: {error}"
    );

    proxy.set_enabled(false);
    tf.apply().unwrap();
    let plan = tf.plan().unwrap();
    assert!(matches!(plan, Plan::NoChanges), "second plan is empty: {plan:?}");
    tf.destroy().unwrap();
}
