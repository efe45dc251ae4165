variable "stack_name" {
  description = "Name of the zae-limiter stack (zae_limiter_stack.<x>.name)."
  type        = string
}

variable "name" {
  description = "Tenant name; the namespace is \"tenant-<name>\"."
  type        = string
}

variable "acquire_policy_arn" {
  description = "The stack's namespace-acquire policy (zae_limiter_stack.<x>.namespace_acquire_policy_arn), attached to the tenant's role."
  type        = string
}

variable "on_destroy" {
  description = "What destroying the tenant does to its namespace: \"soft_delete\" (recoverable) or \"purge\" (permanent)."
  type        = string
  default     = "soft_delete"
}

variable "rpm" {
  description = "Requests per minute for api-key-123 on gpt-4."
  type        = number
  default     = 100
}

variable "rpm_burst" {
  description = "Ceiling of that limit (null = rpm)."
  type        = number
  default     = 150
}

variable "default_rpm" {
  description = "Requests per minute for every other entity, on every resource."
  type        = number
  default     = 20
}
