"""Pinned upstream releases of the backup box: the Velero chart by version, images by digest.

Same rule as kfplatform/data/releases.py: a digest is VERIFIED (its source named) or the all-zero
placeholder, which the policy pack refuses and every render warns about. None of the digests below
could be checked against a registry from where this was written; mc is pinned to the digest that
independent public projects pin for its tag (MC_SOURCE); Velero and its plugin stay placeholders: pin them
with `crane digest <upstream ref>` of the mirrored image before the first `pulumi up`.
"""
from __future__ import annotations

from ..data.releases import Chart, _pinned, _placeholder

COMPONENT = "backup"

# vmware-tanzu/helm-charts tag velero-12.1.0 (commit 73466ca986bbfe34dbd5c30bbf7d62d545d634a2,
# 2026-06-25): charts/velero/Chart.yaml appVersion 1.18.1, the Velero release whose CRDs are in
# ../shared/crds (velero.io_*.yaml from vmware-tanzu/velero v1.18.1). Values keys used in
# velero.py were read in charts/velero/values.yaml and templates/ at that tag.
VELERO_CHART = Chart("velero", "12.1.0", "https://vmware-tanzu.github.io/helm-charts")
VELERO = _placeholder("docker.io", "velero/velero", "v1.18.1", COMPONENT)
# velero-plugin-for-aws README (compatibility table): plugin v1.14.x goes with Velero v1.18.x. The
# snapshot read here had only tag v1.14.0-rc.1 (2026-02-13); v1.14.0 is the release to mirror.
VELERO_PLUGIN_AWS = _placeholder("docker.io", "velero/velero-plugin-for-aws", "v1.14.0", COMPONENT)
# minio/mc RELEASE.2025-08-13T08-35-41Z (commit 7394ce0dd2a80935aded936b09fa12cbb3cb8096): the
# `mc replicate add|update|ls` flags used in replication.py were read in cmd/replicate-*.go there.
MC_DIGEST = "sha256:a7fe349ef4bd8521fb8497f55c6042871b2ae640607cf99d9bede5e9bdf11727"
MC_SOURCE = (
    "the same index digest for minio/mc:RELEASE.2025-08-13T08-35-41Z pinned by independent public "
    "projects: a Dockerfile stage `quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z@sha256:a7fe349e...`, shell "
    "test harnesses `minio/mc:RELEASE.2025-08-13T08-35-41Z@sha256:a7fe349e...` (Docker Hub), and an image "
    "inventory listing quay.io/minio/mc at that tag with index a7fe349e... (amd64 eb4ea988...)"
)
MC = _pinned("quay.io", "minio/mc", "RELEASE.2025-08-13T08-35-41Z", MC_DIGEST, MC_SOURCE, COMPONENT)

ALL_IMAGES = (VELERO, VELERO_PLUGIN_AWS, MC)
