"""Small helpers shared by every component that declares Kubernetes objects."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from . import PROJECT

MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": PROJECT}


def labels(component: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The platform's standard labels for an object of `component`, plus extras."""
    return {**MANAGED_BY, "app.kubernetes.io/component": component, **(extra or {})}


def meta(
    name: str,
    namespace: str | None = None,
    *,
    component: str,
    extra_labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> k8s.meta.v1.ObjectMetaArgs:
    """ObjectMeta with an explicit, stable name (never auto-named) and the standard labels."""
    return k8s.meta.v1.ObjectMetaArgs(
        name=name,
        namespace=namespace,
        labels=labels(component, extra_labels),
        annotations=dict(annotations) if annotations else None,
    )


def child(
    parent: pulumi.Resource,
    *,
    depends_on: Sequence[pulumi.Resource] | None = None,
    protect: bool = False,
    retain_on_delete: bool = False,
    ignore_changes: Sequence[str] | None = None,
    provider: pulumi.ProviderResource | None = None,
) -> pulumi.ResourceOptions:
    """Options for a component's child: always `parent=`, the rest only when asked for."""
    return pulumi.ResourceOptions(
        parent=parent,
        depends_on=list(depends_on) if depends_on else None,
        protect=protect or None,
        retain_on_delete=retain_on_delete or None,
        ignore_changes=list(ignore_changes) if ignore_changes else None,
        provider=provider,
    )


def custom_resource(
    resource_name: str,
    *,
    api_version: str,
    kind: str,
    metadata: k8s.meta.v1.ObjectMetaArgs,
    spec: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """A CustomResource whose spec is plain data (render it from a pydantic model first)."""
    return k8s.apiextensions.CustomResource(
        resource_name, api_version=api_version, kind=kind, metadata=metadata, spec=dict(spec), opts=opts
    )
