//! The `provider "zae"` block against the emulator (account 123456789012): the account
//! restrictions `allowed_account_ids` / `forbidden_account_ids`, endpoints of services the
//! provider never calls, and credentials from a `credential_process` profile.

use std::os::unix::fs::PermissionsExt as _;

use testkit::Emulator;

use crate::harness::*;

const STACK: &str = "zae_limiter_stack.main";

/// A configuration with `settings` in the provider block and one stack named `stack`.
fn config(emulator: &Emulator, settings: &str, stack: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    zae = {{
      source = "zae-limiter/zae"
    }}
  }}
}}

provider "zae" {{
  region       = "{region}"
  endpoint_url = "{endpoint}"
{settings}
}}

resource "zae_limiter_stack" "main" {{
  name = "{stack}"
}}
"#,
        region = testkit::REGION,
        endpoint = emulator.endpoint(),
    )
}

/// A step that must fail with `error` before anything is created.
fn refused(hcl: String, error: &str) -> Step {
    Step::Config(ConfigStep {
        hcl,
        expect_error: Some(error.to_owned()),
        ..ConfigStep::default()
    })
}

#[test]
fn a_forbidden_account_is_refused_at_configure() {
    let emulator = Emulator::start();
    let settings = format!(
        "  forbidden_account_ids = [\"111111111111\", \"{}\"]",
        testkit::ACCOUNT_ID
    );
    let stack = unique_name("acc-forbidden");
    TestCase {
        steps: vec![refused(
            config(&emulator, &settings, &stack),
            "The credentials are for AWS account 123456789012, which is in forbidden_account_ids.",
        )],
        check_destroy: Some(crate::stack::nothing_left(stack)),
        ..TestCase::default()
    }
    .run(&emulator);
}

#[test]
fn an_account_outside_allowed_account_ids_is_refused() {
    let emulator = Emulator::start();
    let stack = unique_name("acc-not-allowed");
    TestCase {
        steps: vec![refused(
            config(&emulator, "  allowed_account_ids = [\"111111111111\"]", &stack),
            "The credentials are for AWS account 123456789012, which is not in allowed_account_ids \
             (111111111111).",
        )],
        check_destroy: Some(crate::stack::nothing_left(stack)),
        ..TestCase::default()
    }
    .run(&emulator);
}

#[test]
fn an_allowed_account_applies_and_unused_endpoints_warn() {
    let emulator = Emulator::start();
    let stack = unique_name("acc-allowed");
    let settings = format!(
        "  allowed_account_ids = [\"{}\"]\n  endpoints {{\n    sns = \"http://127.0.0.1:1\"\n  }}",
        testkit::ACCOUNT_ID
    );
    let hcl = config(&emulator, &settings, &stack);

    let workdir = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    workdir.write_config(&hcl);
    let validated = workdir.terraform().validate().expect("validate");
    let output = validated.combined_output();
    ensure_contains(&output, "Endpoint not used");
    ensure_contains(&output, "The provider never calls sns");

    TestCase {
        steps: vec![Step::Config(ConfigStep {
            hcl,
            checks: vec![attr_eq(STACK, "name", stack.as_str())],
            ..ConfigStep::default()
        })],
        check_destroy: Some(crate::stack::nothing_left(stack)),
        ..TestCase::default()
    }
    .run(&emulator);
}

#[test]
fn conflicting_account_lists_fail_validation() {
    let emulator = Emulator::start();
    let settings = "  allowed_account_ids   = [\"111111111111\"]\n  forbidden_account_ids = [\"222222222222\"]";
    let workdir = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    workdir.write_config(&config(&emulator, settings, "acc-unused"));
    let error = workdir.terraform().validate_expect_error().expect("validate fails");
    ensure_contains(&error, "Conflicting attributes");
    ensure_contains(&error, "forbidden_account_ids");
}

