# What infra/apply prints and what a person needs after apply. Nothing here is a secret except
# the Application Insights connection string (it carries the ingestion key), marked sensitive.
# The function key is not an output: it is fetched with `az functionapp function keys list`
# after the host has started (keys exist only then), so it never lands in the state either.

output "resource_group_name" {
  description = "The resource group holding everything; deleting it (infra/destroy) removes the deployment."
  value       = azurerm_resource_group.this.name
}

output "function_app_name" {
  description = "Name of the Function App (for az functionapp commands)."
  value       = module.function_app.name
}

output "hosting_plan" {
  description = "consumption (Y1) or flex (FC1)."
  value       = var.hosting_plan
}

output "function_url" {
  description = "POST /api/notification here with {\"to_email\",\"subject\",\"message\"} and the function key in x-functions-key (or ?code=)."
  value       = module.function_app.notification_url
}

output "function_base_url" {
  description = "https://<app>.azurewebsites.net/api"
  value       = "https://${module.function_app.default_hostname}/api"
}

output "notify_mode" {
  description = "NOTIFY_MODE given to the handler."
  value       = var.notify_mode
}

output "sender_address" {
  description = "EMAIL_SENDER: the From address the handler sends with."
  value       = module.communication.sender_address
}

output "azure_managed_sender_address" {
  description = "DoNotReply@<guid>.azurecomm.net, the Azure-managed sender (always created; the fallback while a custom domain is being verified)."
  value       = module.communication.azure_managed_sender_address
}

output "acs_endpoint" {
  description = "ACS_ENDPOINT: https://<communication service host>."
  value       = module.communication.acs_endpoint
}

output "custom_domain_dns_records" {
  description = "DNS records to publish for the custom sender domain (Domain TXT, SPF TXT, DKIM and DKIM2 CNAMEs, and a recommended DMARC TXT); null without sender_domain."
  value       = module.communication.custom_domain_dns_records
}

output "custom_domain_verify_commands" {
  description = "az commands that start verification of each custom-domain record once DNS is published."
  value       = module.communication.custom_domain_verify_commands
}

output "email_service_name" {
  description = "Name of the Email Communication Service (az communication email domain ... --email-service-name)."
  value       = module.communication.email_service_name
}

output "storage_account_name" {
  description = "Host storage account: the notifications queue, its poison queue and the package container."
  value       = module.storage.name
}

output "queue_name" {
  description = "Queue the HTTP function writes to in queued mode."
  value       = module.storage.queue_name
}

output "poison_queue_name" {
  description = "Where the host moves a message after maxDequeueCount failed attempts."
  value       = module.storage.poison_queue_name
}

output "log_analytics_workspace_name" {
  description = "Log Analytics workspace holding AppTraces/AppRequests/AppExceptions and FunctionAppLogs."
  value       = module.monitoring.workspace_name
}

output "log_analytics_workspace_customer_id" {
  description = "Workspace GUID for `az monitor log-analytics query -w <id>`."
  value       = module.monitoring.workspace_customer_id
}

output "application_insights_name" {
  description = "Workspace-based Application Insights resource."
  value       = module.monitoring.application_insights_name
}

output "application_insights_connection_string" {
  description = "APPLICATIONINSIGHTS_CONNECTION_STRING (contains the ingestion key)."
  value       = module.monitoring.application_insights_connection_string
  sensitive   = true
}

output "saved_searches" {
  description = "Saved searches in the workspace (Logs > Queries > category notify-handler)."
  value       = module.monitoring.saved_search_names
}

output "package_blob_url" {
  description = "Consumption: the blob WEBSITE_RUN_FROM_PACKAGE points at (read with the app's identity, no SAS). null on Flex."
  value       = module.function_app.package_blob_url
}

output "package_path" {
  description = "Absolute path of the deploy ZIP this configuration deploys (zip_path)."
  value       = module.function_app.package_path
}

output "flex_deploy_command" {
  description = "Flex only: the code deployment infra/apply runs after terraform apply (azurerm's Flex zip_deploy_file is broken, provider issue 29630). null on Consumption."
  value       = module.function_app.flex_deploy_command
}

output "delivery_reports" {
  description = "Where ACS delivery reports go: the Event Grid system topic, the queue the delivery_report function reads, its poison queue, and the container of dead-lettered events."
  value = {
    system_topic          = module.events.system_topic_name
    queue                 = module.events.queue_name
    poison_queue          = module.events.poison_queue_name
    dead_letter_container = module.events.dead_letter_container_name
  }
}
