//! IAM roles for the stack's Lambda functions (`AggregatorRole`, spec §9.3/§9.4): create with
//! a trust policy for `lambda.amazonaws.com`, inline policies, managed policy attachments,
//! find, delete (managed policies detached and inline policies deleted first, as IAM
//! requires).
//!
//! Writes retry throttling, server errors and IAM propagation messages for the AWS
//! provider's two minutes ([`RetryPolicy::IAM_PROPAGATION`]). Policy documents come back
//! URL-encoded from real AWS and as plain JSON from the emulator; both are decoded.

use aws_sdk_iam::Client;
use aws_sdk_iam::types::Tag;
use serde_json::{Value, json};

use super::error::{AwsError, DeleteOutcome, Result, SdkResultExt};
use super::log_call;
use super::policy_document::{PolicyText, decode_document};
use super::retry::{RetryPolicy, send_with_retry};
use super::tags::{Tags, without_aws_managed};

/// Upper bound on pages of IAM list calls (100 items a page).
const MAX_PAGES: usize = 100;

/// The AWS-managed policy every Lambda role gets (CloudWatch Logs writes), in `partition`.
pub fn lambda_basic_execution_policy_arn(partition: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
}

/// The aggregator role's default name for a stack: `{stack}-aggr`.
pub fn aggregator_role_name(stack: &str) -> String {
    format!("{stack}-aggr")
}

/// The trust policy letting Lambda assume a role.
pub fn lambda_trust_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
}

/// What the stack decides about a role.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleSettings {
    /// Role name.
    pub name: String,
    /// The trust (assume-role) policy.
    pub trust_policy: Value,
    /// Permissions boundary policy ARN.
    pub permissions_boundary: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Tags,
    /// IAM path (`/` when `None`).
    pub path: Option<String>,
}

impl RoleSettings {
    /// A role Lambda may assume, without boundary, description or tags.
    pub fn for_lambda(name: impl Into<String>) -> Self {
        RoleSettings {
            name: name.into(),
            trust_policy: lambda_trust_policy(),
            permissions_boundary: None,
            description: None,
            tags: Tags::new(),
            path: None,
        }
    }
}

/// A role as IAM describes it, with its policies.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleInfo {
    /// Role name.
    pub name: String,
    /// Role ARN.
    pub arn: String,
    /// Stable unique id.
    pub role_id: String,
    /// The trust policy, decoded.
    pub trust_policy: Value,
    /// Permissions boundary policy ARN.
    pub permissions_boundary: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Names of the inline policies, sorted.
    pub inline_policies: Vec<String>,
    /// ARNs of the attached managed policies, sorted.
    pub managed_policies: Vec<String>,
    /// Tags, without `aws:` ones.
    pub tags: Tags,
    /// When IAM created it.
    pub created: Option<std::time::SystemTime>,
}

fn resource(name: &str) -> String {
    format!("IAM role \"{name}\"")
}

/// Retried for IAM writes: throttling, server errors, concurrent modification and IAM
/// propagation.
fn iam_retryable(err: &AwsError) -> bool {
    err.is_retryable() || err.is_iam_propagation()
}

fn invalid_document(what: String, err: impl std::fmt::Display) -> AwsError {
    AwsError::InvalidInput {
        what,
        detail: err.to_string(),
    }
}

/// Creates the role. An existing role of that name fails with `EntityAlreadyExists`.
pub async fn create_role(client: &Client, settings: &RoleSettings) -> Result<RoleInfo> {
    let name = settings.name.as_str();
    let trust = settings.trust_policy.policy_text().into_owned();
    let tags = super::tags::sdk_tags(&settings.tags, "CreateRole", |k, v| {
        Tag::builder().key(k).value(v).build()
    })?;
    let request = client
        .create_role()
        .role_name(name)
        .set_path(settings.path.clone())
        .assume_role_policy_document(trust)
        .set_permissions_boundary(settings.permissions_boundary.clone())
        .set_description(settings.description.clone())
        .set_tags((!tags.is_empty()).then_some(tags));
    let started = std::time::SystemTime::now();
    let created = send_with_retry(
        &RetryPolicy::IAM_PROPAGATION,
        "CreateRole",
        &resource(name),
        iam_retryable,
        &request,
        |r| r.send(),
    )
    .await;
    let output = match created {
        Ok(output) => output,
        Err(err) if err.has_code(super::iam_policy::ENTITY_ALREADY_EXISTS) => {
            return match recognise_own_role(client, settings, started).await? {
                Some(role) => Ok(role),
                None => Err(err),
            };
        }
        Err(err) => return Err(err),
    };
    let role = output.role.ok_or_else(|| AwsError::InvalidResponse {
        operation: "CreateRole",
        resource: resource(name),
        detail: "no Role in the response".into(),
    })?;
    Ok(RoleInfo {
        name: role.role_name().to_owned(),
        arn: role.arn().to_owned(),
        role_id: role.role_id().to_owned(),
        trust_policy: settings.trust_policy.clone(),
        permissions_boundary: settings.permissions_boundary.clone(),
        description: settings.description.clone(),
        inline_policies: Vec::new(),
        managed_policies: Vec::new(),
        tags: settings.tags.clone(),
        created: std::time::SystemTime::try_from(*role.create_date()).ok(),
    })
}

