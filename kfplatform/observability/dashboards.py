"""Grafana dashboards as ConfigMaps for the Grafana sidecar (label `grafana_dashboard: "1"`).

Each panel's PromQL is kept as data (`expressions()`), so the tests run every one through
`promtool check rules` (wrapped as a recording rule) exactly as the rules are checked.
"""
from __future__ import annotations

import json

from .config import ServingConfig
from .platform_rules import runs_finished
from .slo import BUDGET_RATIO, COLD_STARTS, ERROR_RATIO, LATENCY, QUANTILES

SIDECAR_LABEL = {"grafana_dashboard": "1"}


def _panel(index: int, title: str, exprs: list[tuple[str, str]], unit: str = "short") -> dict:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": title,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"expr": expr, "legendFormat": legend, "refId": chr(65 + i)} for i, (expr, legend) in enumerate(exprs)],
    }


def _dashboard(uid: str, title: str, panels: list[dict]) -> dict:
    return {
        "uid": uid, "title": title, "tags": ["kfplatform"], "timezone": "utc", "schemaVersion": 39,
        "time": {"from": "now-24h", "to": "now"}, "panels": panels,
    }


def tenant_dashboard(namespace: str, team: str, serving: ServingConfig) -> dict:
    """A team's SLOs and error budgets, per InferenceService."""
    panels = []
    for service in serving.inference_services:
        sel = f'{{namespace="{namespace}",name="{service.name}"}}'
        targets = serving.targets(service)
        budget = targets.error_rate_percent / 100
        panels.append(_panel(len(panels), f"{service.name}: latency (ms) vs SLO", [
            *((f"{LATENCY.format(q=q)}{sel}", q.upper()) for q in QUANTILES),
            (f"vector({targets.latency_p95_ms:g})", "P95 SLO"),
        ], unit="ms"))
        panels.append(_panel(len(panels), f"{service.name}: error ratio and burn rate", [
            (f"{ERROR_RATIO.format(w='5m')}{sel}", "error ratio 5m"),
            (f"{ERROR_RATIO.format(w='1h')}{sel} / {budget:.6g}", "burn rate 1h"),
            (f"{ERROR_RATIO.format(w='6h')}{sel} / {budget:.6g}", "burn rate 6h"),
        ], unit="percentunit"))
        # The 30-day budget left: 1 - (30-day error ratio) / (allowed ratio).
        panels.append(_panel(len(panels), f"{service.name}: 30-day error budget left", [
            (f"clamp_min(1 - {BUDGET_RATIO}{sel} / {budget:.6g}, 0)", "budget left"),
        ], unit="percentunit"))
        if service.scale_to_zero:
            panels.append(_panel(len(panels), f"{service.name}: cold starts per hour", [
                (f"{COLD_STARTS}{sel}", "cold starts"), (f"vector({targets.cold_starts_per_hour})", "SLO"),
            ]))
    panels.append(_panel(len(panels), "model drift (tier 3)", [
        (f'max by (model) (kfplatform_model_drift_score{{namespace="{namespace}"}})', "{{model}}"),
    ]))
    return _dashboard(f"kfp-slo-{team}"[:40], f"{team}: inference SLOs", panels)


def kubeflow_dashboard(monitoring_ns: str, kubeflow_ns: str, tenants: tuple[str, ...]) -> dict:
    tenant_re = "|".join(tenants) or "^$"
    return _dashboard("kfp-kubeflow-health", "Kubeflow: KFP and Katib health", [
        _panel(0, "KFP API servers up", [(f'sum(up{{job="{monitoring_ns}/kfplatform-kfp-api"}})', "up")]),
        _panel(1, "Runs finished per hour", [
            (runs_finished(kubeflow_ns, "success"), "succeeded"),
            (runs_finished(kubeflow_ns, "failed"), "failed"),
        ]),
        _panel(2, "Pending pods per tenant (queue)", [
            (f'sum by (namespace) (kube_pod_status_phase{{phase="Pending",namespace=~"{tenant_re}"}})', "{{namespace}}"),
        ]),
        _panel(3, "Katib and Notebook controllers up", [
            (f'sum(up{{job="{monitoring_ns}/kfplatform-katib-controller"}})', "katib"),
            (f'sum(up{{job="{monitoring_ns}/kfplatform-notebook-controller"}})', "notebooks"),
        ]),
    ])


def data_tier_dashboard(database_ns: str, object_store_ns: str) -> dict:
    return _dashboard("kfp-data-tier", "Data tier: Galera, ProxySQL, MinIO", [
        _panel(0, "Galera cluster size", [(f'min(mysql_global_status_wsrep_cluster_size{{namespace="{database_ns}"}})', "size")]),
        _panel(1, "Galera nodes not Synced", [
            (f'count(mysql_global_status_wsrep_local_state{{namespace="{database_ns}"}} != 4) or vector(0)', "not synced"),
        ]),
        _panel(2, "ProxySQL backends ONLINE", [
            (f'sum by (pod) (proxysql_connpool_conns_status{{namespace="{database_ns}"}} == bool 1)', "{{pod}}"),
        ]),
        _panel(3, "MinIO drives offline, headroom over write quorum", [
            (f'max(minio_cluster_drive_offline_total{{namespace="{object_store_ns}"}})', "offline drives"),
            (f'min by (pool, set) (minio_cluster_health_erasure_set_online_drives{{namespace="{object_store_ns}"}}'
             f' - minio_cluster_health_erasure_set_write_quorum{{namespace="{object_store_ns}"}})', "pool {{pool}} set {{set}}"),
        ]),
    ])


def expressions(dashboard: dict) -> list[str]:
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def as_json(dashboard: dict) -> str:
    return json.dumps(dashboard, indent=1, sort_keys=True)
