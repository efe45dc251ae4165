# One tenant of a zae-limiter stack: its namespace, an application role tagged for the
# namespace (so the stack's namespace-scoped policies let it act in this namespace only),
# and its limits.

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

# The application's role. It gets the stack's namespace-acquire policy, whose conditions
# allow only keys under ${aws:PrincipalTag/zael_namespace_id}/ — and the namespace below
# tags the role with its id.
resource "aws_iam_role" "app" {
  name = "${var.stack_name}-${var.name}-app"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  # The namespace resource owns the zael_namespace_id tag.
  lifecycle {
    ignore_changes = [tags, tags_all]
  }
}

resource "aws_iam_role_policy_attachment" "acquire" {
  role       = aws_iam_role.app.name
  policy_arn = var.acquire_policy_arn
}

resource "zae_limiter_namespace" "this" {
  stack          = var.stack_name
  name           = "tenant-${var.name}"
  principal_tags = { roles = [aws_iam_role.app.name] } # tagged zael_namespace_id = <id>
  on_destroy     = var.on_destroy                      # "soft_delete" or "purge"
}

# 100 requests per minute for api-key-123 on gpt-4, with a ceiling of 150.
resource "zae_limiter_limit" "rpm" {
  stack     = var.stack_name
  namespace = zae_limiter_namespace.this.name
  resource  = "gpt-4"       # omit for every resource (_default_)
  entity_id = "api-key-123" # omit for a resource-level or system default
  name      = "rpm"
  rate      = var.rpm
  per       = "minute"
  burst     = var.rpm_burst # defaults to rate
}

# Every other caller of the namespace: 20 requests per minute, on any resource.
resource "zae_limiter_limit" "default_rpm" {
  stack     = var.stack_name
  namespace = zae_limiter_namespace.this.name
  name      = "rpm"
  rate      = var.default_rpm
  per       = "minute"
}

# The same limit can be given in the form zae-limiter stores it: 10,000 tokens per minute.
resource "zae_limiter_limit" "tpm" {
  stack                 = var.stack_name
  namespace             = zae_limiter_namespace.this.name
  resource              = "gpt-4"
  name                  = "tpm"
  capacity              = 10000
  refill_amount         = 10000
  refill_period_seconds = 60
}
