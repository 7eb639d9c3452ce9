"""Compliance: the signed-artifact admission policies where the stack asks for them."""
from __future__ import annotations

from typing import Iterator, Sequence

from .. import walk as w
from .common import *  # noqa: F403 - the shared constants, Finding, Res
from .common import _objects

SIGSTORE_INCLUDE = "policy.sigstore.dev/include"


def missing_signed_artifact_policy(resources: Sequence[Res], required: bool) -> Iterator[tuple[Res | None, Finding]]:
    """Regulated namespaces (or a stack that asks) need the admission policies for signed artifacts."""
    # A namespace whose name is unknown during preview is skipped, never "None" (and never a
    # StopIteration looking it up again): the known ones are still checked.
    regulated_ns = sorted(
        (r for r in _objects(resources, "kubernetes:core/v1:Namespace")
         if isinstance(w.dig(r.props, "metadata", "name"), str)
         and w.get(w.labels_of(r.props), COMPLIANCE_LABEL) == "regulated"),
        key=lambda r: w.dig(r.props, "metadata", "name"),
    )
    regulated = [w.dig(r.props, "metadata", "name") for r in regulated_ns]
    if not regulated and not required:
        return
    why = f"namespaces {', '.join(regulated)} are regulated" if regulated else "the stack requires signed images"
    if regulated:
        for namespace in regulated_ns:
            if w.get(w.labels_of(namespace.props), SIGSTORE_INCLUDE) != "true":
                ns = w.dig(namespace.props, "metadata", "name")
                yield namespace, Finding(
                    f"regulated namespace {ns} lacks label {SIGSTORE_INCLUDE}=true: policy-controller would not check its images",
                    "the compliance component labels regulated tenant namespaces; do not remove the label")
        vaps = [r for r in _objects(resources, VAP_TYPE) if w.dig(r.props, "metadata", "name") == REGULATED_POLICY]
        bindings = [r for r in _objects(resources, VAP_BINDING_TYPE) if w.dig(r.props, "spec", "policyName") == REGULATED_POLICY]
        if not vaps:
            yield None, Finding(f"{why} but ValidatingAdmissionPolicy {REGULATED_POLICY} is not rendered",
                                "the compliance component renders it for regulated tenants (docs/compliance.md)")
        elif w.dig(vaps[0].props, "spec", "failurePolicy", default="Fail") != "Fail":
            yield vaps[0], Finding(f"{REGULATED_POLICY} has failurePolicy "
                                   f"{w.dig(vaps[0].props, 'spec', 'failurePolicy')}: a failing check would admit the object",
                                   "keep failurePolicy: Fail")
        denying = [
            b for b in bindings
            if "Deny" in [a for a in w.each(w.dig(b.props, "spec", "validationActions"))]
            and w.plain(w.dig(b.props, "spec", "matchResources", "namespaceSelector", "matchLabels"))
            == {COMPLIANCE_LABEL: "regulated"}
        ]
        if not denying:
            yield None, Finding(f"{why} but no ValidatingAdmissionPolicyBinding of {REGULATED_POLICY} denies "
                                f"(validationActions: [Deny]) in namespaces labelled {COMPLIANCE_LABEL}=regulated",
                                "bind the policy (validationActions: [Deny]) to the regulated namespaces")
    cips = [r for r in _objects(resources, CLUSTER_IMAGE_POLICY_TYPE) if w.dig(r.props, "metadata", "name") == SIGNED_IMAGES_POLICY]
    if not cips:
        yield None, Finding(f"{why} but Sigstore ClusterImagePolicy {SIGNED_IMAGES_POLICY} is not rendered",
                            "the compliance component renders it (policy.sigstore.dev/v1beta1)")
    elif w.dig(cips[0].props, "spec", "mode", default="enforce") != "enforce":
        yield cips[0], Finding(f"ClusterImagePolicy {SIGNED_IMAGES_POLICY} is in mode "
                               f"{w.dig(cips[0].props, 'spec', 'mode')}: unsigned images are only warned about",
                               "keep mode: enforce (the default)")
