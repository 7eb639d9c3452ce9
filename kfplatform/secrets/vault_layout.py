"""The Vault layout: where each secret lives in the KV v2 mount, and who may read which tree.

    <kvMount>/platform/<area>/<name>   platform secrets: read by the platform's ClusterSecretStore only
    <kvMount>/tenants/<team>/<name>    a team's secrets: read by that team's SecretStore only

`policy_documents()` is the one place the access rules are written; the program applies its
output as `vault.Policy` resources and the OpenBao test applies the same rendered text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import pulumi
import pulumi_vault as vault

from ..k8s import child

PLATFORM_TREE = "platform"
TENANTS_TREE = "tenants"


def tenant_path(tenant: str, name: str) -> str:
    return f"{TENANTS_TREE}/{tenant}/{name}"


def platform_path(area: str, name: str) -> str:
    return f"{PLATFORM_TREE}/{area}/{name}"


def tenant_of(path: str) -> str | None:
    """`tenants/team-a/git` -> `team-a`; None for platform paths."""
    parts = path.split("/")
    return parts[1] if parts[0] == TENANTS_TREE and len(parts) > 2 else None


# Where each category of secret lives. `written by`: the program (generated, rotated) or a person /
# an automation outside it (the program never holds those values). See docs/secrets.md.
@dataclass(frozen=True)
class SecretHome:
    name: str  # path below platform/ (`<area>/<name>`) or below tenants/<team>/
    keys: tuple[str, ...]  # KV properties
    written_by: str  # "program" (generated, rotated) or who writes it outside the program

    @property
    def generated(self) -> bool:
        return self.written_by == "program"


# Platform homes (`<area>/<name>`; database accounts are in secrets/database.py).
# The IdP's client secret for Dex's upstream connector (the client id is config, not a secret).
IDP_CLIENT = SecretHome("identity/oidc-client", ("client_secret",), "identity team (IdP registration)")
# oauth2-proxy's client secret at Dex and its cookie secret; delivered by kfplatform/kubeflow/identity.py.
OAUTH2_PROXY = SecretHome("identity/oauth2-proxy", ("client_secret", "cookie_secret"), "program")
PLATFORM_REGISTRY = SecretHome("registry/pull", ("username", "password"), "registry admins (pull-only robot)")
# Tenant homes.
TENANT_OBJECT_STORE = SecretHome("object-store", ("accesskey", "secretkey"), "program")
TENANT_REGISTRY = SecretHome("registry", ("username", "password"), "registry admins (pull-only robot per team)")
TENANT_GIT = SecretHome("git", ("username", "password"), "the team, through platform on-call")
PLATFORM_HOMES = (IDP_CLIENT, OAUTH2_PROXY, PLATFORM_REGISTRY)
TENANT_HOMES = (TENANT_OBJECT_STORE, TENANT_REGISTRY, TENANT_GIT)


def platform_home(home: SecretHome) -> str:
    return f"{PLATFORM_TREE}/{home.name}"


def tenant_home(tenant: str, home: SecretHome) -> str:
    return tenant_path(tenant, home.name)


# Policy and role names. Policies carry the mount name: one Vault may serve several platforms.
def platform_policy_name(kv_mount: str) -> str:
    return f"{kv_mount}-platform"


def tenant_policy_name(kv_mount: str, tenant: str) -> str:
    return f"{kv_mount}-tenant-{tenant}"


PLATFORM_ROLE = "platform"


def tenant_role(tenant: str) -> str:
    return f"tenant-{tenant}"


def _read_tree(kv_mount: str, tree: str, comment: str) -> str:
    """Read a KV v2 subtree: values (`data/`) and their listing and versions (`metadata/`). Nothing else."""
    return (
        f"# {comment}\n"
        f'path "{kv_mount}/data/{tree}/*" {{\n  capabilities = ["read"]\n}}\n\n'
        f'path "{kv_mount}/metadata/{tree}/*" {{\n  capabilities = ["read", "list"]\n}}\n'
    )


def policy_documents(kv_mount: str, tenants: Iterable[str]) -> dict[str, str]:
    """Policy name -> HCL: the platform reads `platform/`; each tenant reads `tenants/<team>/` only.

    No policy grants write, delete or anything outside its own tree; the runner's token (not
    these policies) writes the generated values. A trailing `/*` after the team name keeps
    `team-a` from matching `team-ab`.
    """
    docs = {
        platform_policy_name(kv_mount): _read_tree(
            kv_mount, PLATFORM_TREE, "Platform ClusterSecretStore (platform namespaces): platform secrets, read only."
        )
    }
    for tenant in sorted(tenants):
        docs[tenant_policy_name(kv_mount, tenant)] = _read_tree(
            kv_mount, f"{TENANTS_TREE}/{tenant}", f"Tenant {tenant}'s SecretStore: its own tree, read only."
        )
    return docs


class VaultLayout(pulumi.ComponentResource):
    """The KV v2 mount that holds every platform and tenant secret, and the read policies on it."""

    def __init__(
        self,
        name: str,
        kv_mount: str,
        tenants: Iterable[str],
        vault_provider: pulumi.ProviderResource,
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:secrets:VaultLayout", name, None, opts)
        # Deleting this mount deletes every secret of the platform: protected in prod.
        self.mount = vault.Mount(
            f"{name}-kv",
            path=kv_mount,
            type="kv",
            options={"version": "2"},
            description="kubeflow-platform: platform/<area>/<name> and tenants/<team>/<name>",
            opts=child(self, provider=vault_provider, protect=protect),
        )
        self.policies: dict[str, vault.Policy] = {
            policy_name: vault.Policy(
                f"{name}-policy-{policy_name}",
                name=policy_name,
                policy=document,
                opts=child(self, provider=vault_provider),
            )
            for policy_name, document in policy_documents(kv_mount, tenants).items()
        }
        self.register_outputs({"mount": self.mount.path, "policies": sorted(self.policies)})
