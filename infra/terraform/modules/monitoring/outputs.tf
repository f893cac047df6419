output "workspace_id" {
  description = "Resource ID of the Log Analytics workspace."
  value       = azurerm_log_analytics_workspace.this.id
}

output "workspace_name" {
  description = "Name of the Log Analytics workspace."
  value       = azurerm_log_analytics_workspace.this.name
}

output "workspace_customer_id" {
  description = "Workspace GUID (az monitor log-analytics query -w)."
  value       = azurerm_log_analytics_workspace.this.workspace_id
}

output "application_insights_name" {
  description = "Name of the Application Insights resource."
  value       = azurerm_application_insights.this.name
}

output "application_insights_connection_string" {
  description = "APPLICATIONINSIGHTS_CONNECTION_STRING for the Function App."
  value       = azurerm_application_insights.this.connection_string
  sensitive   = true
}

output "saved_search_names" {
  description = "Display names of the saved searches, by file name."
  value       = { for k, s in azurerm_log_analytics_saved_search.this : k => s.display_name }
}

output "failure_alert_id" {
  description = "Resource ID of the failure alert rule."
  value       = azurerm_monitor_scheduled_query_rules_alert_v2.failures.id
}

output "delivery_alert_id" {
  description = "Resource ID of the delivery bounce and failure rate alert rule."
  value       = azurerm_monitor_scheduled_query_rules_alert_v2.delivery.id
}
