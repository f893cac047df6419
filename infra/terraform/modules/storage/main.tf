# Host storage for the Function App: AzureWebJobsStorage (host locks, function keys, queue
# bindings), the notifications queue and its poison queue, and the private package container.

resource "azurerm_storage_account" "this" {
  name                            = var.name
  resource_group_name             = var.resource_group_name
  location                        = var.location
  account_kind                    = "StorageV2"
  account_tier                    = "Standard"
  account_replication_type        = "LRS"
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false

  # Kept on: Terraform uploads the package blob with the account key, and Flex Consumption's
  # deployment storage uses a connection string (its identity mode writes an empty-key
  # AzureWebJobsStorage: terraform-provider-azurerm issue 29693). The Consumption app itself
  # reaches this account with its managed identity only (see modules/function_app).
  shared_access_key_enabled = true

  tags = var.tags
}

# The host would create both queues on first use; declaring them makes them visible in the plan
# and removes the first-message race. "<queue>-poison" is the name the Functions host uses for
# messages that failed maxDequeueCount times.
resource "azurerm_storage_queue" "notifications" {
  name               = var.queue_name
  storage_account_id = azurerm_storage_account.this.id
}

resource "azurerm_storage_queue" "poison" {
  name               = "${var.queue_name}-poison"
  storage_account_id = azurerm_storage_account.this.id
}

resource "azurerm_storage_container" "deployment" {
  name                  = var.deployment_container_name
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}
