"""The CrossGuard pack over the offline render: compliant as committed, and it catches regressions."""
from __future__ import annotations

import copy

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from kfguard import checks
from kfguard.pack import POLICIES

SHA = "sha256:" + "ab" * 32


def _opts(resource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect, ignore_changes=resource.ignore_changes, delete_before_replace=None, aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[], parent=resource.parent,
    )


def violations(result, config=None) -> list[tuple[str, str]]:
    """Run every policy of the pack as the engine would, over a RenderResult's custom resources."""
    found = []
    custom = [r for r in result.resources if r.custom]
    for policy in POLICIES:
        def report(message, urn=None, name=policy.name):
            found.append((name, message, urn or ""))

        if isinstance(policy, ResourceValidationPolicy):
            for r in custom:
                args = ResourceValidationArgs(r.type, r.inputs, r.urn, r.name, _opts(r), None, config or {})
                for validate in policy.validate if isinstance(policy.validate, list) else [policy.validate]:
                    validate(args, report)
        elif isinstance(policy, StackValidationPolicy):
            resources = [PolicyResource(r.type, r.inputs, r.urn, r.name, _opts(r), None, None, [], {}) for r in custom]
            policy.validate(StackValidationArgs(resources, config or {}), report)
    return found


# Known, documented gaps (docs/gpus.md and docs/data-tier.md, "digests"): images whose upstream
# digest could not be verified here carry an all-zero placeholder, which the pack refuses, so
# `pulumi preview --policy-pack policy` fails until the mirror's real digests are pinned. Remove an
# entry when its digest is real. (resource name, property path)
KNOWN_PLACEHOLDER_DIGESTS = {
    ("gpu-operator-release", "values.node-feature-discovery.image"),
    ("gpu-operator-release", "values.nodeStatusExporter"),
    ("gpu-operator-release", "values.operator"),
    ("gpu-operator-release", "values.validator"),
    ("minio-operator", "values.operator.image"),
    ("mariadb-operator", "values.image"),
    ("mariadb-operator", "values.webhook.image"),
    ("mariadb-operator", "values.certController.image"),
    ("galera", "spec.galera.agent.image"),
    ("galera", "spec.galera.initContainer.image"),
    ("galera", "spec.metrics.exporter.image"),
    ("proxysql", "spec.template.spec.containers[0].image"),
    # The Model Registry server, rewritten by the team's Application (kfplatform/modelregistry/install.py).
    ("team-nlp-model-registry", "spec.source.kustomize.images[0]"),
}


def test_the_committed_stacks_pass_every_policy_but_the_known_placeholder_digests(each_stack):
    found = violations(each_stack)
    placeholders = {(urn.rsplit("::", 1)[1], m.split(":")[0]) for p, m, urn in found if "placeholder digest" in m}
    assert placeholders == KNOWN_PLACEHOLDER_DIGESTS
    assert [v[:2] for v in found if "placeholder digest" not in v[1]] == []


def test_unprotected_stateful_resource_fails_on_prod_only(prod, sandbox):
    tampered = copy.deepcopy(prod)
    namespace = next(r for r in tampered.resources if r.name == "team-vision-namespace")
    namespace.protect = False
    assert [v[:2] for v in violations(tampered) if "placeholder digest" not in v[1]] == [
        ("stateful-resources-protected", "a tenant namespace (team-vision) must be protected against deletion (protect=True)")
    ]
    # The sandbox is torn down on purpose after each restore drill: not a protected stack by default.
    assert not any(r.protect for r in sandbox.resources if r.name.endswith("-namespace"))
    assert not any(v[0] == "stateful-resources-protected" for v in violations(sandbox))


def test_every_stateful_resource_of_the_data_tier_is_guarded(prod):
    """Each resource the data tier protects in prod (tests/data/test_safety.py), and ESO's release (its
    CRDs own every delivered Secret), fails the pack once unprotected."""
    from tests.data.test_safety import STATEFUL

    for type_, name in [*STATEFUL, ("kubernetes:helm.sh/v3:Release", "eso-release")]:
        tampered = copy.deepcopy(prod)
        (resource,) = [r for r in tampered.resources if r.type == type_ and r.name == name]
        resource.protect = False
        found = [v for v in violations(tampered) if v[0] == "stateful-resources-protected"]
        assert len(found) == 1 and found[0][2] == resource.urn, (type_, name, found)


def test_removing_a_tenants_default_deny_fails_the_stack_policy(prod):
    tampered = copy.deepcopy(prod)
    tampered.resources = [r for r in tampered.resources if r.name != "team-nlp-default-deny"]
    assert [v[:2] for v in violations(tampered) if "placeholder digest" not in v[1]] == [("tenant-default-deny", "tenant namespace team-nlp has no default-deny NetworkPolicy")]


@pytest.mark.parametrize(
    "image, ok",
    [
        (f"registry.example.com/mirror/app:1.2@{SHA}", True),
        ("registry.example.com/mirror/app:1.2", False),
        ({"repository": "mirror/app", "tag": "1.2", "digest": SHA}, True),
        ({"repository": "mirror/app", "tag": "1.2"}, False),
        ({"repository": "mirror/app", "version": SHA}, True),
        ({"repository": "mirror", "image": "app", "version": f"v1@{SHA}"}, True),
        ({"repository": "mirror", "image": "app", "version": "v1"}, False),
        (f"registry.example.com/mirror/app:1.2@sha256:{'0' * 64}", False),
    ],
)
def test_image_pinning(image, ok):
    props = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"image": image}]}}}}
    assert (checks.unpinned_images("kubernetes:apps/v1:Deployment", props) == []) is ok


def test_helm_values_images_are_checked_too():
    values = {"values": {"controller": {"image": {"repository": "mirror/x", "tag": "v1"}}}}
    (problem,) = checks.unpinned_images("kubernetes:helm.sh/v3:Release", values)
    assert problem.startswith("values.controller.image:")


def test_literal_secret_data_and_internet_egress_are_refused():
    secret = {"kind": "Secret", "metadata": {"name": "db", "namespace": "kubeflow"}, "stringData": {"password": "x"}}
    assert checks.literal_secret_data("kubernetes:core/v1:Secret", secret) == [
        "Secret kubeflow/db has literal `stringData`; keep the value in Vault and deliver it with an ExternalSecret"
    ]
    policy = {"metadata": {"name": "p", "namespace": "t"}, "spec": {"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}}
    assert checks.internet_egress("kubernetes:networking.k8s.io/v1:NetworkPolicy", policy) == [
        "NetworkPolicy t/p opens egress to 0.0.0.0/0"
    ]
