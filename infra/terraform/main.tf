# notify-handler on Azure: one resource group holding
#   storage       the Functions host storage, the notifications queue (+ poison) and the package container
#   monitoring    Log Analytics, workspace-based Application Insights, saved searches, failure alert
#   communication ACS + Email service, the Azure-managed domain, an optional custom domain
#   function_app  the Linux plan (Consumption Y1 or Flex FC1) and the custom-handler Function App
#   events        ACS delivery reports: Event Grid system topic -> the delivery-reports queue
# Layout mirrors the original system's infra/modules/function_app: one module per concern.

resource "random_string" "suffix" {
  length  = 5
  upper   = false
  special = false
  numeric = true
}

locals {
  # "notify-ab12c" for names that allow hyphens, "notifyab12c" for the storage account
  name    = "${var.name_prefix}-${random_string.suffix.result}"
  compact = "${var.name_prefix}${random_string.suffix.result}"

  tags = merge({ app = "notify-handler", managed-by = "terraform" }, var.tags)
}

resource "azurerm_resource_group" "this" {
  name     = "rg-${local.name}"
  location = var.location
  tags     = local.tags
}

module "storage" {
  source = "./modules/storage"

  name                = "st${local.compact}"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  tags                = local.tags
}

module "monitoring" {
  source = "./modules/monitoring"

  name                = local.name
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  retention_in_days   = var.log_retention_days
  daily_quota_gb      = var.log_daily_quota_gb
  alert_email         = var.alert_email
  kql_dir             = "${path.module}/../kql"

  delivery_failure_alert_pct = var.delivery_failure_alert_pct
  tags                = local.tags
}

module "communication" {
  source = "./modules/communication"

  name                   = local.name
  resource_group_name    = azurerm_resource_group.this.name
  data_location          = var.acs_data_location
  sender_domain          = var.sender_domain
  sender_domain_verified = var.sender_domain_verified
  sender_username        = var.sender_username
  sender_display_name    = var.sender_display_name
  dmarc_report_email     = var.alert_email
  engagement_tracking    = var.engagement_tracking_enabled
  tags                   = local.tags
}

module "function_app" {
  source = "./modules/function_app"

  name                = "func-${local.name}"
  plan_name           = "asp-${local.name}"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  hosting_plan        = var.hosting_plan
  zip_path            = var.zip_path

  storage_account_id        = module.storage.id
  storage_account_name      = module.storage.name
  storage_blob_endpoint     = module.storage.primary_blob_endpoint
  storage_access_key        = module.storage.primary_access_key
  deployment_container_id   = module.storage.deployment_container_id
  deployment_container_name = module.storage.deployment_container_name

  communication_service_id = module.communication.communication_service_id
  acs_endpoint             = module.communication.acs_endpoint
  email_sender             = module.communication.sender_address
  notify_mode              = var.notify_mode

  application_insights_connection_string = module.monitoring.application_insights_connection_string
  log_analytics_workspace_id             = module.monitoring.workspace_id
  diagnostic_setting_enabled             = var.function_app_logs_diagnostic_setting

  flex_instance_memory_mb     = var.flex_instance_memory_mb
  flex_maximum_instance_count = var.flex_maximum_instance_count
  tags                        = local.tags
}

module "events" {
  source = "./modules/events"

  name                        = local.name
  resource_group_name         = azurerm_resource_group.this.name
  communication_service_id    = module.communication.communication_service_id
  storage_account_id          = module.storage.id
  engagement_tracking_enabled = var.engagement_tracking_enabled
  tags                        = local.tags
}
