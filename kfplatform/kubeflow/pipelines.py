"""KFP, ML Metadata and Katib wired to the data tier, and the supply chain of pipeline components.

Data tier (kfplatform/data/endpoints.py is the contract): every database client goes through
ProxySQL with its own account (Secrets `kfp-db-credentials`, `mlmd-db-credentials`,
`katib-db-credentials`, delivered into the kubeflow namespace by the data tier), and KFP stores
artifacts in the distributed MinIO over TLS. The bundled MySQL, MinIO and SeaweedFS of the
upstream install are dropped from the build (install.py), so they cannot come back unnoticed.

Supply chain: pip in every pipeline pod reads the internal PyPI mirror (`PIP_INDEX_URL`, set on the
API server's compiled workflows, all tenants at once); the mirrored, digest-pinned base image is
published to every tenant (ConfigMap + PodDefault for notebooks). The SDK's built-in default base
image is a client-side constant: docs/kubeflow-ha.md#supply-chain says what enforces it.
"""
from __future__ import annotations

import json
from typing import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..data.endpoints import (
    OBJECT_STORE_CA_CONFIGMAP,
    OBJECT_STORE_CA_KEY,
    SERVICE_ACCOUNT_CA_FILE,
    DataEndpoints,
    argo_key_format,
    v2_pipeline_root,
)
from .. import yamltext
from ..images import Image
from ..k8s import child, custom_resource, meta
from . import patches
from .config import PipelinesConfig
from .release import (
    KATIB_DB_MANAGER,
    KFP_CACHE_SERVER,
    KFP_INSTALL_CONFIGMAP,
    KFP_METADATA_GRPC_CONFIGMAP,
    KFP_METADATA_GRPC_SERVICE,
    KFP_WORKFLOW_CONTROLLER_CONFIGMAP,
)

COMPONENT = "kubeflow-pipelines"
LAUNCHER_CONFIGMAP = "kfp-launcher"
DEFAULTS_CONFIGMAP = "kfp-platform-defaults"
PODDEFAULT = "kfp-platform-defaults"
PODDEFAULT_LABEL = "kfplatform.io/kfp-defaults"
PIPELINE_PODDEFAULT = "kfp-pipeline-pip-mirror"
V2_COMPONENT_LABEL = "pipelines.kubeflow.org/v2_component"  # KFP puts it on every v2 pipeline pod

# Trust of the object store's TLS certificate (docs/kubeflow-ha.md#object-store-tls-trust).
CA_VOLUME = "object-store-ca"
CA_DIR = "/etc/kfplatform/object-store-ca"
CA_FILE = f"{CA_DIR}/ca.crt"  # the volume projects the CA ConfigMap's key as `ca.crt`
# KFP 2.15.0 (the version kubeflow/manifests v1.11.0 ships) takes a custom CA bundle only from a
# Secret: `CABUNDLE_SECRET_NAME` (backend/src/apiserver/common/config.go at kubeflow/pipelines
# 2.15.0; `CABUNDLE_CONFIGMAP_NAME`/`CABUNDLE_KEY_NAME` arrived in 2.16.0). Its compiler mounts that
# Secret whole, as volume `ca-secret`, at `/kfp/certs` (argocompiler/common.go
# ConfigureCustomCABundle; `CABundleDir`, and `TLSCertCAPath /kfp/certs/ca.crt` in const.go), so
# the file is the Secret's key `ca.crt`. But 2.15.0 does that only when KFP's own API-server or
# MLMD TLS is on (container.go, dag.go, importer.go: `GetCaBundleSecretName() != "" &&
# (mlPipelineTLSEnabled || GetMetadataTLSEnabled())`), which this platform does not enable: the
# compiled spec patch mounts the same Secret, with the same volume name and path, into `main` of
# every pipeline pod itself (a strategic merge: if KFP ever mounts it too, the two merge).
KFP_CA_VOLUME = "ca-secret"
KFP_CA_DIR = "/kfp/certs"
# Go reads every file of each SSL_CERT_DIR directory into its roots; the system directories stay
# listed, so the images' own roots are kept (the list KFP's v1 ConfigureCABundle used).
PIPELINE_POD_CERT_DIRS = f"{KFP_CA_DIR}:/etc/ssl/certs:/etc/pki/tls/certs"
# Argo's executor config in workflow-controller-configmap: upstream KFP's value, kept.
UPSTREAM_EXECUTOR_CONFIG = {"imagePullPolicy": "IfNotPresent"}


