//! Tags of IAM principals (roles and users): read one principal's tags, set one tag,
//! remove one tag.
//!
//! The namespace resource uses these to put the TBAC principal tag
//! ([`super::policy_document::NAMESPACE_TAG_KEY`]) on application roles and users.
//! Writes retry throttling, server errors and IAM propagation messages for the AWS
//! provider's two minutes; a principal that is not visible yet (`NoSuchEntity` right after
//! it was created) is retried for [`NEW_PRINCIPAL_VISIBILITY`] before it counts as absent.

use std::fmt;
use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::Tag;

use super::error::{AwsError, Result, SdkResultExt};
use super::log_call;
use super::retry::{RetryPolicy, retry_with};
use super::tags::{Tags, without_aws_managed};

/// Upper bound on pages of `ListRoleTags` / `ListUserTags` (IAM allows 50 tags).
const MAX_PAGES: usize = 10;

/// How long a principal that IAM reports missing is retried before it counts as absent:
/// a role created moments ago by another resource may not be visible yet.
pub const NEW_PRINCIPAL_VISIBILITY: Duration = Duration::from_secs(10);

/// Which kind of IAM principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrincipalKind {
    /// An IAM role.
    Role,
    /// An IAM user.
    User,
}

impl PrincipalKind {
    /// `role` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Role => "role",
            PrincipalKind::User => "user",
        }
    }

    /// The IAM operation listing this kind's tags: `ListRoleTags` or `ListUserTags`.
    fn list_tags_operation(self) -> &'static str {
        match self {
            PrincipalKind::Role => "ListRoleTags",
            PrincipalKind::User => "ListUserTags",
        }
    }

    /// The IAM operation tagging this kind: `TagRole` or `TagUser`.
    fn tag_operation(self) -> &'static str {
        match self {
            PrincipalKind::Role => "TagRole",
            PrincipalKind::User => "TagUser",
        }
    }

    /// The IAM operation untagging this kind: `UntagRole` or `UntagUser`.
    fn untag_operation(self) -> &'static str {
        match self {
            PrincipalKind::Role => "UntagRole",
            PrincipalKind::User => "UntagUser",
        }
    }
}

/// One IAM principal, by kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal {
    /// Role or user.
    pub kind: PrincipalKind,
    /// Role name or user name (not an ARN).
    pub name: String,
}

impl Principal {
    /// A role.
    pub fn role(name: impl Into<String>) -> Principal {
        Principal {
            kind: PrincipalKind::Role,
            name: name.into(),
        }
    }

    /// A user.
    pub fn user(name: impl Into<String>) -> Principal {
        Principal {
            kind: PrincipalKind::User,
            name: name.into(),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IAM {} {}", self.kind.as_str(), self.name)
    }
}

fn retryable_write(err: &AwsError) -> bool {
    err.is_retryable() || err.is_iam_propagation()
}

/// The principal's tags (without `aws:` ones); `None` when it does not exist.
pub async fn principal_tags(client: &Client, principal: &Principal) -> Result<Option<Tags>> {
    let label = principal.to_string();
    let mut tags = Tags::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let (page, next) = match list_tags_page(client, principal, &label, marker.take()).await {
            Ok(page) => page,
            Err(err) if err.is_not_found() => return Ok(None),
            Err(err) => return Err(err),
        };
        tags.extend(page);
        match next {
            Some(m) => marker = Some(m),
            None => return Ok(Some(without_aws_managed(tags))),
        }
    }
    Err(AwsError::InvalidResponse {
        operation: principal.kind.list_tags_operation(),
        resource: label,
        detail: format!("more than {MAX_PAGES} pages of tags"),
    })
}

/// One page of `ListRoleTags` / `ListUserTags`: its tags and the marker of the next page.
async fn list_tags_page(
    client: &Client,
    principal: &Principal,
    label: &str,
    marker: Option<String>,
) -> Result<(Tags, Option<String>)> {
    let operation = principal.kind.list_tags_operation();
    log_call(operation, &label);
    let (tags, truncated, marker) = match principal.kind {
        PrincipalKind::Role => {
            let out = client
                .list_role_tags()
                .role_name(&principal.name)
                .set_marker(marker)
                .send()
                .await
                .context(operation, label)?;
            (tag_pairs(out.tags()), out.is_truncated(), out.marker)
        }
        PrincipalKind::User => {
            let out = client
                .list_user_tags()
                .user_name(&principal.name)
                .set_marker(marker)
                .send()
                .await
                .context(operation, label)?;
            (tag_pairs(out.tags()), out.is_truncated(), out.marker)
        }
    };
    Ok((tags, marker.filter(|_| truncated)))
}

