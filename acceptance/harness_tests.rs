//! Self-tests of the acceptance harness. They need Terraform (and some the emulator) but
//! none of the provider's resources: they use Terraform's built-in `terraform_data`
//! resource, and prove that each check of the harness can fail.

use std::cell::Cell;
use std::rc::Rc;

use serde_json::json;
use testkit::Emulator;

use crate::harness::state::{diff, flatten, is_ignored, lookup};
use crate::harness::steps::{hcl_value, report};
use crate::harness::versions::find_on_path;
use crate::harness::workdir::{PROVIDER_SOURCE, provider_dir};
use crate::harness::*;

/// A `terraform_data` resource whose input is `input`, with an output echoing it.
fn data_config(input: &str) -> String {
    format!(
        r#"resource "terraform_data" "t" {{
  input = "{input}"
}}

output "echo" {{
  value = terraform_data.t.output
}}
"#
    )
}

/// A resource that wants replacing on every plan: its final plan is never empty.
const ALWAYS_CHANGING: &str = r#"resource "terraform_data" "t" {
  triggers_replace = timestamp()
}
"#;

/// The error chain of a failed run as one text, for assertions.
fn failure_text(result: anyhow::Result<()>) -> String {
    match result {
        Ok(()) => panic!("expected the test case to fail, but it passed"),
        Err(e) => report(&e),
    }
}

fn assert_contains(text: &str, wanted: &str) {
    assert!(
        text.contains(wanted),
        "expected the text to contain {wanted:?}, got:\n{text}"
    );
}

#[test]
fn harness_pinned_terraform_is_1_15() {
    let pinned = TerraformBinary::probe(&testkit::dev_tool("terraform")).expect("the shim answers");
    assert_eq!((pinned.version.major, pinned.version.minor), (1, 15), "{pinned}");
    assert!(pinned.supports_identity());

    // The same binary, run through a working directory's environment and CLI config.
    let workdir = WorkDir::new(&pinned);
    let json = workdir.terraform().version_json().unwrap();
    assert_eq!(json["terraform_version"], pinned.version.to_string());
}

#[test]
fn harness_terraform_binaries_lists_pinned_then_path() {
    let binaries = terraform_binaries();
    assert_eq!(
        binaries[0],
        TerraformBinary::pinned(),
        "the pinned Terraform comes first"
    );
    assert!(binaries.len() <= 2, "{binaries:?}");
    match find_on_path("terraform").map(|p| TerraformBinary::probe(&p).unwrap()) {
        Some(other) if other.version != binaries[0].version => {
            assert_eq!(binaries.get(1), Some(&other), "the PATH terraform is included")
        }
        _ => assert_eq!(binaries.len(), 1, "no other Terraform version on PATH: {binaries:?}"),
    }
    for terraform in &binaries {
        eprintln!("testing with {terraform}");
    }
}

#[test]
fn harness_versions_parse_and_order() {
    assert_eq!(Version::parse("1.15.5").unwrap(), Version::new(1, 15, 5));
    assert_eq!(Version::parse("v1.16.0-rc2").unwrap(), Version::new(1, 16, 0));
    assert!(Version::parse("1.15").is_err());
    assert!(Version::parse("one.two.three").is_err());
    assert!(Version::new(1, 11, 4) < Version::RESOURCE_IDENTITY);
    assert!(Version::new(1, 12, 0) >= Version::RESOURCE_IDENTITY);
    assert!(Version::new(1, 9, 9) < Version::new(1, 10, 0));
    let import_by_identity = Step::Import(ImportStep {
        resource_address: "x.y".into(),
        by: ImportBy::IdentityFromState,
        verify_ignore: vec![],
    });
    assert_eq!(import_by_identity.min_terraform(), Some(Version::RESOURCE_IDENTITY));
    assert_eq!(Step::import("x.y", "id").min_terraform(), None);
}

