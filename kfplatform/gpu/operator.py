"""GpuOperator: the NVIDIA GPU Operator's Helm chart, pinned, with its images by digest.

The chart creates the one ClusterPolicy (`cluster-policy`) from its values, and the operator
reconciles every operand from it. We do not declare a ClusterPolicy of our own: a second one
would be ignored by the operator (it acts on a single instance), and the chart's would still
be there. So the values are the ClusterPolicy: `cluster_policy_spec(values)` is the part the
chart copies into `spec`, and the tests validate it against the ClusterPolicy CRD.

The mig-parted config is our own ConfigMap (key `config.yaml`), generated from the pools'
layouts (migparted.py), so it renders and validates offline; the chart only points at it.

Images: the chart's image fields are `repository`, `image`, `version`, and both the chart's
operator Deployment (`repository/image:version`) and the operator's operand images
(`repository/image:version`, or `@version` when version starts with `sha256:`; gpu-operator
internal/image/image.go) accept `version: <tag>@sha256:<digest>`, which pins by digest and keeps
the tag for people.
"""
from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..config.stack import ImagesConfig
from .. import images
from ..images import PLACEHOLDER_DIGEST, Image
from ..k8s import child, meta
from .config import GpuConfig
from .migparted import CONFIG_KEY, mig_parted_yaml

CHART = "gpu-operator"
CHART_VERSION = "v26.7.0"
RELEASE_NAME = "gpu-operator"
MIG_CONFIG_MAP = "custom-mig-parted-config"
GPU_TAINT_KEY = "nvidia.com/gpu"

# Digests marked VERIFIED are the upstream ones in gpu-operator v26.7.0's bundle
# (bundle/manifests/gpu-operator-certified.clusterserviceversion.yaml at the v26.7.0 commit
# 10ee5b3638b89e11e949412aafa5ba99279c3721, relatedImages and the operator's *_IMAGE env).
# The mirror holds them byte for byte, so the digest is the same there.
#
# UNVERIFIED: the operator's own image (also the validator and node-status-exporter since
# v26.x) is `main-latest` in that bundle. Its digest below is the all-zero placeholder, which no
# registry serves: a deploy fails to pull instead of running something unreviewed.
#
# node-feature-discovery: the tag is the one the bundled chart is built for. gpu-operator v26.7.0
# depends on the NFD chart 0.19.0 (deployments/gpu-operator/Chart.yaml at v26.7.0), whose
# appVersion is v0.19.0 and whose worker template always passes `-owner-refs=...`
# (deployment/helm/node-feature-discovery/templates/worker.yaml at kubernetes-sigs/
# node-feature-discovery v0.19.0); nfd-worker v0.18.3 has only `-no-owner-refs` and its flag set
# is `flag.ExitOnError` (cmd/nfd-worker/main.go at v0.18.3), so a v0.18.3 image crash-loops under
# that chart. The v0.19.0 digest was found in one public pin only
# (registry.k8s.io/nfd/node-feature-discovery:v0.19.0@sha256:aa5be869...), not two independent
# ones, so it stays the placeholder. Resolve before the first deploy:
#   crane digest nvcr.io/nvidia/gpu-operator:v26.7.0
#   crane digest registry.k8s.io/nfd/node-feature-discovery:v0.19.0
UNVERIFIED_DIGEST = PLACEHOLDER_DIGEST
BUNDLE = ("gpu-operator v26.7.0 bundle/manifests/gpu-operator-certified.clusterserviceversion.yaml "
          "(commit 10ee5b3638b89e11e949412aafa5ba99279c3721), relatedImages")