fn tag_pairs(tags: &[Tag]) -> Tags {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

/// The value of tag `key` on the principal: `Ok(None)` when the principal does not exist,
/// `Ok(Some(None))` when it exists without the tag. A principal missing at first is looked
/// up again for [`NEW_PRINCIPAL_VISIBILITY`].
pub async fn principal_tag(client: &Client, principal: &Principal, key: &str) -> Result<Option<Option<String>>> {
    let policy = RetryPolicy::IAM_PROPAGATION.with_timeout(NEW_PRINCIPAL_VISIBILITY);
    let found = super::retry::retry_until_found(&policy, &principal.to_string(), || async {
        principal_tags(client, principal).await
    })
    .await;
    match found {
        Ok(tags) => Ok(Some(tags.get(key).cloned())),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err),
    }
}

/// Sets tag `key = value` on the principal (other tags are left alone). Fails with a
/// not-found error ([`AwsError::is_not_found`]) when the principal does not exist after
/// [`NEW_PRINCIPAL_VISIBILITY`].
pub async fn tag_principal(client: &Client, principal: &Principal, key: &str, value: &str) -> Result<()> {
    let label = principal.to_string();
    let operation = principal.kind.tag_operation();
    let tag = Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| AwsError::build(operation, e))?;
    let visibility = RetryPolicy::IAM_PROPAGATION.with_timeout(NEW_PRINCIPAL_VISIBILITY);
    // Outer loop: a principal created moments ago may not be visible yet.
    retry_with(
        &visibility,
        "tag a new IAM principal",
        AwsError::is_not_found,
        || async {
            retry_with(&RetryPolicy::IAM_PROPAGATION, operation, retryable_write, || {
                send_tag(client, principal, &label, &tag)
            })
            .await
        },
    )
    .await
}

/// One `TagRole` / `TagUser` call.
async fn send_tag(client: &Client, principal: &Principal, label: &str, tag: &Tag) -> Result<()> {
    let operation = principal.kind.tag_operation();
    log_call(operation, &label);
    match principal.kind {
        PrincipalKind::Role => client
            .tag_role()
            .role_name(&principal.name)
            .tags(tag.clone())
            .send()
            .await
            .context(operation, label)
            .map(drop),
        PrincipalKind::User => client
            .tag_user()
            .user_name(&principal.name)
            .tags(tag.clone())
            .send()
            .await
            .context(operation, label)
            .map(drop),
    }
}

/// Removes tag `key` from the principal. Returns `false` when the principal does not exist
/// (nothing to remove).
pub async fn untag_principal(client: &Client, principal: &Principal, key: &str) -> Result<bool> {
    let label = principal.to_string();
    let operation = principal.kind.untag_operation();
    let result = retry_with(&RetryPolicy::IAM_PROPAGATION, operation, retryable_write, || {
        send_untag(client, principal, &label, key)
    })
    .await;
    match result {
        Ok(()) => Ok(true),
        Err(err) if err.is_not_found() => Ok(false),
        Err(err) => Err(err),
    }
}

/// One `UntagRole` / `UntagUser` call.
async fn send_untag(client: &Client, principal: &Principal, label: &str, key: &str) -> Result<()> {
    let operation = principal.kind.untag_operation();
    log_call(operation, &label);
    match principal.kind {
        PrincipalKind::Role => client
            .untag_role()
            .role_name(&principal.name)
            .tag_keys(key)
            .send()
            .await
            .context(operation, label)
            .map(drop),
        PrincipalKind::User => client
            .untag_user()
            .user_name(&principal.name)
            .tag_keys(key)
            .send()
            .await
            .context(operation, label)
            .map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_display_kind_and_name() {
        assert_eq!(Principal::role("app").to_string(), "IAM role app");
        assert_eq!(Principal::user("bob").to_string(), "IAM user bob");
        assert!(Principal::role("a") < Principal::user("a"), "roles sort first");
    }

    #[test]
    fn operations_are_named_for_the_principal_kind() {
        let names = |kind: PrincipalKind| [kind.list_tags_operation(), kind.tag_operation(), kind.untag_operation()];
        assert_eq!(names(PrincipalKind::Role), ["ListRoleTags", "TagRole", "UntagRole"]);
        assert_eq!(names(PrincipalKind::User), ["ListUserTags", "TagUser", "UntagUser"]);
    }

    #[test]
    fn tag_pairs_keep_every_tag() {
        let tags = vec![
            Tag::builder().key("a").value("1").build().unwrap(),
            Tag::builder().key("aws:x").value("2").build().unwrap(),
        ];
        let map = without_aws_managed(tag_pairs(&tags));
        assert_eq!(map.len(), 1);
        assert_eq!(map.get("a").map(String::as_str), Some("1"));
    }
}
