variable "name" {
  description = "Storage account name: 3-24 lower-case letters and digits, globally unique."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.name))
    error_message = "A storage account name is 3-24 lower-case letters and digits."
  }
}

variable "resource_group_name" {
  description = "Resource group of the storage account."
  type        = string
}

variable "location" {
  description = "Azure region of the storage account."
  type        = string
}

variable "queue_name" {
  description = "Queue between the HTTP function and the queue-triggered sender; must match queueName in the functions' function.json."
  type        = string
  default     = "notifications"
}

variable "deployment_container_name" {
  description = "Private blob container for the deploy package (Consumption: the run-from-package blob; Flex: the deployment storage container)."
  type        = string
  default     = "app-package"
}

variable "tags" {
  description = "Tags for the storage account."
  type        = map(string)
  default     = {}
}
