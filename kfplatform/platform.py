"""Platform: the root component. It reads like the posture diagram, one box per line."""
from __future__ import annotations

from typing import Mapping

import pulumi

from .compliance.component import Compliance, ComplianceArgs, namespace_labels
from .backup.component import Backups, BackupsArgs, restore_bootstrap
from .config import PlatformConfig
from .config.stack import StackConfig
from .data.tier import DataTier, DataTierArgs
from .gpu.capacity import closed_quota_keys
from .gpu.gpus import Gpus, GpusArgs
from .kubeflow.component import Kubeflow, KubeflowArgs
from .modelregistry.config import database_accounts
from .modelregistry.install import ModelRegistries, ModelRegistriesArgs
from .namespaces import PlatformNamespaces
from .observability.component import Observability, ObservabilityArgs
from .providers import Providers
from .secrets.plane import SecretsPlane, SecretsPlaneArgs
from .secrets.vault_layout import TENANTS_TREE, tenant_role
from .tenancy.tenant import TenantNamespaces, TenantNamespacesArgs, Tenants, TenantsArgs


class Platform(pulumi.ComponentResource):
    def __init__(
        self, name: str, config: PlatformConfig, providers: Providers, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("kfplatform:index:Platform", name, None, opts)
        stack = config.stack
        prod = stack.is_prod
        here = pulumi.ResourceOptions(parent=self)

        # Namespaces first: every box puts objects in them.
        self.namespaces = PlatformNamespaces("namespaces", stack.cluster.namespaces, protect=prod, opts=here)
        self.tenant_namespaces = TenantNamespaces(
            "tenant-namespaces",
            TenantNamespacesArgs(
                tenants=config.tenants, tenancy=stack.tenancy, protect=prod, extra_labels=namespace_labels(config),
            ),
            opts=here,
        )
        tenant_namespaces = self.tenant_namespaces.namespaces
        registry_accounts = database_accounts(config.tenants)  # teams with `modelRegistry: true`
        self.secrets = SecretsPlane(
            "secrets",
            SecretsPlaneArgs(
                config=stack.secrets,
                cluster=stack.cluster,
                images=stack.images,
                platform_namespaces={
                    ns: self.namespaces[role] for role, ns in stack.cluster.namespaces.model_dump(by_alias=True).items()
                },
                tenant_namespaces=tenant_namespaces,
                prod=prod,
            ),
            providers.vault,
            opts=here,
        )
        self.data = DataTier(
            "data",
            DataTierArgs(
                stack=stack,
                secrets=self.secrets,
                namespaces=self.namespaces.by_role,
                tenant_namespaces=tenant_namespaces,
                minio_provider=providers.minio,
                bootstrap=restore_bootstrap(stack, self.secrets),  # the restore drill: Galera from a backup
                tenant_accounts=registry_accounts,
            ),
            opts=here,
        )
        self.kubeflow = Kubeflow(
            "kubeflow",
            KubeflowArgs(
                stack=stack, tenants=config.tenants, secrets=self.secrets, tenant_namespaces=tenant_namespaces,
                platform_namespaces=self.namespaces.by_name,
            ),
            opts=here,
        )
        # After Kubeflow: a tenant's Profile, AuthorizationPolicies and PodDefaults wait for their CRDs.
        crds = self.kubeflow.install.crd_installers
        self.tenants = Tenants(
            "tenants",
            TenantsArgs(
                tenants=config.tenants, namespaces=tenant_namespaces, tenancy=stack.tenancy, network=stack.network,
                crd_installers=crds, closed_quota=closed_quota_keys(stack.gpu),
            ),
            opts=here,
        )
        self.backups = Backups(
            "backups",
            BackupsArgs(
                stack=stack, tenants=config.tenants, secrets=self.secrets, namespaces=self.namespaces.by_role,
                tenant_namespaces=tenant_namespaces, endpoints=self.data.endpoints,
                galera=[self.data.operators.mariadb, self.data.galera.mariadb], buckets=self.data.object_store.buckets,
                minio_provider=providers.minio, vault_provider=providers.vault,
                object_users=self.data.object_store.users,
            ),
            opts=here,
        )
        self.model_registries = ModelRegistries(
            "model-registries",
            ModelRegistriesArgs(
                accounts=registry_accounts, release_config=stack.kubeflow.release, argocd=stack.kubeflow.argocd,
                mirror=stack.images.mirror, database_host=self.data.endpoints.database_host,
                database_port=self.data.endpoints.database_port, database_namespace=stack.cluster.namespaces.database,
                secrets=self.secrets, tenant_namespaces=tenant_namespaces,
                authorization_policy_crd=[crds["AuthorizationPolicy"]] if "AuthorizationPolicy" in crds else [],
                database_ready={
                    user: [*objects, self.data.proxysql.deployment]
                    for user, objects in self.data.galera.account_objects.items()
                },
            ),
            opts=here,
        )
        self.gpus = Gpus(
            "gpus",
            GpusArgs(
                config=config, operator_namespace=self.namespaces["gpuOperator"], tenant_namespaces=tenant_namespaces,
                crd_installers=crds, pull_secret=self.secrets.pull_secret_delivery(stack.cluster.namespaces.gpu_operator),
            ),
            opts=here,
        )
        self.compliance = Compliance(
            "compliance",
            ComplianceArgs(
                config=config, secrets=self.secrets, namespaces=self.namespaces.by_name,
                tenant_namespaces=tenant_namespaces, audit_bucket=self.data.object_store.buckets["audit"],
                minio_provider=providers.minio, crd_installers=crds, object_users=self.data.object_store.users,
            ),
            opts=here,
        )
        self.observability = Observability(
            "observability",
            ObservabilityArgs(
                config=config, namespaces=self.namespaces.by_name, tenant_namespaces=tenant_namespaces,
                secrets=self.secrets,
            ),
            opts=here,
        )
        # After the last ObjectAccount (data tier, backups, compliance): the CronJob over all their users.
        self.data.object_store.users.finish()

        self.outputs = self._outputs(stack, tenant_namespaces)
        self.register_outputs(self.outputs)

    def _outputs(self, stack: StackConfig, tenant_namespaces: Mapping[str, pulumi.Resource]) -> dict:
        """What users need: endpoints, namespaces, where each team's secrets live, and each box's outputs."""
        return {
            "environment": stack.environment.value,
            "dashboardUrl": f"https://{stack.cluster.domain}/",
            "platformNamespaces": stack.cluster.namespaces.model_dump(by_alias=True),
            "tenantNamespaces": sorted(tenant_namespaces),
            "vaultKvMount": stack.secrets.vault.kv_mount,
            # Where each team's secrets live (`bao kv put <mount>/<tree>/...`), and its Vault role.
            "vaultTenantPaths": {
                t: {"tree": f"{stack.secrets.vault.kv_mount}/{TENANTS_TREE}/{t}", "role": tenant_role(t)}
                for t in sorted(tenant_namespaces)
            },
            "gpuPools": self.gpus.pool_summary,
            "gpuCapacity": self.gpus.capacity,
            **self.kubeflow.outputs,
            **self.data.outputs,
            **self.compliance.outputs,
            **self.backups.outputs,
            **self.observability.outputs,
        }
