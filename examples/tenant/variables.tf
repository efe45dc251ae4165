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
  description = "Name of the zae-limiter stack."
  type        = string
  default     = "zae-tenants"
}
