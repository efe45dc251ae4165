# The quick demo: a zae-limiter stack with its aggregator, and one limit, 5 requests per minute for every
# entity and resource of the `default` namespace. `scripts/quickstart.sh` applies it on
# the local emulator and then rate-limits against it with the Rust client.

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
  pitr_recovery_days  = 0
  deletion_protection = var.deletion_protection
  tags                = { Environment = "demo" }

  # The aggregator Lambda: usage snapshots, proactive refill, shard growth.
  aggregator {}
}

# A system default in the `default` namespace: applies to every entity and resource.
resource "zae_limiter_limit" "rpm" {
  stack     = zae_limiter_stack.main.name
  namespace = "default"
  name      = "rpm"
  rate      = 5
  per       = "minute"
}

output "table_name" {
  description = "DynamoDB table (= stack) name."
  value       = zae_limiter_stack.main.table_name
}

output "limit" {
  description = "The stored form of the limit, as zae-limiter reads it."
  value = {
    capacity              = zae_limiter_limit.rpm.capacity
    refill_amount         = zae_limiter_limit.rpm.refill_amount
    refill_period_seconds = zae_limiter_limit.rpm.refill_period_seconds
  }
}
