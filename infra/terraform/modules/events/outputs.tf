output "system_topic_name" {
  description = "Event Grid system topic on the Communication Service."
  value       = azurerm_eventgrid_system_topic.acs.name
}

output "event_subscription_id" {
  description = "Resource ID of the event subscription that writes delivery reports to the queue."
  value       = azurerm_eventgrid_system_topic_event_subscription.reports.id
}

output "queue_name" {
  description = "The delivery-reports queue."
  value       = azurerm_storage_queue.reports.name
}

output "poison_queue_name" {
  description = "Where the Functions host moves delivery-report messages the trigger could not take."
  value       = azurerm_storage_queue.poison.name
}

output "dead_letter_container_name" {
  description = "Blob container of events Event Grid could not deliver to the queue."
  value       = azurerm_storage_container.dead_letter.name
}
