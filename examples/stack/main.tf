# A zae-limiter stack: the DynamoDB table, its six IAM managed policies, the version record
# and the `default` namespace, the aggregator Lambda (usage snapshots, refill, shard growth)
# with its dead-letter queue, log group and role, and the audit archive bucket, deployed the
# way `zae-limiter deploy` would (zae-limiter 0.17.0).

terraform {
  required_providers {
    zae = {
      source = "zae-limiter/zae"
    }
  }
}

provider "zae" {
  region       = var.region
  endpoint_url = var.endpoint_url
}

resource "zae_limiter_stack" "main" {
  name                = var.stack_name
  pitr_recovery_days  = 7
  deletion_protection = var.deletion_protection

  tags = {
    Environment = "demo"
    Team        = "platform"
  }

  # The built-in Rust aggregator (runtime provided.al2023), fed by the table's stream.
  aggregator {
    memory_size          = 256
    timeout              = 60
    snapshot_windows     = ["hourly", "daily"]
    usage_retention_days = 90
    log_retention_days   = 14
  }

  # Expired audit events, archived to S3 as gzip JSON Lines.
  audit_archive {
    glacier_transition_days = 90
    force_destroy           = var.archive_force_destroy
  }
}

output "table_name" {
  description = "DynamoDB table holding the limits and buckets (give it to the zae-limiter client)."
  value       = zae_limiter_stack.main.table_name
}

output "table_arn" {
  value = zae_limiter_stack.main.table_arn
}

output "stream_arn" {
  value = zae_limiter_stack.main.stream_arn
}

output "aggregator_function_arn" {
  value = zae_limiter_stack.main.aggregator_function_arn
}

output "archive_bucket_name" {
  description = "Where expired audit events go."
  value       = zae_limiter_stack.main.archive_bucket_name
}

output "acquire_only_policy_arn" {
  description = "Attach to application roles that only acquire capacity."
  value       = zae_limiter_stack.main.acquire_only_policy_arn
}

output "full_access_policy_arn" {
  value = zae_limiter_stack.main.full_access_policy_arn
}

output "read_only_policy_arn" {
  value = zae_limiter_stack.main.read_only_policy_arn
}

output "namespace_acquire_policy_arn" {
  value = zae_limiter_stack.main.namespace_acquire_policy_arn
}

output "namespace_full_access_policy_arn" {
  value = zae_limiter_stack.main.namespace_full_access_policy_arn
}

output "namespace_read_only_policy_arn" {
  value = zae_limiter_stack.main.namespace_read_only_policy_arn
}
