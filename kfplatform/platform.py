"""Platform: the root component. It reads like the posture diagram, one box per line."""
from __future__ import annotations

import pulumi

from .config import PlatformConfig
from .gpu.capacity import closed_quota_keys
from .gpu.gpus import Gpus
from .namespaces import PlatformNamespaces
from .tenancy.tenant import Tenants


class Platform(pulumi.ComponentResource):
    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kfplatform:index:Platform", name, None, opts)
        stack = config.stack
        prod = stack.is_prod
        here = pulumi.ResourceOptions(parent=self)

        self.namespaces = PlatformNamespaces("namespaces", stack.cluster.namespaces, protect=prod, opts=here)
        self.tenants = Tenants(
            "tenants", config.tenants, stack.tenancy, stack.network, protect_namespaces=prod, opts=here,
            closed_quota=closed_quota_keys(stack.gpu),
        )
        self.gpus = Gpus("gpus", config, self.namespaces["gpuOperator"], self.tenants.namespaces, opts=here)

        self.outputs = {
            "environment": stack.environment.value,
            "dashboardUrl": f"https://{stack.cluster.domain}/",
            "platformNamespaces": stack.cluster.namespaces.model_dump(by_alias=True),
            "tenantNamespaces": sorted(self.tenants.namespaces),
            "gpuPools": self.gpus.pool_summary,
            "gpuCapacity": self.gpus.capacity,
        }
        self.register_outputs(self.outputs)
