//! IAM customer-managed policies: find, create, update the document (pruning old versions),
//! tag, delete.
//!
//! IAM keeps at most five versions of a policy; [`update_policy_document`] deletes the
//! oldest non-default version first when five exist, as the AWS provider does. A policy's
//! name, path and description cannot change: a different value means a new policy.

use std::fmt;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::Tag;
use aws_smithy_types::DateTime;
use serde_json::Value;

use super::error::{AwsError, DeleteOutcome, Result, SdkResultExt};
use super::log_call;
use super::policy_document::{PolicyText, decode_document};
use super::retry::{RetryPolicy, retry_until_found, retry_with, send_with_retry};
use super::tags::{TagDiff, Tags, without_aws_managed};

/// IAM's limit on versions per managed policy.
pub const MAX_POLICY_VERSIONS: usize = 5;

/// Upper bound on pages for IAM list calls (100 items per page).
const MAX_PAGES: usize = 100;

/// A managed policy with its default version's document.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedPolicy {
    /// Policy ARN.
    pub arn: String,
    /// Policy name.
    pub name: String,
    /// Stable unique id.
    pub policy_id: String,
    /// Path, `/` by default.
    pub path: String,
    /// Description (immutable).
    pub description: Option<String>,
    /// Id of the default version, e.g. `v3`.
    pub default_version_id: String,
    /// How many principals it is attached to.
    pub attachment_count: Option<i32>,
    /// The default version's document, decoded (real AWS URL-encodes it, the emulator does
    /// not).
    pub document: Value,
    /// Tags, without `aws:` ones.
    pub tags: Tags,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyVersionInfo {
    /// `v1`, `v2`, …
    pub version_id: String,
    /// Whether it is the default version.
    pub is_default: bool,
    /// When it was created.
    pub create_date: Option<DateTime>,
}

/// The principals a policy is attached to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyAttachments {
    /// Role names.
    pub roles: Vec<String>,
    /// User names.
    pub users: Vec<String>,
    /// Group names.
    pub groups: Vec<String>,
}

impl PolicyAttachments {
    /// True when the policy is attached to nothing.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.users.is_empty() && self.groups.is_empty()
    }
}

impl fmt::Display for PolicyAttachments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [("role", &self.roles), ("user", &self.users), ("group", &self.groups)]
            .into_iter()
            .flat_map(|(kind, names)| names.iter().map(move |n| format!("{kind} {n}")))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// The ARN of a customer-managed policy: `arn:{partition}:iam::{account}:policy{path}{name}`.
/// `path` defaults to `/`; missing leading or trailing slashes are added.
pub fn policy_arn(account_id: &str, partition: &str, path: Option<&str>, name: &str) -> String {
    debug_assert!(
        account_id.bytes().all(|b| b.is_ascii_digit()) && partition.starts_with("aws"),
        "policy_arn(account_id, partition, …) got ({account_id:?}, {partition:?}): swapped arguments?"
    );
    let path = path.unwrap_or("/").trim_matches('/');
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        format!("/{path}/")
    };
    format!("arn:{partition}:iam::{account_id}:policy{path}{name}")
}

fn resource(arn: &str) -> String {
    format!("IAM policy {arn}")
}

/// Retried for IAM writes: throttling, server errors, concurrent modification and IAM
/// propagation.
fn iam_retryable(err: &AwsError) -> bool {
    err.is_retryable() || err.is_iam_propagation()
}

fn iam_tags(tags: &Tags, operation: &'static str) -> Result<Vec<Tag>> {
    super::tags::sdk_tags(tags, operation, |key, value| {
        Tag::builder().key(key).value(value).build()
    })
}

fn tag_map(tags: &[Tag]) -> Tags {
    without_aws_managed(
        tags.iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
    )
}

fn decode(operation: &'static str, arn: &str, raw: Option<&str>) -> Result<Value> {
    let invalid = |detail: String| AwsError::InvalidResponse {
        operation,
        resource: resource(arn),
        detail,
    };
    let raw = raw.ok_or_else(|| invalid("the policy version has no document".into()))?;
    decode_document(raw).map_err(|e| invalid(e.to_string()))
}