def base_image_ref(config: PipelinesConfig, mirror: str) -> str:
    image = config.base_image
    return Image(image.path, image.tag, image.digest).ref(mirror)


def object_store_endpoint(data: DataEndpoints) -> str:
    return f"{data.object_store_host}:{data.object_store_port}"


def compiled_spec_patch(config: PipelinesConfig, data: DataEndpoints) -> str:
    """KFP's COMPILED_PIPELINE_SPEC_PATCH: a strategic-merge patch on every compiled Argo Workflow
    (read by kubeflow/pipelines 2.15.0 backend/src/v2/compiler/argocompiler/argo.go).

    Argo applies the workflow-level `podSpecPatch` to every pod of the run, so pip in each step
    (the SDK's `pip install kfp ...` and `packages_to_install`) reads the internal mirror. With TLS
    to the object store, `main` (driver, launcher, user code) also gets the CA Secret at
    KFP_CA_DIR and SSL_CERT_DIR naming it, so Go's roots (driver, launcher) include the CA
    whether or not their object-store client loads that file explicitly.
    """
    env = [{"name": "PIP_INDEX_URL", "value": config.pip_index_url}]
    main: dict = {"name": "main", "env": env}
    pod_patch: dict = {"containers": [main]}
    if data.object_store_secure:
        env.append({"name": "SSL_CERT_DIR", "value": PIPELINE_POD_CERT_DIRS})
        main["volumeMounts"] = [{"name": KFP_CA_VOLUME, "mountPath": KFP_CA_DIR, "readOnly": True}]
        pod_patch["volumes"] = [{"name": KFP_CA_VOLUME, "secret": {"secretName": data.object_store_ca_secret}}]
    return json.dumps({"podSpecPatch": json.dumps(pod_patch, sort_keys=True)}, sort_keys=True)


def ca_volume(data: DataEndpoints) -> dict:
    """The CA ConfigMap (present in every namespace) as a volume holding exactly `ca.crt`."""
    return {
        "name": CA_VOLUME,
        "configMap": {"name": data.object_store_ca_configmap, "items": [{"key": data.object_store_ca_key, "path": "ca.crt"}]},
    }


def ca_mount() -> dict:
    return {"name": CA_VOLUME, "mountPath": CA_DIR, "readOnly": True}


def executor_config(data: DataEndpoints) -> dict:
    """Argo's `executor` (init and wait containers of every workflow pod): upstream's, plus the CA.

    Argo copies `executor.env` into those containers but no volume mounts, so they read the CA
    where the kubelet already projects it: the service-account volume, which carries the same
    `kube-root-ca.crt` key. That holds only while the object store's CA is the cluster CA.
    """
    config: dict = dict(UPSTREAM_EXECUTOR_CONFIG)
    if data.object_store_secure:
        if (data.object_store_ca_configmap, data.object_store_ca_key) != (OBJECT_STORE_CA_CONFIGMAP, OBJECT_STORE_CA_KEY):
            raise ValueError(
                "Argo's executor reads the object store's CA from the service-account volume, i.e. the cluster CA "
                f"({OBJECT_STORE_CA_CONFIGMAP}/{OBJECT_STORE_CA_KEY}); another CA needs another mechanism"
            )
        config["env"] = [{"name": "SSL_CERT_FILE", "value": SERVICE_ACCOUNT_CA_FILE}]
    return config


