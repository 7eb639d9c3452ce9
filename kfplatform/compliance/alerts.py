"""The compliance plane's alerts: a trail that stops is a compliance incident.

Vector's own metrics (`internal_metrics` source, namespace `vector`; metric names from
vectordotdev/vector v0.56.0 lib/vector-common/src/internal_event/metric_name.rs) are exported on
:9598 by a `prometheus_exporter` sink in each pipeline (shipper.py) and scraped through the chart's
PodMonitor (`podMonitor.enabled`, port `prom-exporter`). Labels and annotations follow
kfplatform/alerts.py; each runbook_url lands on a heading of docs/runbook.md.
"""
from __future__ import annotations

from ..alerts import PLATFORM_TEAM, alert_rule, runbook_url

STALLED = "Compliance: audit trail stalled"
SINK_ERRORS = "Compliance: trail delivery failing"
UNMATCHED = "Compliance: payloads posted to no tenant"
RUNBOOK_HEADINGS = (STALLED, SINK_ERRORS, UNMATCHED)


def compliance_rules(*, audit_namespace: str, logging_namespace: str, base_url: str) -> list[dict]:
    return [
        alert_rule(
            "ComplianceAuditTrailStalled",
            f'(sum(rate(vector_component_received_events_total{{namespace="{audit_namespace}",component_id="k8s_audit"}}[15m]))'
            " or vector(0)) == 0",
            for_="15m", severity="page", slo="audit_trail", team=PLATFORM_TEAM, name="kfplatform-audit",
            summary="No API server audit event has been shipped for 15 minutes: deploys are not being recorded",
            runbook=runbook_url(base_url, STALLED),
        ),
        alert_rule(
            "ComplianceTrailDeliveryFailing",
            f'sum by (namespace, component_id) (rate(vector_component_errors_total{{namespace=~"{audit_namespace}|{logging_namespace}",'
            'component_kind="sink"}[10m])) > 0',
            for_="15m", severity="page", slo="audit_trail", team=PLATFORM_TEAM, name="kfplatform-audit",
            summary="{{ $labels.component_id }} in {{ $labels.namespace }} fails to write the WORM bucket or the log index",
            runbook=runbook_url(base_url, SINK_ERRORS),
        ),
        alert_rule(
            "CompliancePayloadsUnmatched",
            f'sum(rate(vector_component_received_events_total{{namespace="{logging_namespace}",'
            'component_id="payloads_unmatched_platform"}[30m])) > 0',
            for_="30m", severity="ticket", slo="payload_log", team=PLATFORM_TEAM, name="kfplatform-payloads",
            summary="Predictions are posted to the payload sink under a path or namespace no tenant owns",
            runbook=runbook_url(base_url, UNMATCHED),
        ),
    ]
