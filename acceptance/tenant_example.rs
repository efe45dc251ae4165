//! `examples/tenant`: a stack and two tenants from `examples/modules/tenant`, applied
//! against the emulator with the real `hashicorp/aws` provider (for the application roles)
//! from the machine's provider mirror. The second plan must be empty; then the Rust client
//! crate and the Python zae-limiter 0.17.0 package acquire against the limits Terraform
//! set, and each tenant's role can reach its own namespace's keys only.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use testkit::Emulator;
use zae_limiter::{Error, RateLimiter, Repository};

use crate::data_plane::{TAG, runtime};
use crate::harness::workdir::{cli_config_text, provider_dir};
use crate::harness::{Plan, TerraformBinary, WorkDir, unique_name};

/// Where the machine keeps a filesystem mirror of `registry.terraform.io/hashicorp/*`
/// providers (override with `TF_ACC_PROVIDER_MIRROR`).
const DEFAULT_MIRROR: &str = "/opt/tf-plugins";

fn provider_mirror() -> PathBuf {
    let mirror = std::env::var_os("TF_ACC_PROVIDER_MIRROR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MIRROR));
    assert!(
        mirror.join("registry.terraform.io/hashicorp/aws").is_dir(),
        "the tenant example needs the hashicorp/aws provider in a filesystem mirror at {} \
         (set TF_ACC_PROVIDER_MIRROR to another mirror folder)",
        mirror.display()
    );
    mirror
}

/// The harness's CLI configuration with the mirror in front of the registry.
fn cli_config(mirror: &Path) -> String {
    cli_config_text(provider_dir()).replace(
        "  direct {}\n",
        &format!(
            "  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/hashicorp/*\"]\
             \n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/hashicorp/*\"]\n  }}\n",
            mirror.display()
        ),
    )
}

fn copy_tf_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the folder");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())) {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "tf") {
            std::fs::copy(&path, to.join(path.file_name().expect("a file name"))).expect("copy a .tf file");
        }
    }
}

/// Runs an async Python body with zae-limiter imported; returns what it returns (JSON).
fn python(emulator: &Emulator, stack: &str, body: &str) -> Value {
    let indented: String = body.lines().map(|l| format!("    {l}\n")).collect();
    let script = format!(
        "import asyncio, json\nfrom zae_limiter import Repository, RateLimiter\n\
         from zae_limiter.exceptions import RateLimitExceeded\n\
         STACK = {stack:?}\nasync def main():\n{indented}\nprint('@@RESULT@@' + json.dumps(asyncio.run(main())))\n"
    );
    let output = Command::new(testkit::dev_tool("python"))
        .arg("-c")
        .arg(&script)
        .envs(emulator.aws_env())
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python failed:\n{script}\n{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("@@RESULT@@"))
        .expect("a result line");
    serde_json::from_str(line).expect("JSON")
}

/// Python acquires of `rpm = amount`, one per amount, in order; whether each was admitted.
/// Amounts are far above what refills while the script runs, so timing cannot flip them.
fn python_acquires(
    emulator: &Emulator,
    stack: &str,
    namespace: &str,
    entity: &str,
    resource: &str,
    amounts: &[i64],
) -> Value {
    python(
        emulator,
        stack,
        &format!(
            "repo = await Repository.connect({namespace:?}, stack=STACK)\nlimiter = RateLimiter(repository=repo)\n\
             admitted = []\n\
             for amount in {amounts:?}:\n    try:\
             \n        async with limiter.acquire({entity:?}, {resource:?}, consume={{\"rpm\": amount}}):\
             \n            admitted.append(True)\n    \
             except RateLimitExceeded:\n        admitted.append(False)\nreturn admitted"
        ),
    )
}

/// IAM's `StringLike`: `*` matches any run of characters, `?` one character.
fn string_like(pattern: &str, value: &str) -> bool {
    fn go(p: &[char], v: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('*', rest)) => (0..=v.len()).any(|i| go(rest, &v[i..])),
            Some(('?', rest)) => !v.is_empty() && go(rest, &v[1..]),
            Some((c, rest)) => v.first() == Some(c) && go(rest, &v[1..]),
        }
    }
    go(&pattern.chars().collect::<Vec<_>>(), &value.chars().collect::<Vec<_>>())
}

/// Whether the `NamespaceBucketWrites` statement of `document` lets a principal tagged
/// `tag` write the item with partition key `pk` (the condition's `${aws:PrincipalTag/…}`
/// variable substituted as IAM does).
fn bucket_write_allowed(document: &Value, tag: &str, pk: &str) -> bool {
    let statement = document["Statement"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["Sid"] == "NamespaceBucketWrites"))
        .expect("a NamespaceBucketWrites statement");
    let patterns = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        .as_array()
        .expect("LeadingKeys patterns");
    patterns.iter().filter_map(Value::as_str).any(|p| {
        let p = p.replace(&format!("${{aws:PrincipalTag/{TAG}}}"), tag);
        string_like(&p, pk)
    })
}

#[test]
fn string_like_matches_like_iam() {
    assert!(string_like("abc/BUCKET#*", "abc/BUCKET#k#gpt-4#0"));
    assert!(!string_like("abc/BUCKET#*", "xyz/BUCKET#k#gpt-4#0"));
    assert!(string_like("a?c*", "abc"));
    assert!(!string_like("a?c", "ac"));
}

