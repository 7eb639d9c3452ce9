"""Cross-checks of the backup configuration against the tenants (exported as CHECKS, run by the loader)."""
from __future__ import annotations

from typing import Iterable

from ..config.errors import ConfigIssue
from ..config.platform_config import KEY_PREFIX, PlatformConfig


def restored_namespaces_are_teams(config: PlatformConfig) -> Iterable[ConfigIssue]:
    """The drill restores team namespaces only: the platform's own are made by the sandbox stack itself."""
    restore = config.stack.backup.restore
    if restore is None:
        return
    teams = {t.config.name for t in config.tenants}
    unknown = [ns for ns in restore.namespaces if ns not in teams]
    if unknown:
        yield ConfigIssue(
            config.stack_file, f"{KEY_PREFIX}backup.restore.namespaces",
            f"{', '.join(unknown)}: not a team of tenants/ (teams: {', '.join(sorted(teams)) or 'none'}); "
            "the drill restores team namespaces, the stack makes the platform's own",
        )


# The area's cross-checks, in the order they run (composed by kfplatform/config/checks.py).
CHECKS = (restored_namespaces_are_teams,)