/// Creates the role, or adopts the role of that name when it is one this provider made for
/// the same purpose: same description (which names the stack), trust policy and
/// boundary, and carrying every tag asked for. That is what an import cannot record (a
/// role under a custom name format) or a create that failed after the role was made.
/// Another role of that name fails with `EntityAlreadyExists`.
pub async fn create_or_adopt_role(client: &Client, settings: &RoleSettings) -> Result<RoleInfo> {
    match create_role(client, settings).await {
        Err(err) if err.has_code(super::iam_policy::ENTITY_ALREADY_EXISTS) => {
            let Some(role) = find_role(client, &settings.name).await? else {
                return Err(err);
            };
            let same = role.description == settings.description
                && super::policy_document::documents_equivalent(&role.trust_policy, &settings.trust_policy)
                && role.permissions_boundary == settings.permissions_boundary
                && settings.tags.iter().all(|(k, v)| role.tags.get(k) == Some(v));
            if same {
                tracing::info!(target: super::LOG_TARGET, role = %settings.name, "adopted the existing role");
                Ok(role)
            } else {
                Err(err)
            }
        }
        other => other,
    }
}

/// A `CreateRole` whose response was lost is retried (by the SDK) and then fails with
/// `EntityAlreadyExists`: the role of that name is this call's own when IAM created it
/// after the call started (give or take the clock skew) with exactly the trust policy,
/// boundary, description and tags asked for, and nothing attached yet. Otherwise `None`
/// lets the error stand.
async fn recognise_own_role(
    client: &Client,
    wanted: &RoleSettings,
    started: std::time::SystemTime,
) -> Result<Option<RoleInfo>> {
    let Some(role) = find_role(client, &wanted.name).await? else {
        return Ok(None);
    };
    let not_before = started
        .checked_sub(super::iam_policy::CLOCK_SKEW)
        .unwrap_or(std::time::UNIX_EPOCH);
    let same = role.created.is_some_and(|c| c >= not_before)
        && super::policy_document::documents_equivalent(&role.trust_policy, &wanted.trust_policy)
        && role.permissions_boundary == wanted.permissions_boundary
        && role.description == wanted.description
        && role.tags == wanted.tags
        && role.inline_policies.is_empty()
        && role.managed_policies.is_empty();
    if !same {
        return Ok(None);
    }
    tracing::info!(target: super::LOG_TARGET, role = %wanted.name, "CreateRole was retried after its role was created");
    Ok(Some(role))
}

/// Reads the role with its inline policy names and attached managed policies; `None` when it
/// does not exist.
pub async fn find_role(client: &Client, name: &str) -> Result<Option<RoleInfo>> {
    log_call("GetRole", &resource(name));
    let role = match client
        .get_role()
        .role_name(name)
        .send()
        .await
        .context("GetRole", resource(name))
    {
        Ok(output) => match output.role {
            Some(role) => role,
            None => return Ok(None),
        },
        Err(err) if err.is_not_found() => return Ok(None),
        Err(err) => return Err(err),
    };
    let trust_policy = match role.assume_role_policy_document() {
        Some(raw) => decode_document(raw).map_err(|e| AwsError::InvalidResponse {
            operation: "GetRole",
            resource: resource(name),
            detail: format!("unreadable trust policy: {e}"),
        })?,
        None => Value::Null,
    };
    let inline_policies = match list_inline_policies(client, name).await {
        Ok(names) => names,
        Err(err) if err.is_not_found() => return Ok(None),
        Err(err) => return Err(err),
    };
    let managed_policies = match list_attached_policies(client, name).await {
        Ok(arns) => arns,
        Err(err) if err.is_not_found() => return Ok(None),
        Err(err) => return Err(err),
    };
    Ok(Some(RoleInfo {
        name: role.role_name().to_owned(),
        arn: role.arn().to_owned(),
        role_id: role.role_id().to_owned(),
        trust_policy,
        permissions_boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_owned),
        description: role.description().map(str::to_owned),
        inline_policies,
        managed_policies,
        tags: without_aws_managed(
            role.tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
        ),
        created: std::time::SystemTime::try_from(*role.create_date()).ok(),
    }))
}

