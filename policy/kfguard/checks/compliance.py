"""Compliance: the signed-artifact admission policies where the stack asks for them."""
from __future__ import annotations

from typing import Iterator, Sequence

from .. import walk as w
from .common import *  # noqa: F403 - the shared constants, Finding, Res
from .common import _objects


def missing_signed_artifact_policy(resources: Sequence[Res], required: bool) -> Iterator[tuple[Res | None, Finding]]:
    """Regulated namespaces (or a stack that asks) need the admission policies for signed artifacts."""
    regulated = sorted(
        str(w.dig(r.props, "metadata", "name"))
        for r in _objects(resources, "kubernetes:core/v1:Namespace")
        if w.get(w.labels_of(r.props), COMPLIANCE_LABEL) == "regulated"
    )
    if not regulated and not required:
        return
    why = f"namespaces {', '.join(regulated)} are regulated" if regulated else "the stack requires signed images"
    if regulated:
        vaps = [r for r in _objects(resources, VAP_TYPE) if w.dig(r.props, "metadata", "name") == REGULATED_POLICY]
        bindings = [r for r in _objects(resources, VAP_BINDING_TYPE) if w.dig(r.props, "spec", "policyName") == REGULATED_POLICY]
        if not vaps:
            yield None, Finding(f"{why} but ValidatingAdmissionPolicy {REGULATED_POLICY} is not rendered",
                                "the compliance component renders it for regulated tenants (docs/compliance.md)")
        if not bindings:
            yield None, Finding(f"{why} but no ValidatingAdmissionPolicyBinding binds {REGULATED_POLICY}",
                                "bind the policy (validationActions: [Deny]) to the regulated namespaces")
    cips = [r for r in _objects(resources, CLUSTER_IMAGE_POLICY_TYPE) if w.dig(r.props, "metadata", "name") == SIGNED_IMAGES_POLICY]
    if not cips:
        yield None, Finding(f"{why} but Sigstore ClusterImagePolicy {SIGNED_IMAGES_POLICY} is not rendered",
                            "the compliance component renders it (policy.sigstore.dev/v1beta1)")