def kfp_patches(data: DataEndpoints, config: PipelinesConfig) -> list[dict]:
    kfp, mlmd = data.accounts["kfp"], data.accounts["mlmd"]
    host, port = data.database_host, str(data.database_port)
    secure = "true" if data.object_store_secure else "false"
    artifacts = data.platform_artifact_secret
    api_env = [
        patches.env_secret("DBCONFIG_USER", kfp.secret_name, "username"),
        patches.env_secret("DBCONFIG_PASSWORD", kfp.secret_name, "password"),
        patches.env_secret("DBCONFIG_MYSQLCONFIG_USER", kfp.secret_name, "username"),
        patches.env_secret("DBCONFIG_MYSQLCONFIG_PASSWORD", kfp.secret_name, "password"),
        patches.env_value("DBCONFIG_HOST", host),
        patches.env_value("DBCONFIG_PORT", port),
        patches.env_value("DBCONFIG_MYSQLCONFIG_HOST", host),
        patches.env_value("DBCONFIG_MYSQLCONFIG_PORT", port),
        patches.env_value("DBCONFIG_DBNAME", kfp.databases[0]),
        patches.env_value("DBCONFIG_MYSQLCONFIG_DBNAME", kfp.databases[0]),
        patches.env_value("OBJECTSTORECONFIG_HOST", data.object_store_host),
        patches.env_value("OBJECTSTORECONFIG_PORT", str(data.object_store_port)),
        patches.env_value("OBJECTSTORECONFIG_SECURE", secure),
        patches.env_value("OBJECTSTORECONFIG_BUCKETNAME", data.artifact_bucket),
        patches.env_secret("OBJECTSTORECONFIG_ACCESSKEY", artifacts, "accesskey"),
        patches.env_secret("OBJECTSTORECONFIG_SECRETACCESSKEY", artifacts, "secretkey"),
        patches.env_value("COMPILED_PIPELINE_SPEC_PATCH", compiled_spec_patch(config, data)),
    ]
    api_volumes: list[dict] = []
    ui_volumes: list[dict] = []
    api_mounts: list[dict] = []
    ui_mounts: list[dict] = []
    if data.object_store_secure:
        # The API server's own MinIO client (Go, system roots): SSL_CERT_FILE names the bundle file.
        # CABUNDLE_SECRET_NAME: the one CA setting KFP 2.15.0 reads (see KFP_CA_VOLUME); the Secret
        # is in every tenant namespace (data tier), key `ca.crt`.
        api_env += [
            patches.env_value("SSL_CERT_FILE", CA_FILE),
            patches.env_value("CABUNDLE_SECRET_NAME", data.object_store_ca_secret),
        ]
        api_volumes, api_mounts = [ca_volume(data)], [ca_mount()]
        ui_volumes, ui_mounts = [ca_volume(data)], [ca_mount()]
    cache_env = [
        patches.env_secret("DBCONFIG_USER", kfp.secret_name, "username"),
        patches.env_secret("DBCONFIG_PASSWORD", kfp.secret_name, "password"),
        patches.env_value("DBCONFIG_HOST_NAME", host),
        patches.env_value("DBCONFIG_PORT", port),
        patches.env_value("DBCONFIG_DB_NAME", kfp.databases[1]),
    ]
    mlmd_env = [
        patches.env_secret("DBCONFIG_USER", mlmd.secret_name, "username"),
        patches.env_secret("DBCONFIG_PASSWORD", mlmd.secret_name, "password"),
        patches.env_value("MYSQL_HOST", host),
        patches.env_value("MYSQL_PORT", port),
        patches.env_value("MYSQL_DATABASE", mlmd.databases[0]),
    ]
    ui_env = [
        patches.env_value("MINIO_HOST", data.object_store_host),
        patches.env_value("MINIO_PORT", str(data.object_store_port)),
        patches.env_value("MINIO_SSL", secure),
        patches.env_value("MINIO_NAMESPACE", ""),
        patches.env_secret("MINIO_ACCESS_KEY", artifacts, "accesskey"),
        patches.env_secret("MINIO_SECRET_KEY", artifacts, "secretkey"),
        # No per-namespace artifact proxies (`ml-pipeline-ui-artifact`): their creator, the pipelines
        # profile controller, is not installed (release.REPLACED_UPSTREAM_*), so the UI reads
        # artifacts itself, with KFP's own key (a known upstream limit: docs/kubeflow-ha.md).
        patches.env_value("ARTIFACTS_SERVICE_PROXY_ENABLED", "false"),
    ]
    if data.object_store_secure:
        # Node.js adds this file to its built-in roots (the UI's MinIO client uses Node's https).
        ui_env.append(patches.env_value("NODE_EXTRA_CA_CERTS", CA_FILE))
    # Argo resolves this controller-wide repository per Workflow: the Secret named here is read in
    # the Workflow's namespace, i.e. each tenant writes its artifacts and logs with its own key.
    artifact_repository = {
        "archiveLogs": True,
        "s3": {
            "endpoint": object_store_endpoint(data),
            "bucket": data.artifact_bucket,
            "insecure": not data.object_store_secure,
            # Under `artifacts/<namespace>/`: the only Argo prefix the namespace's own key may write.
            "keyFormat": argo_key_format(),
            "accessKeySecret": {"name": data.tenant_artifact_secret, "key": "accesskey"},
            "secretKeySecret": {"name": data.tenant_artifact_secret, "key": "secretkey"},
        },
    }
    return [
        patches.configmap_data(
            KFP_INSTALL_CONFIGMAP,
            {
                "dbType": "mysql",
                "dbHost": host,
                "dbPort": port,
                "mysqlHost": host,
                "mysqlPort": port,
                "pipelineDb": kfp.databases[0],
                "cacheDb": kfp.databases[1],
                "mlmdDb": mlmd.databases[0],
                "bucketName": data.artifact_bucket,
            },
        ),
        patches.configmap_data(
            KFP_WORKFLOW_CONTROLLER_CONFIGMAP,
            {
                "artifactRepository": yamltext.dump(artifact_repository, sort_keys=False),
                "executor": yamltext.dump(executor_config(data), sort_keys=False),
            },
        ),
        patches.deployment("ml-pipeline", template_spec=_with_volumes(
            [patches.container("ml-pipeline-api-server", env=api_env, volumeMounts=api_mounts or None)], api_volumes)),
        patches.deployment(KFP_CACHE_SERVER[0], template_spec={"containers": [patches.container(KFP_CACHE_SERVER[1], env=cache_env)]}),
        patches.deployment("metadata-grpc-deployment", template_spec={"containers": [patches.container("container", env=mlmd_env)]}),
        patches.deployment("ml-pipeline-ui", template_spec=_with_volumes(
            [patches.container("ml-pipeline-ui", env=ui_env, volumeMounts=ui_mounts or None)], ui_volumes)),
    ]