/// Reads a policy and its default version's document; `None` when it does not exist.
pub async fn find_policy(client: &Client, arn: &str) -> Result<Option<ManagedPolicy>> {
    log_call("GetPolicy", &resource(arn));
    let policy = match client
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .context("GetPolicy", resource(arn))
    {
        Ok(output) => match output.policy {
            Some(policy) => policy,
            None => return Ok(None),
        },
        Err(err) if err.is_not_found() => return Ok(None),
        Err(err) => return Err(err),
    };
    let missing = |field: &str| AwsError::InvalidResponse {
        operation: "GetPolicy",
        resource: resource(arn),
        detail: format!("the policy has no {field}"),
    };
    let version_id = policy
        .default_version_id()
        .ok_or_else(|| missing("DefaultVersionId"))?
        .to_owned();
    log_call("GetPolicyVersion", &resource(arn));
    let version = match client
        .get_policy_version()
        .policy_arn(arn)
        .version_id(&version_id)
        .send()
        .await
        .context("GetPolicyVersion", resource(arn))
    {
        Ok(output) => output.policy_version.ok_or_else(|| missing("default version"))?,
        Err(err) if err.is_not_found() => return Ok(None),
        Err(err) => return Err(err),
    };
    Ok(Some(ManagedPolicy {
        arn: policy.arn().unwrap_or(arn).to_owned(),
        name: policy.policy_name().ok_or_else(|| missing("PolicyName"))?.to_owned(),
        policy_id: policy.policy_id().ok_or_else(|| missing("PolicyId"))?.to_owned(),
        path: policy.path().unwrap_or("/").to_owned(),
        description: policy.description().map(str::to_owned),
        default_version_id: version_id,
        attachment_count: policy.attachment_count(),
        document: decode("GetPolicyVersion", arn, version.document())?,
        tags: tag_map(policy.tags()),
    }))
}

/// [`find_policy`] for a policy created moments ago: retries "not found" for IAM's
/// propagation time ([`RetryPolicy::IAM_PROPAGATION`]).
pub async fn find_new_policy(client: &Client, arn: &str) -> Result<ManagedPolicy> {
    retry_until_found(&RetryPolicy::IAM_PROPAGATION, &resource(arn), || {
        find_policy(client, arn)
    })
    .await
}

/// Creates a policy at path `/`, retrying throttling and IAM propagation errors for up to
/// two minutes. `document` is JSON text (e.g.
/// [`super::policy_document::PolicyKind::document_json`], sent as is) or a JSON value, see
/// [`PolicyText`]. An existing policy of that name fails with `EntityAlreadyExists`, unless
/// it is this call's own: see [`recognise_own_policy`].
pub async fn create_policy(
    client: &Client,
    name: &str,
    description: &str,
    document: &(impl PolicyText + ?Sized),
    tags: &Tags,
) -> Result<ManagedPolicy> {
    create_policy_at(client, "/", name, description, document, tags).await
}

