output "id" {
  description = "Resource ID of the Function App."
  value       = local.app_id
}

output "name" {
  description = "Name of the Function App."
  value       = local.app_name
}

output "default_hostname" {
  description = "<name>.azurewebsites.net"
  value       = local.default_hostname
}

output "principal_id" {
  description = "Object ID of the app's system-assigned identity."
  value       = local.principal_id
}

output "notification_url" {
  description = "URL of POST /api/notification (function key not included)."
  value       = "https://${local.default_hostname}/api/${var.function_name}"
}

output "package_blob_url" {
  description = "The run-from-package blob URL (Consumption), null on Flex."
  value       = one(azurerm_storage_blob.package[*].url)
}

output "package_path" {
  description = "Absolute path of the deploy ZIP."
  value       = local.zip_abspath
}

output "flex_deploy_command" {
  description = "The code deployment to run after apply on Flex, null on Consumption."
  value       = local.flex ? "az functionapp deployment source config-zip --resource-group ${var.resource_group_name} --name ${local.app_name} --src ${local.zip_abspath}" : null
}
