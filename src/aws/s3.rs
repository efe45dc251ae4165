//! S3 buckets: the audit archive bucket (`AuditArchiveBucket`, spec §7.4 and §9.3): create
//! (region-aware), SSE-S3 default encryption, all public access blocked, the
//! `TransitionToGlacier` lifecycle rule, tags, find, empty (every object version and delete
//! marker, page by page), delete.
//!
//! The S3 client must use path-style addressing against a custom endpoint (an emulator on
//! `127.0.0.1` has no per-bucket host names); the provider sets that when an endpoint is
//! configured, and leaves real AWS on virtual-hosted style.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration, Delete, ExpirationStatus,
    LifecycleRule, LifecycleRuleFilter, ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
    Transition, TransitionStorageClass,
};

use super::error::{AwsError, Result, SdkResultExt};
use super::log_call;
use super::retry::{RetryPolicy, send_with_retry};
use super::tags::Tags;

/// Id of the archive bucket's lifecycle rule (as in the 0.17.0 template).
pub const GLACIER_RULE_ID: &str = "TransitionToGlacier";
/// The stack's default `AuditArchiveGlacierTransitionDays`.
pub const DEFAULT_GLACIER_TRANSITION_DAYS: i32 = 90;
/// DeleteObjects takes at most this many keys per call.
const DELETE_BATCH: usize = 1000;
/// Upper bound on ListObjectVersions pages while emptying a bucket (1000 entries a page).
const MAX_PAGES: usize = 100_000;

/// S3 error codes meaning "this bucket does not exist".
const BUCKET_MISSING_CODES: &[&str] = &["NoSuchBucket", "NotFound"];

/// The default region, where CreateBucket must not send a LocationConstraint.
const US_EAST_1: &str = "us-east-1";

/// What the stack decides about its archive bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveBucketSettings {
    /// Bucket name.
    pub name: String,
    /// The region to create it in.
    pub region: String,
    /// Days after which objects move to GLACIER_IR.
    pub glacier_transition_days: i32,
    /// Tags (the template sets `Application=zae-limiter`).
    pub tags: Tags,
}

impl ArchiveBucketSettings {
    /// The 0.17.0 settings: transition after 90 days, `Application=zae-limiter`.
    pub fn new(name: impl Into<String>, region: impl Into<String>) -> Self {
        ArchiveBucketSettings {
            name: name.into(),
            region: region.into(),
            glacier_transition_days: DEFAULT_GLACIER_TRANSITION_DAYS,
            tags: Tags::from([("Application".to_owned(), "zae-limiter".to_owned())]),
        }
    }
}

/// A bucket's archive-relevant configuration as S3 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    /// Bucket name.
    pub name: String,
    /// Its region (`us-east-1` when S3 reports no LocationConstraint).
    pub region: Option<String>,
    /// Default encryption algorithm, e.g. `AES256` (SSE-S3); `None` when none is configured.
    pub sse_algorithm: Option<String>,
    /// True when all four public-access-block settings are on.
    pub public_access_blocked: bool,
    /// Days of the enabled [`GLACIER_RULE_ID`] transition to GLACIER_IR, if present.
    pub glacier_transition_days: Option<i32>,
    /// Tags.
    pub tags: Tags,
}

/// The ARN of a bucket: `arn:{partition}:s3:::{name}`.
pub fn bucket_arn(partition: &str, name: &str) -> String {
    format!("arn:{partition}:s3:::{name}")
}

fn resource(name: &str) -> String {
    format!("S3 bucket \"{name}\"")
}

fn bucket_missing(err: &AwsError) -> bool {
    err.code().is_some_and(|c| BUCKET_MISSING_CODES.contains(&c))
        || (err.code().is_none() && err.http_status() == Some(404))
}

/// The CreateBucket configuration for `region`: none in us-east-1 (S3 rejects an explicit
/// `us-east-1` constraint), the region's constraint elsewhere.
pub fn create_bucket_configuration(region: &str) -> Option<CreateBucketConfiguration> {
    (region != US_EAST_1).then(|| {
        CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(region))
            .build()
    })
}

/// The archive bucket's lifecycle: one enabled rule for every object, to GLACIER_IR after
/// `days` days.
pub fn glacier_lifecycle(days: i32) -> Result<BucketLifecycleConfiguration> {
    if !(1..=3650).contains(&days) {
        return Err(AwsError::InvalidInput {
            what: "Glacier transition".into(),
            detail: format!("{days} days: the stack accepts 1-3650"),
        });
    }
    let rule = LifecycleRule::builder()
        .id(GLACIER_RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .transitions(
            Transition::builder()
                .days(days)
                .storage_class(TransitionStorageClass::GlacierIr)
                .build(),
        )
        .build()
        .map_err(|e| AwsError::build("PutBucketLifecycleConfiguration", e))?;
    BucketLifecycleConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|e| AwsError::build("PutBucketLifecycleConfiguration", e))
}

