"""TenantModelRegistry: upstream's Model Registry in a team namespace, on the data tier.

Per opted-in team (config.py), the way upstream installs it into a profile namespace
(`kubectl apply -k overlays/db -n $PROFILE_NAME`), as the install's pattern does it: one Argo CD
Application of kubeflow/manifests at the pinned commit, path `overlays/db`, destination the team
namespace, with inline kustomize patches that
- drop the bundled MySQL (Deployment, Service, PVC, and its Secret holding `root`/`test`);
- point the server at ProxySQL with the team's own database and account (data tier: Database,
  User, Grant on that database only; password generated in Vault, delivered by ESO as
  `model-registry-db-credentials` through the team's own SecretStore);
- pin the server image by digest from the mirror, size it to fit the team's LimitRange, and put
  the credential's rotation marker on the pod template (the server reads the DSN at start).
Next to it, objects of this program: an Istio AuthorizationPolicy admitting the REST API (the
mesh denies everything else, upstream's `global-deny-all`), and a NetworkPolicy letting only the
registry's pods out to ProxySQL's port. docs/model-registry.md says what this guarantees.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..data.endpoints import DatabaseAccount
from ..data.proxysql import APP as PROXYSQL_POD_LABELS
from ..data.releases import PinnedImage, _placeholder
from ..k8s import child, custom_resource, labels, meta
from ..kubeflow import patches
from ..kubeflow.config import ArgoCdConfig, ReleaseConfig
from . import release
from .config import CREDENTIALS_SECRET, RESOURCES

if TYPE_CHECKING:
    from ..secrets.plane import SecretsPlane

COMPONENT = "model-registry"
APPLICATION_PREFIX = "model-registry-"
AUTHORIZATION_POLICY = "model-registry-service"  # upstream's options/istio name
DATABASE_EGRESS_POLICY = release.DATABASE_EGRESS_POLICY
FINALIZER = "resources-finalizer.argocd.argoproj.io"

# ghcr.io/kubeflow/model-registry/server:v0.3.4: no digest found in two independent public sources
# from here, so the loud placeholder (the policy pack's images-pinned-by-digest refuses it): run
# `crane digest ghcr.io/kubeflow/model-registry/server:v0.3.4`, mirror it, write the digest here.
SERVER_IMAGE: PinnedImage = _placeholder("ghcr.io", release.IMAGE_PATH, release.VERSION, "model-registry")


def application_name(team: str) -> str:
    return APPLICATION_PREFIX + team


def dsn_arg() -> str:
    """The server's DSN, from the container's environment (Kubernetes expands `$(VAR)` in args).

    Upstream's overlay builds the same DSN from its bundled database's root account; here the host,
    port and database come from the patched `model-registry-db-parameters` ConfigMap and the account
    from the team's Secret. The password is generated alphanumeric (no DSN metacharacters).
    """
    return (
        f"{release.DSN_FLAG}=$(DBCONFIG_USER):$(DBCONFIG_PASSWORD)@tcp($(MYSQL_HOST):$(MYSQL_PORT))/"
        "$(MYSQL_DATABASE)?charset=utf8mb4"
    )


def image_override(mirror: str) -> str:
    """Argo CD's `kustomize.images` entry: upstream's image name -> the mirror's, by digest."""
    return f"{release.UPSTREAM_IMAGE_NAME}={SERVER_IMAGE.image.ref(mirror)}"


def registry_patches(account: DatabaseAccount, *, database_host: str, database_port: int) -> list[dict]:
    """The patches on `overlays/db`: no bundled database, the server on the team's account."""
    (database,) = account.databases
    out = [patches.delete(kind, name=name, group=group, version=version) for group, version, kind, name in release.BUNDLED_DB]
    parameters = {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": release.DB_PARAMETERS_CONFIGMAP},
        # MYSQL_PORT also becomes the sidecar's excluded outbound port (the overlay's replacement):
        # the database connection goes straight to ProxySQL, which is outside the mesh.
        # null removes upstream's MYSQL_ALLOW_EMPTY_PASSWORD (a setting of the bundled server).
        "data": {
            "MYSQL_HOST": database_host, "MYSQL_PORT": str(database_port), "MYSQL_DATABASE": database,
            "MYSQL_ALLOW_EMPTY_PASSWORD": None,
        },
    }
    out.append(patches.strategic(parameters, patches.target("ConfigMap", name=release.DB_PARAMETERS_CONFIGMAP)))
    container = patches.container(
        release.CONTAINER,
        # envFrom has no merge key: this list replaces the overlay's, which also read the bundled
        # database's Secret (`model-registry-db-secrets`, dropped above).
        envFrom=[
            {"configMapRef": {"name": release.SERVER_CONFIGMAP}},
            {"configMapRef": {"name": release.DB_PARAMETERS_CONFIGMAP}},
        ],
        env=[
            patches.env_secret("DBCONFIG_USER", CREDENTIALS_SECRET, "username"),
            patches.env_secret("DBCONFIG_PASSWORD", CREDENTIALS_SECRET, "password"),
        ],
        args=[
            "--hostname=0.0.0.0",
            "--port=$(MODEL_REGISTRY_REST_SERVICE_PORT)",
            "--datastore-type=$(MODEL_REGISTRY_DATA_STORE_TYPE)",
            dsn_arg(),
        ],
        resources=RESOURCES,
    )
    out.append(patches.deployment(release.DEPLOYMENT, template_spec={"containers": [container]}))
    return out