/// [`create_policy`] at IAM path `path` (e.g. `/zae/`).
pub async fn create_policy_at(
    client: &Client,
    path: &str,
    name: &str,
    description: &str,
    document: &(impl PolicyText + ?Sized),
    tags: &Tags,
) -> Result<ManagedPolicy> {
    let label = format!("IAM policy {name}");
    let document = document.policy_text();
    let parsed = decode_document(&document).map_err(|e| AwsError::InvalidInput {
        what: format!("document of {label}"),
        detail: e.to_string(),
    })?;
    let request = client
        .create_policy()
        .path(path)
        .policy_name(name)
        .description(description)
        .policy_document(document.as_ref())
        .set_tags(if tags.is_empty() {
            None
        } else {
            Some(iam_tags(tags, "CreatePolicy")?)
        });
    let started = std::time::SystemTime::now();
    let created = send_with_retry(
        &RetryPolicy::IAM_PROPAGATION,
        "CreatePolicy",
        &label,
        iam_retryable,
        &request,
        |r| r.send(),
    )
    .await;
    let output = match created {
        Ok(output) => output,
        Err(e) if e.has_code(ENTITY_ALREADY_EXISTS) => {
            let wanted = WantedPolicy {
                name,
                description,
                document: &parsed,
                tags,
            };
            return match recognise_own_policy(client, &wanted, started).await? {
                Some(policy) => Ok(policy),
                None => Err(e),
            };
        }
        Err(e) => return Err(e),
    };
    let policy = output.policy.ok_or_else(|| AwsError::InvalidResponse {
        operation: "CreatePolicy",
        resource: label.clone(),
        detail: "no Policy in the response".into(),
    })?;
    let missing = |field: &str| AwsError::InvalidResponse {
        operation: "CreatePolicy",
        resource: label.clone(),
        detail: format!("the policy has no {field}"),
    };
    Ok(ManagedPolicy {
        arn: policy.arn().ok_or_else(|| missing("Arn"))?.to_owned(),
        name: policy.policy_name().unwrap_or(name).to_owned(),
        policy_id: policy.policy_id().ok_or_else(|| missing("PolicyId"))?.to_owned(),
        path: policy.path().unwrap_or("/").to_owned(),
        description: Some(policy.description().unwrap_or(description).to_owned()),
        default_version_id: policy.default_version_id().unwrap_or("v1").to_owned(),
        attachment_count: policy.attachment_count(),
        document: parsed,
        tags: tags.clone(),
    })
}

/// [`create_policy_at`], or, when a policy of that name exists already with the same
/// description and an equivalent document (documents name the table, so it is this
/// stack's), that policy: what an import cannot record when the stack's policies use a
/// custom name format or path. Any other policy of that name fails with
/// `EntityAlreadyExists`.
pub async fn create_or_adopt_policy(
    client: &Client,
    path: &str,
    name: &str,
    description: &str,
    document: &Value,
    tags: &Tags,
) -> Result<ManagedPolicy> {
    match create_policy_at(client, path, name, description, document, tags).await {
        Err(err) if err.has_code(ENTITY_ALREADY_EXISTS) => {
            let Some((arn, _)) = find_local_policy_by_name(client, name).await? else {
                return Err(err);
            };
            match find_policy(client, &arn).await? {
                Some(policy)
                    if policy.description.as_deref() == Some(description)
                        && super::policy_document::documents_equivalent(&policy.document, document) =>
                {
                    tracing::info!(target: super::LOG_TARGET, policy = %arn, "adopted the existing policy");
                    Ok(policy)
                }
                _ => Err(err),
            }
        }
        other => other,
    }
}

/// IAM's answer to creating a policy whose name is taken.
pub(crate) const ENTITY_ALREADY_EXISTS: &str = "EntityAlreadyExists";

/// How far the clocks of this machine and IAM may disagree when telling whether a policy
/// was created during a call.
pub(crate) const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(300);

/// What a [`create_policy`] call asked for.
struct WantedPolicy<'a> {
    name: &'a str,
    description: &'a str,
    document: &'a Value,
    tags: &'a Tags,
}

/// A `CreatePolicy` whose response was lost is retried (by the SDK) and then fails with
/// `EntityAlreadyExists`: the policy of that name is this call's own when IAM created it
/// after the call started (give or take [`CLOCK_SKEW`]) with exactly the description,
/// document and tags asked for. Anything else (an older policy, or another document) was
/// not created by this call, and `None` lets the error stand.
async fn recognise_own_policy(
    client: &Client,
    wanted: &WantedPolicy<'_>,
    started: std::time::SystemTime,
) -> Result<Option<ManagedPolicy>> {
    let Some((arn, created)) = find_local_policy_by_name(client, wanted.name).await? else {
        return Ok(None);
    };
    let not_before = started.checked_sub(CLOCK_SKEW).unwrap_or(std::time::UNIX_EPOCH);
    let created_during_call =
        created.is_some_and(|c| std::time::SystemTime::try_from(c).is_ok_and(|c| c >= not_before));
    if !created_during_call {
        return Ok(None);
    }
    let Some(mut policy) = find_policy(client, &arn).await? else {
        return Ok(None);
    };
    // GetPolicy's tags are not returned by every implementation: ask for them.
    policy.tags = list_policy_tags(client, &arn).await?;
    let same = policy.description.as_deref() == Some(wanted.description)
        && policy.document == *wanted.document
        && policy.tags == *wanted.tags
        && policy.default_version_id == "v1";
    if !same {
        return Ok(None);
    }
    tracing::info!(target: super::LOG_TARGET, policy = %arn, "CreatePolicy was retried after its policy was created");
    Ok(Some(policy))
}

