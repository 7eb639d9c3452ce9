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

A declared receiver whose Secret is missing must not turn into silence either. The operator
(v0.93.0 pkg/alertmanager/operator.go `selectAlertmanagerConfigs` -> `checkAlertmanagerConfigResource`
-> `checkReceivers`; pkg/assets/store.go `GetSecretKey`) rejects the WHOLE AlertmanagerConfig when
a referenced Secret or key is missing (or a webhook URL in it is invalid): its route, receivers
and inhibit rules all leave the configuration, while the platform's route still drops that team's
alerts. So delivery to the team is made something Alertmanager can see, atomically with the
team's object:

- Prometheus fires, per team with a receiver, `TeamAlertRouteLive` (always) and, for every firing
  alert of the team, a copy `TeamAlertRerouted` labelled `kfplatform_fallback="platform"` that
  keeps the original's `severity`, `slo`, `name` and names it in `alert` (rerouted_alerts_group).
- The team's AlertmanagerConfig carries an inhibit rule: `TeamAlertRouteLive` mutes the copies
  (the operator confines both sides to the team's namespace). It lives and dies with the team's
  receiver: accepted, the team gets the original and the copy is muted; rejected, the inhibit
  rule is gone with the route and the platform route delivers the copy to the platform on-call.
- If the heartbeat itself is missing, the copies are not muted: the failure mode is a duplicate
  page to the platform, never silence.
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
# The fallback (module docstring): the heartbeat, the copies, and the label that marks a copy.
ROUTE_LIVE_ALERT = "TeamAlertRouteLive"
REROUTED_ALERT = "TeamAlertRerouted"
FALLBACK_LABEL = "kfplatform_fallback"
FALLBACK_VALUE = "platform"
ORIGINAL_ALERT_LABEL = "alert"  # the copy's alertname is REROUTED_ALERT; the original's is here
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
    """The team's AlertmanagerConfig (in its namespace): its own alerts to its own receiver, and
    the inhibit rule that mutes the platform's copies of them only while this object is accepted."""
    return {
        "route": {
            "receiver": "team",
            "matchers": [{"name": "team", "value": team, "matchType": "="}],
            "groupBy": GROUP_BY,
            "groupWait": "30s",
            "groupInterval": "5m",
            "repeatInterval": "4h",
            # The heartbeat and the copies are for the platform's fallback, not for the team.
            "routes": [{
                "receiver": "none",
                "matchers": [{"name": "alertname", "value": f"{ROUTE_LIVE_ALERT}|{REROUTED_ALERT}", "matchType": "=~"}],
            }],
        },
        "receivers": [receiver("team", kind, TEAM_RECEIVER_SECRET), {"name": "none"}],
        # The operator adds `namespace="<team>"` to both sides (namespaceEnforcer.processInhibitRule).
        "inhibitRules": [{
            "sourceMatch": [{"name": "alertname", "value": ROUTE_LIVE_ALERT, "matchType": "="}],
            "targetMatch": [{"name": FALLBACK_LABEL, "value": FALLBACK_VALUE, "matchType": "="}],
            "equal": ["namespace"],
        }],
    }


def rerouted_alerts_group(team: str, namespace: str, runbook: str) -> dict:
    """Prometheus' half of the fallback for a team with a receiver: the heartbeat the team's inhibit
    rule reads, and a copy of each firing alert of the team for the platform on-call.

    The copy keeps every label of the original (ALERTS carries them: severity, slo, team, name,
    namespace) and moves `alertname` to `alert` (two alerts of a service that differ only in
    alertname stay two copies). It fires one evaluation after the original and resolves with it.
    """
    this_team = f'alertstate="firing",namespace="{namespace}",team="{team}"'
    originals = f'ALERTS{{{this_team},alertname!~"{ROUTE_LIVE_ALERT}|{REROUTED_ALERT}"}}'
    return {
        "name": f"kfplatform-alert-route-{team}",
        "rules": [
            {
                "alert": ROUTE_LIVE_ALERT,
                "expr": "vector(1)",
                "labels": {"severity": "info", "slo": ROUTE_LIVE_ALERT, "team": team, "name": "alert-route",
                           "namespace": namespace},
                "annotations": {
                    "summary": f"Always firing: while team {team}'s AlertmanagerConfig is accepted, it mutes the platform's copies of the team's alerts",
                    "runbook_url": runbook,
                },
            },
            {
                "alert": REROUTED_ALERT,
                "expr": f'max without (alertstate, alertname) (label_replace({originals}, "{ORIGINAL_ALERT_LABEL}", "$1", "alertname", "(.+)"))',
                "labels": {FALLBACK_LABEL: FALLBACK_VALUE, "team": team, "namespace": namespace},
                "annotations": {
                    "summary": f"{{{{ $labels.{ORIGINAL_ALERT_LABEL} }}}} ({{{{ $labels.slo }}}} of {{{{ $labels.name }}}}) of team {team}: "
                               "the team's receiver is not configured (its AlertmanagerConfig is rejected), so the platform on-call gets it",
                    "runbook_url": runbook,
                },
            },
        ],
    }


def platform_spec(kind: ReceiverType, teams_with_receiver: list[str]) -> dict:
    """The platform's AlertmanagerConfig (in Alertmanager's namespace): everything not delivered
    to a team goes to the platform on-call."""
    # kube-prometheus-stack's always-firing Watchdog (a dead-man's switch for an external
    # heartbeat service) and InfoInhibitor are not for the on-call.
    routes: list[dict] = [{
        "receiver": "none",
        "matchers": [{"name": "alertname", "value": f"Watchdog|InfoInhibitor|{ROUTE_LIVE_ALERT}", "matchType": "=~"}],
    }, {
        # A team's alert whose team route is gone (rejected AlertmanagerConfig): the copy is not
        # muted, and it is the platform's. Before the drop below, which would match its `team`.
        "receiver": "platform-oncall",
        "matchers": [{"name": FALLBACK_LABEL, "value": FALLBACK_VALUE, "matchType": "="}],
        "groupBy": [*GROUP_BY, ORIGINAL_ALERT_LABEL],
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
