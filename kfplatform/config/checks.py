"""Every cross-check the loader runs, in the order it runs them: one explicit list, no registry.

Each area exports its checks as a tuple `CHECKS` in its checks module; this module composes them.
The areas' checks import `kfplatform.config.platform_config` (never the loader), and the loader
imports this module when it runs the checks, so no import order can leave a check out or cycle.
The order is the order issues are reported in; keep it stable (messages are compared in tests).
"""
from __future__ import annotations

from typing import Iterable

from ..backup import checks as backup
from ..compliance import checks as compliance
from ..data import checks as data
from ..gpu import checks as gpu
from ..kubeflow import checks as kubeflow
from ..modelregistry import checks as modelregistry
from ..tenancy import checks as tenancy
from .errors import ConfigIssue
from .platform_config import KEY_PREFIX, CrossCheck, PlatformConfig
from .reserved import reserved_reason


def tenant_names(config: PlatformConfig) -> Iterable[ConfigIssue]:
    """No team takes a reserved name, and tenants/ holds at least the stack's minimum of files."""
    for tenant in config.tenants:
        why = reserved_reason(tenant.config.name, config.stack)
        if why:
            yield ConfigIssue(tenant.path, "name", f"{tenant.config.name!r} is taken: {why}; pick another name")
    if config.tenant_file_count < config.stack.tenancy.min_tenants:
        yield ConfigIssue(
            config.stack_file, f"{KEY_PREFIX}tenancy.minTenants",
            f"expected at least {config.stack.tenancy.min_tenants} tenant files, found {config.tenant_file_count}"
            " in tenants/ (a missing tenants/ checkout would otherwise plan to delete every team)",
        )


CHECKS: tuple[CrossCheck, ...] = (tenant_names,)

CROSS_CHECKS: tuple[CrossCheck, ...] = (
    *CHECKS,
    *backup.CHECKS,
    *data.CHECKS,
    *gpu.CHECKS,
    *kubeflow.CHECKS,
    *tenancy.CHECKS,
    *compliance.CHECKS,
    *modelregistry.CHECKS,
)
