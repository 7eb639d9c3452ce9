"""Who gets a Model Registry, and the names derived from the team (the checks on them: checks.py).

Opt-in per tenant file: `modelRegistry: true` (TenantConfig.model_registry, default false). A team
without it gets nothing: no Application, no database, no account, no network policy.
"""
from __future__ import annotations

from typing import Sequence

from ..config.platform_config import TenantFile
from ..data.endpoints import DatabaseAccount

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
