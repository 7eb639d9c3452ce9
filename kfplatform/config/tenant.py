"""A tenant team, one file each: `tenants/<team>.yaml`."""
from __future__ import annotations

import re
from enum import Enum

from pydantic import Field, StrictBool, ValidationInfo, field_validator, model_validator

from ..compliance.config import ComplianceLevel
from ..backup.config import TenantBackup
from ..gpu.config import KatibSweep
from ..observability.config import ServingConfig, TenantAlerting
from .base import DnsLabel, LabelValue, Model, quantity_value
from .identities import Email, IdpGroup, identity_key
from .network import Peer
from .quantity import QuantityError, parse_quantity
from .stack import ContainerLimits

MIG_PROFILE = re.compile(r"\d+g\.\d+gb(\.me)?")

# ResourceQuota names Kubernetes understands (core/v1 ResourceName and the quota evaluators).
STANDARD_QUOTA_NAMES = frozenset({
    "cpu", "memory", "ephemeral-storage", "pods", "services", "services.loadbalancers", "services.nodeports",
    "secrets", "configmaps", "persistentvolumeclaims", "replicationcontrollers", "resourcequotas",
    "requests.cpu", "requests.memory", "requests.storage", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage",
})
REQUIRED_QUOTA_NAMES = ("requests.cpu", "requests.memory", "limits.memory", "requests.storage")
STORAGE_CLASS_QUOTA = re.compile(
    r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?\.storageclass\.storage\.k8s\.io/(requests\.storage|persistentvolumeclaims)"
)
OBJECT_COUNT_QUOTA = re.compile(r"count/[a-z0-9]+(\.[a-z0-9.-]+)?")
# Quota names of compute and storage amounts, which may be fractional (`500m`); every other quota
# name counts objects or devices, and its value is a whole number.
COMPUTE_QUOTA = frozenset({
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
})
# requests.X <= limits.X (a bare `cpu` in a quota means requests.cpu).
REQUEST_LIMIT_PAIRS = {"cpu": ("cpu", "requests.cpu"), "memory": ("memory", "requests.memory"),
                       "ephemeral-storage": ("ephemeral-storage", "requests.ephemeral-storage")}


def gpu_resource_name(quota_key: str) -> str | None:
    """`requests.nvidia.com/mig-1g.10gb` -> `nvidia.com/mig-1g.10gb`; None for non-GPU keys."""
    if quota_key.startswith("requests.nvidia.com/"):
        return quota_key[len("requests."):]
    return None


def check_quota_key(key: str) -> str | None:
    """None if `key` is a real ResourceQuota resource name, else why not."""
    if key in STANDARD_QUOTA_NAMES or STORAGE_CLASS_QUOTA.fullmatch(key) or OBJECT_COUNT_QUOTA.fullmatch(key):
        return None
    if key.startswith(("limits.nvidia.com/", "nvidia.com/")):
        return "extended resources are limited as `requests.<name>` only (e.g. requests.nvidia.com/gpu)"
    gpu = gpu_resource_name(key)
    if gpu is not None:
        if gpu == "nvidia.com/gpu":
            return None
        if gpu.startswith("nvidia.com/mig-") and MIG_PROFILE.fullmatch(gpu[len("nvidia.com/mig-"):]):
            return None
        return f"{gpu!r} is not an NVIDIA resource name (nvidia.com/gpu or nvidia.com/mig-<profile>, e.g. mig-1g.10gb)"
    return "not a ResourceQuota resource name (e.g. requests.cpu, limits.memory, requests.storage, pods)"


class Role(str, Enum):
    EDIT = "edit"
    VIEW = "view"


class GroupBinding(Model):
    """An IdP group and the Kubeflow role its members get in the tenant namespace."""

    group: IdpGroup
    role: Role


class MemberBinding(Model):
    """A single user (e-mail as the IdP reports it) and their role: for people outside the team's groups."""

    user: Email
    role: Role


