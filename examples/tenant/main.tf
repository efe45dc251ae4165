# A zae-limiter stack with two tenants, each a namespace with its own tagged application
# role and limits (see ../modules/tenant).

terraform {
  required_providers {
    zae = {
      source = "zae-limiter/zae"
    }
    aws = {
      source = "hashicorp/aws"
    }
  }
}

provider "zae" {
  region       = var.region
  endpoint_url = var.endpoint_url
}

provider "aws" {
  region = var.region

  # Against a local emulator (endpoint_url set) there is no real account to look up.
  skip_credentials_validation = var.endpoint_url != null
  skip_requesting_account_id  = var.endpoint_url != null
  skip_metadata_api_check     = var.endpoint_url != null

  endpoints {
    iam = var.endpoint_url
    sts = var.endpoint_url
  }
}

resource "zae_limiter_stack" "main" {
  name               = var.stack_name
  pitr_recovery_days = 0
}

module "tenant" {
  source   = "../modules/tenant"
  for_each = toset(["alpha", "beta"])

  stack_name         = zae_limiter_stack.main.name
  name               = each.key
  acquire_policy_arn = zae_limiter_stack.main.namespace_acquire_policy_arn
}

output "namespace_ids" {
  description = "Namespace id per tenant."
  value       = { for name, tenant in module.tenant : name => tenant.namespace_id }
}

output "role_arns" {
  description = "Application role per tenant."
  value       = { for name, tenant in module.tenant : name => tenant.role_arn }
}
