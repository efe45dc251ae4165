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
        let (page, next) = match principal.kind {
            PrincipalKind::Role => {
                log_call("ListRoleTags", &label);
                let out = client
                    .list_role_tags()
                    .role_name(&principal.name)
                    .set_marker(marker.take())
                    .send()
                    .await
                    .context("ListRoleTags", &label);
                match out {
                    Ok(out) => (
                        tag_pairs(out.tags()),
                        out.marker().filter(|_| out.is_truncated()).map(str::to_owned),
                    ),
                    Err(err) if err.is_not_found() => return Ok(None),
                    Err(err) => return Err(err),
                }
            }
            PrincipalKind::User => {
                log_call("ListUserTags", &label);
                let out = client
                    .list_user_tags()
                    .user_name(&principal.name)
                    .set_marker(marker.take())
                    .send()
                    .await
                    .context("ListUserTags", &label);
                match out {
                    Ok(out) => (
                        tag_pairs(out.tags()),
                        out.marker().filter(|_| out.is_truncated()).map(str::to_owned),
                    ),
                    Err(err) if err.is_not_found() => return Ok(None),
                    Err(err) => return Err(err),
                }
            }
        };
        tags.extend(page);
        match next {
            Some(m) => marker = Some(m),
            None => return Ok(Some(without_aws_managed(tags))),
        }
    }
    Err(AwsError::InvalidResponse {
        operation: "ListRoleTags",
        resource: label,
        detail: format!("more than {MAX_PAGES} pages of tags"),
    })
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
    let tag = Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| AwsError::build("TagRole", e))?;
    let visibility = RetryPolicy::IAM_PROPAGATION.with_timeout(NEW_PRINCIPAL_VISIBILITY);
    // Outer loop: a principal created moments ago may not be visible yet.
    retry_with(
        &visibility,
        "tag a new IAM principal",
        AwsError::is_not_found,
        || async {
            retry_with(&RetryPolicy::IAM_PROPAGATION, "TagRole", retryable_write, || async {
                match principal.kind {
                    PrincipalKind::Role => {
                        log_call("TagRole", &label);
                        client
                            .tag_role()
                            .role_name(&principal.name)
                            .tags(tag.clone())
                            .send()
                            .await
                            .context("TagRole", &label)
                            .map(|_| ())
                    }
                    PrincipalKind::User => {
                        log_call("TagUser", &label);
                        client
                            .tag_user()
                            .user_name(&principal.name)
                            .tags(tag.clone())
                            .send()
                            .await
                            .context("TagUser", &label)
                            .map(|_| ())
                    }
                }
            })
            .await
        },
    )
    .await
}

/// Removes tag `key` from the principal. Returns `false` when the principal does not exist
/// (nothing to remove).
pub async fn untag_principal(client: &Client, principal: &Principal, key: &str) -> Result<bool> {
    let label = principal.to_string();
    let result = retry_with(&RetryPolicy::IAM_PROPAGATION, "UntagRole", retryable_write, || async {
        match principal.kind {
            PrincipalKind::Role => {
                log_call("UntagRole", &label);
                client
                    .untag_role()
                    .role_name(&principal.name)
                    .tag_keys(key)
                    .send()
                    .await
                    .context("UntagRole", &label)
                    .map(|_| ())
            }
            PrincipalKind::User => {
                log_call("UntagUser", &label);
                client
                    .untag_user()
                    .user_name(&principal.name)
                    .tag_keys(key)
                    .send()
                    .await
                    .context("UntagUser", &label)
                    .map(|_| ())
            }
        }
    })
    .await;
    match result {
        Ok(()) => Ok(true),
        Err(err) if err.is_not_found() => Ok(false),
        Err(err) => Err(err),
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
