# Inputs of the notify-handler deployment. Every one has a default except alert_email's
# optional null, so `infra/apply` works with no -var at all (an Azure-managed sender, Linux
# Consumption, queued mode).

variable "subscription_id" {
  description = "Azure subscription to deploy into. null uses ARM_SUBSCRIPTION_ID (infra/apply sets it from `az account show`)."
  type        = string
  default     = null
}

# Changing location or acs_data_location after the first apply: run infra/destroy first, then
# infra/apply. The package blob and the domain association are create_before_destroy (a new build
# or a new sender domain never leaves the app without a package or a linked domain), and Terraform
# extends create_before_destroy to everything they depend on: the resource group, the storage
# account and container, the Communication and Email services. Those keep fixed names, so a
# replacement created before the original is gone fails with "already exists ... needs to be
# imported".
variable "location" {
  description = "Azure region of the resource group, storage, monitoring and the Function App. It must offer Linux Consumption (Y1) or, for hosting_plan = \"flex\", Flex Consumption (`az functionapp list-flexconsumption-locations`). To change it after the first apply, run infra/destroy first (see the comment above)."
  type        = string
  default     = "japaneast"
}

variable "acs_data_location" {
  description = "Where Azure Communication Services keeps e-mail data at rest (data_location of the Communication and Email services; both must match for the domain link). To change it after the first apply, run infra/destroy first (see the comment above location)."
  type        = string
  default     = "Japan"

  validation {
    # the list of azurerm_communication_service.data_location (website/docs/r/communication_service.html.markdown)
    condition = contains([
      "Africa", "Asia Pacific", "Australia", "Brazil", "Canada", "Europe", "France", "Germany", "India",
      "Japan", "Korea", "Norway", "Switzerland", "UAE", "UK", "usgov", "United States",
    ], var.acs_data_location)
    error_message = "acs_data_location must be one of the ACS data locations (Japan, Europe, United States, UK, ...)."
  }
}

variable "name_prefix" {
  description = "Short lower-case prefix of every resource name; a random 5-character suffix keeps the global names (storage account, Function App host name) unique."
  type        = string
  default     = "notify"

  validation {
    # the storage account name is "st" + prefix + 5 characters: at most 24 lower-case alphanumerics
    condition     = can(regex("^[a-z][a-z0-9]{1,13}$", var.name_prefix))
    error_message = "name_prefix must be 2-14 lower-case letters or digits, starting with a letter."
  }
}

variable "hosting_plan" {
  description = "Functions hosting plan: \"consumption\" (Linux Consumption, Y1: code deployed entirely by Terraform from a blob) or \"flex\" (Flex Consumption, FC1: code deployed after apply with `az functionapp deployment source config-zip`, which infra/apply runs)."
  type        = string
  default     = "consumption"

  validation {
    condition     = contains(["consumption", "flex"], var.hosting_plan)
    error_message = "hosting_plan must be \"consumption\" or \"flex\"."
  }
}

variable "notify_mode" {
  description = "NOTIFY_MODE of the handler: \"queued\" (the HTTP function enqueues and answers 202; the queue-triggered worker sends, with the host's retries and poison queue) or \"direct\" (send inside the HTTP request)."
  type        = string
  default     = "queued"

  validation {
    condition     = contains(["queued", "direct"], var.notify_mode)
    error_message = "notify_mode must be \"queued\" or \"direct\"."
  }
}

variable "zip_path" {
  description = "The deploy package built by `make zip` (host.json, function folders and the static handler at the ZIP root). Relative paths are taken from the directory Terraform runs in (infra/terraform with -chdir)."
  type        = string
  default     = "../../build/notify-handler.zip"

  validation {
    condition     = endswith(var.zip_path, ".zip")
    error_message = "zip_path must name a .zip file."
  }
}

