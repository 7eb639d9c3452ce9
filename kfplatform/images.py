"""Digest-pinned images from the internal mirror, and the one table of every component's images.

Each area pins its images next to the chart they ship with (kfplatform/data/releases.py,
kfplatform/gpu/operator.py, kfplatform/secrets/eso.py, ...) with ONE call per image:

    OPERATOR = images.pin("gpu-operator", "nvcr.io", "nvidia/gpu-operator", "v26.7.0", DIGEST, source="...")

which returns the `Image` the component uses and records it in the table (`table()`): component,
upstream registry, path, tag, digest and where the digest was verified. The stack's
`images.mirror` prefix points at the internal registry that mirrors them byte for byte (a digest
is the same in the mirror as upstream). A tag is informative; the digest is what runs.

A digest is VERIFIED only with a `source` (the upstream release artefact that lists it, or two
independent public records of it); otherwise it is unverified, and an unknown digest is the
all-zero PLACEHOLDER_DIGEST, which no registry serves and the policy pack refuses. The render
summary lists every unverified entry (docs/supply-chain.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64


@dataclass(frozen=True)
class Image:
    path: str  # upstream path without registry host, e.g. "mariadb-operator/mariadb-operator"
    tag: str
    digest: str

    def __post_init__(self) -> None:
        if not DIGEST.fullmatch(self.digest):
            raise ValueError(f"image {self.path}:{self.tag}: {self.digest!r} is not a sha256 digest")

    def repository(self, mirror: str) -> str:
        return f"{mirror}/{self.path}"

    def ref(self, mirror: str) -> str:
        """`mirror/path:tag@sha256:...`: the tag for people, the digest for the kubelet."""
        return f"{self.repository(mirror)}:{self.tag}@{self.digest}"

    @property
    def is_placeholder(self) -> bool:
        return self.digest == PLACEHOLDER_DIGEST


@dataclass(frozen=True)
class ComponentImage:
    """A row of the image table."""
    component: str  # who deploys it, e.g. "gpu-operator", "data-tier"
    upstream: str  # the upstream registry host the mirror copies from, e.g. "nvcr.io"
    image: Image
    source: str = ""  # where the digest was verified; "" when it was not

    @property
    def verified(self) -> bool:
        return bool(self.source) and not self.image.is_placeholder

    @property
    def upstream_ref(self) -> str:
        return f"{self.upstream}/{self.image.path}:{self.image.tag}"


_TABLE: dict[tuple[str, str], ComponentImage] = {}


def pin(component: str, upstream: str, path: str, tag: str, digest: str, source: str = "") -> Image:
    """Declare one image of `component` (one call per image); returns the `Image` to deploy.

    Declaring the same (component, path) twice with different values is an error: two pins of one
    image would drift apart.
    """
    entry = ComponentImage(component, upstream, Image(path, tag, digest), source)
    key = (component, path)
    if key in _TABLE and _TABLE[key] != entry:
        raise ValueError(f"image {path} of {component} is pinned twice: {_TABLE[key]} vs {entry}")
    _TABLE[key] = entry
    return entry.image


def table() -> list[ComponentImage]:
    """Every pinned component image (import the areas first: `load_all()`), sorted."""
    load_all()
    return sorted(_TABLE.values(), key=lambda e: (e.component, e.image.path))


def unverified() -> list[ComponentImage]:
    return [e for e in table() if not e.verified]


# The modules that pin images; an area that adds images adds its module here.
PINNING_MODULES = (
    "kfplatform.data.releases", "kfplatform.gpu.operator", "kfplatform.secrets.eso",
    "kfplatform.compliance.releases", "kfplatform.backup.releases", "kfplatform.observability.stack",
    "kfplatform.modelregistry.install",
)


def load_all() -> None:
    import importlib

    for module in PINNING_MODULES:
        importlib.import_module(module)


def is_digest_pinned(ref: str) -> bool:
    """True for `repo@sha256:<64 hex>` (with or without a tag)."""
    return bool(re.search(r"@sha256:[0-9a-f]{64}$", ref))
