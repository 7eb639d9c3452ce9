"""Kustomize patches as Argo CD's `spec.source.kustomize.patches` entries.

A patch is plain data made from typed inputs, rendered to YAML text here, so the offline
render shows exactly what Argo CD will apply on top of the pinned upstream manifests.
"""
from __future__ import annotations

from typing import Any, Mapping

import pulumi
import yaml

from .. import yamltext

PRUNE_PROTECT = "argocd.argoproj.io/sync-options"
NO_PRUNE_NO_DELETE = "Prune=false,Delete=false"


def _text(body: Mapping[str, Any]) -> str:
    # The pure-Python emitter on purpose: libyaml folds long double-quoted strings elsewhere, and
    # these texts are compared byte for byte by Argo CD (a changed patch re-syncs the component).
    return yaml.safe_dump(dict(body), sort_keys=False, width=1000)


def target(kind: str, name: str | None = None, group: str | None = None, label_selector: str | None = None) -> dict:
    out: dict[str, str] = {"kind": kind}
    if group:
        out["group"] = group
    if name:
        out["name"] = name
    if label_selector:
        out["labelSelector"] = label_selector
    return out


def strategic(body: Mapping[str, Any], tgt: Mapping[str, str]) -> dict:
    """A strategic-merge patch of the objects `tgt` selects."""
    return {"patch": _text(body), "target": dict(tgt)}


def delete(
    kind: str, *, name: str | None = None, group: str = "", version: str = "v1", label_selector: str | None = None
) -> dict:
    """Drop upstream objects from the build (by name, or every object matching a label selector)."""
    api_version = f"{group}/{version}" if group else version
    body = {"$patch": "delete", "apiVersion": api_version, "kind": kind, "metadata": {"name": name or "any"}}
    return strategic(body, target(kind, name=name, group=group or None, label_selector=label_selector))


def delete_everything_labelled(label_selector: str) -> dict:
    """Drop every object (any kind) carrying the labels: bundled stores, whatever upstream calls them."""
    body = {"$patch": "delete", "apiVersion": "v1", "kind": "Any", "metadata": {"name": "any"}}
    return {"patch": _text(body), "target": {"labelSelector": label_selector}}


def annotate(kind: str, annotations: Mapping[str, str], *, group: str | None = None) -> dict:
    """Add annotations to every object of `kind` (e.g. protect CRDs or InferenceServices from pruning)."""
    body = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "any", "annotations": dict(annotations)}}
    return strategic(body, target(kind, group=group))


def configmap_data(name: str, data: Mapping[str, str]) -> dict:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": dict(data)}
    return strategic(body, target("ConfigMap", name=name))


def env_value(name: str, value: str) -> dict:
    """An env var with a literal value, replacing whatever `valueFrom` upstream had."""
    return {"name": name, "value": value, "valueFrom": None}


def env_secret(name: str, secret: str, key: str) -> dict:
    return {"name": name, "value": None, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def deployment(
    name: str,
    *,
    template_spec: Mapping[str, Any] | None = None,
    spec: Mapping[str, Any] | None = None,
    template_annotations: Mapping[str, str] | None = None,
) -> dict:
    """A patch of Deployment `name`: its spec, its pod template's spec and annotations."""
    body_spec = dict(spec or {})
    template: dict[str, Any] = {}
    if template_annotations:
        template["metadata"] = {"annotations": dict(template_annotations)}
    if template_spec:
        template["spec"] = dict(template_spec)
    if template:
        body_spec["template"] = template
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": body_spec}
    return strategic(body, target("Deployment", name=name, group="apps"))


def container(name: str, **fields: Any) -> dict:
    return {"name": name, **{k: v for k, v in fields.items() if v is not None}}


def parse(patch: Mapping[str, Any]) -> dict:
    """The patch body back as data (tests and docs read patches through this)."""
    return yamltext.load(patch["patch"])


def secrets_read(body: Mapping[str, Any]) -> set[str]:
    """Names of the Secrets a Deployment patch makes its pods read (env, envFrom, volumes)."""
    spec = (body.get("spec") or {}).get("template", {}).get("spec") or {}
    names: set[str] = set()
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for env in c.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                names.add(ref["name"])
        for env_from in c.get("envFrom") or []:
            if env_from.get("secretRef"):
                names.add(env_from["secretRef"]["name"])
    for volume in spec.get("volumes") or []:
        if volume.get("secret"):
            names.add(volume["secret"]["secretName"])
    return names


def with_template_annotations(patch: Mapping[str, Any], annotations: Mapping[str, pulumi.Input[str]]) -> dict:
    """A Deployment patch that also sets pod-template annotations whose values may be Outputs
    (e.g. a rotation marker): the patch text becomes an Output, rendered once they are known."""
    body = parse(patch)
    keys = sorted(annotations)

    def text(values: list) -> str:
        template = body.setdefault("spec", {}).setdefault("template", {})
        metadata = template.setdefault("metadata", {})
        metadata["annotations"] = {**(metadata.get("annotations") or {}), **dict(zip(keys, values))}
        if "spec" in template:  # metadata first, as `deployment` writes it
            template["spec"] = template.pop("spec")
        return _text(body)

    return {"patch": pulumi.Output.all(*[annotations[k] for k in keys]).apply(text), "target": dict(patch["target"])}
