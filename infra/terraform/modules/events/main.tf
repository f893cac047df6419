# ACS delivery reports: Azure Communication Services publishes one
# Microsoft.Communication.EmailDeliveryReportReceived event per recipient of every message
# (Event Grid doc "Azure Communication Services - Email events",
# https://learn.microsoft.com/azure/event-grid/communication-services-email-events). An Event Grid
# system topic on the ACS resource and one event subscription put them on the Storage queue
# delivery-reports, where the queue-triggered function delivery_report logs each one
# (infra/functions/README.md, "delivery_report").
#
# Keyless: the system topic has a system-assigned identity, and the subscription delivers and
# dead-letters with it (delivery_identity, dead_letter_identity), holding only "Storage Queue Data
# Message Sender" and "Storage Blob Data Contributor" on the account, the roles Event Grid needs
# for a queue destination and a blob dead-letter destination (Event Grid doc "Add an identity to
# Azure roles on Azure Event Grid destinations", https://learn.microsoft.com/azure/event-grid/add-identity-roles,
# "Supported destinations and Azure roles"; the provider's note on delivery_identity in
# website/docs/r/eventgrid_system_topic_event_subscription.html.markdown). The storage account
# has no firewall, so either identity kind works (Event Grid doc "Storage queue as an event
# handler", https://learn.microsoft.com/azure/event-grid/handler-storage-queues, "Note").
#
# Poison handling, two places:
#  - Event Grid could not write to the queue (role missing, queue gone) after its retries: the
#    event is dead-lettered as a blob in the container eventgrid-deadletter;
#  - the function could not take a message: the Functions host moves it to
#    delivery-reports-poison after maxDequeueCount deliveries (host.json). The handler completes
#    every message it can read, so this queue only receives messages the trigger cannot decode.

locals {
  # Full event type names (the provider's note on included_event_types).
  event_types = concat(
    ["Microsoft.Communication.EmailDeliveryReportReceived"],
    var.engagement_tracking_enabled ? ["Microsoft.Communication.EmailEngagementTrackingReportReceived"] : [],
  )

  # Event Grid's data-plane roles on the account: queue destination and blob dead-letter.
  topic_roles = toset(["Storage Queue Data Message Sender", "Storage Blob Data Contributor"])
}

# The queue the function reads (queueName in infra/functions/delivery_report/function.json) and
# its poison queue ("<queue>-poison", the name the Functions host uses). storage_account_id:
# website/docs/r/storage_queue.html.markdown (since 4.46.0, see ../../versions.tf).
resource "azurerm_storage_queue" "reports" {
  name               = var.queue_name
  storage_account_id = var.storage_account_id
}

resource "azurerm_storage_queue" "poison" {
  name               = "${var.queue_name}-poison"
  storage_account_id = var.storage_account_id
}

# Dead-lettered events land here as blobs (Event Grid doc "Dead letter and retry policies",
# https://learn.microsoft.com/azure/event-grid/manage-event-delivery, "Set dead-letter location").
# storage_account_id, container_access_type: website/docs/r/storage_container.html.markdown.
resource "azurerm_storage_container" "dead_letter" {
  name                  = var.dead_letter_container_name
  storage_account_id    = var.storage_account_id
  container_access_type = "private"
}

# topic_type Microsoft.Communication.CommunicationServices and source_resource_id (the ACS
# resource), identity { type = "SystemAssigned" }: website/docs/r/eventgrid_system_topic.html.markdown.
# location "global": a system topic lives where its source does, and a Communication Service is
# always global (azurerm_communication_service has no location argument; Event Grid doc "System
# topics in Azure Event Grid", https://learn.microsoft.com/azure/event-grid/system-topics,
# "Location and resource group for a system topic"). Only one system topic is allowed per source
# (same doc, "System topics as Azure resources"): add further subscriptions to this one.
resource "azurerm_eventgrid_system_topic" "acs" {
  name                = "evgt-${var.name}-acs"
  resource_group_name = var.resource_group_name
  location            = "global"
  source_resource_id  = var.communication_service_id
  topic_type          = "Microsoft.Communication.CommunicationServices"
  tags                = var.tags

  identity {
    type = "SystemAssigned"
  }
}

# Account scope: Event Grid's queue destination and dead-letter destination name the storage
# account by its resource id (storage_queue_endpoint.storage_account_id,
# storage_blob_dead_letter_destination.storage_account_id), and the Event Grid doc assigns the
# roles there. principal_id of the topic's identity: website/docs/r/eventgrid_system_topic.html.markdown,
# "identity" attributes; role_definition_name, principal_type:
# website/docs/r/role_assignment.html.markdown.
resource "azurerm_role_assignment" "topic" {
  for_each = local.topic_roles

  scope                = var.storage_account_id
  role_definition_name = each.key
  principal_id         = azurerm_eventgrid_system_topic.acs.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# Every argument: website/docs/r/eventgrid_system_topic_event_subscription.html.markdown.
#  - included_event_types: without it, every event type of the topic (SMS, chat, calls, ...)
#    would reach the queue (tests/infra/tfcheck.py refuses a subscription without one);
#  - event_delivery_schema EventGridSchema: the shape delivery.h reads (it reads CloudEvents too);
#  - storage_queue_endpoint.queue_message_time_to_live_in_seconds: a week, the queue's default,
#    so reports wait through a long outage of the app;
#  - retry_policy: Event Grid's defaults made explicit (30 attempts within 24 hours: Event Grid
#    doc "Event Grid message delivery and retry", https://learn.microsoft.com/azure/event-grid/delivery-and-retry,
#    "Retry schedule"), then the dead-letter container;
#  - delivery_identity, dead_letter_identity SystemAssigned: keyless; the roles must exist before
#    the subscription is created (the provider's note), hence depends_on.
resource "azurerm_eventgrid_system_topic_event_subscription" "reports" {
  name                  = "evgs-${var.name}-delivery-reports"
  system_topic          = azurerm_eventgrid_system_topic.acs.name
  resource_group_name   = var.resource_group_name
  event_delivery_schema = "EventGridSchema"
  included_event_types  = local.event_types

  storage_queue_endpoint {
    storage_account_id                    = var.storage_account_id
    queue_name                            = azurerm_storage_queue.reports.name
    queue_message_time_to_live_in_seconds = 604800
  }

  delivery_identity {
    type = "SystemAssigned"
  }

  dead_letter_identity {
    type = "SystemAssigned"
  }

  storage_blob_dead_letter_destination {
    storage_account_id          = var.storage_account_id
    storage_blob_container_name = azurerm_storage_container.dead_letter.name
  }

  retry_policy {
    max_delivery_attempts = 30
    event_time_to_live    = 1440
  }

  depends_on = [azurerm_role_assignment.topic]
}
