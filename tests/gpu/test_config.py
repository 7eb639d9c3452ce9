"""Pool and layout configuration errors: reported at the key, naming the pool and the profile."""
from .conftest import issue_at

STACK = "Pulumi.prod.yaml"
POOL0 = "kubeflow-platform:gpu.pools[0]"


def test_the_committed_stacks_load(project):
    for stack in ("prod", "sandbox"):
        config = project.load(stack)
        assert config.stack.gpu.pools


def test_a_custom_layout_with_a_profile_of_another_model_names_pool_and_profile(project):
    def change(gpu):
        gpu["pools"][0]["layout"] = {"name": "nlp-mixed", "migDevices": {"2g.10gb": 1, "3g.40gb": 1}}

    project.edit_gpu(change)
    issue = issue_at(project.errors(), STACK, f"{POOL0}.layout")
    assert "pool 'a100-mig' (A100-80GB)" in issue.message
    assert "layout 'nlp-mixed'" in issue.message
    assert "profile '2g.10gb' does not exist on A100-80GB" in issue.message


def test_a_custom_layout_over_the_gpu_names_pool_and_profiles(project):
    project.edit_gpu(lambda gpu: gpu["pools"][0].update(
        layout={"name": "too-much", "migDevices": {"1g.10gb": 8, "4g.40gb": 1}}
    ))
    message = issue_at(project.errors(), STACK, f"{POOL0}.layout").message
    assert "pool 'a100-mig'" in message
    assert "'1g.10gb' x8 exceeds the 7 instance(s) one A100-80GB holds" in message
    assert "needs 12 compute slices (1g.10gb x8 (8) + 4g.40gb x1 (4)); one A100-80GB has 7" in message


def test_an_unknown_builtin_lists_the_models_builtins(project):
    project.edit_gpu(lambda gpu: gpu["pools"][1].update(layout="all-1g.5gb"))  # an A100-40GB name on an H100
    message = issue_at(project.errors(), STACK, "kubeflow-platform:gpu.pools[1].layout").message
    assert "pool 'h100-train' (H100-80GB): 'all-1g.5gb' is not a built-in layout" in message
    assert "all-1g.10gb" in message and "all-balanced" in message


def test_an_unsupported_model_is_refused(project):
    project.edit_gpu(lambda gpu: gpu["pools"][0].update(model="V100"))
    message = issue_at(project.errors(), STACK, f"{POOL0}.model").message
    assert "'V100' is not a supported GPU model" in message and "H100-NVL" in message


def test_single_strategy_cannot_advertise_a_mixed_layout(project):
    project.edit_gpu(lambda gpu: gpu.update(migStrategy="single"))
    message = issue_at(project.errors(), STACK, "kubeflow-platform:gpu").message
    assert "migStrategy single cannot advertise mixed layouts (pools a100-mig)" in message


def test_the_strategy_defaults_to_mixed_only_when_a_layout_is_mixed(project):
    assert project.load().stack.gpu.strategy == "mixed"
    project.edit_gpu(lambda gpu: gpu["pools"][0].update(layout="all-1g.10gb"))
    # team-nlp's 3g.40gb and team-vision's 2g.20gb quotas then have no pool: make them 0.
    for tenant in ("team-nlp", "team-vision"):
        project.edit_tenant(tenant, lambda t: [t["quota"].pop(k) for k in list(t["quota"]) if "mig-" in k])
    project.edit_tenant("team-vision", lambda t: t.pop("katib"))
    config = project.load()
    assert config.stack.gpu.strategy == "single"


def test_prod_always_enforces_the_capacity_plan(project):
    project.edit_gpu(lambda gpu: gpu.update(capacityCheck="report"))
    message = issue_at(project.errors(), STACK, "kubeflow-platform:gpu.capacityCheck").message
    assert "prod enforces the GPU capacity plan" in message


def test_a_node_in_two_pools_is_refused(project):
    project.edit_gpu(lambda gpu: gpu["pools"][1]["nodes"]["names"].append("gpu-a100-02"))
    message = issue_at(project.errors(), STACK, "kubeflow-platform:gpu").message
    assert "node 'gpu-a100-02' is in pools 'a100-mig' and 'h100-train'" in message


def test_custom_layouts_may_not_take_builtin_names(project):
    project.edit_gpu(lambda gpu: gpu["pools"][0].update(layout={"name": "all-mine", "migDevices": {"1g.10gb": 7}}))
    message = issue_at(project.errors(), STACK, f"{POOL0}.layout").message
    assert "mig-parted's built-ins" in message


def test_a_selector_pool_needs_the_node_count_the_plan_counts_on(project):
    project.edit_gpu(lambda gpu: gpu["pools"][1].update(nodes={"selector": {"node.kubernetes.io/instance-type": "p5.48xlarge"}}))
    message = issue_at(project.errors(), STACK, "kubeflow-platform:gpu.pools[1].nodes").message
    assert "needs `count`" in message
    project.edit_gpu(lambda gpu: gpu["pools"][1]["nodes"].update(count=3))
    assert project.load().stack.gpu.pools[1].nodes.node_count == 3


def test_a_katib_sweep_asks_for_gpu_resources_only(project):
    project.edit_tenant("team-vision", lambda t: t["katib"]["resourcesPerTrial"].update({"cpu": 4}))
    issue = issue_at(project.errors(), "tenants/team-vision.yaml", "katib.resourcesPerTrial")
    assert "'cpu' is not a GPU resource" in issue.message


def test_a_stack_without_gpu_config_is_refused(project):
    project.edit_stack("sandbox", lambda values: values.pop("gpu"))
    issue_at(project.errors("sandbox"), "Pulumi.sandbox.yaml", "kubeflow-platform:gpu")
