"""Alert routing: each team's alerts to the team, platform alerts to the platform on-call.

prometheus-operator v0.93.0 (pkg/alertmanager/amcfg.go) merges every selected AlertmanagerConfig
into Alertmanager's configuration: each object's top-level route gets a `namespace="<its
namespace>"` matcher (`namespaceEnforcer`, the default AlertmanagerConfigMatcherStrategy
`OnNamespace`) and `continue: true` (`continueToNextRoute`), and is placed before the main
configuration's routes. The platform relies on both, deliberately:

- A team's AlertmanagerConfig lives in the team's namespace, so it only ever sees alerts labelled
  with that namespace: nothing of one team reaches another team's receiver, whatever the team's
  file says. Every tenant alert carries `namespace` explicitly (slo.py).
- The platform's AlertmanagerConfig lives in Alertmanager's own namespace; with the strategy
  `OnNamespaceExceptForAlertmanagerNamespace` (install mode sets it; in existing mode it is a
  documented prerequisite) it gets no namespace matcher and sees every alert: platform alerts go
  to the platform on-call; a team's alerts are dropped there only when that team has its own
  receiver (already delivered by the team's route, which `continue`s); a team without a receiver
  degrades to the platform on-call, never to silence, and the render warns.
"""
from __future__ import annotations

from .config import RECEIVER_PROPERTY, ReceiverType

API_VERSION = "monitoring.coreos.com/v1alpha1"
TEAM_CONFIG = "kfplatform-team-alerts"
PLATFORM_CONFIG = "kfplatform-platform-alerts"
TEAM_RECEIVER_SECRET = "alert-receiver"
PLATFORM_RECEIVER_SECRET = "platform-alert-receiver"
# AlertmanagerConfigs the platform's Alertmanager selects (install mode sets the selector).
SELECT_LABEL = {"kfplatform.io/alertmanager": "platform"}
GROUP_BY = ["alertname", "namespace", "name", "slo"]
# PagerDuty Events v2 severities from the platform's severity label.
PD_SEVERITY = '{{ if eq .CommonLabels.severity "page" }}critical{{ else if eq .CommonLabels.severity "ticket" }}warning{{ else }}info{{ end }}'


def receiver(name: str, kind: ReceiverType, secret: str) -> dict:
    key = RECEIVER_PROPERTY[kind]
    if kind == "pagerduty":
        return {"name": name, "pagerdutyConfigs": [
            {"routingKey": {"name": secret, "key": key}, "severity": PD_SEVERITY, "sendResolved": True}
        ]}
    return {"name": name, "webhookConfigs": [{"urlSecret": {"name": secret, "key": key}, "sendResolved": True}]}


def team_spec(team: str, kind: ReceiverType) -> dict:
    """The team's AlertmanagerConfig (in its namespace): its own alerts to its own receiver."""
    return {
        "route": {
            "receiver": "team",
            "matchers": [{"name": "team", "value": team, "matchType": "="}],
            "groupBy": GROUP_BY,
            "groupWait": "30s",
            "groupInterval": "5m",
            "repeatInterval": "4h",
        },
        "receivers": [receiver("team", kind, TEAM_RECEIVER_SECRET)],
    }


def platform_spec(kind: ReceiverType, teams_with_receiver: list[str]) -> dict:
    """The platform's AlertmanagerConfig (in Alertmanager's namespace): everything not delivered
    to a team goes to the platform on-call."""
    # kube-prometheus-stack's always-firing Watchdog (a dead-man's switch for an external
    # heartbeat service) and InfoInhibitor are not for the on-call.
    routes: list[dict] = [{
        "receiver": "none",
        "matchers": [{"name": "alertname", "value": "Watchdog|InfoInhibitor", "matchType": "=~"}],
    }]
    if teams_with_receiver:
        routes.append({
            # Delivered by the team's own route already (it continues to this one).
            "receiver": "none",
            "matchers": [
                {"name": "team", "value": "|".join(sorted(teams_with_receiver)), "matchType": "=~"},
            ],
        })
    return {
        "route": {
            "receiver": "platform-oncall",
            "groupBy": GROUP_BY,
            "groupWait": "30s",
            "groupInterval": "5m",
            "repeatInterval": "4h",
            "routes": routes,
        },
        "receivers": [receiver("platform-oncall", kind, PLATFORM_RECEIVER_SECRET), {"name": "none"}],
    }
