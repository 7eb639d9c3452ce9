"""The capacity plan: supply and quota math, oversubscription, unsupplied resources, the Katib guard."""
import pytest

from kfplatform.config.tenant import TenantConfig
from kfplatform.gpu.capacity import closed_quota_keys, plan
from kfplatform.gpu.config import GpuConfig

from .conftest import issue_at

BASE_QUOTA = {"requests.cpu": "8", "requests.memory": "32Gi", "limits.memory": "64Gi", "requests.storage": "1Ti"}


def tenant(name: str, katib: dict | None = None, **gpus: int) -> TenantConfig:
    """A tenant with GPU quotas given as `gpu=2, mig_1g_10gb=4` (dots and dashes from underscores)."""
    quota = dict(BASE_QUOTA)
    for key, count in gpus.items():
        resource = "gpu" if key == "gpu" else "mig-" + key[len("mig_"):].replace("_", ".")
        quota[f"requests.nvidia.com/{resource}"] = str(count)
    data = {"name": name, "owner": f"{name}@example.com", "groups": [{"group": name, "role": "edit"}], "quota": quota}
    if katib:
        data["katib"] = katib
    return TenantConfig.model_validate(data)


def gpu(*pools: dict, **settings) -> GpuConfig:
    return GpuConfig.model_validate({"pools": list(pools), **settings})


def pool(name: str, model: str, gpus: int, nodes: int, layout="all-disabled", overcommit=1.0) -> dict:
    return {
        "name": name, "model": model, "gpusPerNode": gpus, "overcommit": overcommit,
        "nodes": {"names": [f"{name}-{i}" for i in range(nodes)]}, "layout": layout,
    }


def test_supply_is_nodes_times_gpus_times_layout():
    result = plan(gpu(pool("a", "A100-40GB", 4, 3, "all-balanced")), [])
    assert {s.resource: s.supply for s in result.slices} == {
        "nvidia.com/mig-1g.5gb": 24, "nvidia.com/mig-2g.10gb": 12, "nvidia.com/mig-3g.20gb": 12,
    }


def test_overcommit_allows_whole_devices_only():
    result = plan(gpu(pool("a", "H100-80GB", 7, 1, overcommit=1.3)), [])
    line = result.slice("nvidia.com/gpu")
    assert (line.supply, line.allowed) == (7, 9)  # 9.1 rounded down


def test_a_resource_two_pools_supply_is_checked_against_both():
    config = gpu(pool("h100", "H100-80GB", 8, 2), pool("a100", "A100-80GB", 4, 2, overcommit=1.5))
    result = plan(config, [tenant("t1", gpu=20), tenant("t2", gpu=8)])
    line = result.slice("nvidia.com/gpu")
    assert (line.supply, line.allowed, line.demand) == (24, 28, 28)
    assert line.status == "ok" and line.headroom == 0
    assert plan(config, [tenant("t1", gpu=21), tenant("t2", gpu=8)]).slice("nvidia.com/gpu").status == "oversubscribed"


def test_single_strategy_advertises_uniform_mig_slices_as_whole_gpus():
    config = gpu(pool("a", "A100-80GB", 8, 2, "all-1g.10gb"), pool("h", "H100-80GB", 8, 1))
    assert config.strategy == "single"
    result = plan(config, [])
    assert [(s.resource, s.supply) for s in result.slices] == [("nvidia.com/gpu", 2 * 8 * 7 + 8)]
    assert closed_quota_keys(config) == ["requests.nvidia.com/gpu"]


def test_mixed_strategy_advertises_each_profile():
    config = gpu(pool("a", "A100-80GB", 8, 2, "all-1g.10gb"), pool("h", "H100-80GB", 8, 1), migStrategy="mixed")
    assert closed_quota_keys(config) == ["requests.nvidia.com/gpu", "requests.nvidia.com/mig-1g.10gb"]


def test_oversubscription_names_pool_slice_type_supply_demand_and_top_tenants():
    config = gpu(pool("a100-mig", "A100-80GB", 8, 2, "all-balanced"))
    tenants = [tenant("t-small", mig_1g_10gb=2), tenant("t-big", mig_1g_10gb=20), tenant("t-mid", mig_1g_10gb=8),
               tenant("t-four", mig_1g_10gb=4)]
    message = plan(config, tenants).slice("nvidia.com/mig-1g.10gb").problem()
    assert message.startswith("nvidia.com/mig-1g.10gb is oversubscribed")
    assert "tenant quotas ask for 34" in message
    assert "pool a100-mig (2 nodes x 8 GPUs x 2 per GPU = 32) allows 32 (short by 2)" in message
    assert "largest quotas: t-big 20, t-mid 8, t-four 4." in message  # the three largest, largest first


