"""External Secrets Operator: a pinned Helm chart, digest-pinned images from the internal mirror.

The chart installs ESO's CRDs, so every SecretStore and ExternalSecret depends on this release.
Bootstrap note: ESO's own pods cannot rely on the `internal-registry` pull Secret (ESO makes it);
their first pull needs node-level credentials for the mirror (see docs/secrets.md).
"""
from __future__ import annotations

from typing import Sequence

import pulumi
import pulumi_kubernetes as k8s

from .. import images
from ..images import Image
from ..k8s import child
from .config import EsoConfig

CHART = "external-secrets"
# The CRDs in ../shared/crds are this release's (external-secrets v2.9.0).
CHART_VERSION = "2.9.0"
RELEASE_NAME = "external-secrets"
CONTROLLER_SERVICE_ACCOUNT = "external-secrets"
# Controller, webhook and cert-controller run the same image. Multi-arch index digest of
# ghcr.io/external-secrets/external-secrets:v2.9.0 as recorded by a third party; not checked
# against the registry from here: `crane digest ghcr.io/external-secrets/external-secrets:v2.9.0`
# before mirroring.
# One third-party record is not two independent sources: the table lists it as unverified.
IMAGE = images.pin(
    "external-secrets", "ghcr.io", "external-secrets/external-secrets", "v2.9.0",
    "sha256:44eb290f1c7f5d8f4eec2168cea4a6cfbc72a955c6781eb835e1c40700475dbd",
)


def chart_image(mirror: str, image: Image = IMAGE) -> dict:
    """The chart renders `repository:tag`; the tag carries the digest so the kubelet pulls by digest."""
    return {"repository": image.repository(mirror), "tag": f"{image.tag}@{image.digest}", "flavour": ""}


def release_values(
    *, mirror: str, pull_secret: str, replicas: int, topology_key: str
) -> dict:
    """Helm values: pinned images, HA when replicas > 1, and only the reconcilers the platform uses."""
    ha = replicas > 1

    def workload(app: str) -> dict:
        values: dict = {
            "image": chart_image(mirror),
            "replicaCount": replicas,
            "podDisruptionBudget": {"enabled": ha, "minAvailable": 1},
            "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        }
        if ha:
            values["topologySpreadConstraints"] = [{
                "maxSkew": 1,
                "topologyKey": topology_key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app.kubernetes.io/name": app}},
            }]
        return values

    controller = workload(CHART)
    controller["resources"] = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
    return {
        "installCRDs": True,
        # The chart renders its CRDs from templates: uninstalling it would delete every ExternalSecret,
        # and ESO's owner references would take every delivered Secret with them (database passwords,
        # MinIO's configuration, pull secrets). Helm keeps CRDs annotated `keep`.
        "crds": {"annotations": {"helm.sh/resource-policy": "keep"}},
        "fullnameOverride": RELEASE_NAME,
        "serviceAccount": {"create": True, "name": CONTROLLER_SERVICE_ACCOUNT},
        "leaderElect": ha,
        "global": {"imagePullSecrets": [{"name": pull_secret}]},
        # The platform only reads from Vault: no PushSecret writes back, whatever a namespace asks.
        "processPushSecret": False,
        "processClusterPushSecret": False,
        **controller,
        "webhook": workload(f"{CHART}-webhook"),
        "certController": workload(f"{CHART}-cert-controller"),
    }


class ExternalSecretsOperator(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: EsoConfig,
        *,
        namespace: str,
        mirror: str,
        pull_secret: str,
        replicas: int,
        topology_key: str,
        depends_on: Sequence[pulumi.Resource] = (),
        protect: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:secrets:ExternalSecretsOperator", name, None, opts)
        self.namespace = namespace
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,  # explicit: a Release is otherwise auto-named with a random suffix
            chart=CHART,
            version=CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=config.chart_repository),
            namespace=namespace,
            values=release_values(mirror=mirror, pull_secret=pull_secret, replicas=replicas, topology_key=topology_key),
            atomic=True,
            cleanup_on_fail=True,
            timeout=600,
            # Protected in prod: removing it removes ESO's CRDs' owner, see release_values.
            opts=child(self, depends_on=list(depends_on), protect=protect),
        )
        self.register_outputs({"release": RELEASE_NAME, "chartVersion": CHART_VERSION})