/// Creates the bucket in `region`; `Ok(true)` when S3 reports success. A bucket this account
/// already owns is accepted: outside us-east-1 S3 answers `BucketAlreadyOwnedByYou`
/// (`Ok(false)`), in us-east-1 it answers success (`Ok(true)`). A name taken by another
/// account fails with `BucketAlreadyExists`.
pub async fn create_bucket(client: &Client, name: &str, region: &str) -> Result<bool> {
    let request = client
        .create_bucket()
        .bucket(name)
        .set_create_bucket_configuration(create_bucket_configuration(region));
    let created = send_with_retry(
        &RetryPolicy::CONTROL_PLANE,
        "CreateBucket",
        &resource(name),
        AwsError::is_retryable,
        &request,
        |r| r.send(),
    )
    .await;
    match created {
        Ok(_) => Ok(true),
        Err(err) if err.has_code("BucketAlreadyOwnedByYou") => Ok(false),
        Err(err) => Err(err),
    }
}

/// Sets SSE-S3 (`AES256`) as the bucket's default encryption.
pub async fn put_sse_s3_encryption(client: &Client, name: &str) -> Result<()> {
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(|e| AwsError::build("PutBucketEncryption", e))?;
    let configuration = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .build(),
        )
        .build()
        .map_err(|e| AwsError::build("PutBucketEncryption", e))?;
    log_call("PutBucketEncryption", &resource(name));
    client
        .put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(configuration)
        .send()
        .await
        .context("PutBucketEncryption", resource(name))?;
    Ok(())
}

/// Blocks all public access: public ACLs and policies are refused and ignored.
pub async fn put_public_access_block(client: &Client, name: &str) -> Result<()> {
    let configuration = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    log_call("PutPublicAccessBlock", &resource(name));
    client
        .put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(configuration)
        .send()
        .await
        .context("PutPublicAccessBlock", resource(name))?;
    Ok(())
}

/// Replaces the bucket's lifecycle configuration with [`glacier_lifecycle`]`(days)`.
pub async fn put_glacier_lifecycle(client: &Client, name: &str, days: i32) -> Result<()> {
    let configuration = glacier_lifecycle(days)?;
    log_call("PutBucketLifecycleConfiguration", &resource(name));
    client
        .put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(configuration)
        .send()
        .await
        .context("PutBucketLifecycleConfiguration", resource(name))?;
    Ok(())
}

/// Replaces the bucket's tags (an empty map removes them all).
pub async fn put_tags(client: &Client, name: &str, tags: &Tags) -> Result<()> {
    if tags.is_empty() {
        log_call("DeleteBucketTagging", &resource(name));
        client
            .delete_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .context("DeleteBucketTagging", resource(name))?;
        return Ok(());
    }
    let tag_set = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| AwsError::build("PutBucketTagging", e))?;
    let tagging = Tagging::builder()
        .set_tag_set(Some(tag_set))
        .build()
        .map_err(|e| AwsError::build("PutBucketTagging", e))?;
    log_call("PutBucketTagging", &resource(name));
    client
        .put_bucket_tagging()
        .bucket(name)
        .tagging(tagging)
        .send()
        .await
        .context("PutBucketTagging", resource(name))?;
    Ok(())
}

/// Creates and configures the archive bucket: bucket, encryption, public access block,
/// lifecycle, tags (each its own call; a failure leaves a bucket [`find_bucket`] can
/// describe).
pub async fn create_archive_bucket(client: &Client, settings: &ArchiveBucketSettings) -> Result<()> {
    create_bucket(client, &settings.name, &settings.region).await?;
    configure_archive_bucket(client, settings).await
}

/// Gives an existing bucket the archive's configuration: encryption, public access
/// block, lifecycle, tags (each call idempotent).
pub async fn configure_archive_bucket(client: &Client, settings: &ArchiveBucketSettings) -> Result<()> {
    let name = settings.name.as_str();
    put_sse_s3_encryption(client, name).await?;
    put_public_access_block(client, name).await?;
    put_glacier_lifecycle(client, name, settings.glacier_transition_days).await?;
    put_tags(client, name, &settings.tags).await
}

