"""Per-tenant audit scope in the log index: OpenSearch security roles and role mappings.

The index (OpenSearch with its security plugin) runs outside this program, like Vault. The
program renders its security configuration (`roles.yml`, `roles_mapping.yml`, the files
`securityadmin.sh` applies) into a ConfigMap, so a review sees every grant:

- `kfplatform-auditor-<team>`: read-only on exactly `audit-<team>` and `payloads-<team>`, named
  in full, never a pattern (`audit-team-a*` would also open `audit-team-ab`), mapped to the IdP
  group `compliance.logIndex.auditorGroup` of that team;
- `kfplatform-shipper`: write-only (`create_index`, `index` and `bulk` on `audit-*` and `payloads-*`),
  mapped to the shippers' user, which cannot read anything back.
"""
from __future__ import annotations

from typing import Sequence

from .shipper import PLATFORM, audit_index, payload_index

READ_ACTIONS = ["read", "indices:admin/mappings/get"]
SHIPPER_ROLE = "kfplatform-shipper"
SHIPPER_USER = "kfplatform-shipper"
PLATFORM_AUDITOR_ROLE = "kfplatform-auditor-platform"


def auditor_role(tenant: str) -> str:
    return f"kfplatform-auditor-{tenant}"


def tenant_indices(tenant: str) -> list[str]:
    return [audit_index(tenant), payload_index(tenant)]


def security_roles(tenants: Sequence[str]) -> dict:
    roles: dict[str, dict] = {}
    for tenant in sorted(tenants):
        roles[auditor_role(tenant)] = {
            "description": f"read {tenant}'s audit and payload indices, nothing else",
            "cluster_permissions": [],
            "index_permissions": [{"index_patterns": tenant_indices(tenant), "allowed_actions": READ_ACTIONS}],
        }
    roles[PLATFORM_AUDITOR_ROLE] = {
        "description": "read the platform's own audit trail (events of no tenant)",
        "cluster_permissions": [],
        "index_permissions": [{"index_patterns": tenant_indices(PLATFORM), "allowed_actions": READ_ACTIONS}],
    }
    roles[SHIPPER_ROLE] = {
        "description": "the audit shipper and payload sink: write, never read",
        "cluster_permissions": ["indices:data/write/bulk"],
        "index_permissions": [{
            "index_patterns": ["audit-*", "payloads-*"],
            "allowed_actions": ["create_index", "indices:data/write/index", "indices:data/write/bulk*"],
        }],
    }
    return {"_meta": {"type": "roles", "config_version": 2}, **roles}


def security_role_mappings(tenants: Sequence[str], auditor_group_of, platform_auditors: str) -> dict:
    mappings: dict[str, dict] = {
        auditor_role(t): {"backend_roles": [auditor_group_of(t)], "users": [], "hosts": []} for t in sorted(tenants)
    }
    mappings[PLATFORM_AUDITOR_ROLE] = {"backend_roles": [platform_auditors], "users": [], "hosts": []}
    mappings[SHIPPER_ROLE] = {"backend_roles": [], "users": [SHIPPER_USER], "hosts": []}
    return {"_meta": {"type": "rolesmapping", "config_version": 2}, **mappings}