def test_oversubscribing_the_committed_prod_fails_validation_at_the_pool(project):
    project.edit_tenant("team-vision", lambda t: t["quota"].update({"requests.nvidia.com/mig-1g.10gb": "70"}))
    issue = issue_at(project.errors(), "Pulumi.prod.yaml", "kubeflow-platform:gpu.pools[0]")
    assert issue.message.startswith("nvidia.com/mig-1g.10gb is oversubscribed: tenant quotas ask for 86")
    assert "4 nodes x 8 GPUs x 2 per GPU = 64, x overcommit 1.25 = 80) allows 80 (short by 6)" in issue.message
    assert "largest quotas: team-vision 70, team-nlp 16" in issue.message
    # The same demand within a higher overcommit is accepted.
    project.edit_gpu(lambda g: g["pools"][0].update(overcommit=1.5))
    project.load()


def test_a_quota_for_a_slice_type_no_pool_supplies_fails_at_the_tenants_quota_key(project):
    project.edit_tenant("team-nlp", lambda t: t["quota"].update({"requests.nvidia.com/mig-4g.40gb": "2"}))
    issue = issue_at(project.errors(), "tenants/team-nlp.yaml", "quota.requests.nvidia.com/mig-4g.40gb")
    assert "no GPU pool supplies nvidia.com/mig-4g.40gb under mig.strategy mixed" in issue.message
    assert "nvidia.com/mig-1g.10gb" in issue.message  # what the pools do supply


def test_the_issue_scenario_a_sweep_at_parallelism_16_that_its_quota_cannot_hold_is_refused(project):
    def sweep(t):
        t["katib"] = {"maxParallelTrials": 16, "resourcesPerTrial": {"nvidia.com/mig-3g.40gb": 1}}

    project.edit_tenant("team-nlp", sweep)  # team-nlp holds 12 x 3g.40gb
    issue = issue_at(project.errors(), "tenants/team-nlp.yaml", "katib.maxParallelTrials")
    assert issue.message == (
        "a Katib sweep of 16 parallel trials x 1 nvidia.com/mig-3g.40gb needs 16, but the tenant's quota "
        "requests.nvidia.com/mig-3g.40gb is 12: lower katib.maxParallelTrials to 12 or raise the quota "
        "(within the pools' capacity)"
    )


def test_a_sweep_on_a_resource_without_quota_is_refused():
    t = tenant("t", katib={"maxParallelTrials": 2, "resourcesPerTrial": {"nvidia.com/gpu": 1}}, mig_1g_10gb=4)
    result = plan(gpu(pool("h", "H100-80GB", 8, 1)), [t])
    (check,) = result.sweeps
    assert (check.need, check.quota, check.fits) == (2, 0, False)
    assert "quota requests.nvidia.com/gpu is 0" in check.problem()


def test_a_sweep_that_fits_exactly_is_accepted():
    t = tenant("t", katib={"maxParallelTrials": 4, "resourcesPerTrial": {"nvidia.com/gpu": 2}}, gpu=8)
    assert plan(gpu(pool("h", "H100-80GB", 8, 1)), [t]).problems() == []


def test_report_mode_reports_but_the_katib_guard_still_holds(project):
    # The committed sandbox is oversubscribed (prod's tenants on one node) and loads: report only.
    config = project.load("sandbox")
    result = plan(config.stack.gpu, config.tenant_configs)
    assert result.slice("nvidia.com/mig-1g.10gb").status == "oversubscribed"
    assert result.slice("nvidia.com/gpu").status == "unsupplied"
    assert result.problems()
    # A sweep that does not fit its own quota fails everywhere: it is the tenant's own arithmetic.
    project.edit_tenant("team-vision", lambda t: t["katib"].update(maxParallelTrials=25))
    issue_at(project.errors("sandbox"), "tenants/team-vision.yaml", "katib.maxParallelTrials")


def test_prod_plan_as_committed_has_headroom_everywhere(project):
    config = project.load("prod")
    result = plan(config.stack.gpu, config.tenant_configs)
    assert result.problems() == []
    assert all(s.headroom >= 0 and s.pools for s in result.slices)
    assert {k.tenant for k in result.sweeps} == {"team-nlp", "team-vision"}


@pytest.mark.parametrize("count", ["0.5", "1500m"])
def test_gpu_quotas_are_whole_devices(count):
    with pytest.raises(ValueError, match="not a whole number of devices"):
        TenantConfig.model_validate({
            "name": "t", "owner": "t@example.com", "groups": [{"group": "g", "role": "edit"}],
            "quota": {**BASE_QUOTA, "requests.nvidia.com/gpu": count},
        })
