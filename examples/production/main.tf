# A production zae-limiter stack, as zae-limiter's production guide recommends: point-in-time
# recovery, deletion protection, the aggregator with tracing and an audit archive, alarms to
# an SNS topic, a permission boundary and a role name format on every role, and the
# app/admin/read-only roles.
#
# The SNS topic and the boundary policy usually come from elsewhere in the configuration,
# e.g. `alarm_topic_arn = aws_sns_topic.ops.arn` (hashicorp/aws).

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

  default_tags {
    tags = {
      Environment = "production"
      CostCenter  = var.cost_center
    }
  }
}

resource "zae_limiter_stack" "main" {
  name                = var.stack_name
  pitr_recovery_days  = 35
  deletion_protection = var.deletion_protection

  aggregator {
    memory_size          = 512
    timeout              = 60
    snapshot_windows     = ["hourly", "daily", "monthly"]
    usage_retention_days = 365
    log_retention_days   = 90
    tracing              = true
  }

  audit_archive {
    glacier_transition_days = 90
  }

  alarms {
    sns_topic_arn          = var.alarm_topic_arn
    duration_threshold_pct = 80
  }

  iam {
    create_roles        = true
    permission_boundary = var.permission_boundary
    role_name_format    = var.role_name_format
  }

  timeouts {
    create = "45m"
  }
}

output "table_name" {
  value = zae_limiter_stack.main.table_name
}

output "app_role_arn" {
  description = "Assume this role from application hosts (acquire-only access)."
  value       = zae_limiter_stack.main.app_role_arn
}

output "admin_role_arn" {
  description = "For the operators who manage limits (full access)."
  value       = zae_limiter_stack.main.admin_role_arn
}

output "alarm_arns" {
  value = zae_limiter_stack.main.alarm_arns
}

output "archive_bucket_name" {
  value = zae_limiter_stack.main.archive_bucket_name
}