/// Reads the bucket's region, encryption, public access block, Glacier rule and tags;
/// `None` when the bucket does not exist.
pub async fn find_bucket(client: &Client, name: &str) -> Result<Option<BucketInfo>> {
    log_call("HeadBucket", &resource(name));
    match client
        .head_bucket()
        .bucket(name)
        .send()
        .await
        .context("HeadBucket", resource(name))
    {
        Ok(_) => {}
        Err(err) if bucket_missing(&err) => return Ok(None),
        Err(err) => return Err(err),
    }
    log_call("GetBucketLocation", &resource(name));
    let location = client
        .get_bucket_location()
        .bucket(name)
        .send()
        .await
        .context("GetBucketLocation", resource(name))?;
    let region = match location.location_constraint() {
        None => Some(US_EAST_1.to_owned()),
        Some(c) if c.as_str().is_empty() => Some(US_EAST_1.to_owned()),
        Some(c) => Some(c.as_str().to_owned()),
    };

    log_call("GetBucketEncryption", &resource(name));
    let sse_algorithm = match client
        .get_bucket_encryption()
        .bucket(name)
        .send()
        .await
        .context("GetBucketEncryption", resource(name))
    {
        Ok(out) => out
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map(|d| d.sse_algorithm().as_str().to_owned()),
        Err(err) => missing_part(err, &["ServerSideEncryptionConfigurationNotFoundError"])?,
    };

    log_call("GetPublicAccessBlock", &resource(name));
    let public_access_blocked = match client
        .get_public_access_block()
        .bucket(name)
        .send()
        .await
        .context("GetPublicAccessBlock", resource(name))
    {
        Ok(out) => out.public_access_block_configuration().is_some_and(|c| {
            [
                c.block_public_acls(),
                c.ignore_public_acls(),
                c.block_public_policy(),
                c.restrict_public_buckets(),
            ]
            .iter()
            .all(|b| *b == Some(true))
        }),
        Err(err) => missing_part(err, &["NoSuchPublicAccessBlockConfiguration"])?.unwrap_or(false),
    };

    log_call("GetBucketLifecycleConfiguration", &resource(name));
    let glacier_transition_days = match client
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .send()
        .await
        .context("GetBucketLifecycleConfiguration", resource(name))
    {
        Ok(out) => out
            .rules()
            .iter()
            .filter(|r| r.id() == Some(GLACIER_RULE_ID) && r.status() == &ExpirationStatus::Enabled)
            .flat_map(|r| r.transitions())
            .find(|t| t.storage_class() == Some(&TransitionStorageClass::GlacierIr))
            .and_then(|t| t.days()),
        Err(err) => missing_part(err, &["NoSuchLifecycleConfiguration"])?,
    };

    log_call("GetBucketTagging", &resource(name));
    let tags = match client
        .get_bucket_tagging()
        .bucket(name)
        .send()
        .await
        .context("GetBucketTagging", resource(name))
    {
        Ok(out) => out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
        Err(err) => missing_part(err, &["NoSuchTagSet", "NoSuchTagSetError"])?.unwrap_or_default(),
    };

    Ok(Some(BucketInfo {
        name: name.to_owned(),
        region,
        sse_algorithm,
        public_access_blocked,
        glacier_transition_days,
        tags,
    }))
}

