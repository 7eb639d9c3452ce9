"""Typed configuration: the stack (`Pulumi.<stack>.yaml`) and the tenants (`tenants/*.yaml`).

The names below load lazily (PEP 562): `StackConfig` composes every area's model, and each area's
model imports `kfplatform.config.base`, so importing this package must not import the stack model
eagerly; otherwise importing an area's config module first would be a circular import.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ConfigError": "errors", "ConfigIssue": "errors",
    "PlatformConfig": "platform_config", "TenantFile": "platform_config", "CROSS_CHECKS": "checks",
    "load_from_pulumi": "loader", "load_platform_config": "loader",
    "StackConfig": "stack", "TenantConfig": "tenant",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
