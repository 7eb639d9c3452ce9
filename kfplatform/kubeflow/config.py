"""Configuration of the Kubeflow area (`kubeflow-platform:kubeflow:` in `Pulumi.<stack>.yaml`).

Everything an operator may choose lives here; what upstream fixed (Deployment names, labels,
paths in kubeflow/manifests) lives in `release.py`, next to the pinned release it belongs to.
"""
from __future__ import annotations

import re
from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..config.base import DnsLabel, Model, Quantity, is_prod
from ..config.identities import IdpGroup, email
from ..images import DIGEST

COMMIT = re.compile(r"^[0-9a-f]{40}$")
TAG = re.compile(r"^v\d+\.\d+\.\d+$")
MOVING_REVISIONS = {"head", "master", "main", "latest", "HEAD"}
# Lifetime of the ID tokens Dex issues (its `expiry.idTokens`, rendered explicitly): the upper bound
# of a login session, since the session's cookie carries that token to the gateway.
DEX_ID_TOKEN_HOURS = 24


def _https_url(value: str, what: str) -> str:
    if not re.fullmatch(r"^https://[a-z0-9.-]+(:\d+)?(/\S*)?$", value):
        raise ValueError(f"{value!r}: {what} must be an https:// URL")
    return value.rstrip("/")


class ReleaseConfig(Model):
    """The upstream install: kubeflow/manifests at a release tag, pinned to that tag's commit.

    `repoUrl` may point at a vendored mirror (egress-restricted runners and Argo CD repo-servers);
    the tag and commit say what the mirror must contain.
    """

    repo_url: str = "https://github.com/kubeflow/manifests.git"
    tag: str
    commit: str

    @field_validator("repo_url")
    @classmethod
    def _repo(cls, value: str) -> str:
        return _https_url(value, "the manifests repository")

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        if value in MOVING_REVISIONS or not TAG.fullmatch(value):
            raise ValueError(f"{value!r}: give a release tag like v1.11.0 (never a branch such as master)")
        return value

    @field_validator("commit")
    @classmethod
    def _commit(cls, value: str) -> str:
        if not COMMIT.fullmatch(value):
            raise ValueError(f"{value!r}: give the full 40-character commit the tag points at (tags can be moved)")
        return value


class ArgoCdConfig(Model):
    """Argo CD is an existing service: where it runs and where it deploys to."""

    namespace: DnsLabel = "argocd"
    install_project: DnsLabel = "kubeflow-install"
    destination_server: str = "https://kubernetes.default.svc"


class Scaling(Model):
    """Replicas of one control-plane Deployment: an HPA keeps it between min and max."""

    min_replicas: int = Field(ge=1)
    max_replicas: int = Field(ge=1)
    target_cpu_utilization: int = Field(default=70, ge=10, le=100)
    cpu_request: Quantity = "100m"
    memory_request: Quantity = "256Mi"

    @field_validator("min_replicas")
    @classmethod
    def _ha_in_prod(cls, value: int, info: ValidationInfo) -> int:
        if is_prod(info) and value < 2:
            raise ValueError(f"{value} replica(s): prod runs every control-plane component with at least 2 replicas")
        return value

    @model_validator(mode="after")
    def _range(self) -> "Scaling":
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"maxReplicas {self.max_replicas} is below minReplicas {self.min_replicas}")
        return self


