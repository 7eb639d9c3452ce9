"""The whole stack's configuration (`Pulumi.<stack>.yaml`), composed of each area's model."""
from __future__ import annotations

import ipaddress
import re
from enum import Enum
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..compliance.config import ComplianceConfig
from ..backup.config import BackupConfig
from ..data.config import DataTierConfig
from ..gpu.config import GpuConfig
from ..kubeflow.config import KubeflowConfig
from ..observability.config import ObservabilityConfig
from ..secrets.config import SecretsConfig
from .base import DnsLabel, LabelValue, Model, Quantity, is_prod
from .identities import system_group_problem
from .network import NetworkConfig
from .quantity import parse_quantity
from .urls import registry_problem

HOSTNAME = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+")


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
    # Compliance (kfplatform/compliance): the payload sink (KServe's logger posts to
    # kfplatform-payloads.<logging>.svc) and the control-plane audit shipper (needs hostPath).
    logging: DnsLabel = "logging"
    audit: DnsLabel = "kfplatform-audit"
    # Velero (OpenShift: OADP's namespace, e.g. openshift-adp)
    backup: DnsLabel = "velero"

    def names(self) -> set[str]:
        return set(self.model_dump().values())


def _cidr_list(value: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for cidr in value:
        try:
            networks.append(ipaddress.ip_network(cidr, strict=True))
        except ValueError as e:
            raise ValueError(f"{cidr!r} is not a CIDR block ({e})") from None
    return networks


class ClusterConfig(Model):
    name: DnsLabel
    domain: str
    # Zone names land in topology spread constraints (node label values); each zone once, since
    # every spread check counts zones.
    zones: list[LabelValue] = []
    topology_key: str = "topology.kubernetes.io/zone"
    namespaces: PlatformNamespaces = PlatformNamespaces()
    # The cluster's pod and Service address ranges (the CNI's pod CIDRs, the API server's
    # --service-cluster-ip-range): no egress allow-list may reach into them by address. Required in
    # a stack file (a cross-check, tenancy/checks.py), so components' tests may build a ClusterConfig
    # without them.
    pod_cidrs: list[str] = []
    service_cidrs: list[str] = []

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not HOSTNAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a fully qualified host name")
        return value

    @field_validator("zones")
    @classmethod
    def _zones(cls, value: list[str]) -> list[str]:
        if any(not zone for zone in value):
            raise ValueError("a zone name cannot be empty")
        repeated = sorted({zone for zone in value if value.count(zone) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once; spread checks count distinct zones")
        return value

    @field_validator("pod_cidrs", "service_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        _cidr_list(value)
        return value


class ImagesConfig(Model):
    """Every image comes from the internal mirror, pinned by digest (see kfplatform/images.py)."""

    mirror: str
    pull_secret: DnsLabel = "internal-registry"

    @field_validator("mirror")
    @classmethod
    def _mirror(cls, value: str) -> str:
        # Every image reference starts with it: the OCI repository grammar (config/urls.py).
        if "://" in value or value.endswith("/") or "@" in value or not value or registry_problem(value):
            raise ValueError(registry_problem(value) or f"{value!r}: give a registry host and path, e.g. registry.example.com/mirror")
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


LIMIT_RESOURCES = ("cpu", "memory", "ephemeral-storage")
LimitResource = Literal["cpu", "memory", "ephemeral-storage"]


class ContainerLimits(Model):
    """LimitRange for containers: what a container gets when it asks for nothing, and its ceiling.

    A tenant's `containerLimits` replaces the stack's as a whole (tenancy/quotas.py), so each one
    must be consistent on its own: after the API server's defaulting (kubernetes
    pkg/apis/core/v1/defaults.go `SetDefaults_LimitRangeItem`: a missing default is max, a missing
    defaultRequest is default, else min), `min <= defaultRequest <= default <= max` per resource,
    which `ValidateLimitRange` enforces; otherwise the LimitRange is refused mid-`pulumi up`.
    """

    min: dict[LimitResource, Quantity] = {}
    default_request: dict[LimitResource, Quantity] = {"cpu": "100m", "memory": "256Mi"}
    default: dict[LimitResource, Quantity] = {"cpu": "1", "memory": "2Gi"}
    max: dict[LimitResource, Quantity] = {"cpu": "32", "memory": "256Gi"}

    def effective(self) -> dict[str, dict[str, str]]:
        """The four maps as the API server stores them, after its defaulting."""
        default = {**self.max, **self.default}
        default_request = {**self.min, **default, **self.default_request}
        return {"min": dict(self.min), "defaultRequest": default_request, "default": default, "max": dict(self.max)}

    @model_validator(mode="after")
    def _ordered(self) -> "ContainerLimits":
        maps = self.effective()
        order = ("min", "defaultRequest", "default", "max")
        problems = []
        for resource in LIMIT_RESOURCES:
            present = [(name, maps[name][resource]) for name in order if resource in maps[name]]
            for (low_name, low), (high_name, high) in zip(present, present[1:]):
                if parse_quantity(low) > parse_quantity(high):
                    problems.append(
                        f"{low_name}.{resource} {low} is above {high_name}.{resource} {high} "
                        f"(needs min <= defaultRequest <= default <= max)"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class TenancyConfig(Model):
    pod_security: PodSecurity = PodSecurity()
    container_limits: ContainerLimits = ContainerLimits()
    user_id_header: str = "kubeflow-userid"
    user_id_prefix: str = ""
    # The API server's --oidc-groups-prefix: RoleBinding Group subjects must carry it.
    oidc_groups_prefix: str = "oidc:"
    min_tenants: int = Field(default=0, ge=0)

    @field_validator("user_id_header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", value):
            raise ValueError(f"{value!r} is not an HTTP header name (lower-case letters, digits, '-')")
        return value

    @field_validator("user_id_prefix")
    @classmethod
    def _user_prefix(cls, value: str) -> str:
        # Prepended to each e-mail in AuthorizationPolicy header values, where '*' is a wildcard.
        if not re.fullmatch(r"[A-Za-z0-9:._@/-]*", value):
            raise ValueError(f"{value!r}: the user id prefix may hold letters, digits and ':._@/-' only (no '*' or spaces)")
        return value

    @field_validator("oidc_groups_prefix")
    @classmethod
    def _groups_prefix(cls, value: str, info: ValidationInfo) -> str:
        if not re.fullmatch(r"[A-Za-z0-9:._@/-]*", value):
            raise ValueError(f"{value!r}: the groups prefix may hold letters, digits and ':._@/-' only")
        # A prefix like `sys` is checked with each group (`sys` + `tem:masters`) by the tenants' cross-check.
        if system_group_problem("", value):  # the prefix alone already names a system:* group
            raise ValueError(f"{value!r} would put every IdP group among Kubernetes' system:* groups")
        if not value and is_prod(info):
            raise ValueError(
                "prod needs the API server's --oidc-groups-prefix (e.g. 'oidc:'): without one an IdP group "
                "named like a Kubernetes group is that group"
            )
        return value


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
    compliance: ComplianceConfig = ComplianceConfig()
    backup: BackupConfig = BackupConfig()
    observability: ObservabilityConfig

    @property
    def is_prod(self) -> bool:
        return self.environment is Environment.PROD
