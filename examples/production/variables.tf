variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"
}

variable "endpoint_url" {
  description = "Endpoint URL for every AWS service, e.g. a local emulator. Null uses AWS."
  type        = string
  default     = null
}

variable "stack_name" {
  description = "Name of the zae-limiter stack (also the DynamoDB table name)."
  type        = string
  default     = "prod-limiter"
}

variable "deletion_protection" {
  description = "Protect the table from deletion (turn off, apply, then destroy)."
  type        = bool
  default     = true
}

variable "alarm_topic_arn" {
  description = "The SNS topic the alarms notify."
  type        = string
}

variable "permission_boundary" {
  description = "Permission boundary of every role the stack creates: a policy ARN or name."
  type        = string
}

variable "role_name_format" {
  description = "Role name format; {} is the default role name."
  type        = string
  default     = "{}-PowerUser"
}

variable "cost_center" {
  description = "Tagged on every resource through the provider's default_tags."
  type        = string
  default     = "platform"
}