#[test]
fn harness_workdir_uses_dev_overrides_for_the_test_provider() {
    let workdir = WorkDir::new(&TerraformBinary::pinned());
    let config = std::fs::read_to_string(workdir.cli_config_path()).unwrap();
    let line = format!("\"{PROVIDER_SOURCE}\" = \"{}\"", provider_dir().display());
    assert_contains(&config, &line);
    assert_contains(&config, "direct {}");
    assert!(
        provider_dir().join("terraform-provider-zae").is_file(),
        "cargo built the provider into {}",
        provider_dir().display()
    );
    let env: Vec<&str> = workdir.env().iter().map(|(k, _)| k.as_str()).collect();
    for key in [
        "TF_CLI_CONFIG_FILE",
        "CHECKPOINT_DISABLE",
        "TF_IN_AUTOMATION",
        "TF_INPUT",
    ] {
        assert!(env.contains(&key), "{key} missing from {env:?}");
    }
}

#[test]
fn harness_environment_reaches_terraform_and_its_children() {
    let emulator = Emulator::start();
    let mut workdir = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    workdir.set_var("greeting", "hello");
    workdir.write_config(
        r#"variable "greeting" {
  type = string
}

resource "terraform_data" "env" {
  input = var.greeting
  provisioner "local-exec" {
    command = "env > seen-env.txt"
  }
}
"#,
    );
    let tf = workdir.terraform();
    tf.apply().unwrap();
    let seen = workdir.read_file("seen-env.txt").unwrap();
    let has = |line: &str| seen.lines().any(|l| l == line);
    assert!(has(&format!("AWS_ENDPOINT_URL={}", emulator.endpoint())), "{seen}");
    assert!(
        has("AWS_ACCESS_KEY_ID=testing") && has("AWS_REGION=us-east-1"),
        "{seen}"
    );
    assert!(
        has("CHECKPOINT_DISABLE=1") && has("TF_IN_AUTOMATION=1") && has("TF_INPUT=0"),
        "{seen}"
    );
    let cli_config = format!("TF_CLI_CONFIG_FILE={}", workdir.cli_config_path().display());
    assert!(has(&cli_config), "{seen}");
    assert_eq!(
        tf.show_json().unwrap().attr_str("terraform_data.env", "input").unwrap(),
        "hello"
    );
}

#[test]
fn harness_terraform_helpers() {
    let workdir = WorkDir::new(&TerraformBinary::pinned());
    workdir.write_config(&data_config("a"));
    let tf = workdir.terraform();
    tf.init().unwrap();
    tf.validate().unwrap();
    assert!(matches!(tf.plan().unwrap(), Plan::Changes { text } if text.contains("terraform_data.t will be created")));

    let (plan, _file) = tf.plan_json().unwrap();
    assert_eq!(plan["resource_changes"][0]["address"], "terraform_data.t");
    assert_eq!(plan["resource_changes"][0]["change"]["actions"], json!(["create"]));

    tf.apply().unwrap();
    assert_eq!(tf.state_list().unwrap(), vec!["terraform_data.t".to_string()]);
    assert_eq!(tf.output_json().unwrap()["echo"]["value"], "a");
    let state = tf.show_json().unwrap();
    assert_eq!(state.attr_str("terraform_data.t", "output").unwrap(), "a");
    assert_eq!(state.output("echo").unwrap(), "a");
    assert_eq!(tf.plan().unwrap(), Plan::NoChanges);

    let id = state.attr_str("terraform_data.t", "id").unwrap();
    let error = tf.import_expect_error("terraform_data.t", id).unwrap();
    assert_contains(&error, "Resource already managed by Terraform");

    tf.refresh().unwrap();
    tf.destroy().unwrap();
    assert!(tf.state_list().unwrap().is_empty());
}

#[test]
fn harness_command_failures_show_both_streams() {
    let workdir = WorkDir::new(&TerraformBinary::pinned());
    workdir.write_config("resource \"terraform_data\" \"t\" {\n  no_such_argument = 1\n}\n");
    let tf = workdir.terraform();

    let error = format!("{:?}", tf.validate().unwrap_err());
    assert_contains(&error, "`terraform validate -no-color` exited with code 1");
    assert_contains(&error, "--- stdout ---");
    assert_contains(&error, "--- stderr ---");
    assert_contains(&error, "Unsupported argument");
    assert_contains(&error, &workdir.path().display().to_string());

    let stderr = tf.validate_expect_error().unwrap();
    assert_contains(&stderr, "no_such_argument");
    let stderr = tf.plan_expect_error().unwrap();
    assert_contains(&stderr, "Unsupported argument");

    workdir.write_config(&data_config("fine"));
    let error = format!("{:?}", tf.validate_expect_error().unwrap_err());
    assert_contains(
        &error,
        "expected `terraform validate -no-color` to fail, but it succeeded",
    );
}

