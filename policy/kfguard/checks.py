"""Pure checks over a resource as the engine sends it: type token, camelCase inputs, options.

Each returns a list of human-readable violations (empty: compliant), so the same logic serves
the CrossGuard pack and the unit tests that run it over the offline render.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

DIGEST_REF = re.compile(r"@sha256:[0-9a-f]{64}$")
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
TENANT_LABEL = "kfplatform.io/tenant"

# Resources whose deletion loses data: protected on protected stacks (prod).
STATEFUL_TYPES = {
    "kubernetes:k8s.mariadb.com/v1alpha1:MariaDB": "the Galera cluster",
    "kubernetes:minio.min.io/v2:Tenant": "the MinIO tenant",
    "minio:index/s3Bucket:S3Bucket": "an object-store bucket",
    "vault:index/mount:Mount": "a Vault mount",
    # A Database object's schema (cleanupPolicy Skip keeps it, but only while the object says so).
    "kubernetes:k8s.mariadb.com/v1alpha1:Database": "a Galera database",
}
# Helm charts whose uninstall deletes data: removing mariadb-operator's CRDs deletes every MariaDB,
# Database and User object, and with them the StatefulSets; the MinIO operator chart (`operator`)
# renders the Tenant CRD from its templates, so the same holds for the Tenant.
STATEFUL_CHARTS = {
    "mariadb-operator-crds": "mariadb-operator's CRDs",
    "operator": "the MinIO operator (its release holds the Tenant CRD)",
    "external-secrets": "External Secrets Operator (its CRDs own every delivered Secret)",
}


def _walk_images(value: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    """Every `image` field anywhere in a resource's inputs (pod specs, CR specs, Helm values)."""
    if isinstance(value, Mapping):
        if isinstance(value.get("image"), str) and {"repository", "version", "tag", "digest"} & set(value):
            # Charts that split a reference: {repository, image: <name>, version: <tag or digest>}.
            yield path or "(root)", value
            return
        for key, item in value.items():
            here = f"{path}.{key}" if path else key
            if key == "image" and isinstance(item, (str, Mapping)):
                yield here, item
            else:
                yield from _walk_images(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_images(item, f"{path}[{index}]")


def _pinned(image: Any) -> bool:
    if isinstance(image, str):
        return bool(DIGEST_REF.search(image))
    digest = image.get("digest") or ""
    tag = str(image.get("tag") or image.get("version") or "")
    return bool(re.fullmatch(r"sha256:[0-9a-f]{64}", digest) or re.search(r"sha256:[0-9a-f]{64}$", tag))


def unpinned_images(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Every image reference must carry a real sha256 digest: a tag can be moved, a digest cannot."""
    if not resource_type.startswith("kubernetes:"):
        return []
    problems = []
    for path, image in _walk_images(props):
        if isinstance(image, Mapping) and not (image.get("repository") or image.get("name") or image.get("image")):
            continue  # only pull settings; the reference is elsewhere
        if not _pinned(image):
            problems.append(f"{path}: image {_show(image)} is not pinned by digest (use repo:tag@sha256:...)")
        elif PLACEHOLDER_DIGEST in str(image):
            problems.append(f"{path}: image {_show(image)} has a placeholder digest; mirror the image and pin its real digest")
    # Argo CD Applications rewrite upstream images with `kustomize.images`: `name=newName:tag@digest`.
    source = (props.get("spec") or {}).get("source") if isinstance(props.get("spec"), Mapping) else None
    kustomize = source.get("kustomize") if isinstance(source, Mapping) else None
    for index, entry in enumerate((kustomize.get("images") or []) if isinstance(kustomize, Mapping) else []):
        ref = str(entry).split("=", 1)[-1]
        where = f"spec.source.kustomize.images[{index}]"
        if not DIGEST_REF.search(ref):
            problems.append(f"{where}: image {ref!r} is not pinned by digest (use name=repo:tag@sha256:...)")
        elif PLACEHOLDER_DIGEST in ref:
            problems.append(f"{where}: image {ref!r} has a placeholder digest; mirror the image and pin its real digest")
    return problems


def _show(image: Any) -> str:
    if isinstance(image, Mapping):
        parts = [image.get("repository"), image.get("image") or image.get("name")]
        ref = "/".join(str(p) for p in parts if p)
        version = image.get("digest") or image.get("tag") or image.get("version")
        return repr(f"{ref}:{version}" if version else ref)
    return repr(image)


def literal_secret_data(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No Kubernetes Secret carries data in the program: values live in Vault and arrive via ESO."""
    if resource_type != "kubernetes:core/v1:Secret":
        return []
    found = [key for key in ("data", "stringData") if props.get(key)]
    return [f"Secret {_name(props)} has literal `{key}`; keep the value in Vault and deliver it with an ExternalSecret" for key in found]


def unprotected_stateful(resource_type: str, props: Mapping[str, Any], protect: bool) -> list[str]:
    what = STATEFUL_TYPES.get(resource_type)
    if what is None and resource_type == "kubernetes:core/v1:Namespace":
        if TENANT_LABEL in ((props.get("metadata") or {}).get("labels") or {}):
            what = "a tenant namespace"
    if what is None and resource_type == "kubernetes:storage.k8s.io/v1:StorageClass" and props.get("reclaimPolicy") == "Retain":
        # Its reclaim policy is immutable: protection keeps a replacement from switching it to Delete.
        what = "a Retain storage class"
    if what is None and resource_type == "kubernetes:helm.sh/v3:Release":
        what = STATEFUL_CHARTS.get(props.get("chart") or "")
    if what and not protect:
        return [f"{what} ({_name(props) or resource_type}) must be protected against deletion (protect=True)"]
    return []


def internet_egress(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A NetworkPolicy never opens 0.0.0.0/0 or ::/0: name the proxy or service instead."""
    if resource_type != "kubernetes:networking.k8s.io/v1:NetworkPolicy":
        return []
    problems = []
    for direction, peers_key in (("egress", "to"), ("ingress", "from")):
        for rule in (props.get("spec") or {}).get(direction) or []:
            for peer in rule.get(peers_key) or []:
                cidr = (peer.get("ipBlock") or {}).get("cidr")
                if cidr and cidr.endswith("/0"):
                    problems.append(f"NetworkPolicy {_name(props)} opens {direction} to {cidr}")
    return problems


def auto_named(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Kubernetes objects carry an explicit metadata.name: auto-naming adds random suffixes."""
    if not resource_type.startswith("kubernetes:") or "kind" not in props or resource_type.startswith("kubernetes:helm.sh/"):
        return []
    if not (props.get("metadata") or {}).get("name"):
        return [f"{props.get('kind')} has no explicit metadata.name"]
    return []


def tenants_without_default_deny(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """Stack check: each tenant namespace has a NetworkPolicy denying all ingress and egress."""
    objects = list(objects)
    tenants = {
        o["metadata"]["name"]
        for o in objects
        if o.get("kind") == "Namespace" and TENANT_LABEL in ((o.get("metadata") or {}).get("labels") or {})
    }
    covered = set()
    for o in objects:
        if o.get("kind") != "NetworkPolicy":
            continue
        spec = o.get("spec") or {}
        if (
            not (spec.get("podSelector") or {}).get("matchLabels")
            and not (spec.get("podSelector") or {}).get("matchExpressions")
            and set(spec.get("policyTypes") or []) == {"Ingress", "Egress"}
            and not spec.get("ingress")
            and not spec.get("egress")
        ):
            covered.add(o["metadata"].get("namespace"))
    return [f"tenant namespace {ns} has no default-deny NetworkPolicy" for ns in sorted(tenants - covered)]


def _name(props: Mapping[str, Any]) -> str:
    meta = props.get("metadata") or {}
    return "/".join(p for p in (meta.get("namespace"), meta.get("name")) if p)
