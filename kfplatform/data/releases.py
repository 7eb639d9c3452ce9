"""Pinned upstream releases of the data tier: Helm charts by version, images by digest.

A digest is either VERIFIED (its source is named) or the all-zero PLACEHOLDER. A placeholder is
never a guess dressed up as a real digest: a pod that uses it fails to pull, loudly, until whoever
mirrors the image writes the real digest here (`crane digest <upstream ref>`, or the mirror's
`skopeo inspect`), and every render and `pulumi up` warns about each one still in use.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .. import images
from ..images import PLACEHOLDER_DIGEST, Image

COMPONENT = "data-tier"
_warned: set[str] = set()


@dataclass(frozen=True)
class Chart:
    name: str
    version: str
    repo: str


@dataclass(frozen=True)
class PinnedImage:
    image: Image
    upstream_registry: str
    source: str  # where the digest was checked; "" for a placeholder

    @property
    def verified(self) -> bool:
        return self.image.digest != PLACEHOLDER_DIGEST

    def ref(self, mirror: str) -> str:
        if not self.verified and self.image.path not in _warned:
            _warned.add(self.image.path)
            pulumi.log.warn(
                f"image {self.upstream_registry}/{self.image.path}:{self.image.tag} has no verified digest yet "
                "(the image table, docs/supply-chain.md); pods using it will not start until it is pinned"
            )
        return self.image.ref(mirror)

    def tag_at_digest(self) -> str:
        """`tag@sha256:...`: for charts whose templates render `repository:tag`."""
        return f"{self.image.tag}@{self.image.digest}"


def _pinned(registry: str, path: str, tag: str, digest: str, source: str, component: str = COMPONENT) -> PinnedImage:
    """One row of the image table (kfplatform/images.py) and the area's view of it."""
    return PinnedImage(images.pin(component, registry, path, tag, digest, source), registry, source)


def _placeholder(registry: str, path: str, tag: str, component: str = COMPONENT) -> PinnedImage:
    return _pinned(registry, path, tag, PLACEHOLDER_DIGEST, "", component)


# mariadb-operator 26.6.0: the CRDs in ../shared/crds are from tag v26.6.0, the same commit as the
# mariadb-operator-crds-26.6.0 chart release (../shared/crds/SOURCES.md).
MARIADB_OPERATOR_CRDS_CHART = Chart("mariadb-operator-crds", "26.6.0", "https://helm.mariadb.com/mariadb-operator")
MARIADB_OPERATOR_CHART = Chart("mariadb-operator", "26.6.0", "https://helm.mariadb.com/mariadb-operator")
# MinIO operator 7.1.1: the last release (the CRDs in ../shared/crds are from tag v7.1.1).
MINIO_OPERATOR_CHART = Chart("operator", "7.1.1", "https://operator.min.io")

MARIADB_OPERATOR = _placeholder("ghcr.io", "mariadb-operator/mariadb-operator", "26.6.0")
# The Docker official image (the operator's default registry, docker-registry1.mariadb.com, serves
# the same library image); its digest is pinned identically by several unrelated public repositories.
MARIADB = _pinned(
    "docker.io", "library/mariadb", "11.8.5", "sha256:345fa26d595e8c7fe298e0c4098ed400356f502458769c8902229b3437d6da2b",
    "same digest pinned by several independent public repositories; re-check against the mirror",
)
MYSQLD_EXPORTER = _placeholder("docker.io", "prom/mysqld-exporter", "v0.15.1")
PROXYSQL = _placeholder("docker.io", "proxysql/proxysql", "2.7.3")
MINIO_OPERATOR = _placeholder("quay.io", "minio/operator", "v7.1.1")
MINIO_OPERATOR_SIDECAR = _placeholder("quay.io", "minio/operator-sidecar", "v7.0.1")
# MinIO community edition is source-only since Oct 2025: the last published server image, pinned
# identically by several unrelated public projects (not checked against the registry from here).
MINIO = _pinned(
    "quay.io", "minio/minio", "RELEASE.2025-04-22T22-12-26Z",
    "sha256:a1ea29fa28355559ef137d71fc570e508a214ec84ff8083e39bc5428980b015e",
    "same digest pinned by several independent public repositories; re-check against the mirror",
)

ALL_IMAGES = (MARIADB_OPERATOR, MARIADB, MYSQLD_EXPORTER, PROXYSQL, MINIO_OPERATOR, MINIO_OPERATOR_SIDECAR, MINIO)
