"""Compliance configuration: each bad value fails naming the file and the key; its valid neighbour loads."""
from __future__ import annotations

import pytest

from .conftest import issue_at

PROD, SANDBOX = "Pulumi.prod.yaml", "Pulumi.sandbox.yaml"
KEY = "kubeflow-platform:compliance"
PUBLIC = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEd4Sa/dfFB8+ZpapgC9vEkADCe3x2
h9X7QwlChPTLkJey/5TqihmKHZYKVkDh/GMyWEv+AFLPIGTAFri0dztA5Q==
-----END PUBLIC KEY-----
"""
PRIVATE = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\n"


def edit(project, stack: str, path: str, value) -> None:
    def change(values):
        node = values["compliance"]
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    project.edit_stack(stack, change)


# (stack, key path under compliance, bad value, message fragment, a valid neighbour)
CASES = [
    ("prod", "defaultLevel", "strict", "'standard' or 'regulated'", "regulated"),
    ("prod", "signing.publicKey", PRIVATE, "PRIVATE key", PUBLIC),
    ("prod", "signing.publicKey", "ssh-ed25519 AAAAC3Nza", "not a PEM public key", PUBLIC),
    ("prod", "signing.publicKey", "-----BEGIN PUBLIC KEY-----\nnot*base64\n-----END PUBLIC KEY-----\n", "not a PEM public key", PUBLIC),
    ("prod", "signing.publicKey", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a DER SubjectPublicKeyInfo", PUBLIC),
    ("prod", "policyController.replicas", 1, "at least 2 policy-controller webhooks", 2),
    ("prod", "audit.retentionDays", 30, "at least 365 days", 365),
    ("prod", "audit.retentionDays", 0, "greater than or equal to 1", 3650),
    ("prod", "audit.lockMode", "GOVERNANCE", "'COMPLIANCE'", "COMPLIANCE"),
    ("prod", "audit.logPath", "/etc/kubernetes/audit.log", "under /var/log/", "/var/log/kube-apiserver/audit.log"),
    ("prod", "audit.logPath", "/var/log/../etc/shadow", "under /var/log/", "/var/log/audit/audit.log"),
    ("prod", "logIndex.endpoint", "http://opensearch:9200", "https only", "https://opensearch:9200"),
    ("prod", "logIndex.endpoint", "https://opensearch:9200/audit-team-a", "base URL", "https://opensearch:9200/"),
    ("prod", "logIndex.auditorGroup", "auditors", "exactly one `{tenant}`", "{tenant}-auditors"),
    ("prod", "logIndex.auditorGroup", "{tenant}-{tenant}", "exactly one `{tenant}`", "audit-{tenant}"),
    ("prod", "argocdNotifications.webhookUrl", "http://trail.example.com/", "https URLs only", "https://trail.example.com/"),
]


@pytest.mark.parametrize("stack, path, bad, fragment, good", CASES)
def test_bad_values_name_the_file_and_key_and_the_neighbour_loads(project, stack, path, bad, fragment, good):
    edit(project, stack, path, bad)
    issue = issue_at(project.errors(stack), PROD if stack == "prod" else SANDBOX, f"{KEY}.{path}")
    assert fragment in issue.message, issue.message
    edit(project, stack, path, good)
    project.load(stack)


def test_sandbox_may_keep_the_trail_a_week_and_run_one_webhook(project):
    config = project.load("sandbox")
    assert config.stack.compliance.audit.retention_days == 7
    assert config.stack.compliance.policy_controller.replicas == 1


def test_a_tenant_level_other_than_standard_or_regulated_names_the_tenant_file(project):
    project.edit_tenant("team-nlp", lambda t: t.update(compliance="hipaa"))
    issue = issue_at(project.errors(), "tenants/team-nlp.yaml", "compliance")
    assert "'standard' or 'regulated'" in issue.message
    project.edit_tenant("team-nlp", lambda t: t.update(compliance="standard"))
    project.load()


def test_a_regulated_tenant_needs_the_signing_key(project):
    edit(project, "prod", "signing", None)
    issue = issue_at(project.errors(), "tenants/team-forecasting.yaml", "compliance")
    assert "compliance.signing.publicKey is not set" in issue.message
    # No regulated tenant, no key needed.
    project.edit_tenant("team-forecasting", lambda t: t.pop("compliance"))
    project.load()


def test_the_stack_default_applies_to_tenants_that_say_nothing(project):
    edit(project, "prod", "defaultLevel", "regulated")
    config = project.load()
    levels = {t.name: config.stack.compliance.level_of(t.compliance).value for t in config.tenant_configs}
    assert levels == {"team-forecasting": "regulated", "team-nlp": "regulated", "team-vision": "regulated"}
    assert project.load("sandbox").stack.compliance.default_level.value == "standard"



def test_the_committed_stand_in_signing_key_is_recognised_and_a_real_one_is_not():
    """The stand-in key in both stack files warns on every render and `up` (its private half is gone:
    every regulated image would be refused); any other key is taken as the platform's."""
    import base64

    import yaml

    from kfplatform.compliance.config import stand_in_key_problem
    from tests.conftest import PROJECT_DIR

    for stack in ("prod", "sandbox"):
        config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
        committed = config["kubeflow-platform:compliance"]["signing"]["publicKey"]
        assert "stand-in" in stand_in_key_problem(committed)
    body = "".join(committed.split("-----")[2].split())
    der = bytearray(base64.b64decode(body))
    der[-1] ^= 1  # another key of the same shape
    other = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(bytes(der)).decode() + "\n-----END PUBLIC KEY-----\n"
    assert stand_in_key_problem(other) is None