#[test]
fn harness_lifecycle_passes_on_each_terraform() {
    let case = TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: data_config("a"),
                checks: vec![
                    attr_eq("terraform_data.t", "input", "a"),
                    attr_set("terraform_data.t", "id"),
                    attr_null("terraform_data.t", "triggers_replace"),
                    output_eq("echo", "a"),
                    resources_are(&["terraform_data.t"]),
                ],
                ..ConfigStep::default()
            }),
            Step::Config(ConfigStep {
                hcl: data_config("b"),
                checks: vec![attr_eq("terraform_data.t", "output", "b"), output_eq("echo", "b")],
                ..ConfigStep::default()
            }),
            Step::Refresh,
            // terraform_data imports with only its id: input and output come back null.
            Step::Import(ImportStep {
                resource_address: "terraform_data.t".into(),
                by: ImportBy::IdFromAttribute("id".into()),
                verify_ignore: vec!["input".into(), "output".into()],
            }),
        ],
        check_destroy: Some(check(|ctx| {
            let left = ctx.workdir.terraform().state_list()?;
            anyhow::ensure!(left.is_empty(), "still in the state: {left:?}");
            Ok(())
        })),
        ..TestCase::default()
    };
    case.run_each_terraform_with(None);
}

#[test]
fn harness_import_block_must_be_a_no_op() {
    let plain = "resource \"terraform_data\" \"t\" {}\n";
    let import_block = |by| {
        Step::Import(ImportStep {
            resource_address: "terraform_data.t".into(),
            by,
            // terraform_data takes any import id as its own.
            verify_ignore: vec!["id".into()],
        })
    };
    TestCase {
        steps: vec![
            Step::config(plain),
            import_block(ImportBy::Block("imported-by-block".into())),
        ],
        ..TestCase::default()
    }
    .run_each_terraform_with(None);

    // With an input configured, the import (input = null) would need an update.
    let failure = failure_text(
        TestCase {
            steps: vec![
                Step::config(data_config("a")),
                import_block(ImportBy::Block("x".into())),
            ],
            ..TestCase::default()
        }
        .try_run(&TerraformBinary::pinned(), None),
    );
    assert_contains(&failure, "instead of a plain import");
    assert_contains(&failure, "input: imported null, configured \"a\"");
}

#[test]
fn harness_import_verify_reports_differences() {
    let case = TestCase {
        steps: vec![
            Step::config(data_config("a")),
            Step::Import(ImportStep {
                resource_address: "terraform_data.t".into(),
                by: ImportBy::IdFromAttribute("id".into()),
                verify_ignore: vec!["output".into()],
            }),
        ],
        ..TestCase::default()
    };
    let failure = failure_text(case.try_run(&TerraformBinary::pinned(), None));
    assert_contains(&failure, "step 2 of 2 (import)");
    assert_contains(&failure, "input: applied \"a\", imported null");
    assert!(
        !failure.contains("output: applied"),
        "ignored attributes are not reported:\n{failure}"
    );
}

#[test]
fn harness_import_by_identity_needs_terraform_1_12() {
    let case = TestCase {
        steps: vec![
            Step::config(data_config("a")),
            Step::Import(ImportStep {
                resource_address: "terraform_data.t".into(),
                by: ImportBy::IdentityFromState,
                verify_ignore: vec![],
            }),
        ],
        ..TestCase::default()
    };
    // terraform_data has no identity schema, so on Terraform >= 1.12 the step fails
    // (proving it ran); older Terraforms skip it.
    for terraform in terraform_binaries() {
        let result = case.try_run(&terraform, None);
        if terraform.supports_identity() {
            assert_contains(&failure_text(result), "records no identity for terraform_data.t");
        } else {
            result.unwrap_or_else(|e| panic!("{terraform} should skip the step: {e:?}"));
        }
    }
}

#[test]
fn harness_detects_a_non_empty_final_plan() {
    let case = TestCase {
        steps: vec![Step::config(ALWAYS_CHANGING)],
        ..TestCase::default()
    };
    let failure = failure_text(case.try_run(&TerraformBinary::pinned(), None));
    assert_contains(&failure, "step 1 of 1 (config)");
    assert_contains(&failure, "after apply and refresh, the plan is not empty");
    assert_contains(&failure, "terraform_data.t must be replaced");
}

