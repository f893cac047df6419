# The custom-handler Function App on a Linux plan, with a system-assigned identity that reaches
# ACS and (on Consumption) the host storage without any key.
#
# consumption (default): Linux Consumption, SKU Y1. Everything is Terraform: the ZIP becomes a
#   blob in the private package container and WEBSITE_RUN_FROM_PACKAGE points at its plain URL;
#   the app reads it with its managed identity ("By default, the app's system-assigned identity
#   is used", App Service deploy-run-package doc; WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID
#   "can also accept SystemAssigned"), so no SAS token sits in the app settings. Host storage is
#   identity-based too: storage_uses_managed_identity = true makes the provider write
#   AzureWebJobsStorage__accountName instead of a connection string, and on Y1 it then adds no
#   WEBSITE_CONTENTAZUREFILECONNECTIONSTRING (internal/services/appservice/
#   linux_function_app_resource.go, Create; helpers/function_app_schema.go,
#   ExpandSiteConfigLinuxFunctionApp). Linux Consumption needs no Azure Files share: that setting
#   "is required for Consumption plan apps on Windows and for Elastic Premium plan apps on both
#   Windows and Linux" (Functions app settings reference). Linux Consumption retires 2028-09-30.
#
# flex: Flex Consumption, SKU FC1, runtime "custom" 1.0 (accepted by the provider's runtime_name
#   validation: function_app_flex_consumption_resource.go). Two provider defects decide the
#   shape (hashicorp/terraform-provider-azurerm issues 29693 and 29630, and
#   website/docs/r/function_app_flex_consumption.html.markdown): identity storage auth writes an
#   AzureWebJobsStorage with an empty key (issue 29693), so storage uses the account key here;
#   zip_deploy_file calls /api/zipdeploy, which Flex does not serve (issue 29630), so the code
#   is deployed after apply with `az functionapp deployment source config-zip` (infra/apply does
#   it; output flex_deploy_command). No diagnostic settings on Flex: logs come through
#   Application Insights only.

locals {
  consumption = var.hosting_plan == "consumption"
  flex        = var.hosting_plan == "flex"

  zip_abspath = abspath(var.zip_path)
  # the blob name carries the content hash, so every new build gets a new URL and the app
  # restarts on it (a package replaced at the same URL needs a manual restart and trigger sync)
  zip_md5 = fileexists(local.zip_abspath) ? filemd5(local.zip_abspath) : "missing"

  # Names read by the handler's configuration (handler --help). ACS_ENDPOINT without
  # COMMUNICATION_SERVICES_CONNECTION_STRING selects managed-identity auth: no ACS key anywhere.
  # APPLICATIONINSIGHTS_CONNECTION_STRING is written by the provider from
  # site_config.application_insights_connection_string; FUNCTIONS_WORKER_RUNTIME=custom by
  # application_stack.use_custom_runtime (Y1) or functionAppConfig.runtime (Flex).
  handler_settings = merge({
    ACS_ENDPOINT = var.acs_endpoint
    EMAIL_SENDER = var.email_sender
    NOTIFY_MODE  = var.notify_mode
  }, var.app_settings)

  # Host storage with the app's identity (Consumption). Roles as in Microsoft's identity-based
  # host storage samples (Azure-Samples/azure-functions-flex-consumption-samples IaC rbac):
  # blobs hold host locks, function keys and (here) the package; queues carry the notifications.
  storage_roles = local.consumption ? toset([
    "Storage Blob Data Owner",
    "Storage Queue Data Contributor",
    "Storage Table Data Contributor",
  ]) : toset([])

  # exactly one of the two apps exists
  app_id           = one(concat(azurerm_linux_function_app.this[*].id, azurerm_function_app_flex_consumption.this[*].id))
  app_name         = one(concat(azurerm_linux_function_app.this[*].name, azurerm_function_app_flex_consumption.this[*].name))
  default_hostname = one(concat(azurerm_linux_function_app.this[*].default_hostname, azurerm_function_app_flex_consumption.this[*].default_hostname))
  principal_id     = one(concat(azurerm_linux_function_app.this[*].identity[0].principal_id, azurerm_function_app_flex_consumption.this[*].identity[0].principal_id))
}

resource "azurerm_service_plan" "this" {
  # The plan kind is part of the name: sku_name is not ForceNew in the provider, so without it
  # switching hosting_plan would plan an in-place Y1 -> FC1 update of one plan, which Azure may
  # refuse. With it, a switch replaces the plan (and the app, which is another resource type).
  name                = "${var.plan_name}-${local.flex ? "fc1" : "y1"}"
  resource_group_name = var.resource_group_name
  location            = var.location
  os_type             = "Linux"
  # "Elastic and Consumption SKUs (Y1, FC1, EP1, EP2, and EP3) are for use with Function Apps"
  # (website/docs/r/service_plan.html.markdown)
  sku_name = local.flex ? "FC1" : "Y1"
  tags     = var.tags
}

# ---- Linux Consumption (Y1) ---------------------------------------------------------------------

resource "azurerm_storage_blob" "package" {
  count = local.consumption ? 1 : 0

  name                 = "notify-handler-${local.zip_md5}.zip"
  storage_container_id = var.deployment_container_id # azurerm >= 4.77; 5.x has only this form
  type                 = "Block"
  source               = local.zip_abspath
  content_md5          = local.zip_md5
  content_type         = "application/zip"

  lifecycle {
    # a new build is a new blob name: upload it before the old one goes, so the app never
    # points at a deleted package while its setting is updated
    create_before_destroy = true
    precondition {
      condition     = fileexists(local.zip_abspath)
      error_message = "The deploy package is missing: run `make zip` (or set zip_path)."
    }
  }
}

