# Same pin as the root module (see ../../versions.tf for why this range).
terraform {
  required_version = ">= 1.5"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.77, < 6.0"
    }
  }
}
