//! The namespace registry under forged items and interrupted changes: cross-checked
//! lookups, purge refusals, and delete/recover that are safe to retry and to finish.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::Env;
use zae_limiter::admin::Registration;
use zae_limiter::schema::attrs::Item;
use zae_limiter::schema::keys::{pk_table_system, sk_namespace, sk_nsid};
use zae_limiter::schema::namespace::{NamespaceRecord, NamespaceStatus};
use zae_limiter::{Error, Table};

/// Writes `item` directly, as anyone allowed to write `_/SYSTEM#` could.
async fn forge(table: &Table, item: Item) {
    table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(item))
        .send()
        .await
        .expect("forged put");
}

async fn remove(table: &Table, sk: String) {
    table
        .client()
        .delete_item()
        .table_name(table.name())
        .key("PK", zae_limiter::schema::attrs::s(pk_table_system()))
        .key("SK", zae_limiter::schema::attrs::s(sk))
        .send()
        .await
        .expect("delete");
}

fn assert_mismatch(err: Error, forward_sk: &str, reverse_sk: &str) {
    let text = err.to_string();
    assert!(matches!(err, Error::RegistryMismatch { .. }), "{text}");
    assert!(text.contains(forward_sk), "names the forward record: {text}");
    assert!(text.contains(reverse_sk), "names the reverse record: {text}");
}

#[tokio::test]
async fn a_forged_forward_record_is_caught_by_every_verified_lookup() {
    let env = Env::start("zl-forged-forward").await;
    let t = &env.table;
    let alpha = t.register_namespace("tenant-alpha").await.unwrap();
    let beta = t.register_namespace("tenant-beta").await.unwrap();
    assert_eq!(t.verified_namespace("tenant-beta").await.unwrap().unwrap().id, beta);
    assert_eq!(
        t.verified_namespace_id(&alpha).await.unwrap().unwrap().name,
        "tenant-alpha"
    );

    // A tenant admin of beta repoints beta's forward record at alpha's id.
    forge(
        t,
        NamespaceRecord::new_active(&alpha, "tenant-beta", "t0").forward_item(),
    )
    .await;
    assert_eq!(t.get_namespace("tenant-beta").await.unwrap().unwrap().id, alpha);
    assert_mismatch(
        t.verified_namespace("tenant-beta").await.unwrap_err(),
        "#NAMESPACE#tenant-beta",
        &format!("#NSID#{alpha}"),
    );
    // Alpha's own pair still agrees, but its id is now claimed by two names.
    assert!(t.verified_namespace("tenant-alpha").await.is_ok());
    assert_mismatch(
        t.verified_namespace_id(&alpha).await.unwrap_err(),
        "#NAMESPACE#tenant-beta",
        &format!("#NSID#{alpha}"),
    );
}

#[tokio::test]
async fn a_forged_deleted_reverse_record_cannot_recover_or_purge_an_active_namespace() {
    let env = Env::start("zl-forged-reverse").await;
    let t = &env.table;
    let alpha = t.register_namespace("tenant-alpha").await.unwrap();
    let ns = t.namespace(&alpha);
    ns.set_resource_limits(
        "gpt-4",
        &[zae_limiter::Limit::per_minute("rpm", 10, None).unwrap()],
        None,
    )
    .await
    .unwrap();

    // Alpha's reverse record rewritten to say "tenant-evil, deleted".
    let mut forged = NamespaceRecord::new_active(&alpha, "tenant-evil", "t0");
    forged.status = NamespaceStatus::Deleted;
    forged.deleted_at = Some("t1".into());
    forge(t, forged.reverse_item()).await;
    assert_eq!(t.find_deleted_namespaces("tenant-evil").await.unwrap().len(), 1);

    assert_mismatch(
        t.verified_namespace_id(&alpha).await.unwrap_err(),
        "#NAMESPACE#tenant-alpha",
        &format!("#NSID#{alpha}"),
    );
    assert_mismatch(
        t.recover_namespace(&alpha).await.unwrap_err(),
        "#NAMESPACE#tenant-alpha",
        &format!("#NSID#{alpha}"),
    );
    assert_mismatch(
        t.purge_namespace(&alpha).await.unwrap_err(),
        "#NAMESPACE#tenant-alpha",
        &format!("#NSID#{alpha}"),
    );
    assert!(
        t.get_namespace("tenant-evil").await.unwrap().is_none(),
        "nothing recovered"
    );
    assert!(
        ns.get_resource_limits("gpt-4").await.unwrap().is_some(),
        "alpha's data survives"
    );
}

#[tokio::test]
async fn purge_refuses_the_system_namespace_and_non_ids() {
    let env = Env::start("zl-purge-refusals").await;
    let t = &env.table;
    t.write_version_record(Some("0.17.0"), "cli:0.17.0").await.unwrap();
    let alpha = t.register_namespace("tenant-alpha").await.unwrap();
    // A forged reverse record for "_": purging it would delete the whole registry
    // (GSI4 lists every `_/SYSTEM#` item under "_").
    let mut system = NamespaceRecord::new_active("_", "x", "t0");
    system.status = NamespaceStatus::Deleted;
    forge(t, system.reverse_item()).await;
    for bad in ["_", "tenant-alpha", "", "../etc", "ZCtndc_pcZY/x"] {
        let err = t.purge_namespace(bad).await.unwrap_err();
        assert!(matches!(err, Error::Validation(_)), "{bad:?}: {err}");
    }
    assert!(matches!(
        t.recover_namespace("_").await.unwrap_err(),
        Error::Validation(_)
    ));
    assert_eq!(t.verified_namespace("tenant-alpha").await.unwrap().unwrap().id, alpha);
    assert!(
        t.get_version_record(true).await.unwrap().is_some(),
        "version record kept"
    );
}

