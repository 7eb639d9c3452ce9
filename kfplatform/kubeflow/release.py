"""What upstream fixed at the pinned release: component paths, Deployment names, labels, objects to drop.

These are facts about kubeflow/manifests, not choices; they change only when the pinned tag
changes (docs/kubeflow-ha.md, "Upgrading Kubeflow"). Paths and names were read from the
kubeflow/manifests and kubeflow/pipelines sources; re-check each of them at every new pin.
"""
from __future__ import annotations

from dataclasses import dataclass, field


# Release tags whose commit was read in the kubeflow/manifests repository (`git rev-parse
# 'v1.11.0^{commit}'` on a snapshot of github.com/kubeflow/manifests); the stack files pin these.
VERIFIED_TAG_COMMITS: dict[str, str] = {
    "v1.11.0": "854bd3a21044f767204def71b2dcda83e376891f",
}


@dataclass(frozen=True)
class Component:
    """One upstream kustomization, installed as one Argo CD Application."""

    path: str
    namespace_role: str  # platform namespace (config key) namespaced objects default to
    description: str
    # Namespaces upstream's objects of this component name literally (their own Namespace objects
    # and `metadata.namespace`), whatever the Application's destination: `kubectl kustomize <path>`
    # at kubeflow/manifests v1.11.0 (854bd3a21044f767204def71b2dcda83e376891f); pipelines, whose
    # build needs remote bases, from its kustomizations' `namespace: kubeflow`. Tenants may not take them.
    upstream_namespaces: tuple[str, ...] = ("kubeflow",)


# Order is install order (Argo CD sync waves are set from it): CRDs and mesh first.
COMPONENTS: dict[str, Component] = {
    "cert-manager": Component(
        "common/cert-manager/base", "kubeflow", "cert-manager (webhook certificates)", ("cert-manager", "kube-system")
    ),
    "cert-manager-issuer": Component("common/cert-manager/kubeflow-issuer/base", "kubeflow", "the kubeflow ClusterIssuer", ()),
    "istio-crds": Component("common/istio/istio-crds/base", "istio", "Istio CRDs", ()),
    "istio-install": Component(
        "common/istio/istio-install/overlays/oauth2-proxy", "istio", "istiod and the ingress gateway, ext-authz to oauth2-proxy",
        ("istio-system", "kube-system", "kubeflow"),
    ),
    "dex": Component("common/dex/overlays/oauth2-proxy", "auth", "Dex, brokering the organisation's IdP", ("auth",)),
    "oauth2-proxy": Component(
        "common/oauth2-proxy/overlays/m2m-dex-only", "oauth2Proxy", "oauth2-proxy, the gateway's ext-authz",
        ("oauth2-proxy", "istio-system"),
    ),
    "kubeflow-roles": Component("common/kubeflow-roles/base", "kubeflow", "kubeflow-admin/edit/view ClusterRoles", ()),
    "kubeflow-istio-resources": Component("common/istio/kubeflow-istio-resources/base", "kubeflow", "the kubeflow-gateway"),
    "knative-serving": Component(
        "common/knative/knative-serving/overlays/gateways", "kubeflow", "Knative Serving (KServe)",
        ("knative-serving", "istio-system"),
    ),
    "cluster-local-gateway": Component(
        "common/istio/cluster-local-gateway/base", "istio", "cluster-local gateway (Knative)", ("istio-system",)
    ),
    "pipelines": Component(
        "applications/pipeline/upstream/env/cert-manager/platform-agnostic-multi-user", "kubeflow", "Kubeflow Pipelines, multi-user"
    ),
    "katib": Component("applications/katib/upstream/installs/katib-with-kubeflow", "kubeflow", "Katib"),
    "profiles": Component("applications/profiles/upstream/overlays/kubeflow", "kubeflow", "Profile controller and KFAM"),
    "central-dashboard": Component("applications/centraldashboard/overlays/oauth2-proxy", "kubeflow", "central dashboard"),
    "admission-webhook": Component(
        "applications/admission-webhook/upstream/overlays/cert-manager", "kubeflow", "PodDefault admission webhook"
    ),
    "notebook-controller": Component(
        "applications/jupyter/notebook-controller/upstream/overlays/kubeflow", "kubeflow", "notebook controller"
    ),
    "jupyter-web-app": Component("applications/jupyter/jupyter-web-app/upstream/overlays/istio", "kubeflow", "notebooks UI"),
    "volumes-web-app": Component("applications/volumes-web-app/upstream/overlays/istio", "kubeflow", "volumes UI"),
    "tensorboard-controller": Component(
        "applications/tensorboard/tensorboard-controller/upstream/overlays/kubeflow", "kubeflow", "tensorboard controller"
    ),
    "tensorboards-web-app": Component(
        "applications/tensorboard/tensorboards-web-app/upstream/overlays/istio", "kubeflow", "tensorboards UI"
    ),
    "training-operator": Component("applications/training-operator/upstream/overlays/kubeflow", "kubeflow", "training operator"),
    "kserve": Component("applications/kserve/kserve", "kubeflow", "KServe"),
    "kserve-models-web-app": Component("applications/kserve/models-web-app/overlays/kubeflow", "kubeflow", "KServe models UI"),
}

