"""What the platform's Prometheus scrapes: one PodMonitor per component, all in the monitoring
namespace (tenants cannot edit them; a team's edit role has no monitoring.coreos.com rights).

Pod labels and ports were read in upstream source at the pinned tags (docs/observability.md):
a PodMonitor selects pods directly, so it does not depend on how a Service is labelled, and its
`job` label is `<monitoring namespace>/<PodMonitor name>` (prometheus-operator v0.93.0
pkg/prometheus/promcfg.go). Tenant namespaces admit the monitoring namespace's Prometheus on
every port (network.ingress.prometheus, kfplatform/tenancy/network.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Knative Serving v1.16.2: queue-proxy serves request metrics on port 9091, named http-usermetric
# (pkg/networking/constants.go UserQueueMetricsPort, pkg/apis/serving/v1/revision_helpers.go).
QUEUE_PROXY_METRICS_PORT = "http-usermetric"
# KServe v0.15.2 labels every pod of an InferenceService with serving.kserve.io/inferenceservice
# (pkg/constants/constants.go InferenceServicePodLabelKey).
ISVC_POD_LABEL = "serving.kserve.io/inferenceservice"
# MinIO (operator v7.1.1, server RELEASE.2025-04-22T22-12-26Z): the operator names the server's
# container port 9000 `minio-port` (pkg/apis/minio.min.io/v2/constants.go MinIOPortName, used in
# pkg/resources/statefulsets/minio-statefulset.go) and labels every pod `v1.min.io/tenant: <name>`
# (constants.go TenantLabel). The cluster metrics are at /minio/v2/metrics/cluster (minio
# cmd/metrics-router.go: minioReservedBucketPath "/minio" + prometheusMetricsV2ClusterPath), open
# without a token because the Tenant's config.env sets MINIO_PROMETHEUS_AUTH_TYPE=public
# (kfplatform/data/object_store.py). The server runs TLS with the operator's certificate, which
# names the `minio` Service (pkg/apis/minio.min.io/v2/helper.go AllMinIOHosts) and is signed by
# the cluster CA (kube-root-ca.crt, kfplatform/data/endpoints.py), not the pod IP Prometheus dials.
MINIO_METRICS_PORT = "minio-port"
MINIO_METRICS_PATH = "/minio/v2/metrics/cluster"
# Per-bucket metrics (getBucketUsageMetrics in cmd/metrics-v2.go: minio_bucket_usage_*, and the
# minio_bucket_replication_* the backup area's replication alerts read) are only served here.
MINIO_BUCKET_METRICS_PATH = "/minio/v2/metrics/bucket"
MINIO_TENANT_LABEL = "v1.min.io/tenant"
# Tier 3 contract: a team's drift exporter pod carries this label and serves /metrics on a
# container port named `metrics`.
DRIFT_EXPORTER_LABEL = "kfplatform.io/drift-exporter"


@dataclass(frozen=True)
class Monitor:
    name: str  # the PodMonitor's name, kfplatform-<name>
    namespaces: tuple[str, ...]
    match_labels: dict[str, str] = field(default_factory=dict)
    match_expressions: tuple[dict, ...] = ()
    port: str | None = None  # a container port name
    port_number: int | None = None  # or its number, where upstream does not name it
    path: str = "/metrics"
    extra_paths: tuple[str, ...] = ()  # more paths on the same port: one endpoint each
    # True where the exporter's own `namespace` label names the object it reports on (ESO), so
    # the scrape must not rename it to exported_namespace.
    honor_labels: bool = False
    why: str = ""
    # TLS: the name the server's certificate carries, and the CA (a ConfigMap key in the monitoring
    # namespace) that signed it. Unset: plain HTTP.
    tls_server_name: str | None = None
    tls_ca_configmap: tuple[str, str] | None = None

    def spec(self) -> dict:
        return {**self._selection(), "podMetricsEndpoints": [self._endpoint(p) for p in (self.path, *self.extra_paths)]}

    def _endpoint(self, path: str) -> dict:
        endpoint: dict = {"path": path, "interval": "30s", "honorLabels": self.honor_labels}
        if self.tls_server_name:
            assert self.tls_ca_configmap is not None, self.name
            name, key = self.tls_ca_configmap
            endpoint["scheme"] = "https"
            endpoint["tlsConfig"] = {"serverName": self.tls_server_name, "ca": {"configMap": {"name": name, "key": key}}}
        if self.port:
            endpoint["port"] = self.port
        else:
            endpoint["portNumber"] = self.port_number
        return endpoint

    def _selection(self) -> dict:
        selector: dict = {}
        if self.match_labels:
            selector["matchLabels"] = dict(self.match_labels)
        if self.match_expressions:
            selector["matchExpressions"] = [dict(e) for e in self.match_expressions]
        return {"namespaceSelector": {"matchNames": sorted(self.namespaces)}, "selector": selector}


def platform_monitors(
    *, kubeflow_ns: str, database_ns: str, operators_ns: str, tenants: tuple[str, ...],
    gpu_ns: str, knative_ns: str = "knative-serving", argocd_ns: str = "argocd",
    object_store: tuple[str, str, str, str, str] | None = None,
) -> list[Monitor]:
    """`object_store`: (namespace, Tenant name, TLS server name, CA ConfigMap, its key) of MinIO."""
    monitors = [
        # KFP 2.15.0 API server: /metrics on its HTTP port 8888 (backend/src/apiserver/main.go);
        # pods `app: ml-pipeline` (kubeflow/manifests v1.11.0).
        Monitor("kfp-api", (kubeflow_ns,), {"app": "ml-pipeline"}, port_number=8888, why="KFP API server"),
        # Katib controller: metrics on 8080 (applications/katib/.../controller/service.yaml).
        Monitor("katib-controller", (kubeflow_ns,), {"katib.kubeflow.org/component": "controller"},
                port_number=8080, why="Katib controller"),
        # Notebook controller (kubeflow/kubeflow v1.10.0, the version manifests v1.11.0 ships):
        # `-metrics-addr` defaults to :8080 (components/notebook-controller/main.go); the
        # container port is not declared, so it is selected by number.
        Monitor("notebook-controller", (kubeflow_ns,), {"app": "notebook-controller"}, port_number=8080,
                why="Notebook controller"),
        # Knative Serving v1.16.2 autoscaler: `metrics` 9090 (serving-core.yaml), pods per revision.
        Monitor("knative-autoscaler", (knative_ns,), {"app": "autoscaler"}, port="metrics",
                why="pods per revision (cold starts)"),
        # ProxySQL (kfplatform/data/proxysql.py): REST metrics on the `metrics` port.
        Monitor("proxysql", (database_ns,), {"app.kubernetes.io/name": "proxysql"}, port="metrics", why="ProxySQL"),
        *((Monitor(
            "minio", (object_store[0],), {MINIO_TENANT_LABEL: object_store[1]}, port=MINIO_METRICS_PORT,
            path=MINIO_METRICS_PATH, extra_paths=(MINIO_BUCKET_METRICS_PATH,), tls_server_name=object_store[2], tls_ca_configmap=(object_store[3], object_store[4]),
            why="MinIO drives and erasure sets",
        ),) if object_store else ()),
        # ESO chart 2.9.0: container port `metrics`; its metrics carry the ExternalSecret's namespace.
        Monitor("external-secrets", (operators_ns,), {"app.kubernetes.io/name": "external-secrets"},
                port="metrics", honor_labels=True, why="ESO sync status"),
        # NVIDIA GPU Operator v26.7.0: dcgm-exporter pods `app: nvidia-dcgm-exporter`, port
        # `metrics` 9400 (assets/state-dcgm-exporter/0800_daemonset.yaml).
        Monitor("dcgm-exporter", (gpu_ns,), {"app": "nvidia-dcgm-exporter"}, port="metrics", why="GPU health"),
        # Argo CD application controller: metrics on 8082 (argo-cd v3.5.1, the CRDs' tag:
        # manifests/base/application-controller/argocd-application-controller-statefulset.yaml).
        Monitor("argocd-application-controller", (argocd_ns,), {"app.kubernetes.io/name": "argocd-application-controller"},
                port_number=8082, why="Argo CD applications"),
    ]
    if tenants:
        monitors += [
            # Every InferenceService's queue-proxy, in every tenant namespace, by label.
            Monitor("kserve-predictors", tenants, match_expressions=({"key": ISVC_POD_LABEL, "operator": "Exists"},),
                    port=QUEUE_PROXY_METRICS_PORT, why="inference SLIs"),
            Monitor("drift-exporters", tenants, {DRIFT_EXPORTER_LABEL: "true"}, port="metrics", why="tier 3 drift"),
        ]
    return monitors
