# Azure Communication Services Email: the Communication Service the handler calls
# (https://<hostname>/emails:send), the Email Communication Service that owns the sender domains,
# the Azure-managed domain (DoNotReply@<guid>.azurecomm.net, no DNS work, 5 mails a minute and
# 10 an hour per subscription) and optionally a customer-managed domain.
#
# Custom domain, two applies: ACS links only verified domains, so the first apply (sender_domain
# set) creates the domain and outputs the records to publish; after publishing them and starting
# verification (custom_domain_verify_commands), the second apply (sender_domain_verified = true)
# moves the link and EMAIL_SENDER to the custom domain. The Azure-managed domain stays as the
# fallback. Only one domain is linked at a time: older ACS versions allowed one linked domain
# per Communication Service (MicrosoftDocs/azure-docs issue 115081), and changing
# email_service_domain_id replaces the one association (ForceNew:
# website/docs/r/communication_service_email_domain_association.html.markdown).

locals {
  custom     = var.sender_domain != null
  use_custom = local.custom && var.sender_domain_verified

  active_domain_id = local.use_custom ? azurerm_email_communication_service_domain.custom[0].id : azurerm_email_communication_service_domain.azure_managed.id
  # from_sender_domain is the P2 (From header) domain: <guid>.azurecomm.net or the custom domain
  azure_managed_sender = "DoNotReply@${azurerm_email_communication_service_domain.azure_managed.from_sender_domain}"
  custom_sender        = local.custom ? "${var.sender_username}@${var.sender_domain}" : null
  sender_address       = local.use_custom ? local.custom_sender : local.azure_managed_sender

  # verification_records is a one-element list of blocks, each a one-element list
  # (website/docs/r/email_communication_service_domain.html.markdown, "verification_records")
  records = local.custom ? azurerm_email_communication_service_domain.custom[0].verification_records[0] : null

  dmarc_value = var.dmarc_report_email == null ? "v=DMARC1; p=none" : "v=DMARC1; p=none; rua=mailto:${var.dmarc_report_email}"
}

resource "azurerm_communication_service" "this" {
  name                = "acs-${var.name}"
  resource_group_name = var.resource_group_name
  data_location       = var.data_location
  tags                = var.tags
}

resource "azurerm_email_communication_service" "this" {
  name                = "ecs-${var.name}"
  resource_group_name = var.resource_group_name
  data_location       = var.data_location
  tags                = var.tags
}

resource "azurerm_email_communication_service_domain" "azure_managed" {
  name              = "AzureManagedDomain" # required name when domain_management = AzureManaged
  email_service_id  = azurerm_email_communication_service.this.id
  domain_management = "AzureManaged"
  tags              = var.tags
}

resource "azurerm_email_communication_service_domain" "custom" {
  count = local.custom ? 1 : 0

  name              = var.sender_domain
  email_service_id  = azurerm_email_communication_service.this.id
  domain_management = "CustomerManaged"
  tags              = var.tags

  # Opens and clicks for the delivery_report function (modules/events); ACS offers engagement
  # tracking on custom domains only (user_engagement_tracking_enabled:
  # website/docs/r/email_communication_service_domain.html.markdown).
  user_engagement_tracking_enabled = var.engagement_tracking
}

# DoNotReply exists on every domain; another local part is a sender username resource.
resource "azurerm_email_communication_service_domain_sender_username" "custom" {
  count = local.custom && var.sender_username != "DoNotReply" ? 1 : 0

  name                    = var.sender_username
  email_service_domain_id = azurerm_email_communication_service_domain.custom[0].id
  display_name            = var.sender_display_name
}

resource "azurerm_communication_service_email_domain_association" "this" {
  communication_service_id = azurerm_communication_service.this.id
  email_service_domain_id  = local.active_domain_id

  lifecycle {
    # switching to the custom domain replaces this link (ForceNew): link the new domain before
    # the old link goes, so the running app's sender never loses its domain (a resource may
    # link several domains)
    create_before_destroy = true
    precondition {
      condition     = !var.sender_domain_verified || var.sender_domain != null
      error_message = "sender_domain_verified = true needs sender_domain."
    }
  }
}