/// Replaces the role's trust policy.
pub async fn update_trust_policy(client: &Client, name: &str, trust_policy: &Value) -> Result<()> {
    let document = trust_policy.policy_text().into_owned();
    let request = client
        .update_assume_role_policy()
        .role_name(name)
        .policy_document(document);
    send_with_retry(
        &RetryPolicy::IAM_PROPAGATION,
        "UpdateAssumeRolePolicy",
        &resource(name),
        iam_retryable,
        &request,
        |r| r.send(),
    )
    .await?;
    Ok(())
}

/// The names of the role's inline policies, sorted.
pub async fn list_inline_policies(client: &Client, role: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        log_call("ListRolePolicies", &resource(role));
        let page = client
            .list_role_policies()
            .role_name(role)
            .set_marker(marker.take())
            .send()
            .await
            .context("ListRolePolicies", resource(role))?;
        names.extend(page.policy_names().iter().cloned());
        match (page.is_truncated(), page.marker()) {
            (true, Some(next)) => marker = Some(next.to_owned()),
            _ => {
                names.sort();
                return Ok(names);
            }
        }
    }
    Err(too_many_pages("ListRolePolicies", role))
}

/// The ARNs of the managed policies attached to the role, sorted.
pub async fn list_attached_policies(client: &Client, role: &str) -> Result<Vec<String>> {
    let mut arns = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        log_call("ListAttachedRolePolicies", &resource(role));
        let page = client
            .list_attached_role_policies()
            .role_name(role)
            .set_marker(marker.take())
            .send()
            .await
            .context("ListAttachedRolePolicies", resource(role))?;
        arns.extend(
            page.attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned)),
        );
        match (page.is_truncated(), page.marker()) {
            (true, Some(next)) => marker = Some(next.to_owned()),
            _ => {
                arns.sort();
                return Ok(arns);
            }
        }
    }
    Err(too_many_pages("ListAttachedRolePolicies", role))
}

fn too_many_pages(operation: &'static str, role: &str) -> AwsError {
    AwsError::InvalidResponse {
        operation,
        resource: resource(role),
        detail: format!("more than {MAX_PAGES} pages"),
    }
}

/// Creates or replaces the inline policy `policy_name` of the role.
pub async fn put_inline_policy(
    client: &Client,
    role: &str,
    policy_name: &str,
    document: &(impl PolicyText + ?Sized),
) -> Result<()> {
    let document = document.policy_text().into_owned();
    decode_document(&document).map_err(|e| invalid_document(format!("inline policy {policy_name}"), e))?;
    let request = client
        .put_role_policy()
        .role_name(role)
        .policy_name(policy_name)
        .policy_document(document);
    send_with_retry(
        &RetryPolicy::IAM_PROPAGATION,
        "PutRolePolicy",
        &resource(role),
        iam_retryable,
        &request,
        |r| r.send(),
    )
    .await?;
    Ok(())
}

/// The document of the role's inline policy `policy_name`; `None` when the role or the
/// policy does not exist.
pub async fn find_inline_policy(client: &Client, role: &str, policy_name: &str) -> Result<Option<Value>> {
    log_call("GetRolePolicy", &resource(role));
    let output = match client
        .get_role_policy()
        .role_name(role)
        .policy_name(policy_name)
        .send()
        .await
        .context("GetRolePolicy", resource(role))
    {
        Ok(output) => output,
        Err(err) if err.is_not_found() => return Ok(None),
        Err(err) => return Err(err),
    };
    decode_document(output.policy_document())
        .map(Some)
        .map_err(|e| AwsError::InvalidResponse {
            operation: "GetRolePolicy",
            resource: resource(role),
            detail: format!("unreadable document of {policy_name}: {e}"),
        })
}

/// Deletes the inline policy; `Ok(false)` when it (or the role) did not exist.
pub async fn delete_inline_policy(client: &Client, role: &str, policy_name: &str) -> Result<bool> {
    log_call("DeleteRolePolicy", &resource(role));
    client
        .delete_role_policy()
        .role_name(role)
        .policy_name(policy_name)
        .send()
        .await
        .context("DeleteRolePolicy", resource(role))
        .deleted()
}

/// Attaches a managed policy (idempotent in IAM), retrying throttling and IAM propagation
/// messages. A policy that does not exist fails at once with `NoSuchEntity`.
pub async fn attach_managed_policy(client: &Client, role: &str, policy_arn: &str) -> Result<()> {
    let request = client.attach_role_policy().role_name(role).policy_arn(policy_arn);
    send_with_retry(
        &RetryPolicy::IAM_PROPAGATION,
        "AttachRolePolicy",
        &resource(role),
        iam_retryable,
        &request,
        |r| r.send(),
    )
    .await?;
    Ok(())
}