/// The ARN and creation time of the customer managed policy named `name` (IAM has no
/// lookup by name: the local policies are listed).
async fn find_local_policy_by_name(client: &Client, name: &str) -> Result<Option<(String, Option<DateTime>)>> {
    let mut marker: Option<String> = None;
    loop {
        log_call("ListPolicies", &"local IAM policies");
        let page = client
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .set_marker(marker.take())
            .send()
            .await
            .context("ListPolicies", "local IAM policies".to_string())?;
        if let Some(found) = page.policies().iter().find(|p| p.policy_name() == Some(name)) {
            return Ok(found.arn().map(|arn| (arn.to_owned(), found.create_date().copied())));
        }
        match page.marker() {
            Some(next) if page.is_truncated() => marker = Some(next.to_owned()),
            _ => return Ok(None),
        }
    }
}

/// Every version of the policy.
pub async fn list_policy_versions(client: &Client, arn: &str) -> Result<Vec<PolicyVersionInfo>> {
    let mut versions = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        log_call("ListPolicyVersions", &resource(arn));
        let page = client
            .list_policy_versions()
            .policy_arn(arn)
            .set_marker(marker.take())
            .send()
            .await
            .context("ListPolicyVersions", resource(arn))?;
        versions.extend(page.versions().iter().map(|v| PolicyVersionInfo {
            version_id: v.version_id().unwrap_or_default().to_owned(),
            is_default: v.is_default_version(),
            create_date: v.create_date().copied(),
        }));
        match page.marker() {
            Some(m) if page.is_truncated() => marker = Some(m.to_owned()),
            _ => return Ok(versions),
        }
    }
    Err(AwsError::InvalidResponse {
        operation: "ListPolicyVersions",
        resource: resource(arn),
        detail: format!("more than {MAX_PAGES} pages of versions"),
    })
}

/// The version to delete before creating another: the oldest non-default one, only when
/// the policy already has [`MAX_POLICY_VERSIONS`].
pub fn version_to_prune(versions: &[PolicyVersionInfo]) -> Option<&str> {
    if versions.len() < MAX_POLICY_VERSIONS {
        return None;
    }
    let number = |id: &str| id.trim_start_matches(['v', 'V']).parse::<u64>().unwrap_or(u64::MAX);
    versions
        .iter()
        .filter(|v| !v.is_default)
        .min_by_key(|v| (v.create_date, number(&v.version_id)))
        .map(|v| v.version_id.as_str())
}

async fn delete_version(client: &Client, arn: &str, version_id: &str) -> Result<()> {
    let result = retry_with(
        &RetryPolicy::IAM_PROPAGATION,
        "DeletePolicyVersion",
        iam_retryable,
        || async {
            log_call("DeletePolicyVersion", &resource(arn));
            client
                .delete_policy_version()
                .policy_arn(arn)
                .version_id(version_id)
                .send()
                .await
                .context("DeletePolicyVersion", format!("{} version {version_id}", resource(arn)))
        },
    )
    .await;
    match result {
        Err(err) if !err.is_not_found() => Err(err),
        _ => Ok(()),
    }
}

