variable "name" {
  description = "Base name (\"notify-ab12c\") of the system topic and the event subscription."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the system topic and its event subscription."
  type        = string
}

variable "communication_service_id" {
  description = "Resource ID of the Communication Service whose e-mail events are delivered."
  type        = string
}

variable "storage_account_id" {
  description = "Resource ID of the storage account holding the delivery-reports queue and the dead-letter container (the Function App's host storage, AzureWebJobsStorage)."
  type        = string
}

variable "queue_name" {
  description = "Queue Event Grid writes the delivery reports to; must match queueName in infra/functions/delivery_report/function.json."
  type        = string
  default     = "delivery-reports"
}

variable "dead_letter_container_name" {
  description = "Private blob container where Event Grid dead-letters events it could not deliver to the queue."
  type        = string
  default     = "eventgrid-deadletter"
}

variable "engagement_tracking_enabled" {
  description = "Also deliver Microsoft.Communication.EmailEngagementTrackingReportReceived (opens and clicks). ACS sends them only for a custom domain with user engagement tracking on."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for the system topic."
  type        = map(string)
  default     = {}
}
