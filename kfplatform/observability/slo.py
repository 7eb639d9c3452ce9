"""Inference SLO rules for one tenant: recording rules for the SLIs, then the alerts.

Pure functions from configuration to Prometheus rule groups (plain dicts), so the same text is
rendered into a PrometheusRule, written to `build/STACK/rules/` and run through `promtool`.

Every series the rules record carries `namespace` (the team's namespace: the namespaced
AlertmanagerConfig of the team matches on it, see routing.py), `team` and `name` (the
InferenceService); every alert adds `severity` and `slo` (kfplatform/alerts.py).
"""
from __future__ import annotations

from ..alerts import alert_rule, runbook_url
from .config import DriftConfig, InferenceServiceSlo, ServingConfig, ServingMetrics, SloPolicy

# Multi-window, multi-burn-rate alerts over a 30-day budget (Google SRE workbook, "Alerting on
# SLOs", table 5-8): 14.4x over 1h (and 5m) spends 2% of the budget in an hour: page; 6x over 6h
# (and 30m) spends 5% in six hours: a ticket for working hours.
FAST_BURN = {"factor": 14.4, "long": "1h", "short": "5m", "for": "2m", "severity": "page"}
SLOW_BURN = {"factor": 6, "long": "6h", "short": "30m", "for": "15m", "severity": "ticket"}
ERROR_WINDOWS = ("5m", "30m", "1h", "6h")
# The budget's own window: the mean of the recorded 5m ratio over 30 days (cheap to evaluate,
# unlike a 30-day rate over the raw counters), for the dashboards' "budget left".
BUDGET_RATIO = "kfplatform:inference_error_ratio:rate30d"
LATENCY_WINDOW = "5m"
QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
# The severity of a latency breach: the P95 is the user-facing promise; P50 and P99 are tickets.
LATENCY_SEVERITY = {"p50": "ticket", "p95": "page", "p99": "ticket"}

# Runbook headings (docs/runbook.md): one section per SLO alert.
RUNBOOK = {
    "InferenceLatencyHigh": "InferenceLatencyHigh",
    "InferenceErrorBudgetFastBurn": "InferenceErrorBudgetFastBurn",
    "InferenceErrorBudgetSlowBurn": "InferenceErrorBudgetSlowBurn",
    "InferenceColdStartsHigh": "InferenceColdStartsHigh",
    "ModelDriftDetected": "ModelDriftDetected",
}

# Recorded series (one per InferenceService, labels namespace/team/name).
LATENCY = "kfplatform:inference_latency_ms:{q}_5m"
ERROR_RATIO = "kfplatform:inference_error_ratio:rate{w}"
PODS_UP = "kfplatform:inference_pods_up:bool"
COLD_STARTS = "kfplatform:inference_cold_starts:1h"


def num(value: float) -> str:
    """A threshold as PromQL reads it (no float noise: 14.4 * 0.001 -> 0.0144)."""
    return f"{value:.6g}"


def _selector(namespace: str, name: str) -> str:
    return f'{{namespace="{namespace}",name="{name}"}}'


def service_recording_rules(
    namespace: str, team: str, service: InferenceServiceSlo, metrics: ServingMetrics
) -> list[dict]:
    """The SLIs of one InferenceService, measured at Knative's queue-proxy by default."""
    ksvc = f"{service.name}{metrics.service_suffix}"
    requests = f'{{namespace="{namespace}",{metrics.service_label}="{ksvc}"}}'
    errors = f'{{namespace="{namespace}",{metrics.service_label}="{ksvc}",{metrics.error_matcher}}}'
    labels = {"namespace": namespace, "team": team, "name": service.name}
    to_ms = "" if metrics.latency_unit == "ms" else " * 1000"
    rules = [
        {
            "record": LATENCY.format(q=q),
            "expr": (
                f"histogram_quantile({quantile}, sum by (le) "
                f"(rate({metrics.request_latency}_bucket{requests}[{LATENCY_WINDOW}]))){to_ms}"
            ),
            "labels": labels,
        }
        for q, quantile in QUANTILES.items()
    ]
    # No 5xx series at all is a ratio of 0, not an absent ratio; no traffic at all stays absent
    # (0/0), so an idle service never alerts.
    rules += [
        {
            "record": ERROR_RATIO.format(w=w),
            "expr": (
                f"(sum(rate({metrics.request_count}{errors}[{w}])) or vector(0))"
                f" / sum(rate({metrics.request_count}{requests}[{w}]))"
            ),
            "labels": labels,
        }
        for w in ERROR_WINDOWS
    ]
    if service.scale_to_zero:
        pods = f'{{{metrics.pods_namespace_label}="{namespace}",{metrics.service_label}="{ksvc}"}}'
        here = _selector(namespace, service.name)
        rules += [
            # 1 while any pod of the service exists, 0 while it is scaled to zero.
            {"record": PODS_UP, "expr": f"clamp_max(sum({metrics.pods}{pods}), 1)", "labels": labels},
            # Cold starts in the last hour: the minutes in which it went from zero to running.
            {
                "record": COLD_STARTS,
                "expr": f"sum_over_time(({PODS_UP}{here} - {PODS_UP}{here} offset 1m == 1)[1h:1m])",
                "labels": labels,
            },
        ]
    return rules


