"""`install` mode: kube-prometheus-stack (Prometheus operator, Prometheus, Alertmanager,
kube-state-metrics, node-exporter) and Loki with Grafana Alloy as the log shipper, at pinned chart
versions with digest-pinned images from the mirror.

Value keys were read in each chart's values.yaml at the pinned version (docs/observability.md):
kube-prometheus-stack 88.5.3 (prometheus-community/helm-charts tag kube-prometheus-stack-88.5.3,
appVersion v0.93.1), Loki 7.3.0 (grafana/loki tag helm-loki-7.3.0), Alloy 1.11.1 (grafana/alloy
tag helm-chart/1.11.1). Grafana is not installed: the dashboards are ConfigMaps for the sidecar of
the organisation's Grafana (label grafana_dashboard: "1").
"""
from __future__ import annotations


import pulumi
import pulumi_kubernetes as k8s

from ..config.stack import StackConfig
from .. import images
from ..data.releases import Chart
from ..images import PLACEHOLDER_DIGEST
from ..k8s import child
from .routing import SELECT_LABEL

_warned: set[str] = set()


KUBE_PROMETHEUS_STACK = Chart("kube-prometheus-stack", "88.5.3", "https://prometheus-community.github.io/helm-charts")
LOKI = Chart("loki", "7.3.0", "https://grafana.github.io/helm-charts")
ALLOY = Chart("alloy", "1.11.1", "https://grafana.github.io/helm-charts")

# UNVERIFIED digests: none of these could be checked against two independent public sources from
# here, so each is the all-zero placeholder the policy pack refuses (`crane digest` of the mirrored
# image, then paste). Tags are the charts' defaults at the pinned versions.
IMAGES = {
    "prometheus": ("quay.io", images.pin("kube-prometheus-stack", "quay.io", "prometheus/prometheus", "v3.14.0-distroless", PLACEHOLDER_DIGEST)),
    "alertmanager": ("quay.io", images.pin("kube-prometheus-stack", "quay.io", "prometheus/alertmanager", "v0.34.0", PLACEHOLDER_DIGEST)),
    "operator": ("quay.io", images.pin("kube-prometheus-stack", "quay.io", "prometheus-operator/prometheus-operator", "v0.93.1", PLACEHOLDER_DIGEST)),
    "config-reloader": ("quay.io", images.pin("kube-prometheus-stack", "quay.io", "prometheus-operator/prometheus-config-reloader", "v0.93.1", PLACEHOLDER_DIGEST)),
    "webhook-certgen": ("ghcr.io", images.pin("kube-prometheus-stack", "ghcr.io", "jkroepke/kube-webhook-certgen", "1.8.7", PLACEHOLDER_DIGEST)),
    "kube-state-metrics": ("registry.k8s.io", images.pin("kube-prometheus-stack", "registry.k8s.io", "kube-state-metrics/kube-state-metrics", "v2.20.0", PLACEHOLDER_DIGEST)),
    "node-exporter": ("quay.io", images.pin("kube-prometheus-stack", "quay.io", "prometheus/node-exporter", "v1.12.1", PLACEHOLDER_DIGEST)),
    "loki": ("docker.io", images.pin("loki", "docker.io", "grafana/loki", "3.6.11", PLACEHOLDER_DIGEST)),
    "loki-sidecar": ("docker.io", images.pin("loki", "docker.io", "kiwigrid/k8s-sidecar", "2.5.0", PLACEHOLDER_DIGEST)),
    "alloy": ("docker.io", images.pin("alloy", "docker.io", "grafana/alloy", "v1.18.1", PLACEHOLDER_DIGEST)),
    "alloy-config-reloader": ("quay.io", images.pin("alloy", "quay.io", "prometheus-operator/prometheus-config-reloader", "v0.91.0", PLACEHOLDER_DIGEST)),
}


