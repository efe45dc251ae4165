# A zae-limiter stack: the DynamoDB table, its six IAM managed policies, the version record
# and the `default` namespace, deployed the way `zae-limiter deploy` would (zae-limiter 0.17.0).

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
