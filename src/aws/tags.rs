//! The tag diff shared by every service's tagging, and [`sync`], which applies one.
//!
//! Tags whose key starts with `aws:` belong to AWS (CloudFormation, AWS Backup, …): they are
//! never listed as managed tags, never set and never removed.

use std::collections::BTreeMap;

/// Key prefix reserved for AWS-managed tags.
pub const AWS_TAG_PREFIX: &str = "aws:";

/// Tags as key → value.
pub type Tags = BTreeMap<String, String>;

/// True for tags this provider must leave alone.
pub fn is_aws_managed(key: &str) -> bool {
    key.to_ascii_lowercase().starts_with(AWS_TAG_PREFIX)
}

/// `tags` without the AWS-managed ones.
pub fn without_aws_managed(tags: Tags) -> Tags {
    tags.into_iter().filter(|(k, _)| !is_aws_managed(k)).collect()
}

/// The calls that turn one tag set into another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagDiff {
    /// Tags to add or overwrite.
    pub set: Tags,
    /// Keys to remove.
    pub remove: Vec<String>,
}

impl TagDiff {
    /// Computes the changes from `current` to `desired`, ignoring `aws:` tags on both sides.
    pub fn between(current: &Tags, desired: &Tags) -> Self {
        let set = desired
            .iter()
            .filter(|(k, v)| !is_aws_managed(k) && current.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let remove = current
            .keys()
            .filter(|k| !is_aws_managed(k) && !desired.contains_key(*k))
            .cloned()
            .collect();
        TagDiff { set, remove }
    }

    /// True when nothing needs to change.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }
}

/// Checks one tag against AWS's rules: a key of 1 to 128 characters outside the reserved
/// `aws:` prefix, and a value of at most 256 characters.
pub fn check_tag(key: &str, value: &str) -> Result<(), String> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(format!("tag key {key:?} must be 1 to 128 characters"));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(format!("tag key {key:?} uses the reserved prefix \"aws:\""));
    }
    if value.chars().count() > 256 {
        return Err(format!("the value of tag {key:?} is longer than 256 characters"));
    }
    Ok(())
}

/// The SDK tag list of a tag map; `build` makes one SDK tag (IAM and DynamoDB each have
/// their own `Tag` type with the same builder shape).
pub(crate) fn sdk_tags<T>(
    tags: &Tags,
    operation: &'static str,
    build: impl Fn(&str, &str) -> std::result::Result<T, aws_smithy_types::error::operation::BuildError>,
) -> super::Result<Vec<T>> {
    tags.iter()
        .map(|(key, value)| build(key, value).map_err(|e| super::AwsError::build(operation, e)))
        .collect()
}

/// Brings a resource's tags from `current` to `desired`: `untag` removes keys, then `tag`
/// sets values, each called only when it has something to do. Returns what changed.
pub(crate) async fn sync<U, T>(
    current: &Tags,
    desired: &Tags,
    untag: impl FnOnce(Vec<String>) -> U,
    tag: impl FnOnce(Tags) -> T,
) -> super::Result<TagDiff>
where
    U: std::future::Future<Output = super::Result<()>>,
    T: std::future::Future<Output = super::Result<()>>,
{
    let diff = TagDiff::between(current, desired);
    if !diff.remove.is_empty() {
        untag(diff.remove.clone()).await?;
    }
    if !diff.set.is_empty() {
        tag(diff.set.clone()).await?;
    }
    Ok(diff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sync_calls_only_what_is_needed() {
        let calls = std::sync::Mutex::new(Vec::new());
        let current = tags(&[("keep", "1"), ("drop", "x")]);
        let desired = tags(&[("keep", "1"), ("new", "2")]);
        let diff = sync(
            &current,
            &desired,
            |keys| {
                calls.lock().unwrap().push(format!("untag {keys:?}"));
                async { Ok(()) }
            },
            |set| {
                calls.lock().unwrap().push(format!("tag {set:?}"));
                async { Ok(()) }
            },
        )
        .await
        .unwrap();
        assert_eq!(diff.remove, ["drop"]);
        assert_eq!(*calls.lock().unwrap(), [r#"untag ["drop"]"#, r#"tag {"new": "2"}"#]);
        let none = sync(
            &desired,
            &desired,
            |_| async { panic!("no untag") },
            |_| async { panic!("no tag") },
        );
        assert!(none.await.unwrap().is_empty());
    }

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn adds_changes_and_removes() {
        let current = tags(&[("keep", "1"), ("change", "old"), ("drop", "x")]);
        let desired = tags(&[("keep", "1"), ("change", "new"), ("add", "y")]);
        let diff = TagDiff::between(&current, &desired);
        assert_eq!(diff.set, tags(&[("add", "y"), ("change", "new")]));
        assert_eq!(diff.remove, vec!["drop".to_string()]);
    }

    #[test]
    fn never_touches_aws_tags() {
        let current = tags(&[("aws:cloudformation:stack-name", "s"), ("a", "1")]);
        let desired = tags(&[("AWS:backup", "x"), ("a", "1")]);
        assert!(TagDiff::between(&current, &desired).is_empty());
    }

    #[test]
    fn filters_aws_tags() {
        let t = without_aws_managed(tags(&[("aws:x", "1"), ("Application", "zae-limiter")]));
        assert_eq!(t, tags(&[("Application", "zae-limiter")]));
    }
}