/// Makes `document` (text or value, see [`PolicyText`]) the policy's default version. When
/// the policy has five versions, the oldest non-default one is deleted first. Returns the new
/// version id.
pub async fn update_policy_document(
    client: &Client,
    arn: &str,
    document: &(impl PolicyText + ?Sized),
) -> Result<String> {
    let document = document.policy_text();
    decode_document(&document).map_err(|e| AwsError::InvalidInput {
        what: format!("document of {}", resource(arn)),
        detail: e.to_string(),
    })?;
    let versions = list_policy_versions(client, arn).await?;
    if let Some(oldest) = version_to_prune(&versions) {
        tracing::debug!(target: super::LOG_TARGET, policy = arn, version = oldest, "pruning the oldest policy version");
        delete_version(client, arn, oldest).await?;
    }
    let output = retry_with(
        &RetryPolicy::IAM_PROPAGATION,
        "CreatePolicyVersion",
        iam_retryable,
        || async {
            log_call("CreatePolicyVersion", &resource(arn));
            client
                .create_policy_version()
                .policy_arn(arn)
                .policy_document(document.as_ref())
                .set_as_default(true)
                .send()
                .await
                .context("CreatePolicyVersion", resource(arn))
        },
    )
    .await?;
    output
        .policy_version()
        .and_then(|v| v.version_id())
        .map(str::to_owned)
        .ok_or_else(|| AwsError::InvalidResponse {
            operation: "CreatePolicyVersion",
            resource: resource(arn),
            detail: "no VersionId in the response".into(),
        })
}

/// The roles, users and groups the policy is attached to.
pub async fn list_policy_attachments(client: &Client, arn: &str) -> Result<PolicyAttachments> {
    let mut attachments = PolicyAttachments::default();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        log_call("ListEntitiesForPolicy", &resource(arn));
        let page = client
            .list_entities_for_policy()
            .policy_arn(arn)
            .set_marker(marker.take())
            .send()
            .await
            .context("ListEntitiesForPolicy", resource(arn))?;
        attachments.roles.extend(
            page.policy_roles()
                .iter()
                .filter_map(|r| r.role_name())
                .map(str::to_owned),
        );
        attachments.users.extend(
            page.policy_users()
                .iter()
                .filter_map(|u| u.user_name())
                .map(str::to_owned),
        );
        attachments.groups.extend(
            page.policy_groups()
                .iter()
                .filter_map(|g| g.group_name())
                .map(str::to_owned),
        );
        match page.marker() {
            Some(m) if page.is_truncated() => marker = Some(m.to_owned()),
            _ => return Ok(attachments),
        }
    }
    Err(AwsError::InvalidResponse {
        operation: "ListEntitiesForPolicy",
        resource: resource(arn),
        detail: format!("more than {MAX_PAGES} pages of attachments"),
    })
}

/// Deletes the policy and all its non-default versions. Returns `false` when it did not
/// exist. A policy still attached to principals is not touched: the error
/// ([`AwsError::Conflict`]) lists them, since detaching is their owners' business.
pub async fn delete_policy(client: &Client, arn: &str) -> Result<bool> {
    let attachments = match list_policy_attachments(client, arn).await {
        Ok(a) => a,
        Err(err) if err.is_not_found() => return Ok(false),
        Err(err) => return Err(err),
    };
    if !attachments.is_empty() {
        return Err(AwsError::Conflict {
            operation: "DeletePolicy",
            resource: resource(arn),
            detail: format!("the policy is still attached to {attachments}; detach it first"),
        });
    }
    let versions = match list_policy_versions(client, arn).await {
        Ok(v) => v,
        Err(err) if err.is_not_found() => return Ok(false),
        Err(err) => return Err(err),
    };
    for version in versions.iter().filter(|v| !v.is_default) {
        delete_version(client, arn, &version.version_id).await?;
    }
    let result = retry_with(&RetryPolicy::IAM_PROPAGATION, "DeletePolicy", iam_retryable, || async {
        log_call("DeletePolicy", &resource(arn));
        client
            .delete_policy()
            .policy_arn(arn)
            .send()
            .await
            .context("DeletePolicy", resource(arn))
    })
    .await;
    result.deleted()
}

