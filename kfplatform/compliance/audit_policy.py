"""The API server's audit `Policy` (audit.k8s.io/v1): what the audit trail records, at which level.

Rules are evaluated in order and the first match wins (Kubernetes audit policy semantics):

1. `None` for noise: watches, health and metrics endpoints, leases, events, and the reads of the
   platform's own controllers and the nodes (their get/list run thousands of times a minute).
2. `Metadata` for Secrets, ConfigMaps and token reviews everywhere: who touched them, never the
   values (a RequestResponse rule must never see a Secret's data).
3. `RequestResponse` for writes to `serving.kserve.io` (InferenceServices, ServingRuntimes, ...):
   the whole object, so the entry names the model's digest, and the user, time, verb, namespace.
4. `Metadata` for everything else: every tenant namespace (and the platform's) is recorded; the
   shipper routes each event to its namespace's tenant (shipper.py).

The policy does not list tenant namespaces: adding a team does not change the API server's
configuration (which it reads only at start).
"""
from __future__ import annotations

from typing import Iterable

WRITE_VERBS = ["create", "update", "patch", "delete", "deletecollection"]
READ_VERBS = ["get", "list"]


def audit_policy(platform_namespaces: Iterable[str]) -> dict:
    controllers = sorted(
        {f"system:serviceaccounts:{ns}" for ns in platform_namespaces}
        | {"system:serviceaccounts:kube-system", "system:nodes"}
    )
    return {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "None", "verbs": ["watch"]},
            {"level": "None", "nonResourceURLs": ["/healthz*", "/livez*", "/readyz*", "/version", "/metrics", "/openapi*"]},
            {"level": "None", "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}]},
            {"level": "None", "resources": [{"group": "", "resources": ["events"]}, {"group": "events.k8s.io", "resources": ["events"]}]},
            {"level": "None", "verbs": READ_VERBS, "userGroups": controllers},
            {
                "level": "Metadata",
                "resources": [
                    {"group": "", "resources": ["secrets", "configmaps", "serviceaccounts/token"]},
                    {"group": "authentication.k8s.io", "resources": ["tokenreviews"]},
                ],
            },
            {"level": "RequestResponse", "verbs": WRITE_VERBS, "resources": [{"group": "serving.kserve.io"}]},
            {"level": "Metadata"},
        ],
    }