class TenantConfig(Model):
    name: DnsLabel
    owner: Email
    # Free text for people: rendered nowhere (not a label, not an annotation).
    description: str = Field(default="", max_length=500)
    # Lands in the namespace's label `kfplatform.io/cost-center`.
    cost_center: LabelValue = ""
    groups: list[GroupBinding] = Field(min_length=1)
    members: list[MemberBinding] = []
    quota: dict[str, str]
    container_limits: ContainerLimits | None = None
    egress_proxy: Peer | None = None
    # The team's largest Katib sweep; the GPU capacity plan checks it fits `quota` (kfplatform/gpu).
    katib: KatibSweep | None = None
    # standard|regulated; unset: the stack's compliance.defaultLevel (kfplatform/compliance).
    compliance: ComplianceLevel | None = None
    # Backup opt-ins (kfplatform/backup): e.g. {notebookVolumes: true}.
    backup: TenantBackup = TenantBackup()
    # Inference SLOs of the team's InferenceServices, and where its alerts go (kfplatform/observability).
    serving: ServingConfig = ServingConfig()
    alerting: TenantAlerting = TenantAlerting()
    # The Kubeflow Model Registry in the team's namespace, on the data tier (kfplatform/modelregistry).
    # Strict: `yes` or "true" is an error naming this key, not a silent True.
    model_registry: StrictBool = False

    @field_validator("quota", mode="before")
    @classmethod
    def _quota(cls, value: object) -> object:
        # Before pydantic's own coercion (YAML `true` must not become "True" or 1), and one
        # validator for the whole map, so every problem in it is reported at once.
        if not isinstance(value, dict):
            return value
        problems = [f"{key}: {why}" for key in value if (why := check_quota_key(str(key)))]
        missing = [key for key in REQUIRED_QUOTA_NAMES if key not in value]
        if missing:
            problems.append(f"missing {', '.join(missing)} (every tenant has a bounded share of the cluster)")
        parsed = {}
        for key, quantity in value.items():
            try:
                parsed[key] = parse_quantity(quantity)
            except QuantityError as e:
                problems.append(f"{key}: {e}")
                continue
            if parsed[key] < 0:
                problems.append(f"{key}: {quantity!r} is negative")
            elif key not in COMPUTE_QUOTA and not str(key).endswith("/requests.storage") and parsed[key].denominator != 1:
                what = "devices" if gpu_resource_name(str(key)) else "objects"
                problems.append(f"{key}: {quantity!r} is not a whole number of {what}")
        for resource, requests in REQUEST_LIMIT_PAIRS.items():
            limit = parsed.get(f"limits.{resource}")
            for key in requests:
                if limit is not None and key in parsed and parsed[key] > limit:
                    problems.append(
                        f"{key} {value[key]} is above limits.{resource} {value[f'limits.{resource}']}: "
                        "no pod could use the requests the quota grants"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return {key: str(quantity) for key, quantity in value.items()}

    @field_validator("egress_proxy")
    @classmethod
    def _proxy_ports(cls, value: Peer | None) -> Peer | None:
        if value is not None and not value.ports:
            raise ValueError("give `ports`: without them the proxy entry would open every port of its peers")
        return value

    @field_validator("groups")
    @classmethod
    def _distinct_groups(cls, value: list[GroupBinding]) -> list[GroupBinding]:
        seen = set()
        for binding in value:
            if binding.group in seen:
                raise ValueError(f"{binding.group!r} is listed twice")
            seen.add(binding.group)
        return value

    @field_validator("members")
    @classmethod
    def _distinct_people(cls, value: list[MemberBinding], info: ValidationInfo) -> list[MemberBinding]:
        owner = info.data.get("owner")
        seen_users: dict[str, str] = {}
        for member in value:
            key = identity_key(member.user)
            if owner and key == identity_key(owner):
                raise ValueError(
                    f"{member.user!r} is the owner {owner!r} (addresses compare case-insensitively); "
                    "the owner is already admin, do not list them as a member"
                )
            if key in seen_users:
                raise ValueError(
                    f"{member.user!r} and {seen_users[key]!r} are one person (addresses compare "
                    "case-insensitively); list each person once"
                )
            seen_users[key] = member.user
        return value

    def gpu_quota(self) -> dict[str, int]:
        """GPU resource name -> device count (`nvidia.com/mig-1g.10gb` -> 4)."""
        return {
            name: int(quantity_value(quantity))  # whole and non-negative (checked above)
            for key, quantity in self.quota.items()
            if (name := gpu_resource_name(key))
        }
