variable "name" {
  description = "Base name; resources are log-<name>, appi-<name>, ag-<name>, alert-<name>-failures."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the monitoring resources."
  type        = string
}

variable "location" {
  description = "Azure region of the workspace, Application Insights and the alert rule."
  type        = string
}

variable "retention_in_days" {
  description = "Log Analytics retention (30-730 days)."
  type        = number
  default     = 30
}

variable "daily_quota_gb" {
  description = "Daily ingestion cap in GB; -1 for none."
  type        = number
  default     = -1
}

variable "alert_email" {
  description = "Receiver of the failure alert; null leaves the alert without an action group."
  type        = string
  default     = null
}

variable "kql_dir" {
  description = "Directory holding notification_story.kql, send_failures.kql, throttling.kql, delivery_rate.kql, failure_alert.kql and delivery_alert.kql (infra/kql). The queries run in the workspace, so they use workspace table names (AppTraces, AppRequests, FunctionAppLogs)."
  type        = string
}

variable "delivery_failure_alert_pct" {
  description = "The delivery alert fires above this percentage of non-Delivered reports in its window (delivery_alert.kql)."
  type        = number
  default     = 10
}

variable "alert_frequency" {
  description = "How often the failure alert runs and the window it looks at (ISO 8601: PT5M, PT15M, PT1H)."
  type        = string
  default     = "PT5M"
}

variable "tags" {
  description = "Tags for the monitoring resources."
  type        = map(string)
  default     = {}
}
