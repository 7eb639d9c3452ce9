"""The whole stack's configuration (`Pulumi.<stack>.yaml`), composed of each area's model."""
from __future__ import annotations

import re
from enum import Enum
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from ..data.config import DataTierConfig
from ..gpu.config import GpuConfig
from ..kubeflow.config import KubeflowConfig
from ..observability.config import ObservabilityConfig
from ..secrets.config import SecretsConfig
from .base import DnsLabel, Model, Quantity, is_prod
from .network import NetworkConfig

HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")


class Environment(str, Enum):
    PROD = "prod"
    SANDBOX = "sandbox"


class PlatformNamespaces(Model):
    """Namespaces the platform owns. Tenants may not take these names."""

    kubeflow: DnsLabel = "kubeflow"
    istio: DnsLabel = "istio-system"
    auth: DnsLabel = "auth"
    # Kubeflow's oauth2-proxy (the gateway's ext-authz) runs in upstream's own namespace.
    oauth2_proxy: DnsLabel = "oauth2-proxy"
    database: DnsLabel = "kubeflow-db"
    object_store: DnsLabel = "kubeflow-minio"
    monitoring: DnsLabel = "monitoring"
    operators: DnsLabel = "platform-operators"
    gpu_operator: DnsLabel = "gpu-operator"

    def names(self) -> set[str]:
        return set(self.model_dump().values())


class ClusterConfig(Model):
    name: DnsLabel
    domain: str
    zones: list[str] = []
    topology_key: str = "topology.kubernetes.io/zone"
    namespaces: PlatformNamespaces = PlatformNamespaces()

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not HOSTNAME.match(value):
            raise ValueError(f"{value!r} is not a fully qualified host name")
        return value


class ImagesConfig(Model):
    """Every image comes from the internal mirror, pinned by digest (see kfplatform/images.py)."""

    mirror: str
    pull_secret: DnsLabel = "internal-registry"

    @field_validator("mirror")
    @classmethod
    def _mirror(cls, value: str) -> str:
        if "://" in value or value.endswith("/") or "@" in value or not value:
            raise ValueError(f"{value!r}: give a registry host and path, e.g. registry.example.com/mirror")
        return value


class PodSecurity(Model):
    enforce: Literal["privileged", "baseline", "restricted"] = "baseline"
    audit: Literal["privileged", "baseline", "restricted"] = "restricted"
    warn: Literal["privileged", "baseline", "restricted"] = "restricted"

    @field_validator("enforce")
    @classmethod
    def _not_privileged_in_prod(cls, value: str, info: ValidationInfo) -> str:
        if value == "privileged" and is_prod(info):
            raise ValueError("prod tenant namespaces may not run privileged pods; use baseline or restricted")
        return value


class ContainerLimits(Model):
    """LimitRange for containers: what a container gets when it asks for nothing, and its ceiling."""

    default_request: dict[Literal["cpu", "memory", "ephemeral-storage"], Quantity] = {"cpu": "100m", "memory": "256Mi"}
    default: dict[Literal["cpu", "memory", "ephemeral-storage"], Quantity] = {"cpu": "1", "memory": "2Gi"}
    max: dict[Literal["cpu", "memory", "ephemeral-storage"], Quantity] = {"cpu": "32", "memory": "256Gi"}


class TenancyConfig(Model):
    pod_security: PodSecurity = PodSecurity()
    container_limits: ContainerLimits = ContainerLimits()
    user_id_header: str = "kubeflow-userid"
    user_id_prefix: str = ""
    # The API server's --oidc-groups-prefix: RoleBinding Group subjects must carry it.
    oidc_groups_prefix: str = "oidc:"
    min_tenants: int = Field(default=0, ge=0)


class StackConfig(Model):
    """Everything under `kubeflow-platform:` in `Pulumi.<stack>.yaml`."""

    environment: Environment
    cluster: ClusterConfig
    images: ImagesConfig
    network: NetworkConfig
    tenancy: TenancyConfig = TenancyConfig()
    secrets: SecretsConfig
    gpu: GpuConfig
    kubeflow: KubeflowConfig
    data: DataTierConfig
    observability: ObservabilityConfig

    @property
    def is_prod(self) -> bool:
        return self.environment is Environment.PROD