def _with_volumes(containers: list[dict], volumes: list[dict]) -> dict:
    spec: dict = {"containers": containers}
    if volumes:
        spec["volumes"] = volumes
    return spec


def katib_patches(data: DataEndpoints) -> list[dict]:
    katib = data.accounts["katib"]
    env = [
        patches.env_value("DB_NAME", "mysql"),
        patches.env_secret("DB_USER", katib.secret_name, "username"),
        patches.env_secret("DB_PASSWORD", katib.secret_name, "password"),
        patches.env_value("KATIB_MYSQL_DB_HOST", data.database_host),
        patches.env_value("KATIB_MYSQL_DB_PORT", str(data.database_port)),
        patches.env_value("KATIB_MYSQL_DB_DATABASE", katib.databases[0]),
    ]
    name, container = KATIB_DB_MANAGER
    return [patches.deployment(name, template_spec={"containers": [patches.container(container, env=env)]})]


def launcher_config(data: DataEndpoints, tenant: str) -> dict[str, str]:
    """The tenant's `kfp-launcher` ConfigMap: pipeline root under its prefix, MinIO over TLS."""
    providers = {
        "minio": {
            "default": {
                "endpoint": object_store_endpoint(data),
                "disableSSL": not data.object_store_secure,
                "region": "minio",
                "credentials": {
                    "fromEnv": False,
                    "secretRef": {"secretName": data.tenant_artifact_secret, "accessKeyKey": "accesskey", "secretKeyKey": "secretkey"},
                },
            }
        }
    }
    return {
        "defaultPipelineRoot": v2_pipeline_root(data.artifact_bucket, tenant),
        "providers": yamltext.dump(providers, sort_keys=False),
    }


