# Terraform and provider pins for the notify-handler Azure deployment.
#
# azurerm ">= 4.77, < 6.0": the one range where every argument used here exists in both major
# versions: storage_blob.storage_container_id appeared in 4.77.0, storage_queue.storage_account_id
# in 4.46.0, monitor_diagnostic_setting.enabled_metric in 4.31.0, and 5.0 removed the old
# *_name forms (hashicorp/terraform-provider-azurerm: CHANGELOG-v4.md, CHANGELOG.md for 5.x,
# website/docs/guides/5.0-upgrade-guide.html.markdown). Microsoft.EventGrid below: the system
# topic of modules/events (website/docs/r/eventgrid_system_topic.html.markdown).
terraform {
  required_version = ">= 1.5"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.77, < 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6, < 4.0"
    }
  }
}

provider "azurerm" {
  features {
    # Application Insights makes resources Terraform does not track in the same group (the
    # "Failure Anomalies" smart-detector rule, the "Application Insights Smart Detection" action
    # group), and by default the provider refuses to delete a group that still holds resources
    # (website/docs/guides/features-block.html.markdown; provider issue 18026). This
    # configuration owns its whole group, so infra/destroy may remove them with it.
    resource_group {
      prevent_deletion_if_contains_resources = false
    }
  }

  # null falls back to ARM_SUBSCRIPTION_ID, which infra/apply sets from `az account show`
  # (provider 4.0+ requires one of the two: 4.0-upgrade-guide.html.markdown).
  subscription_id = var.subscription_id

  # 5.x registers no resource providers by default and 4.x's "legacy" set lacks
  # Microsoft.Communication, so name every namespace this configuration creates resources in.
  # Registering needs subscription-level rights; it is a no-op when already registered.
  resource_providers_to_register = [
    "Microsoft.Communication",
    "Microsoft.EventGrid",
    "Microsoft.Insights",
    "Microsoft.OperationalInsights",
    "Microsoft.Storage",
    "Microsoft.Web",
  ]
}
