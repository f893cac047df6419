output "communication_service_id" {
  description = "Resource ID of the Communication Service (scope of the app's send role)."
  value       = azurerm_communication_service.this.id
}

output "communication_service_name" {
  description = "Name of the Communication Service."
  value       = azurerm_communication_service.this.name
}

output "acs_endpoint" {
  description = "ACS_ENDPOINT for the handler: https://<hostname>."
  value       = "https://${azurerm_communication_service.this.hostname}"
}

output "email_service_name" {
  description = "Name of the Email Communication Service."
  value       = azurerm_email_communication_service.this.name
}

output "sender_address" {
  description = "EMAIL_SENDER: the custom-domain sender once verified, else the Azure-managed one."
  # depends on the link: a sender whose domain is not linked is refused by ACS
  value      = local.sender_address
  depends_on = [azurerm_communication_service_email_domain_association.this]
}

output "azure_managed_sender_address" {
  description = "DoNotReply@<guid>.azurecomm.net"
  value       = local.azure_managed_sender
}

output "custom_sender_address" {
  description = "The sender on the custom domain (usable once verified and linked); null without one."
  value       = local.custom_sender
}

output "custom_domain_dns_records" {
  description = "Records to publish for the custom domain, keyed by ACS verification type, plus the recommended DMARC record; null without a custom domain. Names are as ACS gives them (relative to the domain, e.g. selector1-azurecomm-prod-net._domainkey)."
  value = local.custom ? {
    Domain = { type = local.records.domain[0].type, name = local.records.domain[0].name, value = local.records.domain[0].value, ttl = local.records.domain[0].ttl }
    SPF    = { type = local.records.spf[0].type, name = local.records.spf[0].name, value = local.records.spf[0].value, ttl = local.records.spf[0].ttl }
    DKIM   = { type = local.records.dkim[0].type, name = local.records.dkim[0].name, value = local.records.dkim[0].value, ttl = local.records.dkim[0].ttl }
    DKIM2  = { type = local.records.dkim2[0].type, name = local.records.dkim2[0].name, value = local.records.dkim2[0].value, ttl = local.records.dkim2[0].ttl }
    # Not verified by ACS, but mailbox providers (Gmail, Yahoo) expect it from bulk senders.
    # p=none only reports; tighten to quarantine once the reports show SPF/DKIM aligned.
    DMARC = { type = "TXT", name = "_dmarc", value = local.dmarc_value, ttl = 3600 }
  } : null
}

output "custom_domain_verify_commands" {
  description = "Commands that start ACS verification of each record (Azure CLI communication extension); null without a custom domain."
  value = local.custom ? [
    for t in ["Domain", "SPF", "DKIM", "DKIM2"] :
    "az communication email domain initiate-verification --resource-group ${var.resource_group_name} --email-service-name ${azurerm_email_communication_service.this.name} --domain-name ${var.sender_domain} --verification-type ${t}"
  ] : null
}
