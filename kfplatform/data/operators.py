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


def minio_operator_values(mirror: str, pull_secret: str, ha: bool) -> dict:
    return {
        "operator": {
            "image": _image(releases.MINIO_OPERATOR, mirror),
            "imagePullSecrets": [{"name": pull_secret}],
            "replicaCount": 2 if ha else 1,
            "env": [
                {"name": "OPERATOR_STS_ENABLED", "value": "on"},
                # The sidecar the operator injects into every MinIO server pod, from the mirror too.
                {"name": "OPERATOR_SIDECAR_IMAGE", "value": releases.MINIO_OPERATOR_SIDECAR.image.ref(mirror)},
            ],
        },
        # Tenants are managed here, as code; no second, click-driven path to change them.
        "console": {"enabled": False},
    }


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
            self, "minio-operator", releases.MINIO_OPERATOR_CHART, namespace,
            minio_operator_values(mirror, pull_secret, ha), depends_on=depends_on, protect=protect,
        )
        self.register_outputs({})
