"""Platform alerts (team `platform`): Kubeflow, the data tier, the secrets plane, GPUs, storage.

Metric names were read in upstream source at the pinned tags (docs/observability.md, "Where each
metric comes from"). Backup alerts belong to the backup area; the HA-floor alert to
kfplatform/kubeflow/ha.py. Each alert's runbook section is `docs/runbook.md#<alert name>`.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..alerts import PLATFORM_TEAM, Severity, alert_rule, runbook_url


@dataclass(frozen=True)
class PlatformScope:
    """What the rules need to know about this stack."""

    kubeflow_ns: str
    database_ns: str
    object_store_ns: str
    tenant_namespaces: tuple[str, ...]
    gpu_nodes: tuple[str, ...]
    galera_replicas: int
    argocd_install_project: str  # the Argo CD project of the Kubeflow install's Applications
    monitoring_ns: str  # where the platform's monitors live (a PodMonitor's job is `<its namespace>/<name>`)


def _regex(values: tuple[str, ...]) -> str:
    return "|".join(values) if values else "^$"


def runs_finished(kubeflow_ns: str, outcome: str) -> str:
    """KFP 2.15.0 runs that finished with `outcome` (success|failed) in the last hour."""
    return f'clamp_min(delta(sum(resource_manager_workflow_runs_{outcome}{{namespace="{kubeflow_ns}"}})[1h:1m]), 0)'


def platform_alerts(scope: PlatformScope) -> list[tuple[str, str, str, Severity, str, str]]:
    """(alert, expr, for, severity, name, summary) of every platform alert."""
    kf, db, s3, mon = scope.kubeflow_ns, scope.database_ns, scope.object_store_ns, scope.monitoring_ns
    tenants = _regex(scope.tenant_namespaces)
    alerts = [
        # --- Kubeflow Pipelines (KFP 2.15.0: backend/src/apiserver/resource/resource_manager.go) ---
        ("KfpApiServerDown", f'sum(up{{job="{mon}/kfplatform-kfp-api"}}) == 0 or absent(up{{job="{mon}/kfplatform-kfp-api"}})',
         "3m", "page", "ml-pipeline", "No KFP API server answers its /metrics scrape: pipelines cannot be submitted or read"),
        # Gauges per (profile, workflow) that go up by one per finished run (and down when a run
        # is deleted); a run with a new name is a new series at 1, so the finished runs of the
        # last hour are the increase of their sum (a restarted API server starts again at 0:
        # clamped). At least 4 finished runs, so one failure of one run is not a rate.
        ("KfpRunSuccessRateLow",
         f"{runs_finished(kf, 'failed')} / ({runs_finished(kf, 'success')} + {runs_finished(kf, 'failed')}) > 0.25"
         f" and ({runs_finished(kf, 'success')} + {runs_finished(kf, 'failed')}) >= 4",
         "30m", "ticket", "ml-pipeline", "More than 25% of the pipeline runs that finished in the last hour failed"),
        # Queue depth: pipeline pods that cannot start (quota, GPUs, image pulls) in tenant namespaces.
        ("KfpRunsQueued",
         f'sum by (namespace) (kube_pod_status_phase{{phase="Pending",namespace=~"{tenants}"}}) > 20',
         "30m", "ticket", "pipeline-queue", "{{ $labels.namespace }} has {{ $value }} pods Pending for 30 minutes"),
        # --- Katib and the Notebook controller (controller-runtime metrics) ---
        ("KatibControllerDown", f'sum(up{{job="{mon}/kfplatform-katib-controller"}}) == 0 or absent(up{{job="{mon}/kfplatform-katib-controller"}})',
         "10m", "ticket", "katib-controller", "The Katib controller is not scraped: experiments do not progress"),
        ("NotebookControllerDown", f'sum(up{{job="{mon}/kfplatform-notebook-controller"}}) == 0'
         f' or absent(up{{job="{mon}/kfplatform-notebook-controller"}})',
         "10m", "ticket", "notebook-controller", "The Notebook controller is not scraped: notebooks are not created or culled"),
        # --- Galera (mysqld_exporter v0.15.1: collector/global_status.go; SHOW GLOBAL STATUS) ---
        ("GaleraClusterSizeLow", f'min(mysql_global_status_wsrep_cluster_size{{namespace="{db}"}}) < {scope.galera_replicas}',
         "5m", "page", "galera", f"The Galera cluster has {{{{ $value }}}} of {scope.galera_replicas} nodes: one more loss costs quorum"),
        # wsrep_local_state 4 = Synced; anything else (joining, donor, desynced) for 15 minutes.
        ("GaleraNodeNotSynced", f'mysql_global_status_wsrep_local_state{{namespace="{db}"}} != 4',
         "15m", "ticket", "galera", "Galera node {{ $labels.instance }} is not Synced (wsrep_local_state {{ $value }})"),
        # --- ProxySQL (v2.7.1 lib/MySQL_HostGroups_Manager.cpp: 1 ONLINE, 2 SHUNNED, 3/4 OFFLINE) ---
        ("ProxySqlBackendDown", f'count by (pod) (proxysql_connpool_conns_status{{namespace="{db}"}} != 1) > 0',
         "10m", "ticket", "proxysql", "ProxySQL {{ $labels.pod }} sees {{ $value }} backends not ONLINE"),
        ("ProxySqlNoBackend", f'sum by (pod) (proxysql_connpool_conns_status{{namespace="{db}"}} == bool 1) == 0',
         "2m", "page", "proxysql", "ProxySQL {{ $labels.pod }} has no ONLINE Galera backend: KFP and Katib cannot write"),
        # --- MinIO (RELEASE.2025-04-22T22-12-26Z cmd/metrics-v2.go: getClusterStorageMetrics and
        # getClusterHealthMetrics, served at /minio/v2/metrics/cluster, scraped by PodMonitor kfplatform-minio) ---
        ("MinioDrivesOffline", f'max(minio_cluster_drive_offline_total{{namespace="{s3}"}}) > 0',
         "10m", "ticket", "minio", "{{ $value }} MinIO drives are offline"),
        # Online drives at (or below) the write quorum: the next loss stops writes to the set.
        ("MinioParityAtRisk",
         f'min by (pool, set) (minio_cluster_health_erasure_set_online_drives{{namespace="{s3}"}}'
         f' - minio_cluster_health_erasure_set_write_quorum{{namespace="{s3}"}}) <= 0',
         "5m", "page", "minio", "MinIO pool {{ $labels.pool }} set {{ $labels.set }} is at its write quorum: one more drive loss stops writes"),
        # --- ESO (v2.9.0 pkg/controllers/externalsecret/esmetrics/esmetrics.go) ---
        ("ExternalSecretSyncFailed", 'externalsecret_status_condition{condition="Ready",status="False"} == 1',
         "15m", "ticket", "external-secrets", "ExternalSecret {{ $labels.namespace }}/{{ $labels.name }} is not Ready: its Secret is stale or missing"),
        # --- Alert routing itself (prometheus-operator v0.93: a rejected AlertmanagerConfig is dropped) ---
        ("AlertmanagerConfigRejected",
         'max(prometheus_operator_managed_resources{resource="alertmanagerconfigs",state="rejected"}) > 0',
         "10m", "page", "alertmanager", "{{ $value }} AlertmanagerConfig objects are rejected: some team's alerts reach nobody"),
        # --- the Kubeflow install (Argo CD v3.5.1 controller/metrics/metrics.go: argocd_app_info) ---
        ("KubeflowApplicationUnhealthy",
         f'argocd_app_info{{project="{scope.argocd_install_project}",health_status=~"Degraded|Missing"}} == 1',
         "15m", "ticket", "argocd", "Argo CD Application {{ $labels.name }} of the Kubeflow install is {{ $labels.health_status }}"),
        # --- GPUs (kube-state-metrics; DCGM exporter from the GPU Operator) ---
        ("GpuNodeNotReady",
         f'kube_node_status_condition{{condition="Ready",status="true",node=~"{_regex(scope.gpu_nodes)}"}} == 0',
         "5m", "page", "gpu-nodes", "GPU node {{ $labels.node }} is not Ready"),
        # `nvidia.com/mig.config.state` (mig-parted: pending|rebooting|success|failed) as
        # kube-state-metrics exports it when allow-listed (--metric-labels-allowlist=nodes=[...]):
        # `label_` + the name with every other character as `_` (v2.20.0 internal/store/node.go,
        # internal/store/utils.go SanitizeLabelName; chart 8.4.0 templates/deployment.yaml).
        ("MigReconfigurationFailed", 'kube_node_labels{label_nvidia_com_mig_config_state="failed"} == 1',
         "5m", "page", "gpu-nodes", "MIG reconfiguration failed on {{ $labels.node }}: its slices are not offered"),
        # dcgm-exporter etc/default-counters.csv: DCGM_FI_DEV_XID_ERRORS is the last XID seen.
        ("GpuXidErrors", "max by (Hostname, gpu) (changes(DCGM_FI_DEV_XID_ERRORS[10m])) > 0",
         "0m", "ticket", "gpu-nodes", "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} reported XID errors"),
        # --- storage (kubelet volume stats) ---
        ("PersistentVolumeFillingUp",
         "kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes < 0.10"
         " and predict_linear(kubelet_volume_stats_available_bytes[6h], 24 * 3600) < 0",
         "15m", "ticket", "storage", "Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is over 90% full and fills within a day"),
        ("PersistentVolumeFull",
         "kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes < 0.03",
         "5m", "page", "storage", "Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is over 97% full"),
    ]
    # An alert that reads no series is silent, not green: say so when a source goes missing.
    for name, selector in (
        ("galera", f'mysql_global_status_wsrep_cluster_size{{namespace="{db}"}}'),
        ("proxysql", f'proxysql_connpool_conns_status{{namespace="{db}"}}'),
        ("minio", f'minio_cluster_drive_offline_total{{namespace="{s3}"}}'),
        ("external-secrets", "externalsecret_status_condition"),
        ("knative-autoscaler", "autoscaler_actual_pods"),
        *((("dcgm-exporter", "DCGM_FI_DEV_XID_ERRORS"),) if scope.gpu_nodes else ()),
    ):
        alerts.append((
            "PlatformMetricsAbsent", f"absent({selector})", "30m", "ticket", name,
            f"No {name} metrics for 30 minutes: the alerts that read them cannot fire",
        ))
    return alerts


def platform_group(scope: PlatformScope, base_url: str) -> dict:
    rules = [
        alert_rule(
            alert, expr, for_=for_, severity=severity, slo=alert, team=PLATFORM_TEAM, name=name,
            summary=summary, runbook=runbook_url(base_url, alert),
        )
        for alert, expr, for_, severity, name, summary in platform_alerts(scope)
    ]
    return {"name": "kfplatform-platform", "rules": rules}
