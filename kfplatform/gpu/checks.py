"""Cross-checks of the GPU pools against the tenants: the capacity plan as config validation.

Registered when the config package loads (see kfplatform/config/__init__.py), so every problem
is reported with the rest, before any resource exists.
"""
from __future__ import annotations

from typing import Iterable

from ..config.errors import ConfigIssue
from ..config.platform_config import KEY_PREFIX, PlatformConfig
from .capacity import plan


def gpu_capacity(config: PlatformConfig) -> Iterable[ConfigIssue]:
    """Oversubscribed slice types (stack file, at the pool) and quotas for GPU resources no pool
    supplies (tenant file, at the quota key), when the stack enforces the plan; Katib sweeps that
    do not fit their tenant's quota (tenant file), always: that is the tenant's own arithmetic."""
    gpu = config.stack.gpu
    result = plan(gpu, config.tenant_configs)
    files = {t.config.name: t.path for t in config.tenants}
    if gpu.enforce_capacity:
        for line in result.slices:
            if (message := line.problem()) is not None:
                yield ConfigIssue(config.stack_file, f"{KEY_PREFIX}gpu.pools[{line.pools[0].index}]", message)
            elif line.status == "unsupplied":
                offered = ", ".join(s.resource for s in result.slices if s.pools) or "nothing"
                for tenant, quota in line.quotas:
                    yield ConfigIssue(
                        files[tenant],
                        f"quota.requests.{line.resource}",
                        f"no GPU pool supplies {line.resource} under mig.strategy {result.strategy} "
                        f"(the pools supply: {offered}); the quota of {quota} could never be used",
                    )
    for sweep in result.sweeps:
        if (message := sweep.problem()) is not None:
            yield ConfigIssue(files[sweep.tenant], "katib.maxParallelTrials", message)


# The area's cross-checks, in the order they run (composed by kfplatform/config/checks.py).
CHECKS = (gpu_capacity,)
