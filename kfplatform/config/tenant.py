"""A tenant team, one file each: `tenants/<team>.yaml`."""
from __future__ import annotations

import re
from enum import Enum

from pydantic import Field, StrictBool, field_validator, model_validator

from ..gpu.config import KatibSweep
from .base import QUANTITY, DnsLabel, Model, quantity_value
from .network import Peer
from .stack import ContainerLimits

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIG_PROFILE = re.compile(r"^\d+g\.\d+gb(\.me)?$")

# ResourceQuota names Kubernetes understands (core/v1 ResourceName and the quota evaluators).
STANDARD_QUOTA_NAMES = frozenset({
    "cpu", "memory", "ephemeral-storage", "pods", "services", "services.loadbalancers", "services.nodeports",
    "secrets", "configmaps", "persistentvolumeclaims", "replicationcontrollers", "resourcequotas",
    "requests.cpu", "requests.memory", "requests.storage", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage",
})
REQUIRED_QUOTA_NAMES = ("requests.cpu", "requests.memory", "limits.memory", "requests.storage")
STORAGE_CLASS_QUOTA = re.compile(
    r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\.storageclass\.storage\.k8s\.io/(requests\.storage|persistentvolumeclaims)$"
)
OBJECT_COUNT_QUOTA = re.compile(r"^count/[a-z0-9]+(\.[a-z0-9.-]+)?$")


def gpu_resource_name(quota_key: str) -> str | None:
    """`requests.nvidia.com/mig-1g.10gb` -> `nvidia.com/mig-1g.10gb`; None for non-GPU keys."""
    if quota_key.startswith("requests.nvidia.com/"):
        return quota_key[len("requests."):]
    return None


def check_quota_key(key: str) -> str | None:
    """None if `key` is a real ResourceQuota resource name, else why not."""
    if key in STANDARD_QUOTA_NAMES or STORAGE_CLASS_QUOTA.match(key) or OBJECT_COUNT_QUOTA.match(key):
        return None
    if key.startswith(("limits.nvidia.com/", "nvidia.com/")):
        return "extended resources are limited as `requests.<name>` only (e.g. requests.nvidia.com/gpu)"
    gpu = gpu_resource_name(key)
    if gpu is not None:
        if gpu == "nvidia.com/gpu":
            return None
        if gpu.startswith("nvidia.com/mig-") and MIG_PROFILE.match(gpu[len("nvidia.com/mig-"):]):
            return None
        return f"{gpu!r} is not an NVIDIA resource name (nvidia.com/gpu or nvidia.com/mig-<profile>, e.g. mig-1g.10gb)"
    return "not a ResourceQuota resource name (e.g. requests.cpu, limits.memory, requests.storage, pods)"


class Role(str, Enum):
    EDIT = "edit"
    VIEW = "view"


class GroupBinding(Model):
    """An IdP group and the Kubeflow role its members get in the tenant namespace."""

    group: str = Field(min_length=1, max_length=200)
    role: Role


class MemberBinding(Model):
    """A single user (e-mail as the IdP reports it) and their role: for people outside the team's groups."""

    user: str
    role: Role

    @field_validator("user")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


class TenantConfig(Model):
    name: DnsLabel
    owner: str
    description: str = ""
    cost_center: str = ""
    groups: list[GroupBinding] = Field(min_length=1)
    members: list[MemberBinding] = []
    quota: dict[str, str | int | float]
    container_limits: ContainerLimits | None = None
    egress_proxy: Peer | None = None
    # The team's largest Katib sweep; the GPU capacity plan checks it fits `quota` (kfplatform/gpu).
    katib: KatibSweep | None = None
    # The Kubeflow Model Registry in the team's namespace, on the data tier (kfplatform/modelregistry).
    # Strict: `yes` or "true" is an error naming this key, not a silent True.
    model_registry: StrictBool = False

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str) -> str:
        if not EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address (the Profile owner is a user)")
        return value

    @field_validator("quota")
    @classmethod
    def _quota(cls, value: dict[str, str]) -> dict[str, str]:
        # One validator for the whole map, so every problem in it is reported at once.
        problems = [f"{key}: {why}" for key in value if (why := check_quota_key(key))]
        missing = [key for key in REQUIRED_QUOTA_NAMES if key not in value]
        if missing:
            problems.append(f"missing {', '.join(missing)} (every tenant has a bounded share of the cluster)")
        for key, quantity in value.items():
            if not QUANTITY.match(str(quantity)):
                problems.append(f"{key}: {quantity!r} is not a Kubernetes quantity (e.g. 500m, 4, 16Gi)")
            elif gpu_resource_name(key) and quantity_value(quantity) != int(quantity_value(quantity)):
                problems.append(f"{key}: {quantity!r} is not a whole number of devices")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _bindings(self) -> "TenantConfig":
        seen = set()
        for binding in self.groups:
            if binding.group in seen:
                raise ValueError(f"groups: {binding.group!r} is listed twice")
            seen.add(binding.group)
        users = [m.user for m in self.members]
        if self.owner in users:
            raise ValueError(f"members: the owner {self.owner!r} is already admin; do not list them as a member")
        if len(set(users)) != len(users):
            raise ValueError("members: a user is listed twice")
        return self

    def gpu_quota(self) -> dict[str, int]:
        """GPU resource name -> device count (`nvidia.com/mig-1g.10gb` -> 4)."""
        return {
            name: int(quantity_value(quantity))
            for key, quantity in self.quota.items()
            if (name := gpu_resource_name(key))
        }
