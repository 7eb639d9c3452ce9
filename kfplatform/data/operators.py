"""DataOperators: mariadb-operator (CRDs chart + operator chart) and the MinIO operator, pinned.

`helm.v3.Release` keeps the chart's values visible offline (the render checks them), unlike the
v4 Chart, which does not expand under mocks. Every image is the mirror's digest-pinned copy.
"""
from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from ..k8s import child
from . import releases
from .releases import Chart, PinnedImage


def _release(
    parent: pulumi.Resource, name: str, chart: Chart, namespace: str, values: dict, *,
    depends_on: list[pulumi.Resource] | None = None, protect: bool = False,
) -> k8s.helm.v3.Release:
    return k8s.helm.v3.Release(
        name,
        name=name,
        chart=chart.name,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
        namespace=namespace,
        create_namespace=False,
        atomic=True,
        cleanup_on_fail=True,
        max_history=10,
        values=values,
        opts=child(parent, depends_on=depends_on, protect=protect),
    )


def _image(pinned: PinnedImage, mirror: str) -> dict:
    # The charts render `repository:tag`; `tag@digest` keeps the digest authoritative.
    return {"repository": pinned.image.repository(mirror), "tag": pinned.tag_at_digest(), "pullPolicy": "IfNotPresent"}


def _spread(app_label: str, topology_key: str) -> list[dict]:
    return [{
        "maxSkew": 1, "topologyKey": topology_key, "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": app_label}},
    }]


def mariadb_operator_values(mirror: str, pull_secret: str, ha: bool, topology_key: str) -> dict:
    image = _image(releases.MARIADB_OPERATOR, mirror)
    pull = [{"name": pull_secret}]
    replicas = {"enabled": ha, "replicas": 2 if ha else 1}
    pdb = {"enabled": ha, "maxUnavailable": 1}
    return {
        "crds": {"enabled": False},  # installed by the separate, protected CRDs release
        "image": image,
        "imagePullSecrets": pull,
        "ha": replicas,
        "pdb": pdb,
        "metrics": {"enabled": True},
        "topologySpreadConstraints": _spread("mariadb-operator", topology_key) if ha else [],
        "webhook": {"image": image, "imagePullSecrets": pull, "ha": replicas, "pdb": pdb},
        "certController": {"image": image, "imagePullSecrets": pull, "ha": replicas, "pdb": pdb},
    }


# The MinIO operator chart 7.1.1 (minio/operator helm/operator at v7.1.1): its pods carry
# `minio-operator.labels` and `minio-operator.selectorLabels` (templates/_helpers.tpl), i.e.
# `app.kubernetes.io/name: <chart name>` = `operator` and `app.kubernetes.io/instance: <release>`.
# Its default `operator.affinity` selects `name: minio-operator`, a label no pod carries, so it
# never keeps two replicas apart: the values below replace it (Helm replaces lists) with terms on
# the labels the pods really have.
MINIO_OPERATOR_RELEASE = "minio-operator"
MINIO_OPERATOR_POD_LABELS = {
    "app.kubernetes.io/name": releases.MINIO_OPERATOR_CHART.name,
    "app.kubernetes.io/instance": MINIO_OPERATOR_RELEASE,
}
# The top-level keys of the chart's values.yaml at v7.1.1 (`console` was removed with the operator
# UI, chart 5.0.16): a key outside this set is silently ignored by the chart.
MINIO_OPERATOR_CHART_KEYS = frozenset({"operator"})


def minio_operator_values(mirror: str, pull_secret: str, ha: bool, topology_key: str) -> dict:
    operator: dict = {
        "image": _image(releases.MINIO_OPERATOR, mirror),
        "imagePullSecrets": [{"name": pull_secret}],
        "replicaCount": 2 if ha else 1,
        "env": [
            {"name": "OPERATOR_STS_ENABLED", "value": "on"},
            # The sidecar the operator injects into every MinIO server pod, from the mirror too.
            {"name": "OPERATOR_SIDECAR_IMAGE", "value": releases.MINIO_OPERATOR_SIDECAR.image.ref(mirror)},
        ],
    }
    selector = {"matchLabels": dict(MINIO_OPERATOR_POD_LABELS)}
    # Never two replicas on one node; across zones as far as they allow. Set with one replica too:
    # Helm merges a map value into the chart's default, so only a replacement term removes upstream's.
    operator["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": selector, "topologyKey": "kubernetes.io/hostname"},
    ]}}
    if ha:
        operator["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": topology_key, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": selector,
        }]
    # Tenants are managed here, as code; the chart has no console (operator UI) any more.
    return {"operator": operator}


class DataOperators(pulumi.ComponentResource):
    def __init__(
        self, name: str, *, namespace: str, mirror: str, pull_secret: str, ha: bool, topology_key: str,
        protect: bool, depends_on: list[pulumi.Resource] | None = None, opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:data:DataOperators", name, None, opts)
        # Uninstalling the CRDs would delete every MariaDB, Database and User object, and with them the
        # StatefulSets: the CRDs release is protected in prod like the data itself.
        self.mariadb_crds = _release(
            self, "mariadb-operator-crds", releases.MARIADB_OPERATOR_CRDS_CHART, namespace, {},
            depends_on=depends_on, protect=protect,
        )
        self.mariadb = _release(
            self, "mariadb-operator", releases.MARIADB_OPERATOR_CHART, namespace,
            mariadb_operator_values(mirror, pull_secret, ha, topology_key),
            depends_on=[self.mariadb_crds, *(depends_on or [])],
        )
        # The MinIO operator chart (7.x) renders the Tenant CRD from templates/, not crds/: uninstalling
        # or replacing the release deletes the CRD, and with it the Tenant and its StatefulSets.
        # Protected in prod like mariadb-operator's CRDs.
        self.minio = _release(
            self, MINIO_OPERATOR_RELEASE, releases.MINIO_OPERATOR_CHART, namespace,
            minio_operator_values(mirror, pull_secret, ha, topology_key), depends_on=depends_on, protect=protect,
        )
        self.register_outputs({})
