"""Platform: the root component. It reads like the posture diagram, one box per line."""
from __future__ import annotations

import pulumi

from .config import PlatformConfig
from .data.tier import DataTier
from .namespaces import PlatformNamespaces
from .providers import Providers
from .secrets.plane import SecretsPlane
from .tenancy.tenant import Tenants


class Platform(pulumi.ComponentResource):
    def __init__(
        self, name: str, config: PlatformConfig, providers: Providers, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("kfplatform:index:Platform", name, None, opts)
        stack = config.stack
        prod = stack.is_prod
        here = pulumi.ResourceOptions(parent=self)

        self.namespaces = PlatformNamespaces("namespaces", stack.cluster.namespaces, protect=prod, opts=here)
        self.tenants = Tenants(
            "tenants", config.tenants, stack.tenancy, stack.network, protect_namespaces=prod, opts=here
        )
        self.secrets = SecretsPlane(
            "secrets",
            stack.secrets,
            platform_namespaces=sorted(stack.cluster.namespaces.names()),
            eso_service_account=(stack.cluster.namespaces.operators, "external-secrets"),
            tenant_namespaces=self.tenants.namespaces,
            vault_provider=providers.vault,
            opts=here,
        )
        self.data = DataTier(
            "data",
            stack,
            secrets=self.secrets,
            namespaces=self.namespaces.by_role,
            tenant_namespaces=self.tenants.namespaces,
            minio_provider=providers.minio,
            opts=here,
        )

        self.outputs = {
            "environment": stack.environment.value,
            "dashboardUrl": f"https://{stack.cluster.domain}/",
            "platformNamespaces": stack.cluster.namespaces.model_dump(by_alias=True),
            "tenantNamespaces": sorted(self.tenants.namespaces),
            "vaultKvMount": stack.secrets.vault.kv_mount,
            **self.data.outputs,
        }
        self.register_outputs(self.outputs)