OPERATOR = images.pin("gpu-operator", "nvcr.io", "nvidia/gpu-operator", "v26.7.0", UNVERIFIED_DIGEST)
# The NFD chart's appVersion: the image the chart's flags are written for (see above).
NFD_CHART_VERSION = "0.19.0"
NFD = images.pin("gpu-operator", "registry.k8s.io", "nfd/node-feature-discovery", "v0.19.0", UNVERIFIED_DIGEST)
TOOLKIT = images.pin(
    "gpu-operator", "nvcr.io", "nvidia/k8s/container-toolkit", "v1.20.0",
    "sha256:f8c647d581f7c8b178efdb7e6c94f5fb6eb12ebc05e2157fa314d327560fcb7a", BUNDLE,
)
DEVICE_PLUGIN = images.pin(  # also GPU feature discovery
    "gpu-operator", "nvcr.io", "nvidia/k8s-device-plugin", "v0.20.0",
    "sha256:a61ba9fd8efb82f3a79f877f7580e02c1e8e7593f62473644bc9c79e315c3312", BUNDLE,
)
DCGM_EXPORTER = images.pin(
    "gpu-operator", "nvcr.io", "nvidia/k8s/dcgm-exporter", "4.6.0-4.8.3-distroless",
    "sha256:613ab03c11d442fd960ff515f547e9921537454a712d08160bc8f677f89f1c35", BUNDLE,
)
DCGM = images.pin(
    "gpu-operator", "nvcr.io", "nvidia/cloud-native/dcgm", "4.6.0-1-ubi10",
    "sha256:92080d86d04c265f7fc0b8e1cd95dff94d3ab57de6a6474c3c483e4c2ada5dea", BUNDLE,
)
MIG_MANAGER = images.pin(
    "gpu-operator", "nvcr.io", "nvidia/cloud-native/k8s-mig-manager", "v0.15.0",
    "sha256:cab2cf9deafc9602da69d0832a82958a7687f22f4a2f19674099dc9a5c4ea8e2", BUNDLE,
)
DRIVER_MANAGER = images.pin(
    "gpu-operator", "nvcr.io", "nvidia/cloud-native/k8s-driver-manager", "v0.12.0",
    "sha256:7d98d08a751cc528d1c8c8bdc2f9d9fcd59714b158a3985a5a0262f1620098e4", BUNDLE,
)
DRIVER_PATH = "nvidia/driver"  # per node OS: the stack pins it (gpu.operator.driver.digest)

IMAGES = {
    "operator": OPERATOR, "nfd": NFD, "toolkit": TOOLKIT, "devicePlugin": DEVICE_PLUGIN,
    "dcgmExporter": DCGM_EXPORTER, "dcgm": DCGM, "migManager": MIG_MANAGER, "driverManager": DRIVER_MANAGER,
}
UNVERIFIED = {key for key, image in IMAGES.items() if image.digest == UNVERIFIED_DIGEST}

# The sections of the values the chart's clusterpolicy template copies into ClusterPolicy.spec,
# and the keys in them that only steer the chart (it creates ConfigMaps from them).
CLUSTER_POLICY_SECTIONS = (
    "daemonsets", "validator", "mig", "driver", "toolkit", "devicePlugin", "dcgmExporter", "dcgm", "gfd",
    "migManager", "nodeStatusExporter", "sandboxWorkloads", "vgpuManager", "ccManager", "gds", "gdrcopy",
)
CHART_ONLY_KEYS = {("migManager", "config"): {"create", "data"}, ("driver",): {"nvidiaDriverCRD"}}
# `operator` in the values is mostly the operator's own Deployment; the chart copies only these.
OPERATOR_SPEC_KEYS = ("defaultRuntime", "runtimeClass", "initContainer", "use_ocp_driver_toolkit", "labels", "annotations")


def _image(image: Image, mirror: str, pull_secret: str) -> dict[str, Any]:
    repository, _, name = image.repository(mirror).rpartition("/")
    return {
        "repository": repository,
        "image": name,
        "version": f"{image.tag}@{image.digest}",
        "imagePullPolicy": "IfNotPresent",
        "imagePullSecrets": [pull_secret],
    }


def gpu_taint_toleration() -> dict[str, str]:
    return {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}


