//! The `provider "zae" { ... }` configuration schema, modelled on the AWS provider's.

use crate::framework::validator::{Each, IntBetween, MapEntries, StringCheck};
use crate::framework::{Attribute, Block, NestedBlock, Schema};

/// Services the provider calls: their endpoint can be overridden in the `endpoints` block.
pub const ENDPOINT_SERVICES: [&str; 8] = ["dynamodb", "iam", "sts", "lambda", "s3", "sqs", "logs", "cloudwatch"];

/// Services the `endpoints` block also accepts (AWS provider blocks set them, e.g. for the
/// topic alarms notify) although the provider never calls them: setting one is a warning.
pub const UNUSED_ENDPOINT_SERVICES: [&str; 1] = ["sns"];

/// An AWS account id: twelve digits.
fn account_id_check() -> StringCheck {
    StringCheck::new("Invalid AWS account ID", "a 12-digit AWS account ID", |s| {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err(format!(
                "{s:?} is not an AWS account ID (12 digits, e.g. \"123456789012\")"
            ))
        }
    })
}

fn url_check() -> StringCheck {
    StringCheck::new("Invalid endpoint URL", "an http:// or https:// URL", |s| {
        if (s.starts_with("http://") || s.starts_with("https://")) && s.len() > "https://".len() - 1 {
            Ok(())
        } else {
            Err(format!(
                "{s:?} is not an endpoint URL: it must start with http:// or https://, e.g. \"http://127.0.0.1:5000\""
            ))
        }
    })
}

/// Tag keys and values acceptable to AWS, reported under `summary`.
pub fn tag_check(summary: &'static str) -> MapEntries {
    MapEntries::new(summary, crate::aws::tags::check_tag)
}

/// The provider schema.
pub fn provider_schema() -> Schema {
    let mut endpoints =
        Block::new("Per-service endpoint URLs; each overrides `endpoint_url` and `AWS_ENDPOINT_URL_<SERVICE>`.");
    for service in ENDPOINT_SERVICES {
        endpoints = endpoints.attribute(
            Attribute::string(service)
                .optional()
                .description(format!("Endpoint URL for {service}."))
                .validator(url_check()),
        );
    }
    for service in UNUSED_ENDPOINT_SERVICES {
        endpoints = endpoints.attribute(
            Attribute::string(service)
                .optional()
                .description(format!(
                    "Not used: the provider never calls {service} (setting it is a warning)."
                ))
                .validator(url_check()),
        );
    }
    let mut endpoints = NestedBlock::single("endpoints", endpoints);
    endpoints.max_items = 1;

    let mut assume_role = NestedBlock::single(
        "assume_role",
        Block::new("Assume this IAM role with the configured credentials before calling AWS.")
            .attribute(
                Attribute::string("role_arn")
                    .required()
                    .description("ARN of the role to assume.")
                    .validator(StringCheck::new("Invalid role ARN", "an IAM role ARN", |s| {
                        if s.starts_with("arn:") && s.contains(":role/") {
                            Ok(())
                        } else {
                            Err(format!(
                                "{s:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"
                            ))
                        }
                    })),
            )
            .attribute(
                Attribute::string("session_name")
                    .optional()
                    .description("Session name (default `terraform-provider-zae`)."),
            )
            .attribute(
                Attribute::string("external_id")
                    .optional()
                    .description("External id the role's trust policy requires."),
            ),
    );
    assume_role.max_items = 1;

    let mut default_tags = NestedBlock::single(
        "default_tags",
        Block::new(
            "Tags applied to every taggable AWS object this provider creates; resource `tags` win on conflicts.",
        )
        .attribute(
            Attribute::string_map("tags")
                .optional()
                .description("The tags.")
                .validator(tag_check("Invalid default tag")),
        ),
    );
    default_tags.max_items = 1;

    Schema::new(
        Block::new("The zae provider manages zae-limiter stacks, namespaces and limits in AWS.")
            .attribute(
                Attribute::string("region").optional().description(
                    "AWS region. Falls back to `AWS_REGION`, `AWS_DEFAULT_REGION` and the profile's region.",
                ),
            )
            .attribute(
                Attribute::string("profile")
                    .optional()
                    .description("Named profile from the shared AWS config files. Falls back to `AWS_PROFILE`."),
            )
            .attribute(
                Attribute::string("access_key")
                    .optional()
                    .sensitive()
                    .description("Static access key id (with `secret_key`)."),
            )
            .attribute(
                Attribute::string("secret_key")
                    .optional()
                    .sensitive()
                    .description("Static secret access key (with `access_key`)."),
            )
            .attribute(
                Attribute::string("token")
                    .optional()
                    .sensitive()
                    .description("Session token for temporary static credentials."),
            )
            .attribute(
                Attribute::string("endpoint_url")
                    .optional()
                    .description(
                        "Endpoint URL for every service (e.g. a local emulator). Falls back to `AWS_ENDPOINT_URL`.",
                    )
                    .validator(url_check()),
            )
            .attribute(
                Attribute::number("max_retries")
                    .optional()
                    .description("Maximum retries of a throttled or failed AWS call (default 25).")
                    .validator(IntBetween { min: 0, max: 100 }),
            )
            .attribute(
                Attribute::string_set("allowed_account_ids")
                    .optional()
                    .description(
                        "The AWS accounts the provider may work in: configuring fails in any other account. \
                         Conflicts with `forbidden_account_ids`.",
                    )
                    .validator(Each(account_id_check())),
            )
            .attribute(
                Attribute::string_set("forbidden_account_ids")
                    .optional()
                    .description(
                        "AWS accounts the provider must not work in: configuring fails in any of them. \
                         Conflicts with `allowed_account_ids`.",
                    )
                    .validator(Each(account_id_check())),
            )
            .attribute(
                Attribute::bool("skip_credentials_validation")
                    .optional()
                    .description("Skip the STS GetCallerIdentity check at configuration time."),
            )
            .block(assume_role)
            .block(endpoints)
            .block(default_tags),
    )
}