# Components that carry this program's HA, identity or data-tier wiring.
# Which upstream component installs the CRD of each kind this program declares objects of.
# Their Applications are awaited (synced) before those objects are created.
CRD_SOURCES = {"Profile": "profiles", "PodDefault": "admission-webhook", "AuthorizationPolicy": "istio-crds"}

REQUIRED_COMPONENTS = frozenset({"istio-install", "dex", "oauth2-proxy", "pipelines", "katib", "profiles"})


@dataclass(frozen=True)
class Workload:
    """An upstream Deployment of the HA set, as upstream names and labels it."""

    component: str  # COMPONENTS key of the Application that installs it
    deployment: str
    namespace_role: str
    container: str
    selector: dict[str, str] = field(default_factory=dict)


# Keys are the ControlPlaneConfig field names.
HA_WORKLOADS: dict[str, Workload] = {
    "ml_pipeline": Workload("pipelines", "ml-pipeline", "kubeflow", "ml-pipeline-api-server", {"app": "ml-pipeline"}),
    "metadata_grpc": Workload(
        "pipelines", "metadata-grpc-deployment", "kubeflow", "container", {"component": "metadata-grpc-server"}
    ),
    "ml_pipeline_ui": Workload("pipelines", "ml-pipeline-ui", "kubeflow", "ml-pipeline-ui", {"app": "ml-pipeline-ui"}),
    "istio_ingress_gateway": Workload(
        "istio-install", "istio-ingressgateway", "istio", "istio-proxy", {"app": "istio-ingressgateway", "istio": "ingressgateway"}
    ),
    "dex": Workload("dex", "dex", "auth", "dex", {"app": "dex"}),
    "oauth2_proxy": Workload("oauth2-proxy", "oauth2-proxy", "oauth2Proxy", "oauth2-proxy", {"app.kubernetes.io/name": "oauth2-proxy"}),
}

# The Profile controller (with KFAM) stays single-replica: its state is the Profile objects
# in the API server, which it reconciles idempotently after any restart (docs/kubeflow-ha.md).
PROFILE_CONTROLLER = ("profiles", "profiles-deployment")

# Upstream HA objects this program replaces with its own (an HPA per target, never two).
# kubeflow/manifests v1.11.0 common/istio/istio-install/overlays/oauth2-proxy builds an HPA for the
# gateway (minReplicas 1) and no PodDisruptionBudget at all (so none is dropped here).
UPSTREAM_HA_OBJECTS: dict[str, list[tuple[str, str, str]]] = {
    "istio-install": [
        ("autoscaling", "HorizontalPodAutoscaler", "istio-ingressgateway"),
    ],
}

# Bundled databases and object stores: the data tier replaces them (ProxySQL + Galera, MinIO).
# Workloads by label (whatever upstream names them, should a later pin rename them), plus every
# object the stores bring, by name: most carry no `app` label (only `application-crd-id`), so the
# label delete leaves them. Read from the builds at kubeflow/manifests v1.11.0 (commit 854bd3a2):
# applications/pipeline/upstream/env/cert-manager/platform-agnostic-multi-user (KFP 2.15.0: MySQL
# and SeaweedFS under third-party/) and applications/katib/upstream/installs/katib-with-kubeflow.
# `tests/kubeflow/upstream_fixture/` holds those objects as upstream writes them; every delete
# below must remove one of them (test_kustomize_semantics.py), so a stale one cannot linger.
BUNDLED_STORES_BY_LABEL: dict[str, str] = {
    "pipelines": "app in (mysql,minio,seaweedfs)",  # minio: KFP's -minio variants of the install
    "katib": "katib.kubeflow.org/component in (mysql,postgres)",
}
# (group, version, kind, name)
BUNDLED_STORES_BY_NAME: dict[str, list[tuple[str, str, str, str]]] = {
    "pipelines": [
        # MySQL (third-party/mysql): its Service and ServiceAccount have no `app` label.
        ("", "v1", "Service", "mysql"),
        ("", "v1", "ServiceAccount", "mysql"),
        ("", "v1", "PersistentVolumeClaim", "mysql-pv-claim"),
        ("networking.istio.io", "v1alpha3", "DestinationRule", "ml-pipeline-mysql"),
        ("security.istio.io", "v1beta1", "AuthorizationPolicy", "mysql"),
        # SeaweedFS (third-party/seaweedfs), which serves the S3 API as `minio-service` too.
        ("", "v1", "Service", "seaweedfs"),
        ("", "v1", "Service", "minio-service"),
        ("", "v1", "ServiceAccount", "seaweedfs"),
        ("", "v1", "PersistentVolumeClaim", "seaweedfs-pvc"),
        ("networking.istio.io", "v1alpha3", "DestinationRule", "ml-pipeline-seaweedfs"),
        # Its rules end in `- {}`: it would allow any caller to reach pods labelled app=seaweedfs.
        ("security.istio.io", "v1beta1", "AuthorizationPolicy", "seaweedfs-service"),
        ("networking.k8s.io", "v1", "NetworkPolicy", "seaweedfs"),
        # Credentials of the bundled stores; the data tier delivers ours (kfp-db-credentials,
        # and mlpipeline-minio-artifact, which upstream would otherwise overwrite with defaults).
        ("", "v1", "Secret", "mysql-secret"),
        ("", "v1", "Secret", "mlpipeline-minio-artifact"),
    ],
    "katib": [
        ("", "v1", "Service", "katib-mysql"),
        ("", "v1", "PersistentVolumeClaim", "katib-mysql"),
        ("", "v1", "Secret", "katib-mysql-secrets"),
    ],
}