resource "azurerm_linux_function_app" "this" {
  count = local.consumption ? 1 : 0

  name                        = var.name
  resource_group_name         = var.resource_group_name
  location                    = var.location
  service_plan_id             = azurerm_service_plan.this.id
  functions_extension_version = "~4"
  https_only                  = true

  storage_account_name          = var.storage_account_name
  storage_uses_managed_identity = true
  # true would add AzureWebJobsDashboard(__accountName), the retired dashboard storage
  builtin_logging_enabled = false

  # Nothing is deployed through Kudu or FTP: the app runs from the package URL.
  ftp_publish_basic_authentication_enabled       = false
  webdeploy_publish_basic_authentication_enabled = false

  identity {
    type = "SystemAssigned"
  }

  site_config {
    application_insights_connection_string = var.application_insights_connection_string
    minimum_tls_version                    = "1.2"
    ftps_state                             = "Disabled"

    application_stack {
      # FUNCTIONS_WORKER_RUNTIME=custom and linuxFxVersion "" (helpers/function_app_schema.go);
      # setting it in app_settings instead would diff on every plan (the provider reads it back
      # as this block).
      use_custom_runtime = true
    }
  }

  app_settings = merge(local.handler_settings, {
    WEBSITE_RUN_FROM_PACKAGE                     = azurerm_storage_blob.package[0].url
    WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID = "SystemAssigned"
  })

  tags = var.tags
}

# ---- Flex Consumption (FC1) ---------------------------------------------------------------------

resource "azurerm_function_app_flex_consumption" "this" {
  count = local.flex ? 1 : 0

  name                = var.name
  resource_group_name = var.resource_group_name
  location            = var.location
  service_plan_id     = azurerm_service_plan.this.id
  https_only          = true

  # The custom-handler stack of Flex Consumption: name "custom", version "1.0". No page of the
  # provider or of Microsoft's Flex docs states the version for "custom"; confirm it for your
  # region before the first flex apply with
  #   az functionapp list-flexconsumption-runtimes --location <region> --runtime custom
  # (or Get-AzFunctionAppFlexConsumptionRuntime -Location <region> -Runtime custom) and use the
  # version it lists (README, Terraform notes).
  runtime_name    = "custom"
  runtime_version = "1.0"

  storage_container_type      = "blobContainer"
  storage_container_endpoint  = "${var.storage_blob_endpoint}${var.deployment_container_name}"
  storage_authentication_type = "StorageAccountConnectionString"
  storage_access_key          = var.storage_access_key # the account key, not a connection string

  instance_memory_in_mb  = var.flex_instance_memory_mb
  maximum_instance_count = var.flex_maximum_instance_count

  identity {
    type = "SystemAssigned"
  }

  site_config {
    application_insights_connection_string = var.application_insights_connection_string
  }

  # Flex rejects FUNCTIONS_WORKER_RUNTIME, WEBSITE_RUN_FROM_PACKAGE and the content-share settings
  # (Functions app settings reference, "Flex Consumption plan deprecations"): only ours here.
  app_settings = local.handler_settings

  tags = var.tags
}

# ---- identity: send mail, read the host storage ------------------------------------------------

# "Communication and Email Service Owner" rather than Contributor: both work for an Entra ID
# bearer token on /emails:send (the official sample Azure-Samples/communication-services-dotnet-quickstarts,
# SendEmailAdvanced/SendEmailWithManagedIdentity/SendEmailWithManagedIdentityFunction.cs, asks for
# Contributor; the ACS SMTP authentication doc,
# https://learn.microsoft.com/azure/communication-services/quickstarts/email/send-email-smtp/smtp-authentication,
# says the built-in role "gives access to all Communication and Email service operations"), but
# this one is confined to Microsoft.Communication, where Contributor could also manage every
# other resource type at its scope. ACS has no send-only built-in role; a custom role with
# CommunicationServices/Read, CommunicationServices/Write and EmailServices/write is the
# least-privilege alternative.
resource "azurerm_role_assignment" "acs_send" {
  scope                = var.communication_service_id
  role_definition_name = "Communication and Email Service Owner"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
}

# Storage Blob Data Owner on the account also covers reading the package blob, which the app
# does with the same identity (the doc asks for at least Storage Blob Data Reader).
resource "azurerm_role_assignment" "storage" {
  for_each = local.storage_roles

  scope                = var.storage_account_id
  role_definition_name = each.key
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
}

# ---- logs ---------------------------------------------------------------------------------------

# FunctionAppLogs (table FunctionAppLogs: FunctionName, FunctionInvocationId, Level, Message) beside
# what Application Insights receives. Not on Flex, where diagnostic settings are unsupported.
resource "azurerm_monitor_diagnostic_setting" "function_app_logs" {
  count = local.consumption && var.diagnostic_setting_enabled ? 1 : 0

  name                           = "function-app-logs"
  target_resource_id             = local.app_id
  log_analytics_workspace_id     = var.log_analytics_workspace_id
  log_analytics_destination_type = "Dedicated"

  enabled_log {
    category = "FunctionAppLogs"
  }
}
