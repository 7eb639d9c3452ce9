"""The data tier's contract with its consumers (KFP, ML Metadata, Katib, tenants).

Consumers read connection details and credential Secret names from here, never from literals of
their own, so the data tier and Kubeflow cannot drift apart. Passwords are not here: they live in
Vault (`vault_path`) and reach the consumer's namespace as the Secret named here, via ESO.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config.stack import StackConfig
from .config import DEFAULT_ARTIFACT_BUCKET

PROXYSQL_SERVICE = "proxysql"
PROXYSQL_PORT = 6033
MINIO_TENANT = "kubeflow-minio"
ARTIFACT_BUCKET = DEFAULT_ARTIFACT_BUCKET  # the default of `data.objectStore.buckets.artifacts`
TENANT_ARTIFACT_SECRET = "mlpipeline-minio-artifact"  # the Secret name KFP expects, keys accesskey/secretkey

# Who signs MinIO's serving certificate, as its clients must be told. The Tenant uses
# `requestAutoCert` (object_store.py): the MinIO operator has the certificate signed through the
# Kubernetes CSR API, i.e. by the cluster CA, which Kubernetes publishes in every namespace as this
# ConfigMap and key (no Secret, nothing to deliver). Every client of the object store reads the CA
# from here (kubeflow/pipelines.py); change both together if the Tenant's certificate ever comes
# from another issuer (e.g. cert-manager with an organisation CA).
OBJECT_STORE_CA_CONFIGMAP = "kube-root-ca.crt"
OBJECT_STORE_CA_KEY = "ca.crt"
# The kubelet projects the same ConfigMap key into every pod's service-account token volume
# (`kube-api-access-*`), at this path: where a client that cannot be given a volume (Argo's
# executor containers) finds the same CA.
SERVICE_ACCOUNT_CA_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
# The same CA as a Secret in every tenant namespace, key OBJECT_STORE_CA_KEY: KFP 2.15.0 takes its
# custom CA bundle only from a Secret (`CABUNDLE_SECRET_NAME`, backend/src/apiserver/common/
# config.go at kubeflow/pipelines 2.15.0; `--ca_cert_path /kfp/certs/ca.crt` in const.go). ESO
# copies it from OBJECT_STORE_CA_CONFIGMAP (tenant_access.py), so the ConfigMap stays the one source.
OBJECT_STORE_CA_SECRET = "kfp-object-store-ca"

# Object keys of a namespace's artifacts in the artifact bucket. This is the one contract between
# the MinIO policies (tenant_access.py: a tenant's key reaches only these prefixes) and the places
# KFP writes to (kubeflow/pipelines.py: Argo's keyFormat, the v2 pipeline root): both sides call the
# functions below, and tests/kubeflow/test_artifact_isolation.py checks the rendered result.
ARTIFACT_PREFIX = "artifacts/{namespace}/"  # Argo: v1 artifacts and every pod's archived log
V2_ARTIFACT_PREFIX = "private-artifacts/{namespace}/"  # KFP v2 outputs, under the pipeline root
V2_ROOT_PATH = "v2/artifacts"  # the pipeline root inside V2_ARTIFACT_PREFIX (upstream's layout)
ARGO_NAMESPACE = "{{workflow.namespace}}"  # Argo substitutes the Workflow's namespace here
ARGO_KEY_SUFFIX = (
    "{{workflow.name}}/{{workflow.creationTimestamp.Y}}/{{workflow.creationTimestamp.m}}"
    "/{{workflow.creationTimestamp.d}}/{{pod.name}}"
)


def tenant_artifact_prefixes(namespace: str) -> tuple[str, str]:
    """The key prefixes a namespace's key may touch: (Argo's, KFP v2's). Each ends with '/'."""
    return ARTIFACT_PREFIX.format(namespace=namespace), V2_ARTIFACT_PREFIX.format(namespace=namespace)


def argo_key_format() -> str:
    """Argo's `artifactRepository.s3.keyFormat`: the namespace's Argo prefix, then upstream's layout.

    One controller-wide setting serves every namespace, so the namespace is Argo's variable here;
    resolved for a namespace it starts with `tenant_artifact_prefixes(namespace)[0]`.
    """
    return ARTIFACT_PREFIX.format(namespace=ARGO_NAMESPACE) + ARGO_KEY_SUFFIX


def v2_pipeline_root(bucket: str, namespace: str) -> str:
    """The namespace's KFP v2 `defaultPipelineRoot`, inside `tenant_artifact_prefixes(namespace)[1]`."""
    return f"minio://{bucket}/{V2_ARTIFACT_PREFIX.format(namespace=namespace)}{V2_ROOT_PATH}"


@dataclass(frozen=True)
class DatabaseAccount:
    """A least-privilege MariaDB account of one consumer."""

    user: str
    databases: tuple[str, ...]
    vault_path: str  # KV path holding `password` (and `username`)
    secret_name: str  # Secret in the consumer's namespace, keys `username` and `password`
    # A consumer outside the kubeflow namespace (a tenant's Model Registry): its namespace, the
    # Secret's name there, and the Vault path it reads the same password from (a tenant's store
    # reads only `tenants/<team>/...`, so the plane mirrors the value there). None: as above.
    consumer_namespace: str | None = None
    consumer_secret_name: str | None = None
    consumer_vault_path: str | None = None
    # Connections the account may hold through each ProxySQL replica (mysql_users.max_connections;
    # the MariaDB user gets this times the replicas). None: the data tier's per-account limit.
    # A tenant's account is capped, so one team cannot take the backend connections KFP needs.
    max_connections: int | None = None


@dataclass(frozen=True)
class DataEndpoints:
    database_host: str
    database_port: int
    accounts: dict[str, DatabaseAccount]
    object_store_host: str
    object_store_port: int
    object_store_secure: bool
    object_store_ca_configmap: str  # in every namespace: the CA that signs the object store's certificate
    object_store_ca_key: str
    artifact_bucket: str
    platform_artifact_secret: str  # in the kubeflow namespace, keys accesskey/secretkey
    tenant_artifact_secret: str  # in each tenant namespace, keys accesskey/secretkey
    object_store_ca_secret: str = OBJECT_STORE_CA_SECRET  # in each tenant namespace, key `ca.crt`


def data_endpoints(stack: StackConfig) -> DataEndpoints:
    db_ns = stack.cluster.namespaces.database
    store_ns = stack.cluster.namespaces.object_store
    return DataEndpoints(
        database_host=f"{PROXYSQL_SERVICE}.{db_ns}.svc.cluster.local",
        database_port=PROXYSQL_PORT,
        accounts={
            "kfp": DatabaseAccount("kfp", ("mlpipeline", "cachedb"), "platform/database/kfp", "kfp-db-credentials"),
            "mlmd": DatabaseAccount("mlmd", ("metadb",), "platform/database/mlmd", "mlmd-db-credentials"),
            "katib": DatabaseAccount("katib", ("katib",), "platform/database/katib", "katib-db-credentials"),
        },
        # The MinIO operator's Service for a Tenant is `minio` in the Tenant's namespace (TLS on 443).
        object_store_host=f"minio.{store_ns}.svc.cluster.local",
        object_store_port=443,
        object_store_secure=True,
        object_store_ca_configmap=OBJECT_STORE_CA_CONFIGMAP,
        object_store_ca_key=OBJECT_STORE_CA_KEY,
        artifact_bucket=stack.data.object_store.buckets.artifacts,
        platform_artifact_secret=TENANT_ARTIFACT_SECRET,
        tenant_artifact_secret=TENANT_ARTIFACT_SECRET,
    )
