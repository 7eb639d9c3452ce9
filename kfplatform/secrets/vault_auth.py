"""Who may log in to Vault as what: the Kubernetes auth backend, its roles, and the login identities.

Each SecretStore logs in as a ServiceAccount of its own, never as ESO's controller:
- the platform's ClusterSecretStore as `platform-operators/eso-vault-platform` -> role `platform`;
- a tenant's SecretStore as `<team>/eso-vault` -> role `tenant-<team>`, bound to that name in that
  namespace only.
ESO's controller ServiceAccount is bound to no role on purpose: a Vault SecretStore whose
kubernetes auth names no ServiceAccount makes ESO log in with the controller's own token
(external-secrets pkg/provider/vault/auth_kubernetes.go), so any role bound to the controller
would be open to every namespace that can write a SecretStore.

Vault runs outside the cluster. It validates a login by sending the login's own JWT to the API
server's TokenReview endpoint ("client JWT as reviewer"), so each login ServiceAccount needs
`system:auth-delegator` and no long-lived reviewer token exists.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_vault as vault

from ..k8s import child, meta
from .config import VaultConfig
from .vault_layout import PLATFORM_ROLE, tenant_role

TENANT_STORE_SA = "eso-vault"  # the ServiceAccount a tenant's SecretStore logs in to Vault as
PLATFORM_STORE_SA = "eso-vault-platform"  # the ServiceAccount the ClusterSecretStore logs in as
AUTH_DELEGATOR = "system:auth-delegator"


# No pod may run as a login identity: each holds `system:auth-delegator` cluster-wide (TokenReview,
# SubjectAccessReview), which a team running a pod as its own `eso-vault` would otherwise get.
# ESO never needs a pod: it asks the TokenRequest API for each login's token.
NO_LOGIN_PODS_POLICY = "kfplatform-no-pods-as-vault-login"
LOGIN_SERVICE_ACCOUNTS = (TENANT_STORE_SA, PLATFORM_STORE_SA)


def no_login_pods_expression() -> str:
    """CEL: the pod runs as none of the login identities (`serviceAccount` is the deprecated alias)."""
    names = "[" + ", ".join(f"'{n}'" for n in LOGIN_SERVICE_ACCOUNTS) + "]"
    return " && ".join(
        f"!(has(object.spec.{field}) && object.spec.{field} in {names})" for field in ("serviceAccountName", "serviceAccount")
    )


def token_review_binding_name(key: str) -> str:
    """`platform` or `tenant-<team>`: the two kinds never share a name."""
    return f"eso-vault-token-review-{key}"


class VaultKubernetesAuth(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: VaultConfig,
        *,
        cluster_name: str,
        platform_namespace: str,
        platform_namespace_deps: Sequence[pulumi.Resource],
        tenant_namespaces: Mapping[str, k8s.core.v1.Namespace],
        platform_policy: vault.Policy,
        tenant_policies: Mapping[str, vault.Policy],
        vault_provider: pulumi.ProviderResource,
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:secrets:VaultKubernetesAuth", name, None, opts)
        vault_opts = dict(provider=vault_provider)

        # Kubernetes side: one login identity per store, allowed to have its own token reviewed.
        self.platform_service_account = self._login_identity(
            "platform", PLATFORM_STORE_SA, platform_namespace, list(platform_namespace_deps)
        )
        self.tenant_service_accounts = {
            tenant: self._login_identity(f"tenant-{tenant}", TENANT_STORE_SA, tenant, [namespace])
            for tenant, namespace in sorted(tenant_namespaces.items())
        }

        # Vault side.
        self._name, self._config, self._vault_opts = name, config, vault_opts
        self.backend, self.backend_config = self._backend(cluster_name, protect)
        self.platform_role = self._role(PLATFORM_ROLE, PLATFORM_STORE_SA, platform_namespace, platform_policy)
        self.tenant_roles = {
            tenant: self._role(tenant_role(tenant), TENANT_STORE_SA, tenant, tenant_policies[tenant])
            for tenant in sorted(tenant_namespaces)
        }
        self.no_login_pods = self._no_login_pods()
        self.register_outputs({
            "authMount": self.backend.path,
            "roles": [PLATFORM_ROLE, *(tenant_role(t) for t in sorted(tenant_namespaces))],
        })

    def _backend(
        self, cluster_name: str, protect: bool
    ) -> tuple[vault.AuthBackend, vault.kubernetes.AuthBackendConfig]:
        """Vault's kubernetes auth mount, reviewing each login's JWT with the cluster's API server."""
        name, config = self._name, self._config
        backend = vault.AuthBackend(
            f"{name}-backend",
            type="kubernetes",
            path=config.auth_mount,
            description=f"ServiceAccount logins from Kubernetes cluster {cluster_name} (ESO SecretStores)",
            opts=child(self, protect=protect, **self._vault_opts),
        )
        ca_cert: pulumi.Input[str] | None = config.kubernetes.ca_cert
        if ca_cert is None:
            # The cluster's own CA, published in every namespace; read from the cluster at deploy time.
            root_ca = k8s.core.v1.ConfigMap.get(
                f"{name}-kube-root-ca", "kube-system/kube-root-ca.crt", opts=pulumi.ResourceOptions(parent=self)
            )
            ca_cert = root_ca.data.apply(lambda data: (data or {}).get("ca.crt"))
        backend_config = vault.kubernetes.AuthBackendConfig(
            f"{name}-config",
            backend=backend.path,
            kubernetes_host=config.kubernetes.host,
            kubernetes_ca_cert=ca_cert,
            # Vault is not in the cluster: no local token; each login's JWT reviews itself.
            disable_local_ca_jwt=True,
            opts=child(self, **self._vault_opts),
        )
        return backend, backend_config

    def _role(
        self, role_name: str, service_account: str, namespace: str, policy: vault.Policy
    ) -> vault.kubernetes.AuthBackendRole:
        return vault.kubernetes.AuthBackendRole(
            f"{self._name}-role-{role_name}",
            backend=self.backend.path,
            role_name=role_name,
            bound_service_account_names=[service_account],
            bound_service_account_namespaces=[namespace],
            token_policies=[policy.name],
            token_ttl=self._config.token_ttl_seconds,
            token_max_ttl=self._config.token_max_ttl_seconds,
            opts=child(self, depends_on=[self.backend_config], **self._vault_opts),
        )

    def _no_login_pods(self) -> k8s.admissionregistration.v1.ValidatingAdmissionPolicy:
        """No pod may run as a login identity (they hold system:auth-delegator), in every namespace."""
        name = self._name
        policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}-no-login-pods",
            metadata=meta(NO_LOGIN_PODS_POLICY, component="secrets"),
            spec=k8s.admissionregistration.v1.ValidatingAdmissionPolicySpecArgs(
                failure_policy="Fail",
                match_constraints=k8s.admissionregistration.v1.MatchResourcesArgs(
                    resource_rules=[k8s.admissionregistration.v1.NamedRuleWithOperationsArgs(
                        api_groups=[""], api_versions=["v1"], operations=["CREATE", "UPDATE"], resources=["pods"],
                    )],
                ),
                validations=[k8s.admissionregistration.v1.ValidationArgs(
                    expression=no_login_pods_expression(),
                    message=(
                        f"no pod may run as {' or '.join(LOGIN_SERVICE_ACCOUNTS)}: they are Vault login identities "
                        "holding system:auth-delegator (docs/secrets.md, 'Vault checks logins with the API server')"
                    ),
                    reason="Forbidden",
                )],
            ),
            opts=child(self),
        )
        # Every namespace: the names are the platform's wherever they appear.
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}-no-login-pods-binding",
            metadata=meta(NO_LOGIN_PODS_POLICY, component="secrets"),
            spec=k8s.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpecArgs(
                policy_name=NO_LOGIN_PODS_POLICY, validation_actions=["Deny"],
            ),
            opts=child(self, depends_on=[policy]),
        )
        return policy

    def _login_identity(
        self, key: str, service_account: str, namespace: str, depends_on: list[pulumi.Resource]
    ) -> k8s.core.v1.ServiceAccount:
        sa = k8s.core.v1.ServiceAccount(
            f"{key}-eso-sa",
            metadata=meta(service_account, namespace, component="secrets"),
            # ESO asks the TokenRequest API for short-lived tokens; no pod mounts this identity.
            automount_service_account_token=False,
            opts=child(self, depends_on=depends_on),
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{key}-eso-token-review",
            metadata=meta(token_review_binding_name(key), component="secrets"),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=AUTH_DELEGATOR
            ),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=service_account, namespace=namespace)],
            opts=child(self, depends_on=[sa]),
        )
        return sa
