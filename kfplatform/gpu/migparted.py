"""The mig-parted config the MIG manager applies: one entry per layout the pools use.

A node picks its entry with the label `nvidia.com/mig.config=<layout>`; nodes without the
label get `all-disabled` (the ClusterPolicy's default), so that entry is always present.

A built-in name such as `all-balanced` means different devices on different models (2x 1g.5gb +
2g.10gb + 3g.20gb on an A100-40GB, 2x 1g.10gb + ... on an A100-80GB). When pools of such models
share the name, the entry lists each model's devices behind a `device-filter` of its PCI device
IDs, as mig-parted's own default config does; otherwise it applies to `all` devices.
"""
from __future__ import annotations

from typing import Iterable

import yaml

from .config import GpuPool
from .geometry import ALL_DISABLED

CONFIG_KEY = "config.yaml"


def mig_parted_config(pools: Iterable[GpuPool]) -> dict:
    """`version: v1`, `mig-configs: {layout: [entries]}` for `all-disabled` and every pool's layout."""
    variants: dict[str, dict[tuple, list[str]]] = {ALL_DISABLED: {(): []}}
    for pool in pools:
        devices = tuple(sorted(pool.mig_devices.items()))
        ids = variants.setdefault(pool.layout_name, {}).setdefault(devices, [])
        ids.extend(i for i in pool.gpu_model.device_ids if i not in ids)
    configs = {}
    for name in sorted(variants, key=lambda n: (n != ALL_DISABLED, n)):
        by_devices = variants[name]
        entries = []
        for devices, ids in by_devices.items():
            entry: dict = {}
            if len(by_devices) > 1:
                entry["device-filter"] = list(ids)
            entry["devices"] = "all"
            entry["mig-enabled"] = bool(devices)
            if devices:
                entry["mig-devices"] = dict(devices)
            entries.append(entry)
        configs[name] = entries
    return {"version": "v1", "mig-configs": configs}


def mig_parted_yaml(pools: Iterable[GpuPool]) -> str:
    return yaml.safe_dump(mig_parted_config(pools), sort_keys=False, default_flow_style=False)
