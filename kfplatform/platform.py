"""Platform: the root component. It reads like the posture diagram, one box per line."""
from __future__ import annotations

import pulumi

from .config import PlatformConfig
from .gpu.capacity import closed_quota_keys
from .gpu.gpus import Gpus
from .kubeflow.component import Kubeflow
from .data.tier import DataTier
from .namespaces import PlatformNamespaces
from .providers import Providers
from .secrets.plane import SecretsPlane, SecretsPlaneArgs
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
            "tenants", config.tenants, stack.tenancy, stack.network, protect_namespaces=prod, opts=here,
            closed_quota=closed_quota_keys(stack.gpu),
        )
        self.secrets = SecretsPlane(
            "secrets",
            SecretsPlaneArgs(
                config=stack.secrets,
                cluster=stack.cluster,
                images=stack.images,
                platform_namespaces={
                    ns: self.namespaces[role] for role, ns in stack.cluster.namespaces.model_dump(by_alias=True).items()
                },
                tenant_namespaces=self.tenants.namespaces,
                prod=prod,
            ),
            providers.vault,
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
        self.gpus = Gpus("gpus", config, self.namespaces["gpuOperator"], self.tenants.namespaces, opts=here)
        self.kubeflow = Kubeflow(
            "kubeflow", stack, config.tenants, self.secrets, self.tenants.namespaces, self.namespaces.by_name, opts=here
        )

        self.outputs = {
            "environment": stack.environment.value,
            "dashboardUrl": f"https://{stack.cluster.domain}/",
            "platformNamespaces": stack.cluster.namespaces.model_dump(by_alias=True),
            "tenantNamespaces": sorted(self.tenants.namespaces),
            "vaultKvMount": stack.secrets.vault.kv_mount,
            "gpuPools": self.gpus.pool_summary,
            "gpuCapacity": self.gpus.capacity,
            **self.kubeflow.outputs,
            **self.data.outputs,
        }
        self.register_outputs(self.outputs)
