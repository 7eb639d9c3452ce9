"""GPUs: the NVIDIA GPU Operator, MIG layouts per pool, tainted pools, tenant GPU access, capacity plan.

Modules, from data to cluster objects:
  geometry   MIG profile tables per GPU model (the one place they live), layout fitting
  config     pydantic models: `gpu:` in the stack file, `katib:` in a tenant file
  capacity   the capacity plan: supply per pool and slice type vs tenant quotas, Katib guard
  checks     the plan's cross-checks, exported as CHECKS, run by the config loader
  report     the plan as a text table and as markdown
  migparted  the mig-parted config generated from the pools' layouts
  operator   GpuOperator: Helm release (chart pin, image digests) and the mig-parted ConfigMap
  pools      GpuPools: node labels and taints, PriorityClasses
  access     TenantGpuAccess: PodDefault with the pools' tolerations, Katib parallelism policy
  gpus       Gpus: the root component wiring the above
"""