def _pinned(key: str):
    registry, image = IMAGES[key]
    if image.digest == PLACEHOLDER_DIGEST and key not in _warned:
        _warned.add(key)
        pulumi.log.warn(
            f"monitoring image {registry}/{image.path}:{image.tag} has a placeholder digest "
            "(kfplatform/observability/stack.py); its pods will not start until the mirror's real digest is pinned"
        )
    return image


# Each chart builds the reference its own way (read at the pinned tags; tests/observability/
# test_rendered.py re-implements each helper and checks the result is <mirror>/<path>:<tag>@sha256:<hex>).


def _kps_image(key: str, mirror: str) -> dict:
    """kube-prometheus-stack 88.5.3 (prometheus-community/helm-charts tag kube-prometheus-stack-88.5.3):
    `image: <registry>/<repository>:<tag>@sha256:<sha>` with `sha` the bare hex (templates/prometheus/
    prometheus.yaml, alertmanager/alertmanager.yaml, prometheus-operator/deployment.yaml for the operator
    and `--prometheus-config-reloader`, admission-webhooks/job-patch/job-createSecret.yaml and
    job-patchWebhook.yaml). The tag must stay plain: prometheus.yaml and alertmanager.yaml default the
    CR's `version` from it."""
    image = _pinned(key)
    return {"registry": mirror, "repository": image.path, "tag": image.tag, "sha": image.digest.removeprefix("sha256:")}


def _kube_state_metrics_image(mirror: str) -> dict:
    """kube-state-metrics chart 8.4.0 (kube-prometheus-stack-88.5.3 Chart.yaml dependency; tag
    kube-state-metrics-8.4.0, templates/_helpers.tpl `kube-state-metrics.image`):
    printf "%s/%s:%s@%s" registry repository tag sha, so here `sha` carries the `sha256:` prefix."""
    image = _pinned("kube-state-metrics")
    return {"registry": mirror, "repository": image.path, "tag": image.tag, "sha": image.digest}


def _node_exporter_image(mirror: str) -> dict:
    """prometheus-node-exporter chart 4.56.1 (kube-prometheus-stack-88.5.3 Chart.yaml dependency; tag
    prometheus-node-exporter-4.56.1, templates/_helpers.tpl `prometheus-node-exporter.image`):
    printf "%s/%s:%s%s@%s" registry repository tag (ternary "-distroless" "" distroless) digest; `sha` is
    refused (`fail "image.sha forbidden"`). kube-prometheus-stack's values.yaml sets
    `prometheus-node-exporter.image.distroless: true`, which would append `-distroless` to our tag and
    name another image than the digest's: off, so the reference is exactly the pinned tag."""
    image = _pinned("node-exporter")
    return {"registry": mirror, "repository": image.path, "tag": image.tag, "digest": image.digest, "distroless": False}


def _tag_at_digest_image(key: str, mirror: str) -> dict:
    """Loki 7.3.0 and Alloy 1.11.1: `tag: <tag>@sha256:<digest>`. Their digest keys replace the tag
    instead of joining it (Loki: grafana/loki tag helm-loki-7.3.0, production/helm/loki/templates/
    _helpers.tpl `loki.baseImage`, `$ref` is `:tag` or `@digest`; Alloy: grafana/alloy tag
    helm-chart/1.11.1, operations/helm/charts/alloy/templates/_helpers.tpl `alloy.imageId` /
    `config-reloader.imageId`, `@digest` else `:tag`), which drops the tag the policy pack's
    unverified-digest list matches on (`<path>:<tag>@<digest>`). Both templates write the tag verbatim
    after `:` and parse it nowhere (Loki only turns it into the `app.kubernetes.io/version` label
    through `loki.validLabelValue`), and Alloy's own values.yaml at helm-chart/1.11.1 pins its
    config-reloader the same way (`tag: v0.91.0@sha256:...`)."""
    image = _pinned(key)
    return {"registry": mirror, "repository": image.path, "tag": f"{image.tag}@{image.digest}"}