def authorization_policy_spec(team: str, port: int = release.PORT) -> dict:
    """ALLOW the REST API on the server's port, nothing else (the mesh's `global-deny-all` denies the
    rest), to two kinds of caller:
    - mesh workloads of the team's own namespace (notebooks): their mTLS identity names it;
    - callers without a mesh identity (`notPrincipals: ["*"]`: an mTLS-only field, compared with an
      empty value on plaintext, Istio bulletin ISTIO-SECURITY-2021-004; it matches plaintext only): KFP
      2.15 runs pipeline pods without a sidecar (the API server annotates every template
      `sidecar.istio.io/inject: "false"`, backend/src/apiserver/template/v2_template.go at 2.15.0),
      so their requests carry no identity. Which plaintext callers can connect at all is the
      NetworkPolicies' job: the team namespace denies other tenants' pods.
    A mesh workload of another namespace (the ingress gateway, Kubeflow's services) is refused."""
    operation = {"operation": {"ports": [str(port)], "paths": [release.API_PATH_PREFIX + "*"]}}
    return {
        "action": "ALLOW",
        "selector": {"matchLabels": dict(release.POD_LABELS)},
        "rules": [
            {"from": [{"source": {"namespaces": [team]}}], "to": [operation]},
            {"from": [{"source": {"notPrincipals": ["*"]}}], "to": [operation]},
        ],
    }