def chart_values(gpu: GpuConfig, images: ImagesConfig) -> dict[str, Any]:
    """The chart's values: every image from the mirror by digest, MIG manager on, our mig-parted config."""
    mirror, secret = images.mirror, images.pull_secret
    nfd_repository = NFD.repository(mirror)
    driver: dict[str, Any] = {
        "enabled": gpu.operator.driver.enabled,
        "manager": {k: v for k, v in _image(DRIVER_MANAGER, mirror, secret).items() if k != "imagePullSecrets"},
    }
    if gpu.operator.driver.enabled:
        repository, _, name = f"{mirror}/{DRIVER_PATH}".rpartition("/")
        # A bare digest: the operator then uses `@` and does not append an OS suffix to the tag.
        driver.update(repository=repository, image=name, version=gpu.operator.driver.digest, imagePullSecrets=[secret])
    return {
        "operator": {**_image(OPERATOR, mirror, secret)},
        "validator": _image(OPERATOR, mirror, secret),
        "nodeStatusExporter": {"enabled": False, **_image(OPERATOR, mirror, secret)},
        "daemonsets": {
            "priorityClassName": "system-node-critical",
            # Every pool's taint: the operands (driver, toolkit, plugin, MIG manager) run on all of them.
            "tolerations": [gpu_taint_toleration()],
        },
        "mig": {"strategy": gpu.strategy},
        "migManager": {
            "enabled": True,
            **_image(MIG_MANAGER, mirror, secret),
            # The mig-manager evicts GPU pods and reconfigures when a node's label changes; it does
            # not reboot nodes (docs/gpus.md: changing a layout safely).
            "env": [{"name": "WITH_REBOOT", "value": "false"}],
            "config": {"name": MIG_CONFIG_MAP, "default": "all-disabled", "create": False},
        },
        "driver": driver,
        "toolkit": {"enabled": True, **_image(TOOLKIT, mirror, secret)},
        "devicePlugin": {"enabled": True, **_image(DEVICE_PLUGIN, mirror, secret)},
        "gfd": {"enabled": True, **_image(DEVICE_PLUGIN, mirror, secret)},
        "dcgmExporter": {"enabled": True, **_image(DCGM_EXPORTER, mirror, secret)},
        # The exporter embeds its own host engine; the standalone one stays off but pinned.
        "dcgm": {"enabled": False, **_image(DCGM, mirror, secret)},
        # Operands we do not run: off, so the chart deploys no unpinned image for them.
        "sandboxWorkloads": {"enabled": False},
        "vgpuManager": {"enabled": False},
        "ccManager": {"enabled": False},
        "gds": {"enabled": False},
        "gdrcopy": {"enabled": False},
        "nfd": {"enabled": True},
        "node-feature-discovery": {
            "image": {"repository": nfd_repository, "tag": f"{NFD.tag}@{NFD.digest}", "pullPolicy": "IfNotPresent"},
            "imagePullSecrets": [{"name": secret}],
        },
    }


def cluster_policy_spec(values: dict[str, Any]) -> dict[str, Any]:
    """The ClusterPolicy `spec` the chart makes of `values` (the sections it copies, chart-only keys dropped)."""
    spec = {"operator": {k: v for k, v in values.get("operator", {}).items() if k in OPERATOR_SPEC_KEYS}}
    for section in CLUSTER_POLICY_SECTIONS:
        if section not in values:
            continue
        body = dict(values[section])
        for key in CHART_ONLY_KEYS.get((section,), ()):
            body.pop(key, None)
        for (outer, *inner), keys in CHART_ONLY_KEYS.items():
            if outer == section and inner:
                nested = dict(body.get(inner[0]) or {})
                for key in keys:
                    nested.pop(key, None)
                body[inner[0]] = nested
        spec[section] = body
    return spec


class GpuOperator(pulumi.ComponentResource):
    """The GPU Operator release in its namespace, and the mig-parted ConfigMap it reads."""

    def __init__(
        self,
        name: str,
        gpu: GpuConfig,
        images: ImagesConfig,
        namespace: k8s.core.v1.Namespace,
        namespace_name: str,
        pull_secret: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`pull_secret`: what makes the namespace's image-pull Secret; the release waits for it."""
        super().__init__("kfplatform:gpu:GpuOperator", name, None, opts)
        for key in sorted(UNVERIFIED):
            image = IMAGES[key]
            pulumi.log.warn(
                f"GPU operator image {image.path}:{image.tag} ({key}) has a placeholder digest "
                "(kfplatform/gpu/operator.py); its pods will not start until the mirror's real digest is pinned",
                resource=self,
            )
        self.mig_config = k8s.core.v1.ConfigMap(
            f"{name}-mig-parted-config",
            metadata=meta(MIG_CONFIG_MAP, namespace_name, component="gpu-operator"),
            data={CONFIG_KEY: mig_parted_yaml(gpu.pools)},
            opts=child(self, depends_on=[namespace]),
        )
        self.values = chart_values(gpu, images)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            chart=CHART,
            version=CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=gpu.operator.chart_repository),
            namespace=namespace_name,
            create_namespace=False,
            values=self.values,
            opts=child(self, depends_on=[namespace, self.mig_config, *([pull_secret] if pull_secret else [])]),
        )
        self.register_outputs({"chartVersion": CHART_VERSION, "migStrategy": gpu.strategy})