def _semver(key: str) -> str:
    """The release version of a `v<semver>[-variant]` tag (the Prometheus/Alertmanager CR's `version`)."""
    return IMAGES[key][1].tag.split("-", 1)[0]


def _volume(size: str, storage_class: str | None) -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"volumeClaimTemplate": {"spec": spec}}


def kube_prometheus_stack_values(stack: StackConfig, pull_secret: str) -> dict:
    install = stack.observability.install
    assert install is not None
    mirror = stack.images.mirror
    prometheus_spec: dict = {
        "image": _kps_image("prometheus", mirror),
        # templates/prometheus/prometheus.yaml (kube-prometheus-stack-88.5.3) writes
        # `version: {{ default .image.tag .version }}`: the operator reads it as the Prometheus
        # version, so the release, not the image variant tag `v3.14.0-distroless`.
        "version": _semver("prometheus"),
        "replicas": install.prometheus_replicas,
        "retention": install.retention,
        "retentionSize": install.retention_size,
        "storageSpec": _volume(install.storage_size, install.storage_class),
        # Select every PrometheusRule, ServiceMonitor and PodMonitor (the platform's live in the
        # monitoring namespace; mariadb-operator makes Galera's own ServiceMonitor), not only the
        # chart's `release` label.
        "ruleSelectorNilUsesHelmValues": False,
        "serviceMonitorSelectorNilUsesHelmValues": False,
        "podMonitorSelectorNilUsesHelmValues": False,
        "probeSelectorNilUsesHelmValues": False,
        # One replica per node: a drain never takes every Prometheus at once.
        "podAntiAffinity": "hard" if install.prometheus_replicas > 1 else "soft",
    }
    if install.remote_write is not None:
        prometheus_spec["remoteWrite"] = [{"url": install.remote_write.url}]
    return {
        "global": {"imagePullSecrets": [{"name": pull_secret}]},
        "crds": {"enabled": True},
        "grafana": {"enabled": False},
        "defaultRules": {"create": True},
        "prometheusOperator": {
            "image": _kps_image("operator", mirror),
            "prometheusConfigReloader": {"image": _kps_image("config-reloader", mirror)},
            "admissionWebhooks": {"patch": {"image": _kps_image("webhook-certgen", mirror)}},
        },
        "alertmanager": {
            "alertmanagerSpec": {
                "image": _kps_image("alertmanager", mirror),
                # templates/alertmanager/alertmanager.yaml (kube-prometheus-stack-88.5.3):
                # `version: {{ default .image.tag .version }}`, set explicitly as for Prometheus.
                "version": _semver("alertmanager"),
                "replicas": install.alertmanager_replicas,
                "storage": _volume(install.alertmanager_storage_size, install.storage_class),
                "podAntiAffinity": "hard" if install.alertmanager_replicas > 1 else "soft",
                # The platform's routing (routing.py): its own AlertmanagerConfigs only, teams'
                # namespaced and enforced on their namespace, the platform's (in this namespace) not.
                "alertmanagerConfigSelector": {"matchLabels": dict(SELECT_LABEL)},
                "alertmanagerConfigNamespaceSelector": {},
                "alertmanagerConfigMatcherStrategy": {"type": "OnNamespaceExceptForAlertmanagerNamespace"},
            },
        },
        "prometheus": {"prometheusSpec": prometheus_spec},
        "kube-state-metrics": {
            "image": _kube_state_metrics_image(mirror),
            # MigReconfigurationFailed reads the node label as kube_node_labels{label_nvidia_com_mig_config_state}.
            "metricLabelsAllowlist": ["nodes=[nvidia.com/mig.config.state]"],
        },
        "prometheus-node-exporter": {"image": _node_exporter_image(mirror)},
    }