def service_alerts(
    namespace: str, team: str, service: InferenceServiceSlo, serving: ServingConfig, policy: SloPolicy, base_url: str
) -> list[dict]:
    targets = serving.targets(service)
    here = _selector(namespace, service.name)
    common = {"team": team, "name": service.name, "extra_labels": {"namespace": namespace}}
    alerts = []
    for q in QUANTILES:
        target = getattr(targets, f"latency_{q}_ms")
        alerts.append(alert_rule(
            "InferenceLatencyHigh",
            f"{LATENCY.format(q=q)}{here} > {num(target)}",
            for_=policy.latency_for, severity=LATENCY_SEVERITY[q], slo=f"latency_{q}",
            summary=(
                f"{namespace}/{service.name}: {q.upper()} latency {{{{ $value | humanize }}}} ms "
                f"is above its SLO of {num(target)} ms"
            ),
            runbook=runbook_url(base_url, RUNBOOK["InferenceLatencyHigh"]), **common,
        ))
    budget = targets.error_rate_percent / 100
    for alert, burn in (("InferenceErrorBudgetFastBurn", FAST_BURN), ("InferenceErrorBudgetSlowBurn", SLOW_BURN)):
        threshold = num(burn["factor"] * budget)
        alerts.append(alert_rule(
            alert,
            f"{ERROR_RATIO.format(w=burn['long'])}{here} > {threshold}"
            f" and {ERROR_RATIO.format(w=burn['short'])}{here} > {threshold}",
            for_=burn["for"], severity=burn["severity"], slo="error_rate",
            summary=(
                f"{namespace}/{service.name} spends its 30-day error budget ({num(targets.error_rate_percent)}% "
                f"errors) {num(burn['factor'])}x too fast over {burn['long']}"
            ),
            runbook=runbook_url(base_url, RUNBOOK[alert]), **common,
        ))
    if service.scale_to_zero:
        alerts.append(alert_rule(
            "InferenceColdStartsHigh",
            f"{COLD_STARTS}{here} > {targets.cold_starts_per_hour}",
            for_=policy.cold_starts_for, severity="ticket", slo="cold_starts",
            summary=(
                f"{namespace}/{service.name} cold-started {{{{ $value }}}} times in the last hour "
                f"(SLO: at most {targets.cold_starts_per_hour})"
            ),
            runbook=runbook_url(base_url, RUNBOOK["InferenceColdStartsHigh"]), **common,
        ))
    return alerts


def slo_group(
    namespace: str, team: str, serving: ServingConfig, metrics: ServingMetrics, policy: SloPolicy, base_url: str
) -> dict | None:
    """The team's SLO rule group (recording rules first: a group evaluates its rules in order)."""
    if not serving.inference_services:
        return None
    rules: list[dict] = []
    for service in serving.inference_services:
        rules += service_recording_rules(namespace, team, service, metrics)
    for service in serving.inference_services:
        rules += service_alerts(namespace, team, service, serving, policy, base_url)
    return {"name": f"kfplatform-slo-{team}", "interval": "30s", "rules": rules}


def budget_group(namespace: str, team: str, serving: ServingConfig) -> dict | None:
    """The 30-day error ratio of each InferenceService, in its own group evaluated every 5m: a
    month of samples per series is too much work for every 30s."""
    if not serving.inference_services:
        return None
    rules = [
        {
            "record": BUDGET_RATIO,
            "expr": f"avg_over_time({ERROR_RATIO.format(w='5m')}{_selector(namespace, s.name)}[30d])",
            "labels": {"namespace": namespace, "team": team, "name": s.name},
        }
        for s in serving.inference_services
    ]
    return {"name": f"kfplatform-slo-budget-{team}", "interval": "5m", "rules": rules}


def drift_group(namespace: str, team: str, drift: DriftConfig, base_url: str) -> dict:
    """Tier 3: drift of the team's models, from the drift-metrics contract (docs/observability.md)."""
    expr = (
        f'max by (namespace, model) ({drift.score_metric}{{namespace="{namespace}"}}) > {num(drift.threshold)}'
    )
    rule = alert_rule(
        "ModelDriftDetected", expr, for_=drift.for_, severity="ticket", slo="model_drift", team=team,
        name="{{ $labels.model }}", extra_labels={"namespace": namespace},
        summary=(
            f'{namespace}/{{{{ $labels.model }}}}: drift score {{{{ printf "%.2f" $value }}}} above '
            f"{num(drift.threshold)} for {drift.for_}"
        ),
        runbook=runbook_url(base_url, RUNBOOK["ModelDriftDetected"]),
    )
    return {"name": f"kfplatform-drift-{team}", "rules": [rule]}