#[test]
fn harness_expect_non_empty_plan_is_checked_both_ways() {
    let expecting = |hcl: &str| TestCase {
        steps: vec![Step::Config(ConfigStep {
            hcl: hcl.into(),
            expect_non_empty_plan: true,
            ..ConfigStep::default()
        })],
        ..TestCase::default()
    };
    expecting(ALWAYS_CHANGING)
        .try_run(&TerraformBinary::pinned(), None)
        .unwrap();
    let failure = failure_text(expecting(&data_config("a")).try_run(&TerraformBinary::pinned(), None));
    assert_contains(
        &failure,
        "expected a non-empty plan after apply and refresh, but it is empty",
    );
}

#[test]
fn harness_expect_error_is_checked() {
    let failing = r#"variable "ok" {
  type    = bool
  default = false
}

resource "terraform_data" "t" {
  lifecycle {
    precondition {
      condition     = var.ok
      error_message = "The harness self-test wants this precondition to fail."
    }
  }
}
"#;
    let expecting = |hcl: &str, want: &str| TestCase {
        steps: vec![Step::Config(ConfigStep {
            hcl: hcl.into(),
            expect_error: Some(want.into()),
            ..ConfigStep::default()
        })],
        ..TestCase::default()
    };
    let pinned = TerraformBinary::pinned();
    // Whitespace differs from Terraform's output on purpose.
    expecting(failing, "wants this\n  precondition   to fail")
        .try_run(&pinned, None)
        .unwrap();

    let failure = failure_text(expecting(failing, "a different message").try_run(&pinned, None));
    assert_contains(
        &failure,
        "expected an error containing \"a different message\", but the failure says something else",
    );
    assert_contains(&failure, "wants this precondition to fail");

    let failure = failure_text(expecting(&data_config("a"), "anything").try_run(&pinned, None));
    assert_contains(
        &failure,
        "expected an error containing \"anything\", but plan and apply succeeded",
    );
}

#[test]
fn harness_failing_checks_fail_the_step() {
    let case = TestCase {
        steps: vec![Step::Config(ConfigStep {
            hcl: data_config("a"),
            checks: vec![
                attr_eq("terraform_data.t", "input", "a"),
                attr_eq("terraform_data.t", "input", "zzz"),
                check(|_| anyhow::bail!("a custom check failed")),
                attr_set("terraform_data.nope", "id"),
            ],
            ..ConfigStep::default()
        })],
        ..TestCase::default()
    };
    let failure = failure_text(case.try_run(&TerraformBinary::pinned(), None));
    assert_contains(&failure, "3 of 4 checks failed");
    assert_contains(&failure, "check 2: terraform_data.t.input is \"a\", expected \"zzz\"");
    assert_contains(&failure, "check 3: a custom check failed");
    assert_contains(&failure, "check 4: no resource terraform_data.nope in the state");
}

#[test]
fn harness_check_destroy_runs_after_destroy_with_the_last_state() {
    let called = Rc::new(Cell::new(false));
    let seen = Rc::clone(&called);
    let case = TestCase {
        steps: vec![Step::config(data_config("a"))],
        check_destroy: Some(check(move |ctx| {
            seen.set(true);
            anyhow::ensure!(
                ctx.state.addresses() == ["terraform_data.t"],
                "{:?}",
                ctx.state.addresses()
            );
            anyhow::ensure!(ctx.workdir.terraform().state_list()?.is_empty(), "not destroyed");
            Ok(())
        })),
        ..TestCase::default()
    };
    case.try_run(&TerraformBinary::pinned(), None).unwrap();
    assert!(called.get(), "check_destroy was not called");

    let case = TestCase {
        steps: vec![Step::config(data_config("a"))],
        check_destroy: Some(check(|_| anyhow::bail!("the object is still there"))),
        ..TestCase::default()
    };
    let failure = failure_text(case.try_run(&TerraformBinary::pinned(), None));
    assert_contains(&failure, "check_destroy failed");
    assert_contains(&failure, "the object is still there");
}

