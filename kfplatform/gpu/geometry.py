"""MIG geometry of each supported GPU model: the one place the profile tables live.

Source: ../shared/FACTS.md "NVIDIA GPU Operator and MIG" (operator v26.7.0, mig-parted v0.15.0).
A GPU has 7 compute slices and 8 memory slices (A30: 4 and 4). A profile `<c>g.<m>gb` takes
`c` compute slices and a fixed number of memory slices, and one GPU holds at most `max_count`
instances of it. A layout (profile -> instances per GPU) fits one GPU when the compute slices
sum to at most the GPU's, the memory slices likewise, and each profile stays within its max.

The `+me` (media extension) profiles and the A30's `all-balanced`, and the PCI device IDs
used in mig-parted's `device-filter`, come from mig-parted's own default config
(NVIDIA/mig-parted deployments/systemd/config-default.yaml); FACTS.md lists the rest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

GPU_RESOURCE = "nvidia.com/gpu"
MIG_RESOURCE_PREFIX = "nvidia.com/mig-"
MIG_PROFILE = re.compile(r"^\d+g\.\d+gb(\+me)?$")
# Resource names as the device plugin advertises them ("+" is written ".").
GPU_RESOURCE_NAME = re.compile(r"^nvidia\.com/(gpu|mig-\d+g\.\d+gb(\.me)?)$")

ALL_DISABLED = "all-disabled"
ALL_BALANCED = "all-balanced"


@dataclass(frozen=True)
class MigProfile:
    name: str  # as nvidia-smi and mig-parted spell it: "1g.10gb", "1g.5gb+me"
    compute: int  # compute slices
    memory: int  # memory slices
    max_count: int  # instances one GPU can hold

    @property
    def resource(self) -> str:
        """The extended resource the device plugin advertises under mig.strategy=mixed."""
        return mig_resource(self.name)

    @property
    def builtin_layout(self) -> str:
        """mig-parted's built-in layout that fills a GPU with this profile (`all-1g.10gb`)."""
        return "all-" + self.name.replace("+", ".")


@dataclass(frozen=True)
class GpuModel:
    name: str
    compute_slices: int
    memory_slices: int
    profiles: tuple[MigProfile, ...]
    balanced: Mapping[str, int]  # mig-parted's `all-balanced` for this model
    device_ids: tuple[str, ...]  # PCI device IDs, as mig-parted's device-filter writes them
    by_name: dict[str, MigProfile] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.profiles})

    def builtin_layouts(self) -> dict[str, dict[str, int]]:
        """mig-parted's built-in layouts for this model: name -> MIG devices per GPU ({} = MIG off)."""
        layouts: dict[str, dict[str, int]] = {ALL_DISABLED: {}}
        for profile in self.profiles:
            layouts[profile.builtin_layout] = {profile.name: profile.max_count}
        layouts[ALL_BALANCED] = dict(self.balanced)
        return layouts


def mig_resource(profile: str) -> str:
    """`1g.5gb+me` -> `nvidia.com/mig-1g.5gb.me` (the device plugin writes "+" as ".")."""
    return MIG_RESOURCE_PREFIX + profile.replace("+", ".")


def _seven_slice(name: str, sizes: tuple[int, int, int, int], device_ids: tuple[str, ...]) -> GpuModel:
    """A 7-compute/8-memory-slice GPU. `sizes` = GB of the 1-, 2-, 4- and 8-memory-slice instances."""
    one, two, four, eight = sizes
    profiles = (
        MigProfile(f"1g.{one}gb", 1, 1, 7),
        MigProfile(f"1g.{one}gb+me", 1, 1, 1),
        MigProfile(f"1g.{two}gb", 1, 2, 4),
        MigProfile(f"2g.{two}gb", 2, 2, 3),
        MigProfile(f"3g.{four}gb", 3, 4, 2),
        MigProfile(f"4g.{four}gb", 4, 4, 1),
        MigProfile(f"7g.{eight}gb", 7, 8, 1),
    )
    balanced = {f"1g.{one}gb": 2, f"2g.{two}gb": 1, f"3g.{four}gb": 1}
    return GpuModel(name, 7, 8, profiles, balanced, device_ids)


# Device IDs as grouped in mig-parted's config-default.yaml (A800/H800 variants included).
MODELS: dict[str, GpuModel] = {
    model.name: model
    for model in (
        _seven_slice("A100-40GB", (5, 10, 20, 40), ("0x20B010DE", "0x20B110DE", "0x20F110DE", "0x20F610DE")),
        _seven_slice("A100-80GB", (10, 20, 40, 80), ("0x20B210DE", "0x20B510DE", "0x20F310DE", "0x20F510DE")),
        _seven_slice("H100-80GB", (10, 20, 40, 80), ("0x233010DE", "0x233110DE", "0x232210DE", "0x232410DE")),
        _seven_slice("H100-NVL", (12, 24, 47, 94), ("0x232110DE", "0x233A10DE")),
        _seven_slice("H200", (18, 35, 71, 141), ("0x233510DE", "0x233B10DE")),
        _seven_slice("B200", (23, 45, 90, 180), ("0x290110DE",)),
        GpuModel(
            "A30",
            4,
            4,
            (
                MigProfile("1g.6gb", 1, 1, 4),
                MigProfile("1g.6gb+me", 1, 1, 1),
                MigProfile("2g.12gb", 2, 2, 2),
                MigProfile("2g.12gb+me", 2, 2, 1),
                MigProfile("4g.24gb", 4, 4, 1),
            ),
            {"1g.6gb": 2, "2g.12gb": 1},
            ("0x20B710DE",),
        ),
    )
}


def _terms(model: GpuModel, devices: Mapping[str, int], slices: str) -> str:
    return " + ".join(
        f"{name} x{count} ({getattr(model.by_name[name], slices) * count})" for name, count in devices.items()
    )


def layout_problems(model: GpuModel, devices: Mapping[str, int]) -> list[str]:
    """Why `devices` (profile -> instances per GPU) does not fit one GPU of `model`; [] if it fits."""
    problems = []
    unknown = [name for name in devices if name not in model.by_name]
    for name in unknown:
        problems.append(
            f"profile {name!r} does not exist on {model.name} (its profiles: {', '.join(model.by_name)})"
        )
    known = {name: count for name, count in devices.items() if name in model.by_name}
    for name, count in known.items():
        limit = model.by_name[name].max_count
        if count < 1:
            problems.append(f"profile {name!r}: give at least 1 instance (or leave the profile out)")
        elif count > limit:
            problems.append(f"profile {name!r} x{count} exceeds the {limit} instance(s) one {model.name} holds")
    compute = sum(model.by_name[n].compute * c for n, c in known.items())
    memory = sum(model.by_name[n].memory * c for n, c in known.items())
    if compute > model.compute_slices:
        problems.append(
            f"needs {compute} compute slices ({_terms(model, known, 'compute')}); "
            f"one {model.name} has {model.compute_slices}"
        )
    if memory > model.memory_slices:
        problems.append(
            f"needs {memory} memory slices ({_terms(model, known, 'memory')}); "
            f"one {model.name} has {model.memory_slices}"
        )
    return problems
