"""Shared by the checks: constants, `Finding`, `Res`, Argo CD patches, pod templates, lookups."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from .. import walk as w

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
DIGEST_SUFFIX = re.compile(r"@(sha256:[0-9a-f]{64})$")
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
TENANT_LABEL = "kfplatform.io/tenant"
HA_TARGET_LABEL = "kfplatform.io/ha-target"
COMPLIANCE_LABEL = "kfplatform.io/compliance"
REGULATED_POLICY = "kfplatform-regulated-inference"
SIGNED_IMAGES_POLICY = "kfplatform-signed-images"
CLUSTER_IMAGE_POLICY_TYPE = "kubernetes:policy.sigstore.dev/v1beta1:ClusterImagePolicy"
VAP_TYPE = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
VAP_BINDING_TYPE = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
RANDOM_PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"
ROTATING_TYPE = "time:index/rotating:Rotating"


@dataclass(frozen=True)
class Finding:
    message: str
    hint: str


@dataclass(frozen=True)
class Res:
    """What a stack check reads of one resource (a PolicyResource's fields, engine or plain)."""
    type: str
    props: Any
    urn: str
    name: str
    protect: bool = False
    dependencies: tuple[str, ...] = ()



@functools.lru_cache(maxsize=4096)
def _patch_documents(text: str) -> tuple[Any, ...]:
    """The YAML documents of a patch (cached: three policies read every Argo CD patch)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return tuple(doc for doc in yaml.load_all(text, Loader=loader) if doc is not None)
    except yaml.YAMLError:
        return ()


ARGO_APPLICATION_TYPES = ("kubernetes:argoproj.io/v1alpha1:Application", "kubernetes:argoproj.io/v1alpha1:ApplicationSet")


def argo_patches(props: Any) -> Iterator[tuple[str, Any]]:
    """Argo CD Application kustomize patches, parsed: (path, document)."""
    sources = []
    for base, spec in (("spec", w.get(props, "spec")), ("spec.template.spec", w.dig(props, "spec", "template", "spec"))):
        # An Application's spec, or an ApplicationSet's Application template.
        sources.append((f"{base}.source", w.get(spec, "source")))
        sources += [(f"{base}.sources[{i}]", s) for i, s in w.elements(w.get(spec, "sources"))]
    for where, source in sources:
        for index, patch in w.elements(w.dig(source, "kustomize", "patches")):
            text = w.get(patch, "patch")
            if isinstance(text, str):
                for number, doc in enumerate(_patch_documents(text)):
                    yield f"{where}.kustomize.patches[{index}].patch#{number}", doc


POD_TEMPLATE_PATHS = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}
def pod_spec(resource_type: str, props: Any) -> Any:
    path = POD_TEMPLATE_PATHS.get(resource_type)
    return w.dig(props, *path) if path else None


def _objects(resources: Sequence[Res], kind_type: str) -> list[Res]:
    return [r for r in resources if r.type == kind_type]


def _namespace(r: Res) -> Any:
    return w.dig(r.props, "metadata", "namespace")
