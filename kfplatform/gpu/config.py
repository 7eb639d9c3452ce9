"""GPU configuration: `gpu:` in `Pulumi.<stack>.yaml`, and `katib:` in a tenant file.

Everything a pool declares is checked here against the geometry of its GPU model; what needs
the tenants too (quotas against supply, Katib sweeps against quotas) is in `checks.py`.
"""
from __future__ import annotations

import re
from typing import Literal

import pydantic
from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..config.base import DnsLabel, LabelKey, LabelValue, Model, is_prod
from .geometry import ALL_DISABLED, GPU_RESOURCE_NAME, MODELS, GpuModel, layout_problems

# A node label value (the layout name lands in `nvidia.com/mig.config`).
LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class CustomLayout(Model):
    """A layout of our own: MIG devices per GPU, under a name nodes select with `nvidia.com/mig.config`."""

    name: str
    mig_devices: dict[str, int] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not LABEL_VALUE.fullmatch(value):
            raise ValueError(f"{value!r} is not a node label value (letters, digits, '-', '_', '.'; at most 63)")
        if value.startswith("all-"):
            raise ValueError(f"{value!r}: names starting with 'all-' are mig-parted's built-ins; pick another name")
        return value


def parse_layout(value: object) -> "str | CustomLayout":
    """A built-in name, or {name, migDevices}; errors of the latter reported at `layout` itself."""
    if isinstance(value, (str, CustomLayout)):
        return value
    if isinstance(value, dict):
        try:
            return CustomLayout.model_validate(value)
        except pydantic.ValidationError as e:
            problems = []
            for item in e.errors(include_url=False):
                message = item["msg"].removeprefix("Value error, ")
                if item["type"] == "extra_forbidden":
                    message = "unknown key (a custom layout has `name` and `migDevices`)"
                problems.append(f"{'.'.join(map(str, item['loc']))}: {message}")
            raise ValueError("; ".join(problems)) from None
    raise ValueError("give a built-in layout name (all-balanced, all-<profile>, all-disabled) or {name, migDevices}")


class PoolNodes(Model):
    """The pool's nodes: by name (the program labels and taints them), or by a selector.

    A selector pool's nodes come and go with an autoscaler, so the program cannot patch them:
    the node group must set the labels and taints itself (exported as `gpuPools`), and `count`
    is the node count the capacity plan counts on (the autoscaler's minimum, not its maximum).
    """

    names: list[str] = []
    selector: dict[LabelKey, LabelValue] = {}  # node labels: the label grammar
    count: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_kind(self) -> "PoolNodes":
        if bool(self.names) == bool(self.selector):
            raise ValueError("give exactly one of `names` (nodes the program patches) or `selector` (+ `count`)")
        if self.names:
            if self.count is not None:
                raise ValueError("`count` goes with `selector`; with `names` the count is the number of names")
            bad = [n for n in self.names if len(n) > 253 or not NODE_NAME.fullmatch(n)]
            if bad:
                raise ValueError(f"not Kubernetes node names: {', '.join(bad)}")
            if len(set(self.names)) != len(self.names):
                raise ValueError("a node is listed twice")
        elif self.count is None:
            raise ValueError("a `selector` pool needs `count`: the nodes the capacity plan may count on")
        return self

    @property
    def node_count(self) -> int:
        return len(self.names) if self.names else int(self.count or 0)


class GpuPool(Model):
    """Nodes of one GPU model, cut into MIG devices by one layout."""

    name: DnsLabel
    model: str
    gpus_per_node: int = Field(ge=1, le=16)
    nodes: PoolNodes
    # A built-in (`all-disabled`, `all-<profile>`, `all-balanced`) or {name, migDevices}.
    layout: str | CustomLayout = ALL_DISABLED
    # dedicated: tainted `nvidia.com/gpu=present:NoSchedule`, only pods that tolerate it land there.
    # shared: untainted; PriorityClasses decide who is preempted when the pool is full.
    mode: Literal["dedicated", "shared"] = "dedicated"
    # How far the sum of tenant quotas may exceed this pool's supply (1.0 = every quota is guaranteed).
    overcommit: float = Field(default=1.0, ge=1.0, le=4.0)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        if value not in MODELS:
            raise ValueError(f"{value!r} is not a supported GPU model ({', '.join(MODELS)})")
        return value

    @field_validator("layout", mode="before")
    @classmethod
    def _one_layout(cls, value: object) -> str | CustomLayout:
        return parse_layout(value)

    @field_validator("layout")
    @classmethod
    def _layout(cls, value: str | CustomLayout, info: ValidationInfo) -> str | CustomLayout:
        model_name = info.data.get("model")
        if model_name is None:  # the model itself is wrong; that error is reported on its own
            return value
        pool = f"pool {info.data.get('name', '?')!r} ({model_name})"
        model = MODELS[model_name]
        if isinstance(value, str):
            builtins = model.builtin_layouts()
            if value not in builtins:
                raise ValueError(
                    f"{pool}: {value!r} is not a built-in layout of {model_name} ({', '.join(builtins)}); "
                    "for anything else give {name, migDevices}"
                )
            return value
        problems = layout_problems(model, value.mig_devices)
        if problems:
            raise ValueError(f"{pool}: layout {value.name!r}: " + "; ".join(problems))
        return value

    @property
    def gpu_model(self) -> GpuModel:
        return MODELS[self.model]

    @property
    def layout_name(self) -> str:
        """The value of the nodes' `nvidia.com/mig.config` label."""
        return self.layout if isinstance(self.layout, str) else self.layout.name

    @property
    def mig_devices(self) -> dict[str, int]:
        """MIG devices per GPU ({} when MIG is off)."""
        if isinstance(self.layout, str):
            return self.gpu_model.builtin_layouts()[self.layout]
        return dict(self.layout.mig_devices)

    @property
    def is_mixed(self) -> bool:
        """More than one profile per GPU: only mig.strategy=mixed can advertise it."""
        return len(self.mig_devices) > 1


