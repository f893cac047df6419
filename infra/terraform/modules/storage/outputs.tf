output "id" {
  description = "Resource ID of the storage account (scope of the app's data-plane roles)."
  value       = azurerm_storage_account.this.id
}

output "name" {
  description = "Storage account name (AzureWebJobsStorage__accountName)."
  value       = azurerm_storage_account.this.name
}

output "primary_blob_endpoint" {
  description = "https://<account>.blob.core.windows.net/"
  value       = azurerm_storage_account.this.primary_blob_endpoint
}

output "primary_access_key" {
  description = "Account key; used only for Flex Consumption's deployment storage connection string."
  value       = azurerm_storage_account.this.primary_access_key
  sensitive   = true
}

output "queue_name" {
  description = "The notifications queue."
  value       = azurerm_storage_queue.notifications.name
}

output "poison_queue_name" {
  description = "The poison queue of the notifications queue."
  value       = azurerm_storage_queue.poison.name
}

output "deployment_container_id" {
  description = "Resource ID of the package container."
  value       = azurerm_storage_container.deployment.id
}

output "deployment_container_name" {
  description = "Name of the package container."
  value       = azurerm_storage_container.deployment.name
}
