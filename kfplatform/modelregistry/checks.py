"""Cross-checks of the teams that opt into a Model Registry against the stack (exported as CHECKS)."""
from __future__ import annotations

from typing import Iterable, Mapping

from ..config.base import quantity_value
from ..config.errors import ConfigIssue
from ..config.platform_config import KEY_PREFIX, PlatformConfig
from ..config.stack import StackConfig
from . import release
from .config import MAX_CONNECTIONS, MAX_TEAM_NAME, RESOURCES, TENANT_KEY, database_name


def _exceeds(limits: Mapping[str, str], maximum: Mapping[str, object]) -> list[str]:
    return [
        f"{resource} {value} > {maximum[resource]}"
        for resource, value in limits.items()
        if resource in maximum and quantity_value(value) > quantity_value(maximum[resource])  # type: ignore[arg-type]
    ]


def _model_registry(config: PlatformConfig) -> Iterable[ConfigIssue]:
    stack: StackConfig = config.stack
    teams = [t for t in config.tenants if t.config.model_registry]
    if not teams:
        return
    if stack.kubeflow.release.tag != release.MANIFESTS_TAG:
        yield ConfigIssue(
            config.stack_file, f"{KEY_PREFIX}kubeflow.release.tag",
            f"the Model Registry install was read at kubeflow/manifests {release.MANIFESTS_TAG} (Model Registry "
            f"{release.VERSION}); re-check kfplatform/modelregistry/release.py at {stack.kubeflow.release.tag} first "
            f"(tenants with {TENANT_KEY}: true: {', '.join(t.config.name for t in teams)})",
        )
    for tenant in teams:
        name = tenant.config.name
        if len(name) > MAX_TEAM_NAME:
            yield ConfigIssue(
                tenant.path, TENANT_KEY,
                f"team name {name!r} is {len(name)} characters; a Model Registry needs at most {MAX_TEAM_NAME} "
                f"(its database {database_name(name)!r} and ProxySQL's volume for its password are bounded)",
            )
        # The server's container must fit the team's LimitRange, or its pods are refused at admission.
        limits = tenant.config.container_limits or stack.tenancy.container_limits
        too_big = _exceeds(RESOURCES["limits"], limits.max) + _exceeds(RESOURCES["requests"], limits.max)
        if too_big:
            where = "containerLimits.max" if tenant.config.container_limits else TENANT_KEY
            yield ConfigIssue(
                tenant.path, where,
                f"the Model Registry server needs {RESOURCES} and the team's LimitRange max is "
                f"{dict(limits.max)} ({'; '.join(too_big)}); raise the max or leave {TENANT_KEY} off",
            )
    # Each registry may hold MAX_CONNECTIONS backend connections through each ProxySQL replica, out
    # of the `maxBackendConnections` a replica opens to the writer; KFP, ML Metadata and Katib have
    # no cap of their own. Half the pool stays theirs, whatever the number of opted-in teams.
    pool = stack.data.proxysql.max_backend_connections
    if len(teams) * MAX_CONNECTIONS > pool // 2:
        yield ConfigIssue(
            config.stack_file, f"{KEY_PREFIX}data.proxysql.maxBackendConnections",
            f"{len(teams)} teams with {TENANT_KEY}: true may hold {len(teams) * MAX_CONNECTIONS} backend connections "
            f"({MAX_CONNECTIONS} each) of the {pool} a ProxySQL replica opens to the writer; at most half may go to "
            f"Model Registries, so KFP, ML Metadata and Katib keep theirs: raise it to at least "
            f"{2 * len(teams) * MAX_CONNECTIONS} (and galera.maxConnections with it) or opt fewer teams in",
        )


# The area's cross-checks, in the order they run (composed by kfplatform/config/checks.py).
CHECKS = (_model_registry,)
