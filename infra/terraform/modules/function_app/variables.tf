variable "name" {
  description = "Function App name (global: <name>.azurewebsites.net), at most 32 characters to avoid host ID collisions."
  type        = string

  validation {
    condition     = length(var.name) <= 32
    error_message = "The Function App name should be at most 32 characters (Functions host ID collisions)."
  }
}

variable "plan_name" {
  description = "App Service plan name; the plan kind (-y1 or -fc1) is appended."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the plan and the app."
  type        = string
}

variable "location" {
  description = "Azure region of the plan and the app."
  type        = string
}

variable "hosting_plan" {
  description = "consumption (Linux Consumption Y1) or flex (Flex Consumption FC1)."
  type        = string
  default     = "consumption"

  validation {
    condition     = contains(["consumption", "flex"], var.hosting_plan)
    error_message = "hosting_plan must be \"consumption\" or \"flex\"."
  }
}

variable "zip_path" {
  description = "The deploy package from `make zip` (uploaded as a blob on Consumption; deployed by infra/apply on Flex)."
  type        = string
}

variable "function_name" {
  description = "The HTTP function that takes POST /api/notification (its folder name in the package)."
  type        = string
  default     = "notification"
}

variable "storage_account_id" {
  description = "Host storage account ID (scope of the app's storage roles)."
  type        = string
}

variable "storage_account_name" {
  description = "Host storage account name (AzureWebJobsStorage__accountName)."
  type        = string
}

variable "storage_blob_endpoint" {
  description = "primary_blob_endpoint of the storage account, with its trailing slash."
  type        = string
}

variable "storage_access_key" {
  description = "Storage account key, used only by Flex Consumption (deployment storage and AzureWebJobsStorage connection string)."
  type        = string
  sensitive   = true
}

variable "deployment_container_id" {
  description = "Resource ID of the private package container."
  type        = string
}

variable "deployment_container_name" {
  description = "Name of the private package container."
  type        = string
}

variable "communication_service_id" {
  description = "Communication Service the app's identity may send through."
  type        = string
}

variable "acs_endpoint" {
  description = "ACS_ENDPOINT: https://<communication service host>."
  type        = string
}

variable "email_sender" {
  description = "EMAIL_SENDER: the From address."
  type        = string
}

variable "notify_mode" {
  description = "NOTIFY_MODE: queued or direct."
  type        = string
  default     = "queued"
}

variable "application_insights_connection_string" {
  description = "APPLICATIONINSIGHTS_CONNECTION_STRING."
  type        = string
  sensitive   = true
}

variable "log_analytics_workspace_id" {
  description = "Workspace for the FunctionAppLogs diagnostic setting."
  type        = string
}

variable "diagnostic_setting_enabled" {
  description = "Create the FunctionAppLogs diagnostic setting (Consumption only)."
  type        = bool
  default     = true
}

variable "app_settings" {
  description = "Extra app settings (for example NOTIFY_LOG_LEVEL); they override the defaults set here."
  type        = map(string)
  default     = {}
}

variable "flex_instance_memory_mb" {
  description = "Flex Consumption instance memory in MB."
  type        = number
  default     = 512
}

variable "flex_maximum_instance_count" {
  description = "Flex Consumption scale-out limit."
  type        = number
  default     = 40
}

variable "tags" {
  description = "Tags for the plan and the app."
  type        = map(string)
  default     = {}
}