#[test]
fn harness_min_terraform_is_enforced() {
    let case = TestCase {
        steps: vec![Step::config(data_config("a"))],
        min_terraform: Some(Version::new(99, 0, 0)),
        ..TestCase::default()
    };
    let failure = failure_text(case.try_run(&TerraformBinary::pinned(), None));
    assert_contains(&failure, "this test needs Terraform >= 99.0.0");
}

#[test]
fn harness_vars_reach_every_working_directory() {
    let config = r#"variable "input" {
  type = string
}

resource "terraform_data" "t" {
  input = var.input
}
"#;
    let case = TestCase {
        steps: vec![
            Step::Config(ConfigStep {
                hcl: config.into(),
                checks: vec![attr_eq("terraform_data.t", "input", "from-a-variable")],
                ..ConfigStep::default()
            }),
            // The import's fresh working directory needs the variable too.
            Step::Import(ImportStep {
                resource_address: "terraform_data.t".into(),
                by: ImportBy::IdFromAttribute("id".into()),
                verify_ignore: vec!["input".into(), "output".into()],
            }),
        ],
        vars: vec![("input".into(), "from-a-variable".into())],
        ..TestCase::default()
    };
    case.try_run(&TerraformBinary::pinned(), None).unwrap();
}

#[test]
fn harness_validate_with_the_provider() {
    let emulator = Emulator::start();
    let workdir = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    workdir.write_config(&provider_config(&emulator));
    let tf = workdir.terraform();
    tf.init().unwrap();
    let run = tf.validate().unwrap();
    assert_contains(&run.stdout, "The configuration is valid");
    assert_contains(&run.combined_output(), "Provider development overrides are in effect");

    // The provider itself validates the configuration: the harness really talks to it.
    // (Terraform validates a provider block only when a resource uses the provider.)
    let stack = "resource \"zae_limiter_stack\" \"s\" {\n  name = \"valid-name\"\n}\n";
    let bad_endpoint = provider_config(&emulator).replace(&emulator.endpoint(), "ftp://nowhere");
    workdir.write_config(&format!("{bad_endpoint}\n{stack}"));
    let stderr = tf.validate_expect_error().unwrap();
    assert_contains(&stderr, "\"ftp://nowhere\" is not an endpoint URL");

    workdir.write_config(&format!("{}\n{stack}", provider_config(&emulator)));
    tf.validate().unwrap();
}

#[test]
fn harness_state_lookup_flatten_and_diff() {
    let values = json!({"name": "x", "tags": {"a": "1"}, "list": [{"id": 7}], "empty": {}, "none": null});
    assert_eq!(lookup(&values, "tags.a"), Some(&json!("1")));
    assert_eq!(lookup(&values, "list.0.id"), Some(&json!(7)));
    assert_eq!(lookup(&values, "list.1"), None);
    let flat = flatten(&values);
    assert_eq!(
        flat.keys().collect::<Vec<_>>(),
        ["empty", "list.0.id", "name", "none", "tags.a"]
    );
    assert!(is_ignored("tags.a", &["tags".into()]));
    assert!(!is_ignored("tagsx", &["tags".into()]));
    let other = flatten(&json!({"name": "y", "tags": {"a": "1", "b": "2"}, "list": [{"id": 7}], "empty": {}}));
    assert_eq!(
        diff("applied", &flat, "imported", &other, &[]),
        [
            "  name: applied \"x\", imported \"y\"",
            "  none: applied null, imported (absent)",
            "  tags.b: applied (absent), imported \"2\""
        ]
    );
    assert!(
        diff(
            "applied",
            &flat,
            "imported",
            &other,
            &["name".into(), "none".into(), "tags".into()]
        )
        .is_empty()
    );
}

#[test]
fn harness_hcl_values_and_unique_names() {
    assert_eq!(hcl_value(&json!("a \"q\" ${x} %{y}")), r#""a \"q\" $${x} %%{y}""#);
    assert_eq!(
        hcl_value(&json!({"name": "t", "n": 1, "ok": true})),
        r#"{ "n" = 1, "name" = "t", "ok" = true }"#
    );
    assert_eq!(hcl_value(&json!(["a", null])), r#"["a", null]"#);
    assert_ne!(unique_name("acc"), unique_name("acc"));
    assert!(unique_name("acc").starts_with("acc-"));
}