def loki_values(stack: StackConfig, pull_secret: str) -> dict:
    """Loki as one binary on a volume (chart mode SingleBinary), no caches, gateway or canary."""
    install = stack.observability.install
    assert install is not None
    persistence: dict = {"enabled": True, "size": install.loki_storage_size}
    if install.storage_class:
        persistence["storageClass"] = install.storage_class
    return {
        "deploymentMode": "SingleBinary",
        "imagePullSecrets": [{"name": pull_secret}],
        "loki": {
            "image": _tag_at_digest_image("loki", stack.images.mirror),
            "auth_enabled": False,
            "commonConfig": {"replication_factor": 1},
            "storage": {"type": "filesystem"},
            "schemaConfig": {"configs": [{
                "from": "2025-01-01", "store": "tsdb", "object_store": "filesystem", "schema": "v13",
                "index": {"prefix": "loki_index_", "period": "24h"},
            }]},
        },
        "singleBinary": {"replicas": 1, "persistence": persistence},
        "backend": {"replicas": 0}, "read": {"replicas": 0}, "write": {"replicas": 0},
        "chunksCache": {"enabled": False}, "resultsCache": {"enabled": False},
        "gateway": {"enabled": False}, "lokiCanary": {"enabled": False}, "test": {"enabled": False},
        "sidecar": {"image": _tag_at_digest_image("loki-sidecar", stack.images.mirror)},
    }


# Alloy (River syntax, v1.18): tail every pod of this node through the API server. The chart
# sets HOSTNAME from spec.nodeName (templates/containers/_agent.yaml at helm-chart/1.11.1); the
# Loki Service of a SingleBinary release named `loki` is `loki:3100`.
ALLOY_CONFIG = """\
discovery.kubernetes "pods" {
  role = "pod"
  selectors {
    role  = "pod"
    field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
  }
}
discovery.relabel "pods" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }
}
loki.source.kubernetes "pods" {
  targets    = discovery.relabel.pods.output
  forward_to = [loki.write.default.receiver]
}
loki.write "default" {
  endpoint {
    url = "http://loki.%(namespace)s.svc:3100/loki/api/v1/push"
  }
}
"""


def alloy_values(stack: StackConfig, namespace: str, pull_secret: str) -> dict:
    return {
        "global": {"image": {"pullSecrets": [{"name": pull_secret}]}},
        "image": _tag_at_digest_image("alloy", stack.images.mirror),
        "configReloader": {"image": _tag_at_digest_image("alloy-config-reloader", stack.images.mirror)},
        "controller": {"type": "daemonset"},
        "alloy": {"configMap": {"content": ALLOY_CONFIG % {"namespace": namespace}}},
    }


class MonitoringStack(pulumi.ComponentResource):
    def __init__(
        self, name: str, stack: StackConfig, *, namespace: str, pull_secret: pulumi.Resource,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:observability:MonitoringStack", name, None, opts)
        _warned.clear()  # once per image and per run (a process may render several stacks)
        secret_name = stack.images.pull_secret

        def release(key: str, chart: Chart, values: dict, deps: list) -> k8s.helm.v3.Release:
            return k8s.helm.v3.Release(
                f"{name}-{key}",
                name=key,
                chart=chart.name,
                version=chart.version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
                namespace=namespace,
                values=values,
                atomic=True,
                timeout=900,
                # Protected in prod: deleting the stack release takes the alerting of every team
                # with it, and Loki's release holds the log volume.
                opts=child(self, depends_on=deps, protect=stack.is_prod and key != "alloy"),
            )

        self.prometheus = release(
            "kube-prometheus-stack", KUBE_PROMETHEUS_STACK, kube_prometheus_stack_values(stack, secret_name), [pull_secret]
        )
        self.loki = release("loki", LOKI, loki_values(stack, secret_name), [pull_secret])
        self.alloy = release("alloy", ALLOY, alloy_values(stack, namespace, secret_name), [pull_secret, self.loki])
        self.register_outputs({})