class TenantModelRegistry(pulumi.ComponentResource):
    def __init__(
        self,
        team: str,
        *,
        account: DatabaseAccount,
        release_config: ReleaseConfig,
        argocd: ArgoCdConfig,
        mirror: str,
        database_host: str,
        database_port: int,
        database_namespace: str,
        secrets,  # kfplatform.secrets.plane.SecretsPlane
        namespace: k8s.core.v1.Namespace,
        authorization_policy_crd: Sequence[pulumi.Resource] = (),
        database_ready: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`database_ready`: the account's User and Grants and ProxySQL (which loads the account's
        password at start); `authorization_policy_crd`: what installs Istio's CRDs."""
        super().__init__("kfplatform:modelregistry:TenantModelRegistry", f"{team}-model-registry", None, opts)
        from ..kubeflow.component import restart_on_rotation

        if not SERVER_IMAGE.verified:
            pulumi.log.warn(
                f"image {SERVER_IMAGE.upstream_registry}/{SERVER_IMAGE.image.path}:{SERVER_IMAGE.image.tag} has no verified "
                "digest yet (kfplatform/modelregistry/install.py); the team's Model Registry will not start until it is pinned",
                resource=self,
            )

        by_component, credential_deps = restart_on_rotation(
            {team: registry_patches(account, database_host=database_host, database_port=database_port)}, {team: team}, secrets,
        )
        self.application = custom_resource(
            f"{team}-model-registry",
            api_version="argoproj.io/v1alpha1",
            kind="Application",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=application_name(team), namespace=argocd.namespace,
                labels=labels(COMPONENT, {"kfplatform.io/tenant": team}),
                # A team that opts out loses the server's objects with the Application (Argo CD
                # deletes what it synced). Its data stays: the Database is never dropped
                # (cleanupPolicy Skip; protected in prod).
                finalizers=[FINALIZER],
            ),
            spec=self._application_spec(team, argocd, release_config, by_component[team], mirror),
            opts=child(self, depends_on=[namespace, *credential_deps.get(team, []), *database_ready]),
        )
        self.authorization_policy = custom_resource(
            f"{team}-model-registry-authz",
            api_version="security.istio.io/v1",
            kind="AuthorizationPolicy",
            metadata=meta(AUTHORIZATION_POLICY, team, component=COMPONENT),
            spec=authorization_policy_spec(team),
            opts=child(self, depends_on=[namespace, *authorization_policy_crd]),
        )
        self.database_egress = self._database_egress(team, namespace, database_namespace, database_port)
        self.register_outputs({
            "application": application_name(team), "service": f"{release.SERVICE}.{team}.svc.cluster.local:{release.PORT}",
        })

    @staticmethod
    def _application_spec(
        team: str, argocd: ArgoCdConfig, release_config: ReleaseConfig, patches: list[dict], mirror: str
    ) -> dict:
        """Argo CD syncs upstream's overlay at the pinned commit into the team's namespace, patched."""
        return {
            "project": argocd.install_project,
            "info": [
                {"name": "model registry", "value": f"{release.VERSION} (kubeflow/manifests {release_config.tag})"},
                {"name": "upstream", "value": f"{release_config.repo_url} {release.OVERLAY_PATH}"},
                {"name": "managed by", "value": f"kubeflow-platform (Pulumi): modelRegistry in tenants/{team}.yaml"},
            ],
            "source": {
                "repoURL": release_config.repo_url,
                "targetRevision": release_config.commit,
                "path": release.OVERLAY_PATH,
                "kustomize": {"patches": patches, "images": [image_override(mirror)]},
            },
            "destination": {"server": argocd.destination_server, "namespace": team},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["ServerSideApply=true", "PruneLast=true", "CreateNamespace=false"],
                "retry": {"limit": 10, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
            },
        }

    def _database_egress(
        self, team: str, namespace: k8s.core.v1.Namespace, database_namespace: str, database_port: int
    ) -> k8s.networking.v1.NetworkPolicy:
        """The server's pods may reach ProxySQL, and only on the database port."""
        NP = k8s.networking.v1
        return NP.NetworkPolicy(
            f"{team}-{DATABASE_EGRESS_POLICY}",
            metadata=meta(DATABASE_EGRESS_POLICY, team, component="tenant-network"),
            spec=NP.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(release.POD_LABELS)),
                policy_types=["Egress"],
                egress=[NP.NetworkPolicyEgressRuleArgs(
                    to=[NP.NetworkPolicyPeerArgs(
                        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": database_namespace}
                        ),
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(PROXYSQL_POD_LABELS)),
                    )],
                    ports=[NP.NetworkPolicyPortArgs(port=database_port, protocol="TCP")],
                )],
            ),
            opts=child(self, depends_on=[namespace]),
        )


@dataclass(frozen=True)
class ModelRegistriesArgs:
    """Whose registries (one database account per opted-in team) and what each one connects to."""

    accounts: Sequence[DatabaseAccount]
    release_config: ReleaseConfig
    argocd: ArgoCdConfig
    mirror: str
    database_host: str
    database_port: int
    database_namespace: str
    secrets: SecretsPlane
    tenant_namespaces: Mapping[str, k8s.core.v1.Namespace]
    authorization_policy_crd: Sequence[pulumi.Resource]  # what installs Istio's CRDs
    database_ready: Mapping[str, Sequence[pulumi.Resource]]  # per account: its User and Grants and ProxySQL


class ModelRegistries(pulumi.ComponentResource):
    """One TenantModelRegistry per opted-in team (its database account names the team)."""

    def __init__(self, name: str, args: ModelRegistriesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kfplatform:modelregistry:ModelRegistries", name, None, opts)
        accounts, release_config, argocd = args.accounts, args.release_config, args.argocd
        mirror, database_host, database_port = args.mirror, args.database_host, args.database_port
        database_namespace, secrets, tenant_namespaces = args.database_namespace, args.secrets, args.tenant_namespaces
        authorization_policy_crd, database_ready = args.authorization_policy_crd, args.database_ready
        self.registries: dict[str, TenantModelRegistry] = {}
        for account in accounts:
            team = account.consumer_namespace
            if team is None or team not in tenant_namespaces:
                raise ValueError(f"{account.user}: a Model Registry account names no tenant namespace")
            self.registries[team] = TenantModelRegistry(
                team, account=account, release_config=release_config, argocd=argocd, mirror=mirror,
                database_host=database_host, database_port=database_port, database_namespace=database_namespace,
                secrets=secrets, namespace=tenant_namespaces[team], authorization_policy_crd=authorization_policy_crd,
                database_ready=database_ready.get(account.user, ()), opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"tenants": sorted(self.registries)})
