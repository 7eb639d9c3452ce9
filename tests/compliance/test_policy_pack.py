"""The pack's `regulated-namespaces-enforced` stack policy: passes on the committed stacks, fails
when a merge request drops one of the pieces a regulated namespace relies on."""
from __future__ import annotations

import copy

import pytest

from kfguard.checks import regulated_namespaces_unenforced
from tests.policy.test_guardrails import violations


def test_the_committed_stacks_pass(each_stack):
    assert [v for v in violations(each_stack) if v[0] == "regulated-namespaces-enforced"] == []


def _mutate(objects, kind, name, change):
    objects = copy.deepcopy(objects)
    for o in objects:
        if o.get("kind") == kind and o["metadata"]["name"] == name:
            change(o)
    return objects


@pytest.mark.parametrize("kind, name, change, fragment", [
    ("Namespace", "team-forecasting", lambda o: o["metadata"]["labels"].pop("policy.sigstore.dev/include"), "lacks label"),
    ("ValidatingAdmissionPolicyBinding", "kfplatform-regulated-inference",
     lambda o: o["spec"].update(validationActions=["Audit"]), "no ValidatingAdmissionPolicyBinding denies"),
    ("ValidatingAdmissionPolicyBinding", "kfplatform-regulated-inference",
     lambda o: o["spec"]["matchResources"].update(namespaceSelector={"matchLabels": {"kfplatform.io/tenant": "x"}}), "denies"),
    ("ValidatingAdmissionPolicy", "kfplatform-regulated-inference", lambda o: o["spec"].update(failurePolicy="Ignore"), "denies"),
    ("ClusterImagePolicy", "kfplatform-signed-images", lambda o: o["spec"].update(mode="warn"), "no enforcing ClusterImagePolicy"),
])
def test_dropping_a_piece_fails(prod, kind, name, change, fragment):
    objects = prod.kubernetes_objects()
    assert regulated_namespaces_unenforced(objects) == []
    problems = regulated_namespaces_unenforced(_mutate(objects, kind, name, change))
    assert any(fragment in p for p in problems), problems


def test_no_regulated_namespace_no_requirement(prod):
    objects = [o for o in prod.kubernetes_objects() if o.get("kind") not in ("ClusterImagePolicy", "ValidatingAdmissionPolicyBinding")]
    objects = _mutate(objects, "Namespace", "team-forecasting", lambda o: o["metadata"]["labels"].update({"kfplatform.io/compliance": "standard"}))
    assert regulated_namespaces_unenforced(objects) == []
