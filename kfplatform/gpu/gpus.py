"""Gpus: the GPU box of the platform: operator, pools, tenant access, and the capacity plan."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from ..config import PlatformConfig
from .access import TenantGpuAccess, uses_gpus
from .capacity import plan
from .operator import GpuOperator
from .pools import GpuPools


@dataclass(frozen=True)
class GpusArgs:
    """What the GPU box reads: the whole config (pools, tenants' quotas) and where it installs."""

    config: PlatformConfig
    operator_namespace: k8s.core.v1.Namespace
    tenant_namespaces: dict[str, k8s.core.v1.Namespace]
    crd_installers: Mapping[str, pulumi.Resource] | None = None  # kind -> what installs its CRD (PodDefaults wait)
    pull_secret: pulumi.Resource | None = None


class Gpus(pulumi.ComponentResource):
    """`capacity` is the capacity plan as data (the `gpuCapacity` output, capacity.json in a render)."""

    def __init__(self, name: str, args: GpusArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kfplatform:gpu:Gpus", name, None, opts)
        config, operator_namespace, tenant_namespaces = args.config, args.operator_namespace, args.tenant_namespaces
        crd_installers, pull_secret = args.crd_installers, args.pull_secret
        poddefault_crd = [crd_installers["PodDefault"]] if crd_installers and "PodDefault" in crd_installers else []
        stack = config.stack
        here = pulumi.ResourceOptions(parent=self)
        self.operator = GpuOperator(
            "gpu-operator", stack.gpu, stack.images, operator_namespace,
            stack.cluster.namespaces.gpu_operator, pull_secret, opts=here,
        )
        self.pools = GpuPools("gpu-pools", stack.gpu, depends_on=[self.operator.mig_config], opts=here)
        self.tenant_access = {
            t.config.name: TenantGpuAccess(
                f"{t.config.name}-gpu", t.config, t.path, tenant_namespaces[t.config.name], poddefault_crd, opts=here
            )
            for t in config.tenants
            if uses_gpus(t.config)
        }
        self.capacity = plan(stack.gpu, config.tenant_configs).to_json()
        self.pool_summary = self.pools.summary
        self.register_outputs({"pools": self.pool_summary, "capacity": self.capacity})
