"""Object lifecycle: stateful resources protected on protected stacks; explicit object names."""
from __future__ import annotations

from typing import Any

from .. import walk as w
from .common import *  # noqa: F403 - the shared constants, Finding, Res


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


def unprotected_stateful(resource_type: str, props: Any, protect: bool) -> list[Finding]:
    what = STATEFUL_TYPES.get(resource_type)
    if what is None and resource_type == "kubernetes:core/v1:Namespace" and w.has(w.labels_of(props), TENANT_LABEL):
        what = "a tenant namespace"
    if (what is None and resource_type == "kubernetes:storage.k8s.io/v1:StorageClass"
            and w.get(props, "reclaimPolicy") == "Retain"):
        # Its reclaim policy is immutable: protection keeps a replacement from switching it to Delete.
        what = "a Retain storage class"
    if what is None and resource_type == "kubernetes:helm.sh/v3:Release":
        chart = w.get(props, "chart")
        what = STATEFUL_CHARTS.get(chart) if isinstance(chart, str) else None
    if what and not protect:
        return [Finding(
            f"{what} ({w.name_of(props) or resource_type}) must be protected against deletion (protect=True)",
            "pass opts protect=True where it is declared (the data tier does on protected stacks); to delete it "
            "on purpose, unprotect it in its own reviewed merge request",
        )]
    return []



def auto_named(resource_type: str, props: Any) -> list[Finding]:
    """Kubernetes objects carry an explicit metadata.name: auto-naming adds random suffixes."""
    if not resource_type.startswith("kubernetes:") or "kind" not in w.keys(props) or resource_type.startswith("kubernetes:helm.sh/"):
        return []
    if w.unknown_at(w.get(props, "metadata"), "name"):
        return []  # computed (e.g. from another resource's output): a name, known after deploy
    if not w.dig(props, "metadata", "name"):
        return [Finding(f"{w.get(props, 'kind')} has no explicit metadata.name",
                        "give metadata.name (kfplatform/k8s.py meta())")]
    return []