class ControlPlaneConfig(Model):
    """The HA set: each key is one upstream Deployment (see release.HA_WORKLOADS)."""

    ml_pipeline: Scaling = Scaling(min_replicas=2, max_replicas=4)
    metadata_grpc: Scaling = Scaling(min_replicas=2, max_replicas=4)
    ml_pipeline_ui: Scaling = Scaling(min_replicas=2, max_replicas=4)
    istio_ingress_gateway: Scaling = Scaling(min_replicas=2, max_replicas=6, cpu_request="500m", memory_request="512Mi")
    dex: Scaling = Scaling(min_replicas=2, max_replicas=3)
    oauth2_proxy: Scaling = Scaling(min_replicas=2, max_replicas=4)
    # Alert (PrometheusRule) when a component runs below its minimum for `alertAfter`.
    alerts: bool = True
    alert_after: str = "5m"

    @field_validator("alert_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not re.fullmatch(r"\d+(s|m|h)", value):
            raise ValueError(f"{value!r} is not a Prometheus duration like 5m")
        return value


class IdentityConfig(Model):
    """Dex, connected to the organisation's IdP; oauth2-proxy in front of the gateway.

    The IdP client secret is never here: it is read from Vault (`platform/identity/oidc-client`,
    property `client_secret`) and delivered by ESO.
    """

    issuer_url: str  # the organisation's OIDC issuer
    client_id: str = Field(min_length=1)
    connector_name: str = "Single sign-on"
    # The claim in the IdP's ID token that lists the user's groups; Dex republishes it as `groups`.
    groups_claim: str = "groups"
    scopes: list[str] = ["openid", "profile", "email", "groups"]
    # Groups that may log in besides every tenant's groups (platform operators).
    admin_groups: list[IdpGroup] = []
    # Sandbox only: Dex's mock connector, and static users (password hash from Vault).
    test_connector: bool = False
    static_users: list[str] = []
    cookie_expire: str = "24h"

    @field_validator("issuer_url")
    @classmethod
    def _issuer(cls, value: str) -> str:
        return _https_url(value, "the OIDC issuer")

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("scopes must include openid")
        return value

    @field_validator("test_connector")
    @classmethod
    def _no_test_connector_in_prod(cls, value: bool, info: ValidationInfo) -> bool:
        if value and is_prod(info):
            raise ValueError("prod logs in through the organisation's IdP only; remove the test connector")
        return value

    @field_validator("static_users")
    @classmethod
    def _no_static_users_in_prod(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if value and is_prod(info):
            raise ValueError("prod has no static users; people log in through the organisation's IdP")
        for user in value:
            email(user)
        return value

    @field_validator("cookie_expire")
    @classmethod
    def _duration(cls, value: str) -> str:
        match = re.fullmatch(r"(\d+)(m|h)", value)
        if not match:
            raise ValueError(f"{value!r} is not a duration like 24h")
        minutes = int(match[1]) * (60 if match[2] == "h" else 1)
        if minutes > DEX_ID_TOKEN_HOURS * 60:
            # oauth2-proxy does not refresh the token (cookie_refresh 0): a session longer than the
            # ID token it carries reaches the gateway with an expired JWT, which Istio refuses.
            raise ValueError(
                f"{value}: a login session cannot outlive Dex's ID token ({DEX_ID_TOKEN_HOURS}h); "
                "past that the gateway refuses the session's token"
            )
        if minutes < 5:
            raise ValueError(f"{value}: shorter than 5m would log people out between two clicks")
        return value


class BaseImageConfig(Model):
    """KFP's default base image for Python components, from the internal mirror, digest-pinned."""

    path: str = "library/python"
    tag: str = "3.12-slim-bookworm"
    digest: str

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str) -> str:
        if not DIGEST.fullmatch(value):
            raise ValueError(f"{value!r} is not a sha256 digest (sha256:<64 hex>)")
        return value


class PipelinesConfig(Model):
    """Supply chain of auto-built Python components: base image and pip index, both internal."""

    base_image: BaseImageConfig
    pip_index_url: str

    @field_validator("pip_index_url")
    @classmethod
    def _pip(cls, value: str, info: ValidationInfo) -> str:
        value = _https_url(value, "the PyPI mirror")
        if "pypi.org" in value or "pythonhosted.org" in value:
            raise ValueError(f"{value!r} is the public index; give the internal PyPI mirror")
        return value


class WorkloadsConfig(Model):
    """The daily GitOps path: one Argo CD Application per tenant from the workloads repository."""

    repo_url: str
    target_revision: str = "main"
    # Where a tenant's manifests live in the repository; `{tenant}` is replaced by the tenant name.
    path_template: str = "tenants/{tenant}"
    # Namespaced kinds a team may deploy through GitOps (group/kind); nothing cluster-scoped.
    allowed_kinds: list[str] = [
        "serving.kserve.io/InferenceService",
        "kubeflow.org/Experiment",
        "kubeflow.org/PodDefault",
        "pipelines.kubeflow.org/Pipeline",
        "pipelines.kubeflow.org/PipelineVersion",
        "kubeflow.org/ScheduledWorkflow",
        "batch/CronJob",  # e.g. a training trigger (docs/workloads.md); pods stay under the namespace's PSS
        "external-secrets.io/ExternalSecret",
        "/ConfigMap",
        "/ServiceAccount",
    ]

    @field_validator("repo_url")
    @classmethod
    def _repo(cls, value: str) -> str:
        if not (value.startswith("https://") or value.startswith("ssh://") or value.startswith("git@")):
            raise ValueError(f"{value!r}: give the workloads repository as https://, ssh:// or git@ URL")
        return value

    @field_validator("path_template")
    @classmethod
    def _template(cls, value: str) -> str:
        if "{tenant}" not in value or value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"{value!r}: a relative path containing {{tenant}}, e.g. tenants/{{tenant}}")
        return value

    @field_validator("allowed_kinds")
    @classmethod
    def _kinds(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(r"[a-z0-9.-]*/[A-Z][A-Za-z0-9]*", item):
                raise ValueError(f"{item!r}: write kinds as group/Kind (core kinds as /Kind)")
            if item.split("/")[1] in ("Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"):
                raise ValueError(f"{item!r} is cluster-scoped; tenants deploy namespaced kinds only")
            if item in ("/Secret", "rbac.authorization.k8s.io/RoleBinding", "rbac.authorization.k8s.io/Role"):
                raise ValueError(f"{item!r} would let a team change its own access or hold plain secrets in git")
        return value


class KubeflowConfig(Model):
    release: ReleaseConfig
    argocd: ArgoCdConfig = ArgoCdConfig()
    control_plane: ControlPlaneConfig = ControlPlaneConfig()
    identity: IdentityConfig
    pipelines: PipelinesConfig
    workloads: WorkloadsConfig
    # Upstream components (release.COMPONENTS keys) the cluster already has, e.g. cert-manager.
    skip_components: list[str] = []

    @field_validator("skip_components")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        from .release import COMPONENTS, REQUIRED_COMPONENTS

        for name in value:
            if name not in COMPONENTS:
                raise ValueError(f"{name!r} is not an upstream component (known: {', '.join(sorted(COMPONENTS))})")
            if name in REQUIRED_COMPONENTS:
                raise ValueError(f"{name!r} carries the HA and data-tier wiring; it cannot be skipped")
        return value
