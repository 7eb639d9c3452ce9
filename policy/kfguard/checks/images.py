"""Images: pinned by digest, from the internal mirror, verified; anywhere an image can appear."""
from __future__ import annotations

from typing import Any, Iterator, Sequence

from .. import walk as w
from .common import *  # noqa: F403 - the shared constants, Finding, Res


def _split_image_map(value: Any) -> str | None:
    """A Helm/CR image written as a map: `{repository, image, tag|version|digest}`, `{registry, repository, tag, sha|digest}`."""
    image = w.get(value, "image")
    name = image if isinstance(image, str) else w.get(value, "name")
    parts = [p for p in (w.get(value, "registry"), w.get(value, "repository"), name) if isinstance(p, str) and p]
    if not parts:
        return None
    ref = "/".join(parts)
    version = w.get(value, "tag") or w.get(value, "version")
    if isinstance(version, str) and version:
        ref += f"@{version}" if DIGEST.fullmatch(version) else f":{version}"
    digest = w.get(value, "digest") or w.get(value, "sha")
    if isinstance(digest, str) and digest and "@" not in ref:
        # `sha` is the bare hex in kube-prometheus-stack (`@sha256:{{ .sha }}`) and carries the
        # prefix in kube-state-metrics (`@{{ .sha }}`); `digest` carries it (node-exporter, Loki, Alloy).
        ref += f"@{digest}" if digest.startswith("sha256:") else f"@sha256:{digest}"
    return ref


def image_references(resource_type: str, props: Any) -> Iterator[tuple[str, str]]:
    """(path, image reference) for every image a Kubernetes resource declares.

    Pod specs and CR specs (`image: <ref>`), Helm values split over `repository`/`image`/`tag`/
    `version`/`digest`, Argo CD Applications' kustomize `images` overrides and their inline patches.
    """
    if not resource_type.startswith("kubernetes:"):
        return
    yield from _images_in(props, "")
    if resource_type in ARGO_APPLICATION_TYPES:
        for path, doc in argo_patches(props):
            yield from _images_in(doc, path)
        for path, value in w.walk(w.get(props, "spec"), "spec"):
            if path.endswith(".kustomize.images") and w.is_seq(value):
                for index, entry in w.elements(value):
                    if isinstance(entry, str):
                        yield f"{path}[{index}]", entry.split("=", 1)[-1]


def _images_in(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if w.is_map(value):
        env_name, env_value = w.get(value, "name"), w.get(value, "value")
        if isinstance(env_name, str) and env_name.endswith("_IMAGE") and isinstance(env_value, str):
            # An operator told which image to inject by env (e.g. MinIO's OPERATOR_SIDECAR_IMAGE).
            yield f"{path}.value", env_value
            return
        inner = w.get(value, "image")
        if isinstance(inner, str) and any(w.has(value, k) for k in ("repository", "version", "tag", "digest")):
            ref = _split_image_map(value)  # {repository, image: <name>, version}: one image
            if ref:
                yield (path or "(root)"), ref
            return
        for key, item in w.items(value):
            here = f"{path}.{key}" if path else str(key)
            if key == "image" and isinstance(item, str):
                yield here, item
            elif str(key).endswith("Image") and isinstance(item, str) and ("/" in item or "@" in item):
                yield here, item  # e.g. KFP's `baseImage` in the tenant defaults ConfigMap
            elif key == "image" and w.is_map(item) and (w.get(item, "repository") or w.get(item, "name")):
                ref = _split_image_map(item)
                if ref:
                    yield here, ref
            else:
                yield from _images_in(item, here)
    elif w.is_seq(value):
        for index, item in w.elements(value):
            yield from _images_in(item, f"{path}[{index}]")


def image_problems(ref: str, registries: Sequence[str]) -> list[Finding]:
    found = []
    digest = DIGEST_SUFFIX.search(ref)
    name_part = ref[: digest.start()] if digest else ref
    tag = name_part.rsplit(":", 1)[1] if ":" in name_part.rsplit("/", 1)[-1] else ""
    if not digest:
        found.append(Finding(
            f"image {ref!r} is not pinned by digest",
            "mirror the image and pin it as <mirror>/<path>:<tag>@sha256:<digest> (kfplatform/images.py)",
        ))
    elif digest.group(1) == PLACEHOLDER_DIGEST:
        found.append(Finding(
            f"image {ref!r} has a placeholder digest",
            "resolve the real digest of the mirrored image (`crane digest <ref>`) and pin it where the image "
            "is declared (docs/supply-chain.md#updating-a-digest)",
        ))
    if tag == "latest":
        found.append(Finding(f"image {ref!r} uses the `latest` tag", "name the release tag the digest belongs to"))
    if registries and not any(ref.startswith(r.rstrip("/") + "/") for r in registries):
        found.append(Finding(
            f"image {ref!r} is not pulled from the internal registry ({', '.join(registries)})",
            "reference the mirrored copy (`Image.ref(stack images.mirror)`), never a public registry",
        ))
    return found


def unverified_digests(resource_type: str, props: Any, unverified: Sequence[str]) -> list[Finding]:
    """Images whose digest is real but not verified (kfplatform/images.py table, `source` empty):
    `unverified` lists them as `<path>:<tag>@<digest>` (policy config, kept equal to the table)."""
    if not unverified:
        return []
    return [
        Finding(
            f"{path}: image {ref!r} has a digest nobody verified against its registry",
            "check it (`crane digest` of the upstream and of the mirror) and record where in its "
            "images.pin(..., source=...) (docs/supply-chain.md#updating-a-digest)",
        )
        for path, ref in image_references(resource_type, props)
        if any(ref.endswith("/" + entry) for entry in unverified)
    ]


def unpinned_images(resource_type: str, props: Any, registries: Sequence[str] = ()) -> list[Finding]:
    return [
        Finding(f"{path}: {f.message}", f.hint)
        for path, ref in image_references(resource_type, props)
        for f in image_problems(ref, registries)
    ]