#[tokio::test]
async fn an_interrupted_delete_is_finished_and_an_interrupted_recover_completes() {
    let env = Env::start("zl-interrupted").await;
    let t = &env.table;
    let alpha = t.register_namespace("tenant-alpha").await.unwrap();

    // zae-limiter deletes the forward record, then updates the reverse one: stopped in
    // between, the namespace resolves by no name and is not listed as an orphan.
    remove(t, sk_namespace("tenant-alpha")).await;
    assert!(t.list_orphan_namespaces().await.unwrap().is_empty());
    assert_mismatch(
        t.verified_namespace_id(&alpha).await.unwrap_err(),
        "#NAMESPACE#tenant-alpha",
        &format!("#NSID#{alpha}"),
    );
    t.delete_namespace_with_id("tenant-alpha", &alpha).await.unwrap();
    let orphans = t.list_orphan_namespaces().await.unwrap();
    assert_eq!(orphans.len(), 1);
    assert_eq!(orphans[0].id, alpha);
    assert!(orphans[0].deleted_at.is_some());

    // zae-limiter's recover puts the forward record back, then updates the reverse one:
    // stopped in between, a second recover finishes instead of reporting the name taken.
    forge(
        t,
        NamespaceRecord::new_active(&alpha, "tenant-alpha", "t0").forward_item(),
    )
    .await;
    assert_eq!(t.recover_namespace(&alpha).await.unwrap(), "tenant-alpha");
    let reverse = t.get_namespace_by_id(&alpha).await.unwrap().unwrap();
    assert_eq!(reverse.status, NamespaceStatus::Active);
    assert_eq!(reverse.deleted_at, None);
    assert_eq!(t.verified_namespace("tenant-alpha").await.unwrap().unwrap().id, alpha);

    // Deleting twice is a no-op the second time; the records stay consistent.
    t.delete_namespace_with_id("tenant-alpha", &alpha).await.unwrap();
    t.delete_namespace_with_id("tenant-alpha", &alpha).await.unwrap();
    t.delete_namespace("tenant-alpha").await.unwrap();
    assert!(t.get_namespace("tenant-alpha").await.unwrap().is_none());
    assert_eq!(
        t.verified_namespace_id(&alpha).await.unwrap().unwrap().status,
        NamespaceStatus::Deleted
    );
}

#[tokio::test]
async fn a_delete_with_a_missing_reverse_record_changes_nothing() {
    let env = Env::start("zl-missing-reverse").await;
    let t = &env.table;
    let alpha = t.register_namespace("tenant-alpha").await.unwrap();
    remove(t, sk_nsid(&alpha)).await;
    assert_mismatch(
        t.delete_namespace("tenant-alpha").await.unwrap_err(),
        "#NAMESPACE#tenant-alpha",
        &format!("#NSID#{alpha}"),
    );
    assert!(t.get_namespace("tenant-alpha").await.unwrap().is_some(), "forward kept");
    assert!(
        t.get_namespace_by_id(&alpha).await.unwrap().is_none(),
        "no partial reverse record is created"
    );
}

#[tokio::test]
async fn registering_again_with_the_same_id_is_our_own_registration() {
    let env = Env::start("zl-register-retry").await;
    let t = &env.table;
    let id = zae_limiter::clock::new_namespace_id();
    let first = t.register_namespace_with_id("tenant-alpha", &id).await.unwrap();
    assert!(matches!(first, Registration::Registered(_)));
    // What a retry after a lost response sees: the same registration already there.
    match t.register_namespace_with_id("tenant-alpha", &id).await.unwrap() {
        Registration::Registered(record) => assert_eq!(record.id, id),
        other => panic!("a retry of our own registration is not a name clash: {other:?}"),
    }
    let other_id = zae_limiter::clock::new_namespace_id();
    assert!(matches!(
        t.register_namespace_with_id("tenant-alpha", &other_id).await.unwrap(),
        Registration::NameTaken(existing) if existing.id == id
    ));
}

#[tokio::test]
async fn creating_an_identical_limit_again_finishes_the_first_create() {
    use zae_limiter::admin::LimitWrite;
    use zae_limiter::schema::config::ConfigLevel;
    let env = Env::start("zl-create-retry").await;
    let t = &env.table;
    let id = t.register_namespace("tenant-alpha").await.unwrap();
    let admin = t.namespace(&id);
    let level = ConfigLevel::Resource("gpt-4".into());
    let rpm = zae_limiter::Limit::per_minute("rpm", 10, None).unwrap();
    assert_eq!(
        admin.create_limit(&level, &rpm, None).await.unwrap(),
        LimitWrite::Written
    );
    // What a lost response leaves: the limit stored, the registry entry not yet added.
    t.client()
        .update_item()
        .table_name(t.name())
        .set_key(Some(zae_limiter::schema::registry::resource_registry_key(&id)))
        .update_expression("DELETE #r :v")
        .expression_attribute_names("#r", "resources")
        .expression_attribute_values(":v", AttributeValue::Ss(vec!["gpt-4".into()]))
        .send()
        .await
        .expect("registry entry removed");
    assert!(admin.list_resources_with_limits().await.unwrap().is_empty());
    // The retry with the same parameters completes the create...
    assert_eq!(
        admin.create_limit(&level, &rpm, None).await.unwrap(),
        LimitWrite::Written
    );
    assert_eq!(
        admin.list_resources_with_limits().await.unwrap(),
        vec!["gpt-4".to_string()]
    );
    // ...while other parameters under the same name still find the limit taken.
    let other = zae_limiter::Limit::per_minute("rpm", 99, None).unwrap();
    assert_eq!(
        admin.create_limit(&level, &other, None).await.unwrap(),
        LimitWrite::AlreadyExists(Some(rpm))
    );
}
