variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"
}

variable "endpoint_url" {
  description = "Endpoint URL for every AWS service, e.g. a local emulator (http://127.0.0.1:5000). Null uses AWS."
  type        = string
  default     = null
}

variable "stack_name" {
  description = "Name of the zae-limiter stack (also the DynamoDB table name)."
  type        = string
  default     = "zae-demo"
}

variable "deletion_protection" {
  description = "Protect the table from deletion. Off for this demo so `terraform destroy` works; turn it on for real stacks."
  type        = bool
  default     = false
}

variable "archive_force_destroy" {
  description = "Whether destroying the stack may delete archived audit events."
  type        = bool
  default     = false
}
