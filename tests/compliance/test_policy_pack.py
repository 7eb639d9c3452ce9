"""The pack's `signed-artifact-admission` policy on the real render, through the engine path
(tests/policy/harness.py): it passes on the committed prod stack (team-forecasting is regulated)
and fails when a merge request drops or weakens one of the pieces a regulated namespace relies on."""
from __future__ import annotations

import pytest

from tests.policy.harness import found, recorded, run

POLICY = "signed-artifact-admission"


def _mutate(resources, kind, name, change):
    for r in resources:
        inputs = r["inputs"]
        if inputs.get("kind") == kind and (inputs.get("metadata") or {}).get("name") == name:
            change(inputs)
    return resources


def test_the_committed_prod_stack_passes(prod):
    assert found(run(recorded(prod), only=POLICY), POLICY) == []


@pytest.mark.parametrize("kind, name, change, fragment", [
    ("Namespace", "team-forecasting", lambda o: o["metadata"]["labels"].pop("policy.sigstore.dev/include"), "lacks label"),
    ("ValidatingAdmissionPolicyBinding", "kfplatform-regulated-inference",
     lambda o: o["spec"].update(validationActions=["Audit"]), "denies (validationActions: [Deny])"),
    ("ValidatingAdmissionPolicyBinding", "kfplatform-regulated-inference",
     lambda o: o["spec"]["matchResources"].update(namespaceSelector={"matchLabels": {"kfplatform.io/tenant": "x"}}),
     "denies (validationActions: [Deny])"),
    ("ValidatingAdmissionPolicy", "kfplatform-regulated-inference", lambda o: o["spec"].update(failurePolicy="Ignore"),
     "failurePolicy Ignore"),
    ("ClusterImagePolicy", "kfplatform-signed-images", lambda o: o["spec"].update(mode="warn"), "in mode warn"),
])
def test_weakening_a_piece_fails(prod, kind, name, change, fragment):
    problems = found(run(_mutate(recorded(prod), kind, name, change), only=POLICY), POLICY)
    assert any(fragment in p for p in problems), problems


def test_no_regulated_namespace_no_requirement(prod):
    resources = [r for r in recorded(prod) if r["inputs"].get("kind") not in ("ClusterImagePolicy", "ValidatingAdmissionPolicyBinding")]
    resources = _mutate(resources, "Namespace", "team-forecasting",
                        lambda o: o["metadata"]["labels"].update({"kfplatform.io/compliance": "standard"}))
    assert found(run(resources, only=POLICY), POLICY) == []