#[test]
fn tenant_example_applies_converges_and_both_clients_enforce_its_limits() {
    let mirror = provider_mirror();
    let emulator = Emulator::start();
    let stack = unique_name("tenants");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");

    let mut workdir = WorkDir::with_emulator(&TerraformBinary::pinned(), &emulator);
    let cli = workdir.path().join("../cli-mirror.tfrc");
    std::fs::write(&cli, cli_config(&mirror)).expect("write the CLI config");
    workdir.set_env("TF_CLI_CONFIG_FILE", cli.into_os_string());
    workdir.set_var("endpoint_url", &emulator.endpoint());
    workdir.set_var("stack_name", &stack);
    copy_tf_files(&root.join("tenant"), &workdir.path());
    copy_tf_files(&root.join("modules/tenant"), &workdir.path().join("../modules/tenant"));

    let tf = workdir.terraform();
    tf.init().unwrap();
    tf.apply().unwrap();
    match tf.plan().unwrap() {
        Plan::NoChanges => {}
        Plan::Changes { text } => panic!("the second plan of the tenant example is not empty:\n{text}"),
    }

    let outputs = tf.output_json().unwrap();
    let ids = &outputs["namespace_ids"]["value"];
    let alpha = ids["alpha"].as_str().expect("alpha's namespace id").to_string();
    let beta = ids["beta"].as_str().expect("beta's namespace id").to_string();
    assert_ne!(alpha, beta);

    let rt = runtime();
    let sdk = rt.block_on(emulator.sdk_config());
    rt.block_on(async {
        // Each tenant's role carries its namespace id and the namespace-acquire policy,
        // which admits bucket writes under its own namespace only.
        let iam = aws_sdk_iam::Client::new(&sdk);
        let policy_arn = {
            let state = tf.show_json().unwrap();
            state
                .attr_str("zae_limiter_stack.main", "namespace_acquire_policy_arn")
                .unwrap()
                .to_string()
        };
        let policy = iam.get_policy().policy_arn(&policy_arn).send().await.unwrap();
        let version = policy
            .policy()
            .and_then(|p| p.default_version_id())
            .unwrap()
            .to_string();
        let document = iam
            .get_policy_version()
            .policy_arn(&policy_arn)
            .version_id(version)
            .send()
            .await
            .unwrap();
        let raw = document.policy_version().and_then(|v| v.document()).unwrap();
        let decoded = percent_encoding::percent_decode_str(raw).decode_utf8().unwrap();
        let document: Value = serde_json::from_str(&decoded).unwrap();
        for (tenant, id, other) in [("alpha", &alpha, &beta), ("beta", &beta, &alpha)] {
            let role = format!("{stack}-{tenant}-app");
            let tags = iam.list_role_tags().role_name(&role).send().await.unwrap();
            let tag = tags
                .tags()
                .iter()
                .find(|t| t.key() == TAG)
                .map(|t| t.value().to_string());
            assert_eq!(tag.as_deref(), Some(id.as_str()), "role {role} tag");
            let attached = iam.list_attached_role_policies().role_name(&role).send().await.unwrap();
            assert!(
                attached
                    .attached_policies()
                    .iter()
                    .any(|p| p.policy_arn() == Some(policy_arn.as_str())),
                "role {role} lacks the namespace-acquire policy"
            );
            let own = format!("{id}/BUCKET#api-key-123#gpt-4#0");
            let foreign = format!("{other}/BUCKET#api-key-123#gpt-4#0");
            assert!(
                bucket_write_allowed(&document, id, &own),
                "{role} cannot write its own bucket {own}"
            );
            assert!(
                !bucket_write_allowed(&document, id, &foreign),
                "{role} can write {foreign}"
            );
        }

        // Rust: api-key-123 on gpt-4 in tenant-alpha has rpm 100/min with a ceiling of 150.
        let repo = Repository::connect(&stack, "tenant-alpha", &sdk).await.unwrap();
        let limiter = RateLimiter::new(repo);
        let lease = limiter
            .acquire("api-key-123", "gpt-4")
            .consume([("rpm", 150)])
            .await
            .unwrap();
        lease.commit().await.unwrap();
        let err = limiter
            .acquire("api-key-123", "gpt-4")
            .consume([("rpm", 1)])
            .await
            .unwrap_err();
        let Error::RateLimited(limited) = err else {
            panic!("expected a rate limit, got {err}")
        };
        let status = &limited.statuses[0];
        assert_eq!(
            (status.capacity, status.refill_amount, status.refill_period_seconds),
            (150, 100, 60),
            "{limited}"
        );
    });

    // Python sees the same bucket: Rust emptied api-key-123's 150 (refill 100 per minute),
    // so 50 more are refused ...
    assert_eq!(
        python_acquires(&emulator, &stack, "tenant-alpha", "api-key-123", "gpt-4", &[50]),
        json!([false])
    );
    // ... while the same key in tenant-beta has its own full bucket of 150 ...
    assert_eq!(
        python_acquires(&emulator, &stack, "tenant-beta", "api-key-123", "gpt-4", &[150, 50]),
        json!([true, false])
    );
    // ... and the system default (20 per minute) holds on a resource without its own limits.
    assert_eq!(
        python_acquires(&emulator, &stack, "tenant-alpha", "someone-else", "claude", &[20, 15]),
        json!([true, false])
    );

    tf.destroy().unwrap();
    let left = tf.state_list().unwrap();
    assert!(left.is_empty(), "destroy left {left:?}");
}
