//! Integration tests of the AWS access layer (`terraform_provider_zae::aws`) against the
//! AWS emulator. Each test starts its own emulator, so tests are independent and can run in
//! parallel.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use terraform_provider_zae::aws::error::AwsError;
use terraform_provider_zae::aws::iam_policy::{self, MAX_POLICY_VERSIONS};
use terraform_provider_zae::aws::iam_principal::{self, Principal};
use terraform_provider_zae::aws::policy_document::{PolicyKind, decode_document, documents_equivalent};
use terraform_provider_zae::aws::sts;
use terraform_provider_zae::aws::table::{self, TableSettings};
use testkit::Emulator;

const WAIT: Duration = Duration::from_secs(60);

struct Env {
    ddb: aws_sdk_dynamodb::Client,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    // Dropped last: stops the emulator.
    _emulator: Emulator,
}

async fn env() -> Env {
    let emulator = Emulator::start();
    let config = emulator.sdk_config().await;
    Env {
        ddb: aws_sdk_dynamodb::Client::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
        sts: aws_sdk_sts::Client::new(&config),
        _emulator: emulator,
    }
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A role anyone in the account may assume.
async fn create_role(env: &Env, name: &str) {
    let trust = concat!(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","#,
        r#""Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#,
    );
    env.iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
}

async fn create_active(env: &Env, settings: &TableSettings) -> table::TableInfo {
    table::create_table(&env.ddb, settings).await.expect("create table");
    table::wait_table_active(&env.ddb, &settings.name, WAIT)
        .await
        .expect("table active")
}

#[tokio::test]
async fn creates_the_zae_limiter_table() {
    let env = env().await;
    let mut settings = TableSettings::new("zae-test");
    settings.tags = tags(&[("team", "a"), ("Application", "mine")]);
    let created = table::create_table(&env.ddb, &settings).await.unwrap();
    assert_eq!(created.name, "zae-test");
    let info = table::wait_table_active(&env.ddb, "zae-test", WAIT).await.unwrap();

    assert!(info.matches_zae_definition(), "{:?}", info.definition_problems());
    assert_eq!(info.status, "ACTIVE");
    assert_eq!(info.arn, "arn:aws:dynamodb:us-east-1:123456789012:table/zae-test");
    assert_eq!(info.billing_mode.as_deref(), Some("PAY_PER_REQUEST"));
    assert_eq!(info.stream_view_type.as_deref(), Some("NEW_AND_OLD_IMAGES"));
    assert!(
        info.stream_arn
            .as_deref()
            .is_some_and(|a| a.starts_with(&format!("{}/stream/", info.arn)))
    );
    assert!(!info.deletion_protection);
    assert_eq!(info.sse, None, "default encryption: no SSE description");
    let gsis: Vec<_> = info
        .global_indexes
        .iter()
        .map(|g| (g.name.as_str(), g.projection.as_deref()))
        .collect();
    assert_eq!(
        gsis,
        [
            ("GSI1", Some("ALL")),
            ("GSI2", Some("ALL")),
            ("GSI3", Some("KEYS_ONLY")),
            ("GSI4", Some("KEYS_ONLY"))
        ]
    );
    let lsis: Vec<_> = info
        .local_indexes
        .iter()
        .map(|l| (l.name.as_str(), l.range_key.as_deref()))
        .collect();
    assert_eq!(
        lsis,
        [
            ("LSI1", Some("LSI1SK")),
            ("LSI2", Some("LSI2SK")),
            ("LSI3", Some("LSI3SK")),
            ("LSI4", Some("LSI4SK")),
            ("LSI5", Some("LSI5SK"))
        ]
    );
    assert_eq!(info.attribute_definitions.len(), 15);

    // The Application tag wins over the user's value.
    let actual = table::list_tags(&env.ddb, &info.arn).await.unwrap();
    assert_eq!(actual, tags(&[("Application", "zae-limiter"), ("team", "a")]));

    // A second create fails clearly.
    let err = table::create_table(&env.ddb, &settings).await.unwrap_err();
    assert_eq!(err.code(), Some("ResourceInUseException"), "{err}");
    assert!(
        err.to_string().contains("CreateTable on DynamoDB table \"zae-test\""),
        "{err}"
    );
}

#[tokio::test]
async fn enables_ttl_idempotently() {
    let env = env().await;
    create_active(&env, &TableSettings::new("zae-ttl")).await;
    let before = table::describe_ttl(&env.ddb, "zae-ttl").await.unwrap();
    assert!(!before.is_on(), "{before:?}");

    table::enable_ttl(&env.ddb, "zae-ttl").await.unwrap();
    let after = table::describe_ttl(&env.ddb, "zae-ttl").await.unwrap();
    assert!(after.is_zae_ttl(), "{after:?}");
    assert_eq!(after.attribute_name.as_deref(), Some("ttl"));

    table::enable_ttl(&env.ddb, "zae-ttl")
        .await
        .expect("enabling TTL twice succeeds");
    assert!(table::describe_ttl(&env.ddb, "zae-ttl").await.unwrap().is_zae_ttl());
}

#[tokio::test]
async fn refuses_to_move_ttl_from_another_attribute() {
    let env = env().await;
    create_active(&env, &TableSettings::new("zae-ttl2")).await;
    let other = aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name("expires")
        .build()
        .unwrap();
    env.ddb
        .update_time_to_live()
        .table_name("zae-ttl2")
        .time_to_live_specification(other)
        .send()
        .await
        .unwrap();
    let err = table::enable_ttl(&env.ddb, "zae-ttl2").await.unwrap_err();
    assert!(matches!(err, AwsError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("\"expires\""), "{err}");
}

#[tokio::test]
async fn sets_point_in_time_recovery() {
    let env = env().await;
    create_active(&env, &TableSettings::new("zae-pitr")).await;
    assert_eq!(
        table::describe_pitr(&env.ddb, "zae-pitr")
            .await
            .unwrap()
            .effective_days(),
        0
    );

    table::set_pitr(&env.ddb, "zae-pitr", 7).await.unwrap();
    let pitr = table::describe_pitr(&env.ddb, "zae-pitr").await.unwrap();
    assert!(pitr.is_enabled());
    assert_eq!(
        pitr.recovery_period_days,
        Some(7),
        "the emulator stores RecoveryPeriodInDays"
    );
    assert_eq!(pitr.effective_days(), 7);

    table::set_pitr(&env.ddb, "zae-pitr", 35).await.unwrap();
    assert_eq!(
        table::describe_pitr(&env.ddb, "zae-pitr")
            .await
            .unwrap()
            .effective_days(),
        35
    );

    table::set_pitr(&env.ddb, "zae-pitr", 0).await.unwrap();
    let pitr = table::describe_pitr(&env.ddb, "zae-pitr").await.unwrap();
    assert!(!pitr.is_enabled());
    assert_eq!(pitr.effective_days(), 0);

    let err = table::set_pitr(&env.ddb, "zae-pitr", 36).await.unwrap_err();
    assert!(matches!(err, AwsError::InvalidInput { .. }), "{err:?}");
    assert_eq!(
        table::describe_pitr(&env.ddb, "zae-pitr")
            .await
            .unwrap()
            .effective_days(),
        0
    );
}

#[tokio::test]
async fn deletion_protection_blocks_delete_until_turned_off() {
    let env = env().await;
    let mut settings = TableSettings::new("zae-protected");
    settings.deletion_protection = true;
    let info = create_active(&env, &settings).await;
    assert!(info.deletion_protection);

    let err = table::delete_table(&env.ddb, "zae-protected").await.unwrap_err();
    assert!(table::is_deletion_protected_error(&err), "{err}");
    assert!(table::find_table(&env.ddb, "zae-protected").await.unwrap().is_some());

    table::set_deletion_protection(&env.ddb, "zae-protected", false)
        .await
        .unwrap();
    let info = table::find_table(&env.ddb, "zae-protected").await.unwrap().unwrap();
    assert!(!info.deletion_protection);

    assert!(table::delete_table(&env.ddb, "zae-protected").await.unwrap());
    table::wait_table_deleted(&env.ddb, "zae-protected", WAIT)
        .await
        .unwrap();
    assert_eq!(table::find_table(&env.ddb, "zae-protected").await.unwrap(), None);
    assert!(
        !table::delete_table(&env.ddb, "zae-protected").await.unwrap(),
        "second delete reports absence"
    );
}

#[tokio::test]
async fn syncs_table_tags_without_touching_aws_tags() {
    let env = env().await;
    let mut settings = TableSettings::new("zae-tags");
    settings.tags = tags(&[("keep", "1"), ("change", "old"), ("drop", "x")]);
    let info = create_active(&env, &settings).await;
    // Stands in for a tag AWS itself set (real DynamoDB refuses aws: keys from users).
    let aws_tag = aws_sdk_dynamodb::types::Tag::builder()
        .key("aws:cloudformation:stack-name")
        .value("s")
        .build()
        .unwrap();
    env.ddb
        .tag_resource()
        .resource_arn(&info.arn)
        .tags(aws_tag)
        .send()
        .await
        .unwrap();

    let desired = table::effective_tags(&tags(&[("keep", "1"), ("change", "new"), ("add", "y")]));
    let diff = table::sync_tags(&env.ddb, &info.arn, &desired).await.unwrap();
    assert_eq!(diff.set, tags(&[("add", "y"), ("change", "new")]));
    assert_eq!(diff.remove, ["drop"]);
    assert_eq!(table::list_tags(&env.ddb, &info.arn).await.unwrap(), desired);

    let raw = env
        .ddb
        .list_tags_of_resource()
        .resource_arn(&info.arn)
        .send()
        .await
        .unwrap();
    assert!(
        raw.tags().iter().any(|t| t.key() == "aws:cloudformation:stack-name"),
        "aws: tag kept"
    );

    let again = table::sync_tags(&env.ddb, &info.arn, &desired).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test]
async fn finders_return_none_for_missing_things() {
    let env = env().await;
    assert_eq!(table::find_table(&env.ddb, "absent").await.unwrap(), None);
    assert!(!table::delete_table(&env.ddb, "absent").await.unwrap());
    table::wait_table_deleted(&env.ddb, "absent", WAIT).await.unwrap();
    let err = table::describe_ttl(&env.ddb, "absent").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = table::describe_pitr(&env.ddb, "absent").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = table::wait_table_active(&env.ddb, "absent", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        err.is_not_found() || matches!(err, AwsError::WaitTimeout { .. }),
        "{err}"
    );

    let arn = iam_policy::policy_arn("123456789012", "aws", None, "absent");
    assert_eq!(iam_policy::find_policy(&env.iam, &arn).await.unwrap(), None);
    assert!(!iam_policy::delete_policy(&env.iam, &arn).await.unwrap());
}

#[tokio::test]
async fn reports_the_caller() {
    let env = env().await;
    let me = sts::caller_identity(&env.sts).await.unwrap();
    assert_eq!(me.account_id, testkit::ACCOUNT_ID);
    assert_eq!(me.partition, "aws");
    assert!(me.arn.starts_with("arn:aws:"), "{}", me.arn);
}

const TABLE_ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/zae";

#[tokio::test]
async fn creates_the_six_managed_policies() {
    let env = env().await;
    let me = sts::caller_identity(&env.sts).await.unwrap();
    for kind in PolicyKind::ALL {
        let name = kind.policy_name("zae");
        let created = iam_policy::create_policy(
            &env.iam,
            &name,
            kind.description(),
            &kind.document_json(TABLE_ARN),
            &tags(&[("team", "a")]),
        )
        .await
        .unwrap();
        let expected_arn = iam_policy::policy_arn(&me.account_id, &me.partition, None, &name);
        assert_eq!(created.arn, expected_arn);

        let found = iam_policy::find_new_policy(&env.iam, &created.arn).await.unwrap();
        assert_eq!(found.name, name);
        assert_eq!(found.description.as_deref(), Some(kind.description()));
        assert_eq!(found.default_version_id, "v1");
        assert_eq!(found.tags, tags(&[("team", "a")]));
        assert!(
            documents_equivalent(&found.document, &kind.document(TABLE_ARN)),
            "{kind:?}: {}",
            found.document
        );
        for other in PolicyKind::ALL.into_iter().filter(|o| *o != kind) {
            assert!(
                !documents_equivalent(&found.document, &other.document(TABLE_ARN)),
                "{kind:?} ~ {other:?}"
            );
        }

        // What IAM stored, read raw: the policy variable arrived literally.
        let raw = env
            .iam
            .get_policy_version()
            .policy_arn(&created.arn)
            .version_id("v1")
            .send()
            .await
            .unwrap();
        let raw_doc = raw.policy_version().and_then(|v| v.document()).unwrap().to_owned();
        let decoded: Value = decode_document(&raw_doc).unwrap();
        let text = decoded.to_string();
        let namespaced = matches!(
            kind,
            PolicyKind::NamespaceAcquire | PolicyKind::NamespaceFullAccess | PolicyKind::NamespaceReadOnly
        );
        assert_eq!(
            text.contains("${aws:PrincipalTag/zael_namespace_id}"),
            namespaced,
            "{kind:?}: {text}"
        );
    }

    let err = iam_policy::create_policy(
        &env.iam,
        "zae-acq",
        PolicyKind::AcquireOnly.description(),
        &PolicyKind::AcquireOnly.document_json(TABLE_ARN),
        &BTreeMap::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some("EntityAlreadyExists"), "{err}");
}

#[tokio::test]
async fn updating_a_policy_prunes_old_versions() {
    let env = env().await;
    let kind = PolicyKind::NamespaceFullAccess;
    let policy = iam_policy::create_policy(
        &env.iam,
        "zae-ns-full",
        kind.description(),
        &kind.document_json(TABLE_ARN),
        &BTreeMap::new(),
    )
    .await
    .unwrap();

    for i in 1..=6 {
        let table_arn = format!("arn:aws:dynamodb:us-east-1:123456789012:table/zae-{i}");
        let version = iam_policy::update_policy_document(&env.iam, &policy.arn, &kind.document_json(&table_arn))
            .await
            .unwrap();
        assert_eq!(version, format!("v{}", i + 1));

        let versions = iam_policy::list_policy_versions(&env.iam, &policy.arn).await.unwrap();
        assert!(versions.len() <= MAX_POLICY_VERSIONS, "{versions:?}");
        assert_eq!(versions.len(), (i + 1).min(MAX_POLICY_VERSIONS));
        let defaults: Vec<_> = versions
            .iter()
            .filter(|v| v.is_default)
            .map(|v| v.version_id.as_str())
            .collect();
        assert_eq!(defaults, [version.as_str()]);

        let found = iam_policy::find_policy(&env.iam, &policy.arn).await.unwrap().unwrap();
        assert_eq!(found.default_version_id, version);
        assert!(documents_equivalent(&found.document, &kind.document(&table_arn)));
        assert!(!documents_equivalent(&found.document, &kind.document(TABLE_ARN)));
    }
    let mut ids: Vec<_> = iam_policy::list_policy_versions(&env.iam, &policy.arn)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version_id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["v3", "v4", "v5", "v6", "v7"], "the oldest versions were pruned");

    assert!(iam_policy::delete_policy(&env.iam, &policy.arn).await.unwrap());
    assert_eq!(iam_policy::find_policy(&env.iam, &policy.arn).await.unwrap(), None);
    assert!(!iam_policy::delete_policy(&env.iam, &policy.arn).await.unwrap());
}

#[tokio::test]
async fn an_attached_policy_is_not_deleted() {
    let env = env().await;
    let kind = PolicyKind::AcquireOnly;
    let policy = iam_policy::create_policy(
        &env.iam,
        "zae-acq",
        kind.description(),
        &kind.document_json(TABLE_ARN),
        &BTreeMap::new(),
    )
    .await
    .unwrap();
    create_role(&env, "zae-app").await;
    env.iam
        .attach_role_policy()
        .role_name("zae-app")
        .policy_arn(&policy.arn)
        .send()
        .await
        .unwrap();

    let attachments = iam_policy::list_policy_attachments(&env.iam, &policy.arn)
        .await
        .unwrap();
    assert_eq!(attachments.roles, ["zae-app"]);

    let err = iam_policy::delete_policy(&env.iam, &policy.arn).await.unwrap_err();
    assert!(matches!(err, AwsError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("still attached to role zae-app"), "{err}");
    assert!(
        iam_policy::find_policy(&env.iam, &policy.arn).await.unwrap().is_some(),
        "policy kept"
    );

    env.iam
        .detach_role_policy()
        .role_name("zae-app")
        .policy_arn(&policy.arn)
        .send()
        .await
        .unwrap();
    assert!(iam_policy::delete_policy(&env.iam, &policy.arn).await.unwrap());
    assert_eq!(iam_policy::find_policy(&env.iam, &policy.arn).await.unwrap(), None);
}

#[tokio::test]
async fn syncs_policy_tags() {
    let env = env().await;
    let kind = PolicyKind::ReadOnly;
    let policy = iam_policy::create_policy(
        &env.iam,
        "zae-read",
        kind.description(),
        &kind.document_json(TABLE_ARN),
        &tags(&[("keep", "1"), ("drop", "x")]),
    )
    .await
    .unwrap();
    let desired = tags(&[("keep", "1"), ("add", "y")]);
    let diff = iam_policy::sync_policy_tags(&env.iam, &policy.arn, &desired)
        .await
        .unwrap();
    assert_eq!(diff.set, tags(&[("add", "y")]));
    assert_eq!(diff.remove, ["drop"]);
    assert_eq!(
        iam_policy::list_policy_tags(&env.iam, &policy.arn).await.unwrap(),
        desired
    );
}

#[tokio::test]
async fn tags_roles_and_users_through_their_own_operations() {
    let env = env().await;
    // A role and a user of the same name: each call must reach the right one.
    create_role(&env, "zae-app").await;
    env.iam.create_user().user_name("zae-app").send().await.unwrap();
    let role = Principal::role("zae-app");
    let user = Principal::user("zae-app");

    for (principal, other) in [(&role, &user), (&user, &role)] {
        assert_eq!(
            iam_principal::principal_tags(&env.iam, principal).await.unwrap(),
            Some(tags(&[])),
            "{principal}"
        );
        iam_principal::tag_principal(&env.iam, principal, "zael_namespace_id", "ns-1")
            .await
            .unwrap();
        assert_eq!(
            iam_principal::principal_tag(&env.iam, principal, "zael_namespace_id")
                .await
                .unwrap(),
            Some(Some("ns-1".into())),
            "{principal}"
        );
        assert_eq!(
            iam_principal::principal_tags(&env.iam, other).await.unwrap(),
            Some(tags(&[])),
            "{other} untouched"
        );
        assert!(
            iam_principal::untag_principal(&env.iam, principal, "zael_namespace_id")
                .await
                .unwrap()
        );
        assert_eq!(
            iam_principal::principal_tag(&env.iam, principal, "zael_namespace_id")
                .await
                .unwrap(),
            Some(None),
            "{principal}"
        );
    }
}

#[tokio::test]
async fn missing_principals_are_reported_by_the_operation_for_their_kind() {
    let env = env().await;
    for principal in [Principal::role("zae-ghost"), Principal::user("zae-ghost")] {
        assert_eq!(
            iam_principal::principal_tags(&env.iam, &principal).await.unwrap(),
            None,
            "{principal}"
        );
        assert!(
            !iam_principal::untag_principal(&env.iam, &principal, "zael_namespace_id")
                .await
                .unwrap(),
            "{principal}"
        );
    }

    // Tagging retries a missing principal for NEW_PRINCIPAL_VISIBILITY, then names the
    // user operation, not the role one.
    let err = iam_principal::tag_principal(&env.iam, &Principal::user("zae-ghost"), "zael_namespace_id", "ns-1")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        err.innermost()
            .to_string()
            .starts_with("TagUser on IAM user zae-ghost failed: NoSuchEntity"),
        "{err}"
    );
}

/// CreateTable applied by DynamoDB but its response lost: the SDK's retry meets
/// `ResourceInUseException`, and `create_table` recognises the table as the one it just
/// asked for (absent before the call, same definition and tags) instead of failing with
/// an orphaned table.
#[tokio::test]
async fn create_table_recognises_its_own_table_after_a_lost_response() {
    use testkit::faults::{Fault, FaultPlan, FaultProxy, Rule};
    let emulator = tokio::task::spawn_blocking(Emulator::start).await.unwrap();
    let plan = FaultPlan::seeded(1).rule(
        Rule::new(Fault::ResetAfterForward)
            .service("dynamodb")
            .operation("CreateTable")
            .first(1),
    );
    let proxy = FaultProxy::start(emulator.addr(), plan);
    let ddb = aws_sdk_dynamodb::Client::new(&proxy.sdk_config().await);
    let mut settings = TableSettings::new("zae-lost");
    settings.tags = tags(&[("team", "a")]);

    let created = table::create_table(&ddb, &settings)
        .await
        .expect("own table recognised");
    assert_eq!(created.name, "zae-lost");
    let stats = proxy.stats();
    assert_eq!(
        stats.total_injected(),
        1,
        "the first CreateTable response was dropped: {stats:?}"
    );
    let info = table::wait_table_active(&ddb, "zae-lost", WAIT).await.unwrap();
    assert!(info.matches_zae_definition(), "{:?}", info.definition_problems());

    // A table that existed before the call is still somebody else's.
    let err = table::create_table(&ddb, &settings).await.unwrap_err();
    assert_eq!(err.code(), Some("ResourceInUseException"), "{err}");
}