/// Whether the bucket holds any object version or delete marker (a missing bucket holds
/// none): what decides if deleting it would lose archived data.
pub async fn holds_objects(client: &Client, name: &str) -> Result<bool> {
    log_call("ListObjectVersions", &resource(name));
    match client
        .list_object_versions()
        .bucket(name)
        .max_keys(1)
        .send()
        .await
        .context("ListObjectVersions", resource(name))
    {
        Ok(page) => Ok(!page.versions().is_empty() || !page.delete_markers().is_empty()),
        Err(err) if bucket_missing(&err) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Deletes every object version and delete marker in the bucket, page by page (1000 keys
/// per DeleteObjects call); returns how many were deleted. A missing bucket counts as empty.
pub async fn empty_bucket(client: &Client, name: &str) -> Result<usize> {
    empty_bucket_in_pages(client, name, None).await
}

/// [`empty_bucket`] listing at most `page_size` entries per ListObjectVersions page (`None`
/// = S3's 1000).
///
/// Every page is listed from the start of the bucket: the entries of the previous page are
/// gone by then, so no continuation marker is needed (the emulator mishandles markers that
/// name deleted keys), and objects written meanwhile are deleted too.
pub async fn empty_bucket_in_pages(client: &Client, name: &str, page_size: Option<i32>) -> Result<usize> {
    let mut deleted = 0usize;
    for _ in 0..MAX_PAGES {
        log_call("ListObjectVersions", &resource(name));
        let page = match client
            .list_object_versions()
            .bucket(name)
            .set_max_keys(page_size)
            .send()
            .await
            .context("ListObjectVersions", resource(name))
        {
            Ok(page) => page,
            Err(err) if bucket_missing(&err) => return Ok(deleted),
            Err(err) => return Err(err),
        };
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        let objects = versions
            .chain(markers)
            .filter_map(|(key, version)| {
                key.map(|key| {
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.map(str::to_owned))
                        .build()
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| AwsError::build("DeleteObjects", e))?;
        if objects.is_empty() {
            return Ok(deleted);
        }
        for batch in objects.chunks(DELETE_BATCH) {
            delete_objects(client, name, batch).await?;
            deleted += batch.len();
        }
    }
    Err(AwsError::InvalidResponse {
        operation: "ListObjectVersions",
        resource: resource(name),
        detail: format!("still not empty after {MAX_PAGES} pages of object versions"),
    })
}

/// `Ok(None)` when `err` says the bucket has no such configuration (`codes`), else `err`.
fn missing_part<T>(err: AwsError, codes: &[&str]) -> Result<Option<T>> {
    if err.code().is_some_and(|c| codes.contains(&c)) {
        Ok(None)
    } else {
        Err(err)
    }
}

async fn delete_objects(client: &Client, name: &str, batch: &[ObjectIdentifier]) -> Result<()> {
    let delete = Delete::builder()
        .set_objects(Some(batch.to_vec()))
        .quiet(true)
        .build()
        .map_err(|e| AwsError::build("DeleteObjects", e))?;
    log_call("DeleteObjects", &resource(name));
    let output = client
        .delete_objects()
        .bucket(name)
        .delete(delete)
        .send()
        .await
        .context("DeleteObjects", resource(name))?;
    if let Some(first) = output.errors().first() {
        return Err(AwsError::InvalidResponse {
            operation: "DeleteObjects",
            resource: resource(name),
            detail: format!(
                "{} of {} objects not deleted, e.g. {:?}: {} {}",
                output.errors().len(),
                batch.len(),
                first.key().unwrap_or_default(),
                first.code().unwrap_or("UnknownError"),
                first.message().unwrap_or_default()
            ),
        });
    }
    Ok(())
}

/// Deletes the bucket, which must be empty (see [`empty_bucket`]); `Ok(false)` when it did
/// not exist.
pub async fn delete_bucket(client: &Client, name: &str) -> Result<bool> {
    log_call("DeleteBucket", &resource(name));
    match client
        .delete_bucket()
        .bucket(name)
        .send()
        .await
        .context("DeleteBucket", resource(name))
    {
        Ok(_) => Ok(true),
        Err(err) if bucket_missing(&err) => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::error::tests::{service_error, service_error_with_status};

    #[test]
    fn us_east_1_buckets_send_no_location_constraint() {
        assert_eq!(create_bucket_configuration("us-east-1"), None);
        let eu = create_bucket_configuration("eu-west-1").expect("a constraint");
        assert_eq!(eu.location_constraint(), Some(&BucketLocationConstraint::EuWest1));
    }

    #[test]
    fn the_lifecycle_moves_everything_to_glacier_ir() {
        let configuration = glacier_lifecycle(30).unwrap();
        let [rule] = configuration.rules() else {
            panic!("one rule: {configuration:?}")
        };
        assert_eq!(rule.id(), Some(GLACIER_RULE_ID));
        assert_eq!(rule.status(), &ExpirationStatus::Enabled);
        assert_eq!(rule.filter().and_then(|f| f.prefix()), Some(""));
        let [transition] = rule.transitions() else {
            panic!("one transition: {rule:?}")
        };
        assert_eq!(transition.days(), Some(30));
        assert_eq!(transition.storage_class(), Some(&TransitionStorageClass::GlacierIr));
        assert!(glacier_lifecycle(0).is_err());
        assert!(glacier_lifecycle(3651).is_err());
    }

    #[test]
    fn missing_buckets_are_recognised() {
        assert!(bucket_missing(&service_error("NoSuchBucket", "gone")));
        assert!(bucket_missing(&service_error_with_status("NotFound", "", 404)));
        assert!(!bucket_missing(&service_error_with_status("AccessDenied", "no", 403)));
        assert_eq!(bucket_arn("aws", "b"), "arn:aws:s3:::b");
    }
}
