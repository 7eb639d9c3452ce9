"""Signed images in regulated namespaces (policy-controller, ClusterImagePolicy) and the per-tenant
audit scope in the log index (OpenSearch roles: what each auditor can read)."""
from __future__ import annotations

import fnmatch

import yaml

from kfplatform.compliance.index_access import READ_ACTIONS, security_role_mappings, security_roles

TENANTS = ["team-a", "team-ab", "a-team", "team-nlp"]


def test_the_cluster_image_policy_requires_the_platform_key_on_every_mirrored_image(prod):
    from tests.config.helpers import stack_config

    policy = prod.find("ClusterImagePolicy", "kfplatform-signed-images")
    assert policy["apiVersion"] == "policy.sigstore.dev/v1beta1"
    spec = policy["spec"]
    assert spec["mode"] == "enforce"
    assert spec["images"] == [{"glob": "registry.ml.example.com/mirror/**"}]
    (authority,) = spec["authorities"]
    key = stack_config("prod")["kubeflow-platform:compliance"]["signing"]["publicKey"]
    assert authority["key"] == {"data": key, "hashAlgorithm": "sha256"}
    assert "PRIVATE" not in yaml.safe_dump(prod.kubernetes_objects())
    # Offline verification: no transparency log to reach from an air-gapped cluster.
    assert "ctlog" not in authority and "keyless" not in authority


def test_policy_controller_enforces_in_opted_in_namespaces_only_and_denies_unmatched_images(prod):
    release = prod.helm_release("policy-controller")
    assert release.inputs["version"] == "0.10.6"
    webhook = release.inputs["values"]["webhook"]
    assert webhook["namespaceSelector"] == {
        "matchExpressions": [{"key": "policy.sigstore.dev/include", "operator": "In", "values": ["true"]}]
    }
    assert webhook["configData"] == {"no-match-policy": "deny"}
    assert webhook["failurePolicy"] == "Fail" and webhook["replicaCount"] >= 2
    assert webhook["image"]["version"].startswith("sha256:") and webhook["image"]["repository"].startswith("registry.ml.example.com/mirror/")
    # The policy waits for the chart that installs its CRD.
    policy = next(r for r in prod.resources if r.name == "kfplatform-signed-images")
    assert release.urn in policy.dependencies


def _readable(roles: dict, mappings: dict, group: str) -> set[str]:
    """Index patterns a member of `group` can read (OpenSearch: a role's index_patterns are globs)."""
    patterns = set()
    for role, mapping in mappings.items():
        if role.startswith("_") or group not in mapping["backend_roles"]:
            continue
        for permission in roles[role]["index_permissions"]:
            if set(permission["allowed_actions"]) & set(READ_ACTIONS):
                patterns |= set(permission["index_patterns"])
    return patterns


def test_an_auditor_reads_their_tenant_s_indices_and_no_other():
    roles = security_roles(TENANTS)
    mappings = security_role_mappings(TENANTS, lambda t: f"{t}-auditors", "platform-auditors")
    indices = [f"{kind}-{t}" for t in [*TENANTS, "platform"] for kind in ("audit", "payloads")]
    for tenant in TENANTS:
        patterns = _readable(roles, mappings, f"{tenant}-auditors")
        visible = {i for i in indices if any(fnmatch.fnmatchcase(i, p) for p in patterns)}
        assert visible == {f"audit-{tenant}", f"payloads-{tenant}"}, tenant
        assert not any(c in p for p in patterns for c in "*?[")
    assert {i for i in indices if any(fnmatch.fnmatchcase(i, p) for p in _readable(roles, mappings, "platform-auditors"))} == {
        "audit-platform", "payloads-platform"}


def test_the_shippers_write_but_cannot_read():
    roles = security_roles(TENANTS)
    shipper = roles["kfplatform-shipper"]
    actions = {a for p in shipper["index_permissions"] for a in p["allowed_actions"]}
    assert not actions & {"read", "indices:data/read/*", "indices:data/read/search", "all", "*"}
    mappings = security_role_mappings(TENANTS, lambda t: f"{t}-auditors", "platform-auditors")
    assert mappings["kfplatform-shipper"] == {"backend_roles": [], "users": ["kfplatform-shipper"], "hosts": []}


def test_the_rendered_security_config_names_the_configured_auditor_groups(prod):
    cm = prod.find("ConfigMap", "kfplatform-log-index-security", "logging")
    mappings = yaml.safe_load(cm["data"]["roles_mapping.yml"])
    roles = yaml.safe_load(cm["data"]["roles.yml"])
    assert mappings["kfplatform-auditor-team-nlp"]["backend_roles"] == ["team-nlp-auditors"]
    assert roles["kfplatform-auditor-team-nlp"]["index_permissions"][0]["index_patterns"] == ["audit-team-nlp", "payloads-team-nlp"]
    assert set(prod.exports["complianceAuditIndices"]) == {"team-forecasting", "team-nlp", "team-vision"}