class GpuDriver(Model):
    """The NVIDIA driver. Off by default: the GPU node image ships it (EKS/GKE accelerated images).

    When the operator installs it, the image is per node OS, so the stack pins it by digest
    (`nvcr.io/nvidia/driver@<digest>` of the driver build for the nodes' OS).
    """

    enabled: bool = False
    digest: str | None = None

    @model_validator(mode="after")
    def _pinned(self) -> "GpuDriver":
        if self.enabled and (self.digest is None or not DIGEST.fullmatch(self.digest)):
            raise ValueError("an operator-installed driver needs `digest: sha256:<64 hex>` (the image for the nodes' OS)")
        return self


class GpuOperatorSettings(Model):
    # Where the pinned chart comes from (the internal mirror's Helm proxy in an air-gapped network).
    chart_repository: str = "https://helm.ngc.nvidia.com/nvidia"
    driver: GpuDriver = GpuDriver()


class GpuConfig(Model):
    """`gpu:` in the stack file: the operator, the pools, and how the capacity plan is applied."""

    operator: GpuOperatorSettings = GpuOperatorSettings()
    # None: `mixed` when any pool has a mixed layout, else `single` (the chart's default).
    mig_strategy: Literal["single", "mixed"] | None = None
    # enforce: an oversubscribed pool fails validation. report: the plan shows it, nothing fails
    # (a small sandbox carries prod's tenants and quotas). Prod always enforces.
    capacity_check: Literal["enforce", "report"] = "enforce"
    pools: list[GpuPool] = Field(min_length=1)

    @field_validator("capacity_check")
    @classmethod
    def _enforced_in_prod(cls, value: str, info: ValidationInfo) -> str:
        if value != "enforce" and is_prod(info):
            raise ValueError("prod enforces the GPU capacity plan; `report` is for small non-prod stacks")
        return value

    @model_validator(mode="after")
    def _pools(self) -> "GpuConfig":
        problems = []
        names = [p.name for p in self.pools]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append(f"pool names used twice: {', '.join(twice)}")
        owner: dict[str, str] = {}
        for pool in self.pools:
            for node in pool.nodes.names:
                if node in owner:
                    problems.append(f"node {node!r} is in pools {owner[node]!r} and {pool.name!r}; a node has one layout")
                owner[node] = pool.name
        custom: dict[str, tuple[str, dict[str, int]]] = {}
        for pool in self.pools:
            if isinstance(pool.layout, CustomLayout):
                seen = custom.setdefault(pool.layout.name, (pool.name, pool.mig_devices))
                if seen[1] != pool.mig_devices:
                    problems.append(
                        f"layout {pool.layout.name!r} means different MIG devices in pools {seen[0]!r} and "
                        f"{pool.name!r}; give each its own name"
                    )
        if self.mig_strategy == "single":
            mixed = [p.name for p in self.pools if p.is_mixed]
            if mixed:
                problems.append(
                    f"migStrategy single cannot advertise mixed layouts (pools {', '.join(mixed)}); "
                    "use mixed or one profile per pool"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def strategy(self) -> str:
        """The effective `mig.strategy`."""
        if self.mig_strategy is not None:
            return self.mig_strategy
        return "mixed" if any(p.is_mixed for p in self.pools) else "single"

    @property
    def enforce_capacity(self) -> bool:
        return self.capacity_check == "enforce"


class KatibSweep(Model):
    """A tenant's largest Katib sweep: at most `maxParallelTrials` trials at once, each asking for
    `resourcesPerTrial` GPU devices. The capacity plan checks the whole sweep fits the tenant's
    quota; an admission policy holds Experiments in the namespace to the declared parallelism.
    """

    max_parallel_trials: int = Field(ge=1, le=500)
    resources_per_trial: dict[str, int] = Field(min_length=1)

    @field_validator("resources_per_trial")
    @classmethod
    def _gpu_resources(cls, value: dict[str, int]) -> dict[str, int]:
        problems = []
        for name, count in value.items():
            if not GPU_RESOURCE_NAME.fullmatch(name):
                problems.append(f"{name!r} is not a GPU resource (nvidia.com/gpu or nvidia.com/mig-<profile>)")
            elif count < 1:
                problems.append(f"{name}: {count} is not a device count >= 1")
        if problems:
            raise ValueError("; ".join(problems))
        return value