/// A profile whose `credential_process` prints the credentials authenticates the provider:
/// no other credentials are in the environment, and the script records that it ran.
#[test]
fn a_credential_process_profile_authenticates() {
    let emulator = Emulator::start();
    let mut workdir = WorkDir::new(&TerraformBinary::pinned());
    let script = workdir.path().join("credentials.sh");
    let ran = workdir.path().join("credential-process-ran");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntouch '{}'\nprintf '%s' '{{\"Version\": 1, \"AccessKeyId\": \"AKIAPROCESS\", \
             \"SecretAccessKey\": \"process-secret\", \"SessionToken\": \"process-token\"}}'\n",
            ran.display()
        ),
    )
    .expect("write the script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let aws_config = workdir.path().join("aws-config");
    std::fs::write(
        &aws_config,
        format!("[profile zae-process]\ncredential_process = {}\n", script.display()),
    )
    .expect("write the AWS config");
    workdir.set_env("AWS_CONFIG_FILE", aws_config.clone());
    workdir.set_env("AWS_SHARED_CREDENTIALS_FILE", workdir.path().join("no-credentials"));
    workdir.set_env("AWS_EC2_METADATA_DISABLED", "true");

    let stack = unique_name("acc-process");
    let settings = format!(
        "  profile             = \"zae-process\"\n  allowed_account_ids = [\"{}\"]",
        testkit::ACCOUNT_ID
    );
    workdir.write_config(&config(&emulator, &settings, &stack));
    let tf = workdir.terraform();
    let applied = tf.apply();
    let destroyed = tf.destroy();
    applied.expect("apply with credentials from credential_process");
    destroyed.expect("destroy");
    assert!(ran.exists(), "the credential process was not run");
}

/// Panics unless `text` contains `fragment` (runs of whitespace collapsed: Terraform wraps
/// long lines).
fn ensure_contains(text: &str, fragment: &str) {
    let collapse = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        collapse(text).contains(&collapse(fragment)),
        "expected {fragment:?} in:\n{text}"
    );
}

/// A resource `timeouts` value that is negative or longer than 24 hours fails validation on
/// its attribute, before any plan (it once panicked the provider after CreateTable).
#[test]
fn timeouts_beyond_a_day_fail_validation() {
    let emulator = Emulator::start();
    let workdir = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    let hcl = config(&emulator, "", "acc-timeouts").replace(
        "  name = \"acc-timeouts\"\n",
        "  name = \"acc-timeouts\"\n  timeouts {\n    create = \"9999999999999h\"\n    delete = \"-5m\"\n  }\n",
    );
    workdir.write_config(&hcl);
    let error = workdir.terraform().validate_expect_error().expect("validate fails");
    ensure_contains(&error, "\"9999999999999h\" is longer than the maximum of 24h");
    ensure_contains(&error, "\"-5m\" is negative");
    ensure_contains(&error, "create = \"9999999999999h\"");
}

/// An IAM Identity Center (SSO) profile is understood: without a cached `aws sso login`
/// token the provider says so, blaming `profile` (without the SDK's `sso` feature it would
/// say that SSO is not supported).
#[test]
fn an_sso_profile_without_a_login_asks_for_one() {
    let emulator = Emulator::start();
    let mut workdir = WorkDir::new(&TerraformBinary::pinned());
    let aws_config = workdir.path().join("aws-config");
    std::fs::write(
        &aws_config,
        "[profile zae-sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n\n\
         [sso-session corp]\nsso_start_url = https://zae-acceptance.awsapps.com/start\nsso_region = us-east-1\n",
    )
    .expect("write the AWS config");
    workdir.set_env("AWS_CONFIG_FILE", aws_config);
    workdir.set_env("AWS_SHARED_CREDENTIALS_FILE", workdir.path().join("no-credentials"));
    workdir.set_env("AWS_EC2_METADATA_DISABLED", "true");
    workdir.set_env("HOME", workdir.path());
    workdir.write_config(&config(&emulator, "  profile = \"zae-sso\"", "acc-sso"));
    let error = workdir.terraform().plan_expect_error().expect("plan fails");
    ensure_contains(&error, "Cannot validate AWS credentials");
    ensure_contains(&error, "failed to load the cached SSO token");
    ensure_contains(&error, "run `aws sso login` first");
    ensure_contains(&error, "profile = \"zae-sso\"");
}
