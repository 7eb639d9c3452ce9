"""Digest-pinned images from the internal mirror.

Each area pins its images next to the chart they ship with (kfplatform/data/releases.py,
kfplatform/gpu/operator.py, kfplatform/secrets/eso.py, ...) as `Image(path, tag, digest)`; the
stack's `images.mirror` prefix points at the internal registry that mirrors them byte for byte (a
digest is the same in the mirror as upstream). A tag is informative; the digest is what runs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


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


def is_digest_pinned(ref: str) -> bool:
    """True for `repo@sha256:<64 hex>` (with or without a tag)."""
    return bool(re.search(r"@sha256:[0-9a-f]{64}$", ref))