def metadata_grpc_config(kubeflow_namespace: str) -> dict[str, str]:
    """The tenant's `metadata-grpc-configmap`: where its pipeline pods find ML Metadata."""
    service, port = KFP_METADATA_GRPC_SERVICE
    return {"METADATA_GRPC_SERVICE_HOST": f"{service}.{kubeflow_namespace}", "METADATA_GRPC_SERVICE_PORT": str(port)}


class TenantPipelineDefaults(pulumi.ComponentResource):
    """Per tenant: what KFP needs in the namespace, and the supply-chain defaults for notebooks.

    Upstream's pipelines profile controller would write the KFP objects (and the artifact Secret);
    it is not installed, so these are the only writers (release.REPLACED_UPSTREAM_*). The
    artifact Secret `mlpipeline-minio-artifact` itself is the data tier's (TenantObjectAccess).
    """

    def __init__(
        self,
        name: str,
        config: PipelinesConfig,
        data: DataEndpoints,
        mirror: str,
        tenant_namespaces: Mapping[str, k8s.core.v1.Namespace],
        kubeflow_namespace: str,
        poddefault_crd: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`poddefault_crd`: what installs the PodDefault CRD (the admission webhook's Application)."""
        super().__init__("kfplatform:kubeflow:TenantPipelineDefaults", name, None, opts)
        base_image = base_image_ref(config, mirror)
        defaults = {"baseImage": base_image, "pipIndexUrl": config.pip_index_url}
        for tenant, namespace in sorted(tenant_namespaces.items()):
            deps = [namespace]
            k8s.core.v1.ConfigMap(
                f"{tenant}-kfp-launcher",
                metadata=meta(LAUNCHER_CONFIGMAP, tenant, component=COMPONENT),
                data=launcher_config(data, tenant),
                opts=child(self, depends_on=deps),
            )
            k8s.core.v1.ConfigMap(
                f"{tenant}-kfp-metadata-grpc",
                metadata=meta(KFP_METADATA_GRPC_CONFIGMAP, tenant, component=COMPONENT),
                data=metadata_grpc_config(kubeflow_namespace),
                opts=child(self, depends_on=deps),
            )
            k8s.core.v1.ConfigMap(
                f"{tenant}-kfp-defaults",
                metadata=meta(DEFAULTS_CONFIGMAP, tenant, component=COMPONENT),
                data=defaults,
                opts=child(self, depends_on=deps),
            )
            custom_resource(
                f"{tenant}-kfp-poddefault",
                api_version="kubeflow.org/v1alpha1",
                kind="PodDefault",
                metadata=meta(PODDEFAULT, tenant, component=COMPONENT),
                spec={
                    "desc": "Internal PyPI mirror and KFP base image",
                    "selector": {"matchLabels": {PODDEFAULT_LABEL: "true"}},
                    "env": [
                        {"name": "PIP_INDEX_URL", "value": config.pip_index_url},
                        {"name": "KFP_BASE_IMAGE", "value": base_image},
                    ],
                },
                opts=child(self, depends_on=[*deps, *poddefault_crd]),
            )
            # Belt and braces for the API server's spec patch: the PodDefault webhook also sets
            # the mirror on every v2 pipeline pod of the tenant (works with any KFP 2.x server).
            custom_resource(
                f"{tenant}-kfp-pipeline-poddefault",
                api_version="kubeflow.org/v1alpha1",
                kind="PodDefault",
                metadata=meta(PIPELINE_PODDEFAULT, tenant, component=COMPONENT),
                spec={
                    "desc": "Internal PyPI mirror for pipeline steps",
                    "selector": {"matchLabels": {V2_COMPONENT_LABEL: "true"}},
                    "env": [{"name": "PIP_INDEX_URL", "value": config.pip_index_url}],
                },
                opts=child(self, depends_on=[*deps, *poddefault_crd]),
            )
        self.register_outputs({"baseImage": base_image, "pipIndexUrl": config.pip_index_url})