/// Detaches a managed policy; `Ok(false)` when it was not attached (or the role is gone).
pub async fn detach_managed_policy(client: &Client, role: &str, policy_arn: &str) -> Result<bool> {
    log_call("DetachRolePolicy", &resource(role));
    client
        .detach_role_policy()
        .role_name(role)
        .policy_arn(policy_arn)
        .send()
        .await
        .context("DetachRolePolicy", resource(role))
        .deleted()
}

/// Sets (`Some`) or removes (`None`) the role's permissions boundary.
pub async fn set_permissions_boundary(client: &Client, name: &str, boundary: Option<&str>) -> Result<()> {
    match boundary {
        Some(arn) => {
            let request = client
                .put_role_permissions_boundary()
                .role_name(name)
                .permissions_boundary(arn);
            send_with_retry(
                &RetryPolicy::IAM_PROPAGATION,
                "PutRolePermissionsBoundary",
                &resource(name),
                iam_retryable,
                &request,
                |r| r.send(),
            )
            .await?;
        }
        None => {
            let request = client.delete_role_permissions_boundary().role_name(name);
            send_with_retry(
                &RetryPolicy::IAM_PROPAGATION,
                "DeleteRolePermissionsBoundary",
                &resource(name),
                iam_retryable,
                &request,
                |r| r.send(),
            )
            .await?;
        }
    }
    Ok(())
}

/// A trust policy letting principals of `account` assume the role (with their own IAM
/// permission to do so), as zae-limiter's app/admin/read-only roles have.
pub fn account_trust_policy(partition: &str, account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
            "Action": "sts:AssumeRole"
        }]
    })
}

/// Brings the role's tags from `current` (as [`find_role`] read them) to `desired`.
pub async fn sync_role_tags(
    client: &Client,
    name: &str,
    current: &Tags,
    desired: &Tags,
) -> Result<super::tags::TagDiff> {
    super::tags::sync(
        current,
        desired,
        |keys| async move {
            let request = client.untag_role().role_name(name).set_tag_keys(Some(keys));
            send_with_retry(
                &RetryPolicy::IAM_PROPAGATION,
                "UntagRole",
                &resource(name),
                iam_retryable,
                &request,
                |r| r.send(),
            )
            .await?;
            Ok(())
        },
        |set| async move {
            let tags = super::tags::sdk_tags(&set, "TagRole", |k, v| Tag::builder().key(k).value(v).build())?;
            let request = client.tag_role().role_name(name).set_tags(Some(tags));
            send_with_retry(
                &RetryPolicy::IAM_PROPAGATION,
                "TagRole",
                &resource(name),
                iam_retryable,
                &request,
                |r| r.send(),
            )
            .await?;
            Ok(())
        },
    )
    .await
}

/// Deletes the role after detaching its managed policies and deleting its inline policies;
/// `Ok(false)` when it did not exist.
pub async fn delete_role(client: &Client, name: &str) -> Result<bool> {
    let attached = match list_attached_policies(client, name).await {
        Ok(arns) => arns,
        Err(err) if err.is_not_found() => return Ok(false),
        Err(err) => return Err(err),
    };
    for arn in &attached {
        detach_managed_policy(client, name, arn).await?;
    }
    let inline = match list_inline_policies(client, name).await {
        Ok(names) => names,
        Err(err) if err.is_not_found() => return Ok(false),
        Err(err) => return Err(err),
    };
    for policy in &inline {
        delete_inline_policy(client, name, policy).await?;
    }
    let request = client.delete_role().role_name(name);
    // DeleteConflict right after a detach is IAM catching up; retried like propagation.
    let retryable = |err: &AwsError| iam_retryable(err) || err.has_code("DeleteConflict");
    let deleted = send_with_retry(
        &RetryPolicy::IAM_PROPAGATION,
        "DeleteRole",
        &resource(name),
        retryable,
        &request,
        |r| r.send(),
    )
    .await;
    deleted.deleted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trust_policy_lets_lambda_assume_the_role() {
        let trust = lambda_trust_policy();
        assert_eq!(trust["Statement"][0]["Principal"]["Service"], "lambda.amazonaws.com");
        assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
        assert_eq!(trust["Statement"][0]["Effect"], "Allow");
    }

    #[test]
    fn names_follow_the_template() {
        assert_eq!(aggregator_role_name("zae"), "zae-aggr");
        assert_eq!(
            lambda_basic_execution_policy_arn("aws-cn"),
            "arn:aws-cn:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        );
    }
}
