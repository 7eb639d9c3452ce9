"""Pinned upstream releases of the compliance plane: charts by version, images by digest.

Same rule as kfplatform/data/releases.py: a digest is VERIFIED (two independent public sources
named) or the all-zero placeholder, which the policy pack refuses and no registry serves.
"""
from __future__ import annotations

from ..backup import releases as backup_releases
from ..data.releases import Chart, _pinned, _placeholder

COMPONENT = "compliance"

# sigstore/helm-charts tag policy-controller-0.10.6 (commit 3d19e1db5ccf40d096ca0cc1b761f261116d674a,
# 2025-11-19): charts/policy-controller, appVersion 0.13.1. Values used (checked in that tag's
# values.yaml and templates): webhook.{image.repository,image.version,replicaCount,namespaceSelector,
# failurePolicy,configData,podDisruptionBudget}, leasescleanup.image, imagePullSecrets, installCRDs.
# A `version` starting with `sha256:` renders `repository@version` (templates/_helpers.tpl,
# "policy-controller.image").
POLICY_CONTROLLER_CHART = Chart("policy-controller", "0.10.6", "https://sigstore.github.io/helm-charts")
POLICY_CONTROLLER = _pinned(
    "ghcr.io", "sigstore/policy-controller/policy-controller", "v0.13.1",
    "sha256:0bcd60beb93f4427c29cf3a669743caf58490e98ded4380c33c09f092734a6ab",
    "sigstore/helm-charts policy-controller-0.10.6 values.yaml (webhook.image.version, `crane digest` of v0.13.1) "
    "and an unrelated public deployment that inspected the same digest (amd64+arm64 manifest list)",
    COMPONENT,
)
# The chart's post-delete hook (templates/webhook/cleanup-leases.yaml) runs
# cgr.dev/chainguard/kubectl:latest-dev, a moving tag: pinned here, digest unverified.
LEASES_CLEANUP = _placeholder("cgr.dev", "chainguard/kubectl", "latest-dev", COMPONENT)

# vectordotdev/helm-charts tag vector-0.56.0 (commit 1e4a3ea09b1d3b7177fa9ca1145e31a336037e89,
# 2026-06-03): charts/vector, appVersion 0.56.0-distroless-libc. Values used (checked in that tag):
# role (Agent = DaemonSet, Stateless-Aggregator = Deployment), existingConfigMaps + dataDir,
# containerPorts, service.ports, image.{repository,tag,sha}, fullnameOverride, nodeSelector,
# tolerations, extraVolumes/extraVolumeMounts, env, podLabels, replicas, podDisruptionBudget;
# `image.digest` is coalesced with `image.sha` into `repository:tag@digest` (templates/_helpers.tpl "vector.image").
VECTOR_CHART = Chart("vector", "0.56.0", "https://helm.vector.dev")
VECTOR = _placeholder("docker.io", "timberio/vector", "0.56.0-distroless-libc", COMPONENT)

# MinIO's client, for the one-shot Job that sets the audit bucket's default retention
# (pulumi-minio 0.17.1 has no retention resource; ../shared/FACTS.md).
MINIO_CLIENT = _pinned(
    "quay.io", "minio/mc", "RELEASE.2025-08-13T08-35-41Z", backup_releases.MC_DIGEST, backup_releases.MC_SOURCE, COMPONENT,
)

IMAGES = {"policyController": POLICY_CONTROLLER, "leasesCleanup": LEASES_CLEANUP, "vector": VECTOR, "minioClient": MINIO_CLIENT}