/// The policy's tags, without `aws:` ones.
pub async fn list_policy_tags(client: &Client, arn: &str) -> Result<Tags> {
    let mut tags = Tags::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        log_call("ListPolicyTags", &resource(arn));
        let page = client
            .list_policy_tags()
            .policy_arn(arn)
            .set_marker(marker.take())
            .send()
            .await
            .context("ListPolicyTags", resource(arn))?;
        tags.extend(tag_map(page.tags()));
        match page.marker() {
            Some(m) if page.is_truncated() => marker = Some(m.to_owned()),
            _ => return Ok(tags),
        }
    }
    Err(AwsError::InvalidResponse {
        operation: "ListPolicyTags",
        resource: resource(arn),
        detail: format!("more than {MAX_PAGES} pages of tags"),
    })
}

/// Makes the policy's tags equal `desired`, leaving `aws:` tags alone. Returns what changed.
pub async fn sync_policy_tags(client: &Client, arn: &str, desired: &Tags) -> Result<TagDiff> {
    let current = list_policy_tags(client, arn).await?;
    let diff = TagDiff::between(&current, desired);
    if !diff.remove.is_empty() {
        retry_with(&RetryPolicy::IAM_PROPAGATION, "UntagPolicy", iam_retryable, || async {
            log_call("UntagPolicy", &resource(arn));
            client
                .untag_policy()
                .policy_arn(arn)
                .set_tag_keys(Some(diff.remove.clone()))
                .send()
                .await
                .context("UntagPolicy", resource(arn))
        })
        .await?;
    }
    if !diff.set.is_empty() {
        let tags = iam_tags(&diff.set, "TagPolicy")?;
        retry_with(&RetryPolicy::IAM_PROPAGATION, "TagPolicy", iam_retryable, || async {
            log_call("TagPolicy", &resource(arn));
            client
                .tag_policy()
                .policy_arn(arn)
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .context("TagPolicy", resource(arn))
        })
        .await?;
    }
    Ok(diff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_policy_arns() {
        assert_eq!(
            policy_arn("123456789012", "aws", None, "zae-acq"),
            "arn:aws:iam::123456789012:policy/zae-acq"
        );
        assert_eq!(policy_arn("1", "aws-cn", Some("/"), "p"), "arn:aws-cn:iam::1:policy/p");
        assert_eq!(
            policy_arn("1", "aws", Some("/team/a/"), "p"),
            "arn:aws:iam::1:policy/team/a/p"
        );
        assert_eq!(
            policy_arn("1", "aws", Some("team"), "p"),
            "arn:aws:iam::1:policy/team/p"
        );
    }

    fn version(id: &str, is_default: bool, secs: i64) -> PolicyVersionInfo {
        PolicyVersionInfo {
            version_id: id.into(),
            is_default,
            create_date: Some(DateTime::from_secs(secs)),
        }
    }

    #[test]
    fn prunes_only_at_the_limit() {
        let four: Vec<_> = (1..=4).map(|i| version(&format!("v{i}"), i == 4, i)).collect();
        assert_eq!(version_to_prune(&four), None);
    }

    #[test]
    fn prunes_the_oldest_non_default_version() {
        let mut versions: Vec<_> = (2..=6).map(|i| version(&format!("v{i}"), false, i)).collect();
        versions[0].is_default = true; // v2 is the default, so v3 is the oldest candidate
        versions.reverse();
        assert_eq!(version_to_prune(&versions), Some("v3"));
    }

    #[test]
    fn breaks_create_date_ties_by_version_number() {
        let versions: Vec<_> = ["v12", "v10", "v11", "v9", "v13"]
            .iter()
            .map(|id| version(id, *id == "v13", 100))
            .collect();
        assert_eq!(version_to_prune(&versions), Some("v9"));
    }

    #[test]
    fn attachments_render_for_humans() {
        let a = PolicyAttachments {
            roles: vec!["app".into()],
            users: vec!["bob".into()],
            groups: vec![],
        };
        assert_eq!(a.to_string(), "role app, user bob");
        assert!(!a.is_empty());
        assert!(PolicyAttachments::default().is_empty());
    }
}
