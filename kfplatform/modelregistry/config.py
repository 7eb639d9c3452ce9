"""Who gets a Model Registry, the names derived from the team, and the checks on them.

Opt-in per tenant file: `modelRegistry: true` (TenantConfig.model_registry, default false). A team
without it gets nothing: no Application, no database, no account, no network policy.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from ..config.base import quantity_value
from ..config.errors import ConfigIssue
from ..config.loader import KEY_PREFIX, PlatformConfig, TenantFile, cross_check
from ..config.stack import StackConfig
from ..data.endpoints import DatabaseAccount
from . import release

TENANT_KEY = "modelRegistry"
PREFIX = "model-registry-"  # database, MariaDB user, Kubernetes objects in the database namespace
# The team's copy of its password: Secret in the team namespace, keys `username` and `password`.
CREDENTIALS_SECRET = "model-registry-db-credentials"
# ProxySQL mounts every account's Secret as volume `secret-<secret name>` (a DNS label, <= 63) and
# the database name is at most 64 characters: the team name is at most 63 - len("secret-" + PREFIX).
MAX_TEAM_NAME = 63 - len("secret-" + PREFIX)
# Connections the team's account may hold through each ProxySQL replica: the server's pool is small,
# and a team must not be able to take the backend connections KFP, MLMD and Katib need.
MAX_CONNECTIONS = 20
# The server container (the Istio sidecar's resources are the mesh's injection defaults).
RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}


def database_name(team: str) -> str:
    # Never `_` or `%`: they are wildcards in a GRANT's database name, even back-quoted (mariadb-operator
    # v26.6.0 pkg/sql/sql.go `escapeWildcard` only adds back-quotes), so `model_registry_team_a` would
    # also grant `model_registry_team1a`. Team names are DNS labels: letters, digits and `-` only.
    return PREFIX + team


def database_account(team: str) -> DatabaseAccount:
    """The team's account: its own database only, password generated under `platform/database/`
    (the database namespace's tree) and mirrored into the team's own Vault tree."""
    from ..secrets.vault_layout import platform_path, tenant_path  # lazily: the loader imports this module

    name = database_name(team)
    return DatabaseAccount(
        user=name,
        databases=(name,),
        vault_path=platform_path("database", name),
        secret_name=name,
        consumer_namespace=team,
        consumer_secret_name=CREDENTIALS_SECRET,
        consumer_vault_path=tenant_path(team, "model-registry-db"),
        max_connections=MAX_CONNECTIONS,
    )


def opted_in(tenants: Sequence[TenantFile]) -> list[str]:
    return sorted(t.config.name for t in tenants if t.config.model_registry)


def database_accounts(tenants: Sequence[TenantFile]) -> list[DatabaseAccount]:
    return [database_account(team) for team in opted_in(tenants)]


def _exceeds(limits: Mapping[str, str], maximum: Mapping[str, object]) -> list[str]:
    return [
        f"{resource} {value} > {maximum[resource]}"
        for resource, value in limits.items()
        if resource in maximum and quantity_value(value) > quantity_value(maximum[resource])  # type: ignore[arg-type]
    ]


@cross_check
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