variable "sender_domain" {
  description = "Optional custom (customer-managed) sender domain such as \"mail.example.com\". null keeps only the Azure-managed domain (DoNotReply@<guid>.azurecomm.net, 5 mails a minute). When set, apply outputs the DNS records to publish; verify them, then set sender_domain_verified = true."
  type        = string
  default     = null

  validation {
    condition     = var.sender_domain == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.sender_domain))
    error_message = "sender_domain must be a lower-case DNS name such as mail.example.com."
  }
}

variable "sender_domain_verified" {
  description = "Set to true once the custom domain's Domain, SPF, DKIM and DKIM2 records show Verified in ACS: the domain is then linked to the Communication Service and EMAIL_SENDER switches to it. Linking an unverified domain fails, so this is a second apply."
  type        = bool
  default     = false
  # "needs sender_domain" is a precondition in modules/communication: a validation block may
  # refer to another variable only from Terraform 1.9 on, and this configuration allows 1.5.
}

variable "sender_username" {
  description = "Local part of the sender address on the custom domain. DoNotReply exists on every domain; any other name is created as a sender username (custom domains only: Azure-managed domains cannot personalise it)."
  type        = string
  default     = "DoNotReply"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", var.sender_username))
    error_message = "sender_username must be a plain local part (letters, digits, dot, underscore, hyphen)."
  }
}

variable "sender_display_name" {
  description = "Display name of a custom sender username (used only when sender_username is not DoNotReply)."
  type        = string
  default     = "Notifications"
}

variable "alert_email" {
  description = "Address that receives the failure alert (an Azure Monitor action group). null creates the alert rule without a notification target."
  type        = string
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an e-mail address."
  }
}

variable "log_retention_days" {
  description = "Log Analytics retention in days (30 is included in the ingestion price)."
  type        = number
  default     = 30

  validation {
    condition     = var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days must be between 30 and 730."
  }
}

variable "log_daily_quota_gb" {
  description = "Daily ingestion cap of the Log Analytics workspace in GB; -1 means no cap. A cap bounds cost but drops logs once reached."
  type        = number
  default     = -1
}

variable "function_app_logs_diagnostic_setting" {
  description = "Send the FunctionAppLogs category to the workspace through a diagnostic setting (Consumption only: Flex Consumption has none). Off by default: Linux Consumption support for the category is not confirmed (azure-functions-host issue 5636 is open; an unsupported category fails the apply with \"Category 'FunctionAppLogs' is not supported\"). The handler's lines reach the workspace through Application Insights either way."
  type        = bool
  default     = false
}

variable "flex_instance_memory_mb" {
  description = "Flex Consumption instance memory (512, 2048 or 4096 MB). The handler needs a few MB; 512 is the cheapest."
  type        = number
  default     = 512

  validation {
    condition     = contains([512, 2048, 4096], var.flex_instance_memory_mb)
    error_message = "flex_instance_memory_mb must be 512, 2048 or 4096."
  }
}

variable "flex_maximum_instance_count" {
  description = "Flex Consumption scale-out limit (40-1000; 40 is the platform's lowest maximum)."
  type        = number
  default     = 40

  validation {
    condition     = var.flex_maximum_instance_count >= 40 && var.flex_maximum_instance_count <= 1000
    error_message = "flex_maximum_instance_count must be between 40 and 1000."
  }
}

variable "engagement_tracking_enabled" {
  description = "Also deliver EmailEngagementTrackingReportReceived events (opens and clicks) to the delivery-reports queue, and turn on user engagement tracking of the custom sender domain. ACS tracks engagement only on custom domains (not the Azure-managed one), so this needs sender_domain; off by default."
  type        = bool
  default     = false
}

variable "delivery_failure_alert_pct" {
  description = "The delivery alert fires when more than this percentage of the delivery reports in its window are not Delivered (bounced, suppressed, spam, quarantined, failed), counted only from 10 reports on."
  type        = number
  default     = 10

  validation {
    condition     = var.delivery_failure_alert_pct >= 0 && var.delivery_failure_alert_pct < 100
    error_message = "delivery_failure_alert_pct must be from 0 to below 100."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
