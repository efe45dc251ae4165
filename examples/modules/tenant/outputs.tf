output "namespace_id" {
  description = "The namespace's opaque id (also the value of the role's zael_namespace_id tag)."
  value       = zae_limiter_namespace.this.id
}

output "namespace_name" {
  value = zae_limiter_namespace.this.name
}

output "role_name" {
  value = aws_iam_role.app.name
}

output "role_arn" {
  description = "Give this role to the tenant's application."
  value       = aws_iam_role.app.arn
}
