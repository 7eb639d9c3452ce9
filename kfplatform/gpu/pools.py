"""GpuPools: each pool's nodes labelled with their MIG layout and tainted, and the PriorityClasses.

Nodes listed by name get a server-side-apply patch (NodePatch):
  labels  nvidia.com/mig.config=<layout>  (the MIG manager applies it; a change drains the GPUs)
          kfplatform.io/gpu-pool=<pool>
  taints  nvidia.com/gpu=present:NoSchedule on dedicated pools; none on shared ones.
Kubernetes keeps `spec.taints` as one atomic list under server-side apply: the patch owns a
dedicated node's whole taint list (forced, `pulumi.com/patchForce`). A shared pool's patch
leaves the taints alone. Selector pools are patched by their node group, which must set what
`node_settings` says (exported as `gpuPools`).
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from ..k8s import child, meta
from .config import GpuConfig, GpuPool
from .operator import GPU_TAINT_KEY

MIG_CONFIG_LABEL = "nvidia.com/mig.config"
POOL_LABEL = "kfplatform.io/gpu-pool"
GPU_TAINT = {"key": GPU_TAINT_KEY, "value": "present", "effect": "NoSchedule"}


@dataclass(frozen=True)
class GpuPriorityClass:
    name: str
    value: int
    preempts: bool
    description: str


# Who yields when a pool is full (overcommitted pools, shared pools with other GPU work).
# Interactive work first: the complaint this plan answers is notebooks blocked behind sweeps.
PRIORITY_CLASSES = (
    GpuPriorityClass(
        "gpu-interactive", 100_000, True,
        "Notebooks and interactive sessions on GPU pools; preempts training and opportunistic GPU work.",
    ),
    GpuPriorityClass(
        "gpu-training", 50_000, True,
        "Kubeflow training jobs, Katib trials and pipeline steps on GPU pools; preempts opportunistic GPU work.",
    ),
    GpuPriorityClass(
        "gpu-opportunistic", 1_000, False,
        "Other GPU work on shared pools: runs on spare devices, never preempts, is preempted by Kubeflow work.",
    ),
)


def node_settings(pool: GpuPool) -> dict:
    """The labels and taints every node of the pool carries."""
    return {
        "labels": {MIG_CONFIG_LABEL: pool.layout_name, POOL_LABEL: pool.name},
        "taints": [dict(GPU_TAINT)] if pool.mode == "dedicated" else [],
    }


def pool_summary(pool: GpuPool) -> dict:
    """What the `gpuPools` stack output says about a pool (and what a node group must set)."""
    nodes = {"names": list(pool.nodes.names)} if pool.nodes.names else {
        "selector": dict(pool.nodes.selector), "count": pool.nodes.node_count,
    }
    return {
        "model": pool.model,
        "gpusPerNode": pool.gpus_per_node,
        "nodes": nodes,
        "layout": pool.layout_name,
        "migDevicesPerGpu": pool.mig_devices,
        "mode": pool.mode,
        "overcommit": pool.overcommit,
        "patchedByProgram": bool(pool.nodes.names),
        **node_settings(pool),
    }


class GpuPools(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        gpu: GpuConfig,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`depends_on`: what must exist before a node asks for a layout (the mig-parted ConfigMap)."""
        super().__init__("kfplatform:gpu:GpuPools", name, None, opts)
        self.priority_classes = [
            k8s.scheduling.v1.PriorityClass(
                f"{name}-{pc.name}",
                metadata=meta(pc.name, component="gpu-pools"),
                value=pc.value,
                global_default=False,
                preemption_policy="PreemptLowerPriority" if pc.preempts else "Never",
                description=pc.description,
                opts=child(self),
            )
            for pc in PRIORITY_CLASSES
        ]
        self.node_patches: dict[str, k8s.core.v1.NodePatch] = {}
        for pool in gpu.pools:
            settings = node_settings(pool)
            for node in pool.nodes.names:
                self.node_patches[node] = k8s.core.v1.NodePatch(
                    f"{name}-{pool.name}-{node}",
                    metadata=k8s.meta.v1.ObjectMetaPatchArgs(
                        name=node,
                        labels=settings["labels"],
                        annotations={"pulumi.com/patchForce": "true"},
                    ),
                    spec=k8s.core.v1.NodeSpecPatchArgs(
                        taints=[k8s.core.v1.TaintPatchArgs(**t) for t in settings["taints"]]
                    ) if pool.mode == "dedicated" else None,
                    opts=child(self, depends_on=depends_on),
                )
        self.summary = {pool.name: pool_summary(pool) for pool in gpu.pools}
        self.register_outputs({"pools": self.summary})
