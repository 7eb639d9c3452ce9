"""The validated whole: one stack and its tenant files, as every cross-check and component reads it.

A leaf module (the stack and tenant models are named for type checkers only), so an area's checks
can import it without importing the loader, and the loader can compose the areas' checks without
a cycle (kfplatform/config/checks.py).
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from .. import PROJECT
from .errors import ConfigIssue

if TYPE_CHECKING:
    from .stack import StackConfig
    from .tenant import TenantConfig

KEY_PREFIX = f"{PROJECT}:"


@dataclass(frozen=True)
class TenantFile:
    path: str  # relative to the project, for messages
    config: TenantConfig


@dataclass(frozen=True)
class PlatformConfig:
    stack_name: str
    stack_file: str
    stack: StackConfig
    tenants: tuple[TenantFile, ...] = field(default=())
    tenant_file_count: int = 0  # valid or not: checks on the count must not double-report a bad file
    # The project folder the stack file was read from (cross-checks that read committed files, e.g.
    # the data tier's geometry lock); None when the config was built in memory.
    project_dir: pathlib.Path | None = None

    @property
    def tenant_configs(self) -> list[TenantConfig]:
        return [t.config for t in self.tenants]


# A cross-check between the stack and the tenants: what one file alone cannot tell. Each area
# exports its own as a tuple `CHECKS` in its checks module; kfplatform/config/checks.py composes them.
CrossCheck = Callable[[PlatformConfig], Iterable[ConfigIssue]]
