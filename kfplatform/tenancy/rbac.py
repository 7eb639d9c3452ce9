"""Contributors of a tenant, in the form Kubeflow expects.

Kubeflow's access management (KFAM) represents a contributor as a RoleBinding named
`user-<email>-clusterrole-<role>` to ClusterRole `kubeflow-<role>`, annotated with `user` and
`role`, plus an Istio AuthorizationPolicy of the same name that admits requests carrying the
user's id header. Members get exactly that, so the dashboard's "Manage contributors" shows them.

IdP groups get a RoleBinding with a `Group` subject (the API server's `--oidc-groups-prefix`
prepended) and an AuthorizationPolicy on the token's `groups` claim: Kubeflow's
`kubeflow-groups` header is a comma-joined list that Istio cannot match one group in.

Limit (docs/identity.md, "What a group binding grants"): KFP and the Kubeflow web apps authorize
with a SubjectAccessReview naming the user without groups, and KFAM lists bindings by user, so a
Group binding grants kubectl access and reach through Istio, not the Kubeflow UIs or the KFP API;
people who use those need a `members:` entry.
"""
from __future__ import annotations

import hashlib
import re

import pulumi
import pulumi_kubernetes as k8s

from ..config.stack import TenancyConfig
from ..config.tenant import TenantConfig
from ..k8s import child, custom_resource, meta

RBAC_GROUP = "rbac.authorization.k8s.io"


SLUG_MAX = 80


def safe_name(text: str) -> str:
    """KFAM's binding-name form: lower case, every run of other characters as one '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def subject_hash(kind: str, subject: str) -> str:
    """8 hex digits of SHA-256 over the exact subject: `ml.nlp` and `ml-nlp` slug alike, hash apart."""
    return hashlib.sha256(f"{kind}\0{subject}".encode()).hexdigest()[:8]


def binding_name(kind: str, subject: str, role: str) -> str:
    """`<kind>-<readable slug>-<hash>-clusterrole-<role>`: KFAM's shape, unique for distinct subjects.

    KFAM's own form (`user-<slug>-clusterrole-<role>`) maps `a.b@x.com` and `a-b@x.com` to one
    name; the hash of the exact subject keeps them apart, and the slug stays readable.
    """
    slug = safe_name(subject)[:SLUG_MAX].strip("-") or "x"
    return f"{kind}-{slug}-{subject_hash(kind, subject)}-clusterrole-{role}"


def contributor_entries(tenant: TenantConfig) -> list[tuple[str, str, str]]:
    """(kind, subject, role) for every member and group of a tenant, in render order."""
    entries = [("user", m.user, m.role.value) for m in tenant.members]
    entries += [("group", g.group, g.role.value) for g in tenant.groups]
    return entries


def tenant_contributors(
    tenant: TenantConfig,
    tenancy: TenancyConfig,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
    policy_depends_on: list[pulumi.Resource],
) -> list[pulumi.Resource]:
    """RoleBindings and AuthorizationPolicies for the tenant's groups and members.

    `policy_depends_on`: what the AuthorizationPolicies wait for (their namespace and Istio's CRDs).
    """
    ns = tenant.name
    created: list[pulumi.Resource] = []
    for kind, subject, role in contributor_entries(tenant):
        name = binding_name(kind, subject, role)
        if kind == "user":
            rbac_subject = k8s.rbac.v1.SubjectArgs(api_group=RBAC_GROUP, kind="User", name=subject)
            condition = {"key": f"request.headers[{tenancy.user_id_header}]", "values": [tenancy.user_id_prefix + subject]}
        else:
            rbac_subject = k8s.rbac.v1.SubjectArgs(api_group=RBAC_GROUP, kind="Group", name=tenancy.oidc_groups_prefix + subject)
            condition = {"key": "request.auth.claims[groups]", "values": [subject]}
        annotations = {"role": role, kind: subject}
        created.append(
            k8s.rbac.v1.RoleBinding(
                f"{ns}-{name}",
                metadata=meta(name, ns, component="tenant-rbac", annotations=annotations),
                role_ref=k8s.rbac.v1.RoleRefArgs(api_group=RBAC_GROUP, kind="ClusterRole", name=f"kubeflow-{role}"),
                subjects=[rbac_subject],
                opts=child(parent, depends_on=depends_on),
            )
        )
        created.append(
            custom_resource(
                f"{ns}-{name}-authz",
                api_version="security.istio.io/v1",
                kind="AuthorizationPolicy",
                metadata=meta(name, ns, component="tenant-rbac", annotations=annotations),
                spec={"action": "ALLOW", "rules": [{"when": [condition]}]},
                opts=child(parent, depends_on=policy_depends_on),
            )
        )
    return created
