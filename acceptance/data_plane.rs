//! What the namespace, limit and example tests look at outside Terraform: the zae-limiter
//! table (through the client crate) and IAM principals' tags (through the SDK), plus the
//! configuration snippets they share.

use std::collections::HashMap;

use anyhow::{Context, ensure};
use aws_sdk_dynamodb::types::AttributeValue;
use testkit::Emulator;
use zae_limiter::admin::Table;
use zae_limiter::schema::namespace::NamespaceRecord;

use crate::harness::state::diff;
use crate::harness::steps::hcl_value;
use crate::harness::{Check, CheckContext, WorkDir, check, provider_config};

/// The principal tag the namespace resource manages.
pub const TAG: &str = "zael_namespace_id";

/// Provider blocks plus a `zae_limiter_stack.main` named `stack`.
pub fn stack_config(emulator: &Emulator, stack: &str) -> String {
    format!(
        "{}\nresource \"zae_limiter_stack\" \"main\" {{\n  name = \"{stack}\"\n  pitr_recovery_days = 0\n}}\n",
        provider_config(emulator)
    )
}

/// A one-off runtime for set-up code outside a check.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Creates IAM roles and users on the emulator.
pub fn create_principals(emulator: &Emulator, roles: &[&str], users: &[&str]) {
    runtime().block_on(async {
        let iam = aws_sdk_iam::Client::new(&emulator.sdk_config().await);
        for role in roles {
            create_role(&iam, role).await.expect("create role");
        }
        for user in users {
            iam.create_user().user_name(*user).send().await.expect("create user");
        }
    });
}

/// Creates one IAM role that EC2 may assume.
pub async fn create_role(iam: &aws_sdk_iam::Client, name: &str) -> anyhow::Result<()> {
    let trust = concat!(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","#,
        r#""Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    );
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .with_context(|| format!("CreateRole {name}"))?;
    Ok(())
}

/// The IAM client of a check.
pub fn iam(ctx: &CheckContext<'_>) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(ctx.sdk_config())
}

/// The zae-limiter table `stack` of a check.
pub fn table(ctx: &CheckContext<'_>, stack: &str) -> Table {
    Table::new(aws_sdk_dynamodb::Client::new(ctx.sdk_config()), stack)
}

/// The namespace tag of a role (`None` when untagged).
pub fn role_tag(ctx: &CheckContext<'_>, role: &str) -> anyhow::Result<Option<String>> {
    let out = ctx
        .block_on(iam(ctx).list_role_tags().role_name(role).send())
        .with_context(|| format!("ListRoleTags {role}"))?;
    Ok(out
        .tags()
        .iter()
        .find(|t| t.key() == TAG)
        .map(|t| t.value().to_string()))
}

/// The namespace tag of a user (`None` when untagged).
pub fn user_tag(ctx: &CheckContext<'_>, user: &str) -> anyhow::Result<Option<String>> {
    let out = ctx
        .block_on(iam(ctx).list_user_tags().user_name(user).send())
        .with_context(|| format!("ListUserTags {user}"))?;
    Ok(out
        .tags()
        .iter()
        .find(|t| t.key() == TAG)
        .map(|t| t.value().to_string()))
}

/// The forward record of namespace `name`.
pub fn namespace(ctx: &CheckContext<'_>, stack: &str, name: &str) -> anyhow::Result<Option<NamespaceRecord>> {
    Ok(ctx.block_on(table(ctx, stack).get_namespace(name))?)
}

/// The reverse record of namespace id `id`.
pub fn namespace_by_id(ctx: &CheckContext<'_>, stack: &str, id: &str) -> anyhow::Result<Option<NamespaceRecord>> {
    Ok(ctx.block_on(table(ctx, stack).get_namespace_by_id(id))?)
}

/// Every item of the table.
pub fn scan(ctx: &CheckContext<'_>, stack: &str) -> anyhow::Result<Vec<HashMap<String, AttributeValue>>> {
    let ddb = aws_sdk_dynamodb::Client::new(ctx.sdk_config());
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = ctx.block_on(
            ddb.scan()
                .table_name(stack)
                .set_exclusive_start_key(start.take())
                .send(),
        )?;
        items.extend(out.items().iter().cloned());
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(items),
        }
    }
}

/// The item with this key, if any.
pub fn item(
    ctx: &CheckContext<'_>,
    stack: &str,
    pk: &str,
    sk: &str,
) -> anyhow::Result<Option<HashMap<String, AttributeValue>>> {
    let ddb = aws_sdk_dynamodb::Client::new(ctx.sdk_config());
    let out = ctx.block_on(
        ddb.get_item()
            .table_name(stack)
            .key("PK", AttributeValue::S(pk.into()))
            .key("SK", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send(),
    )?;
    Ok(out.item)
}

/// A number attribute of an item.
pub fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// A string attribute of an item.
pub fn string<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s),
        _ => None,
    }
}

/// Imports `address` by the identity Terraform recorded for it, in a fresh working
/// directory whose configuration is `hcl` alone (the resource, with its stack and
/// namespace given by name, so nothing else is planned). The import plan must be a plain
/// import, and the imported attributes must equal the applied ones except `ignore`.
pub fn import_by_identity_alone(
    env: Vec<(&'static str, String)>,
    hcl: String,
    address: &str,
    ignore: &[&str],
) -> Check {
    let address = address.to_string();
    let ignore: Vec<String> = ignore.iter().map(|s| s.to_string()).collect();
    check(move |ctx| {
        let applied = ctx.state.resource(&address)?;
        let identity = &applied["identity"];
        ensure!(identity.is_object(), "no identity recorded for {address}: {identity}");
        let mut workdir = WorkDir::new(ctx.terraform);
        for (key, value) in &env {
            workdir.set_env(*key, value.clone());
        }
        workdir.write_config(&hcl);
        workdir.write_file(
            "import.tf",
            &format!(
                "import {{\n  to = {address}\n  identity = {}\n}}\n",
                hcl_value(identity)
            ),
        );
        let tf = workdir.terraform();
        tf.init()?;
        let (plan, plan_file) = tf.plan_json()?;
        let change = plan["resource_changes"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["address"] == address.as_str()))
            .with_context(|| format!("no change for {address} in {plan:#}"))?;
        ensure!(
            !change["change"]["importing"].is_null(),
            "not an import: {:#}",
            change["change"]
        );
        ensure!(
            change["change"]["actions"] == serde_json::json!(["no-op"]),
            "importing {address} plans {} (imported {:#}, configured {:#})",
            change["change"]["actions"],
            change["change"]["before"],
            change["change"]["after"]
        );
        tf.apply_plan(&plan_file)?;
        let imported = tf.show_json()?;
        let differences = diff(
            "applied",
            &ctx.state.flat_values(&address)?,
            "imported",
            &imported.flat_values(&address)?,
            &ignore,
        );
        ensure!(
            differences.is_empty(),
            "imported {address} differs:\n{}",
            differences.join("\n")
        );
        Ok(())
    })
}
