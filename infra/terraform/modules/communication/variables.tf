variable "name" {
  description = "Base name; resources are acs-<name> and ecs-<name>."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the Communication and Email services."
  type        = string
}

variable "data_location" {
  description = "ACS data location (the same for both services, required to link a domain)."
  type        = string
}

variable "sender_domain" {
  description = "Optional customer-managed sender domain; null keeps only the Azure-managed domain."
  type        = string
  default     = null
}

variable "sender_domain_verified" {
  description = "true once the custom domain is verified: link it and send from it."
  type        = bool
  default     = false
}

variable "sender_username" {
  description = "Local part of the custom-domain sender; DoNotReply needs no extra resource."
  type        = string
  default     = "DoNotReply"
}

variable "sender_display_name" {
  description = "Display name of a custom sender username."
  type        = string
  default     = "Notifications"
}

variable "dmarc_report_email" {
  description = "Where aggregate DMARC reports go (rua) in the recommended DMARC record; null omits rua."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the Communication and Email services."
  type        = map(string)
  default     = {}
}

variable "engagement_tracking" {
  description = "Turn on user engagement tracking (opens and clicks) of the custom sender domain; the Azure-managed domain has none."
  type        = bool
  default     = false
}
