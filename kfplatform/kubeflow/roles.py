"""Kubeflow's tenant roles, minus what would let a team act as its Vault login identity.

Upstream's `kubeflow-kubernetes-edit` (aggregated into `kubeflow-edit`, which every tenant editor
holds in its namespace; kubeflow/manifests v1.11.0 common/kubeflow-roles/base/cluster-roles.yaml)
grants `impersonate` on `serviceaccounts`, copied from Kubernetes' own `edit` role. Each team
namespace holds `eso-vault`, bound to `system:auth-delegator` cluster-wide (secrets/vault_auth.py):
impersonating it would hand an editor TokenReview and SubjectAccessReview, which no admission
policy can stop (impersonation is not an admission request). The patch removes that one rule.

A JSON patch, guarded by a `test` of the exact rule at its position at the pinned tag: if a new
tag moves or changes it, the kustomize build fails (Argo CD shows the sync error) instead of
removing another rule or silently keeping this one.
"""
from __future__ import annotations

import yaml

EDIT_ROLE = "kubeflow-kubernetes-edit"
# Position and content of the rule in that ClusterRole at kubeflow/manifests v1.11.0.
IMPERSONATE_RULE_INDEX = 1
IMPERSONATE_RULE = {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}


def no_impersonation_patch() -> dict:
    ops = [
        {"op": "test", "path": f"/rules/{IMPERSONATE_RULE_INDEX}", "value": IMPERSONATE_RULE},
        {"op": "remove", "path": f"/rules/{IMPERSONATE_RULE_INDEX}"},
    ]
    return {
        "patch": yaml.safe_dump(ops, sort_keys=False, width=1000),
        "target": {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": EDIT_ROLE},
    }


def roles_patches() -> list[dict]:
    return [no_impersonation_patch()]