# Upstream controllers this program replaces with objects of its own, dropped from the build by
# the label their kustomization puts on every object (whatever upstream names them) and, should
# that label change at a new pin, by name.
#
# The pipelines profile controller (kubeflow/pipelines manifests/kustomize/base/installs/multi-user/
# pipelines-profile-controller: a metacontroller DecoratorController calling `sync.py`) writes into
# every namespace labelled `pipelines.kubeflow.org/enabled: "true"` (all Profile namespaces):
# Secret `mlpipeline-minio-artifact`, holding the platform's all-bucket key from its own env (KFP up
# to 2.14) or a key it mints through SeaweedFS's IAM API (2.15 on; MinIO has no such API); ConfigMaps
# `kfp-launcher` (bucket `mlpipeline`, no providers), `metadata-grpc-configmap` and, from 2.15,
# `artifact-repositories` (Argo's per-namespace default: SeaweedFS endpoint, no TLS); and a
# per-namespace `ml-pipeline-ui-artifact` Deployment/Service reading that Secret (always up to 2.14,
# only with ARTIFACTS_PROXY_ENABLED from 2.15), plus `ml-pipeline-visualizationserver` in older KFP.
# Each would fight an object this program owns, or hand a tenant the wrong key: the tenant's
# `mlpipeline-minio-artifact` comes from the data tier, `kfp-launcher` and `metadata-grpc-configmap`
# from TenantPipelineDefaults (pipelines.py). docs/kubeflow-ha.md#artifact-credentials.
PIPELINES_PROFILE_CONTROLLER = "kubeflow-pipelines-profile-controller"
REPLACED_UPSTREAM_BY_LABEL: dict[str, str] = {
    "pipelines": f"app={PIPELINES_PROFILE_CONTROLLER}",
}
# (group, version, kind, name)
REPLACED_UPSTREAM_BY_NAME: dict[str, list[tuple[str, str, str, str]]] = {
    "pipelines": [
        ("metacontroller.k8s.io", "v1alpha1", "DecoratorController", PIPELINES_PROFILE_CONTROLLER),
        ("apps", "v1", "Deployment", PIPELINES_PROFILE_CONTROLLER),
        ("", "v1", "Service", PIPELINES_PROFILE_CONTROLLER),
    ],
}

# KFP: where the API server, cache server, MLMD and the UI read their stores.
KFP_INSTALL_CONFIGMAP = "pipeline-install-config"
KFP_WORKFLOW_CONTROLLER_CONFIGMAP = "workflow-controller-configmap"
KFP_CACHE_SERVER = ("cache-server", "server")
KATIB_DB_MANAGER = ("katib-db-manager", "katib-db-manager")
# ML Metadata's gRPC Service in the KFP namespace; every v2 pipeline pod reads its address from the
# namespace's ConfigMap `metadata-grpc-configmap` (envFrom, optional; backend/src/v2/compiler/argocompiler).
KFP_METADATA_GRPC_SERVICE = ("metadata-grpc-service", 8080)
KFP_METADATA_GRPC_CONFIGMAP = "metadata-grpc-configmap"
DEX_CONFIGMAP = "dex"
OAUTH2_PROXY_CONFIGMAP = "oauth2-proxy"
