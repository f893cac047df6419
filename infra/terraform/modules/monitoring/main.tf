# Logs: the handler writes one JSON line per event on stdout; the Functions host forwards stdout
# to Application Insights (traces, category Host.Function.Console) and stderr as errors. A
# workspace-based Application Insights stores them in this workspace's AppTraces, AppRequests
# and AppExceptions tables; the diagnostic setting of the Function App adds FunctionAppLogs
# ("Configure monitoring for Azure Functions", https://learn.microsoft.com/azure/azure-functions/configure-monitoring;
# the host's src/WebJobs.Script/Workers/WorkerConsoleLogService.cs for the Host.Function.Console
# category; the FunctionAppLogs table reference,
# https://learn.microsoft.com/azure/azure-monitor/reference/tables/functionapplogs).

locals {
  # Saved searches: file name (without .kql) => display name. The queries live in infra/kql
  # so they can be pasted into Logs as they are; file() reads them at plan time.
  saved_searches = {
    notification_story = "Notification story: every log line of one notification"
    send_failures      = "Send failures by reason"
    throttling         = "ACS throttling (429) and retries"
    delivery_rate      = "Delivery reports: delivered versus failures, bouncing domains"
  }
}

resource "azurerm_log_analytics_workspace" "this" {
  name                = "log-${var.name}"
  resource_group_name = var.resource_group_name
  location            = var.location
  sku                 = "PerGB2018"
  retention_in_days   = var.retention_in_days
  daily_quota_gb      = var.daily_quota_gb
  tags                = var.tags
}

resource "azurerm_application_insights" "this" {
  name                = "appi-${var.name}"
  resource_group_name = var.resource_group_name
  location            = var.location
  workspace_id        = azurerm_log_analytics_workspace.this.id
  application_type    = "other"
  tags                = var.tags
}

resource "azurerm_log_analytics_saved_search" "this" {
  for_each = local.saved_searches

  name                       = "notify-${replace(each.key, "_", "-")}"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id
  category                   = "notify-handler"
  display_name               = each.value
  query                      = file("${var.kql_dir}/${each.key}.kql")
}

resource "azurerm_monitor_action_group" "alerts" {
  count = var.alert_email == null ? 0 : 1

  name                = "ag-${var.name}"
  resource_group_name = var.resource_group_name
  short_name          = "notifyalert" # at most 12 characters; shown in SMS and e-mail
  tags                = var.tags

  email_receiver {
    name                    = "notify-handler-operator"
    email_address           = var.alert_email
    use_common_alert_schema = true
  }
}

# Fires when the Failures column of failure_alert.kql (failed sends + poisoned messages in the
# window) is above 0. That query always returns exactly one summary row, so the rule measures a
# column (metric_measure_column with time_aggregation_method "Total") instead of counting rows,
# which would fire on every evaluation.
resource "azurerm_monitor_scheduled_query_rules_alert_v2" "failures" {
  name                 = "alert-${var.name}-failures"
  resource_group_name  = var.resource_group_name
  location             = var.location
  display_name         = "notify-handler: e-mail send failures"
  description          = "A notification failed to send (ACS error, retries exhausted or moved to the poison queue). Open the saved search 'Send failures by reason' in log-${var.name}."
  scopes               = [azurerm_log_analytics_workspace.this.id]
  severity             = 2
  evaluation_frequency = var.alert_frequency
  window_duration      = var.alert_frequency
  enabled              = true

  # A new workspace has no AppTraces/FunctionAppLogs tables until the first log line arrives, and
  # validating the query against it fails the first apply ("Failed to resolve table"), so the
  # query is not validated at creation (argument in website/docs/r/
  # monitor_scheduled_query_rules_alert_v2.html.markdown).
  skip_query_validation   = true
  auto_mitigation_enabled = true

  criteria {
    query                   = file("${var.kql_dir}/failure_alert.kql")
    metric_measure_column   = "Failures"
    time_aggregation_method = "Total"
    operator                = "GreaterThan"
    threshold               = 0

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  dynamic "action" {
    for_each = azurerm_monitor_action_group.alerts
    content {
      action_groups = [action.value.id]
      email_subject = "notify-handler: e-mail send failures"
    }
  }

  tags = var.tags
}

# Fires when the bounce and failure rate of ACS delivery reports (delivery_alert.kql: one row,
# FailureRatePct, 0 below 10 reports in the window) is above delivery_failure_alert_pct. Same
# shape as the failure alert above (every argument: website/docs/r/
# monitor_scheduled_query_rules_alert_v2.html.markdown); the window is an hour, evaluated every
# 15 minutes, since reports trickle in over minutes after the sends.
resource "azurerm_monitor_scheduled_query_rules_alert_v2" "delivery" {
  name                 = "alert-${var.name}-delivery"
  resource_group_name  = var.resource_group_name
  location             = var.location
  display_name         = "notify-handler: e-mail bounce and failure rate"
  description          = "More than ${var.delivery_failure_alert_pct}% of the ACS delivery reports of the last hour are not Delivered. Open the saved search 'Delivery reports: delivered versus failures, bouncing domains' in log-${var.name}."
  scopes               = [azurerm_log_analytics_workspace.this.id]
  severity             = 2
  evaluation_frequency = "PT15M"
  window_duration      = "PT1H"
  enabled              = true

  skip_query_validation   = true
  auto_mitigation_enabled = true

  criteria {
    query                   = file("${var.kql_dir}/delivery_alert.kql")
    metric_measure_column   = "FailureRatePct"
    time_aggregation_method = "Maximum"
    operator                = "GreaterThan"
    threshold               = var.delivery_failure_alert_pct

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  dynamic "action" {
    for_each = azurerm_monitor_action_group.alerts
    content {
      action_groups = [action.value.id]
      email_subject = "notify-handler: e-mail bounce and failure rate"
    }
  }

  tags = var.tags
}
