"""What the committed stacks render for GPUs: operator release, mig-parted config, nodes, quotas, access."""
import importlib.util
import json

import pytest
import yaml

from kfplatform.gpu import operator
from kfplatform.gpu.config import GpuPool
from kfplatform.gpu.migparted import mig_parted_config
from kfplatform.images import is_digest_pinned

from ..conftest import SHARED_DIR

GPU_TENANTS = {"team-nlp", "team-vision"}


def release(result):
    return result.helm_release("gpu-operator")


def resource_named(result, name):
    (found,) = [r for r in result.resources if r.name == name]
    return found


def pools(result) -> dict:
    return result.exports["gpuPools"]


# --- the operator ---------------------------------------------------------------------------------


def test_the_chart_is_pinned_and_depends_on_its_namespace_and_mig_config(each_stack):
    r = release(each_stack)
    assert (r.inputs["chart"], r.inputs["version"], r.inputs["namespace"]) == ("gpu-operator", "v26.7.0", "gpu-operator")
    deps = {d.rsplit("::", 1)[1] for d in r.dependencies}
    assert {"ns-gpu-operator", "gpu-operator-mig-parted-config"} <= deps


def _images(values: dict):
    """Every image the values name: (where, reference as the chart/operator composes it)."""
    for key, section in values.items():
        if not isinstance(section, dict):
            continue
        if {"repository", "image", "version"} <= set(section):
            yield key, f"{section['repository']}/{section['image']}:{section['version']}"
        if "manager" in section:
            m = section["manager"]
            yield f"{key}.manager", f"{m['repository']}/{m['image']}:{m['version']}"
        if isinstance(section.get("image"), dict):
            yield key, f"{section['image']['repository']}:{section['image']['tag']}"


def test_every_image_comes_from_the_mirror_pinned_by_digest(each_stack):
    values = release(each_stack).inputs["values"]
    images = dict(_images(values))
    expected = {"operator", "validator", "nodeStatusExporter", "toolkit", "devicePlugin", "gfd", "dcgmExporter", "dcgm",
                "migManager", "driver.manager", "node-feature-discovery"}
    assert expected <= set(images)
    for where, ref in images.items():
        assert ref.startswith("registry.ml.example.com/mirror/"), (where, ref)
        assert is_digest_pinned(ref), (where, ref)


def test_mig_manager_is_on_with_our_config_and_the_strategy_follows_the_pools(each_stack):
    values = release(each_stack).inputs["values"]
    assert values["mig"] == {"strategy": "mixed"}  # both stacks have an all-balanced pool
    assert values["migManager"]["enabled"] is True
    assert values["migManager"]["config"] == {"name": "custom-mig-parted-config", "default": "all-disabled", "create": False}
    assert {"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"} in values["daemonsets"]["tolerations"]


def _validator():
    spec = importlib.util.spec_from_file_location("validate_manifests", SHARED_DIR / "tools" / "validate_manifests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counts = {"cel_rules_skipped": 0, "cel_rules_evaluated": 0}
    crds = module.CrdCatalog(SHARED_DIR / "crds", counts)
    return lambda doc: module.validate_doc(doc, crds, module.CelRules(counts), "1.31.0")


def _cluster_policy(spec: dict) -> dict:
    return {"apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy", "metadata": {"name": "cluster-policy"}, "spec": spec}


def test_the_cluster_policy_the_chart_makes_of_our_values_is_valid_against_the_crd(prod):
    validate = _validator()
    spec = operator.cluster_policy_spec(release(prod).inputs["values"])
    assert spec["migManager"]["config"] == {"name": "custom-mig-parted-config", "default": "all-disabled"}
    assert validate(_cluster_policy(spec)) == []
    # The check can fail: a misspelt field is refused, as the API server's strict validation would.
    spec["migManager"] = {**spec["migManager"], "configName": "x"}
    assert any("configName" in e for e in validate(_cluster_policy(spec)))


def test_mig_parted_config_holds_all_disabled_and_each_pools_layout(each_stack, request):
    cm = each_stack.find("ConfigMap", "custom-mig-parted-config", "gpu-operator")
    config = yaml.safe_load(cm["data"]["config.yaml"])
    assert config["version"] == "v1"
    assert config["mig-configs"]["all-disabled"] == [{"devices": "all", "mig-enabled": False}]
    for name, pool in pools(each_stack).items():
        (entry,) = config["mig-configs"][pool["layout"]]
        assert entry["mig-enabled"] is bool(pool["migDevicesPerGpu"]), name
        assert entry.get("mig-devices", {}) == pool["migDevicesPerGpu"], name


def test_a_builtin_name_shared_by_models_with_different_geometry_gets_device_filters():
    def pool(name, model):
        return GpuPool.model_validate({"name": name, "model": model, "gpusPerNode": 1, "nodes": {"names": [name]},
                                       "layout": "all-balanced"})

    config = mig_parted_config([pool("a", "A100-40GB"), pool("b", "A100-80GB"), pool("c", "H100-80GB")])
    entries = config["mig-configs"]["all-balanced"]
    by_filter = {tuple(e["device-filter"]): e["mig-devices"] for e in entries}
    assert by_filter[("0x20B010DE", "0x20B110DE", "0x20F110DE", "0x20F610DE")] == {"1g.5gb": 2, "2g.10gb": 1, "3g.20gb": 1}
    # A100-80GB and H100-80GB share the geometry: one entry for both.
    (eighty,) = [v for k, v in by_filter.items() if "0x20B210DE" in k and "0x233010DE" in k]
    assert eighty == {"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1}


# --- pools ----------------------------------------------------------------------------------------


def test_each_named_node_is_labelled_with_its_layout_and_dedicated_nodes_are_tainted(prod):
    nodes = [o for o in prod.kubernetes_objects() if o["kind"] == "Node"]
    expected = {n: (name, p) for name, p in pools(prod).items() for n in p["nodes"].get("names", [])}
    assert {o["metadata"]["name"] for o in nodes} == set(expected)
    for node in nodes:
        name, pool = expected[node["metadata"]["name"]]
        assert node["metadata"]["labels"] == {"nvidia.com/mig.config": pool["layout"], "kfplatform.io/gpu-pool": name}
        assert node["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}
        if pool["mode"] == "dedicated":
            assert node["spec"]["taints"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "value": "present"}]
        else:
            assert "spec" not in node  # a shared pool's patch leaves the node's taints alone
    assert prod.find("Node", "gpu-h100-01")["metadata"]["labels"]["nvidia.com/mig.config"] == "all-disabled"
    assert prod.find("Node", "gpu-a100-01")["metadata"]["labels"]["nvidia.com/mig.config"] == "all-balanced"


def test_node_patches_wait_for_the_mig_config(prod):
    patch = resource_named(prod, "gpu-pools-a100-mig-gpu-a100-01")
    assert patch.type == "kubernetes:core/v1:NodePatch"
    assert any(d.endswith("::gpu-operator-mig-parted-config") for d in patch.dependencies)


def test_priority_classes_rank_interactive_over_training_over_opportunistic(each_stack):
    classes = {o["metadata"]["name"]: o for o in each_stack.kubernetes_objects() if o["kind"] == "PriorityClass"}
    assert classes["gpu-interactive"]["value"] > classes["gpu-training"]["value"] > classes["gpu-opportunistic"]["value"]
    assert classes["gpu-opportunistic"]["preemptionPolicy"] == "Never"
    assert not any(c.get("globalDefault") for c in classes.values())


def test_the_gpu_operator_namespace_allows_privileged_pods(each_stack):
    ns = each_stack.find("Namespace", "gpu-operator")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


# --- tenants --------------------------------------------------------------------------------------


def test_gpu_quotas_flow_into_resource_quota_and_profile_and_are_closed_for_everyone(each_stack):
    supplied = {f"requests.{p['resource']}" for p in each_stack.exports["gpuCapacity"]["pools"]}
    assert supplied  # both stacks have a pool
    for name in each_stack.exports["tenantNamespaces"]:
        quota = each_stack.find("ResourceQuota", "tenant-quota", name)["spec"]["hard"]
        profile = each_stack.find("Profile", name)["spec"]["resourceQuotaSpec"]["hard"]
        assert quota == profile
        assert supplied <= set(quota), name  # an unlisted extended resource would be unlimited
    forecasting = each_stack.find("ResourceQuota", "tenant-quota", "team-forecasting")["spec"]["hard"]
    assert {k: v for k, v in forecasting.items() if "nvidia.com" in k} == dict.fromkeys(supplied, "0")
    vision = each_stack.find("ResourceQuota", "tenant-quota", "team-vision")["spec"]["hard"]
    assert (vision["requests.nvidia.com/mig-1g.10gb"], vision["requests.nvidia.com/mig-3g.40gb"]) == ("24", "0")


def test_gpu_tenants_get_a_poddefault_tolerating_the_pool_taint(each_stack):
    defaults = [
        o for o in each_stack.kubernetes_objects() if o["kind"] == "PodDefault" and o["metadata"]["name"] == "gpu-pools"
    ]
    assert {d["metadata"]["namespace"] for d in defaults} == GPU_TENANTS
    for d in defaults:
        assert d["metadata"]["name"] == "gpu-pools"
        assert d["spec"]["selector"] == {"matchLabels": {"kfplatform.io/gpu-pools": "true"}}
        (toleration,) = d["spec"]["tolerations"]
        taint = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
        tolerates = toleration["key"] == taint["key"] and toleration["effect"] == taint["effect"] and (
            toleration["operator"] == "Exists" or toleration.get("value") == taint["value"]
        )
        assert tolerates, toleration
        registered = resource_named(each_stack, f"{d['metadata']['namespace']}-gpu-poddefault")
        assert any(dep.endswith(f"::{d['metadata']['namespace']}-namespace") for dep in registered.dependencies)


def test_katib_parallelism_is_held_to_the_declared_maximum(prod):
    import celpy

    policy = prod.find("ValidatingAdmissionPolicy", "katib-max-parallel-trials-team-vision")
    binding = prod.find("ValidatingAdmissionPolicyBinding", "katib-max-parallel-trials-team-vision")
    assert binding["spec"]["matchResources"]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "team-vision"}
    }
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert policy["spec"]["matchConstraints"]["resourceRules"][0]["resources"] == ["experiments"]
    (validation,) = policy["spec"]["validations"]
    env = celpy.Environment()
    program = env.program(env.compile(validation["expression"]))

    def allowed(spec: dict) -> bool:
        return bool(program.evaluate({"object": celpy.json_to_cel({"spec": spec})}))

    assert allowed({"parallelTrialCount": 16})
    assert not allowed({"parallelTrialCount": 17})
    assert allowed({})  # Katib's default of 3
    with pytest.raises(KeyError):
        prod.find("ValidatingAdmissionPolicy", "katib-max-parallel-trials-team-forecasting")


# --- the plan in the render -----------------------------------------------------------------------


def test_the_render_writes_the_capacity_plan(prod, tmp_path):
    from kfplatform.render.output import write_render

    written = {p.name for p in write_render(prod, tmp_path)}
    assert {"capacity.json", "capacity.md"} <= written
    plan = json.loads((tmp_path / "capacity.json").read_text())
    assert plan == prod.exports["gpuCapacity"]
    lines = {s["resource"]: s for s in plan["sliceTypes"]}
    assert (lines["nvidia.com/gpu"]["supply"], lines["nvidia.com/gpu"]["demand"]) == (24, 20)
    markdown = (tmp_path / "capacity.md").read_text()
    assert "| nvidia.com/mig-1g.10gb | a100-mig | 64 | 80 | 40 | 40 | 50% | ok | team-vision 24, team-nlp 16 |" in markdown


def test_a_selector_pool_is_left_to_its_node_group_which_is_told_what_to_set():
    from kfplatform.gpu.pools import pool_summary

    pool = GpuPool.model_validate({
        "name": "h100-auto", "model": "H100-80GB", "gpusPerNode": 8, "mode": "dedicated",
        "nodes": {"selector": {"node.kubernetes.io/instance-type": "p5.48xlarge"}, "count": 2},
    })
    summary = pool_summary(pool)
    assert summary["patchedByProgram"] is False
    assert summary["nodes"] == {"selector": {"node.kubernetes.io/instance-type": "p5.48xlarge"}, "count": 2}
    assert summary["labels"] == {"nvidia.com/mig.config": "all-disabled", "kfplatform.io/gpu-pool": "h100-auto"}
    assert summary["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]


def test_every_placeholder_digest_is_warned_about_on_each_run(monkeypatch):
    """README: an unverified digest is a loud failure, never a silent one (the policy pack refuses it too)."""
    import pulumi
    import pulumi_kubernetes as k8s

    from kfplatform.config.stack import ImagesConfig
    from kfplatform.gpu.config import GpuConfig
    from kfplatform.render.run import run_under_mocks

    warned = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warned.append(message))
    gpu = GpuConfig.model_validate({"pools": [{"name": "h", "model": "H100-80GB", "gpusPerNode": 8,
                                               "nodes": {"names": ["n1"]}}]})

    def program():
        ns = k8s.core.v1.Namespace("ns", metadata={"name": "gpu-operator"})
        operator.GpuOperator("gpu-operator", gpu, ImagesConfig(mirror="registry.example.com/m"), ns, "gpu-operator")

    run_under_mocks(program, "test")
    assert operator.UNVERIFIED == {"operator", "nfd"}  # drop an entry here when its digest is real
    for key in operator.UNVERIFIED:
        image = operator.IMAGES[key]
        assert any(f"{image.path}:{image.tag} ({key}) has a placeholder digest" in w for w in warned), (key, warned)
    assert len(warned) == len(operator.UNVERIFIED)


# The flags the NFD chart's worker template always passes, per chart version, and the first
# nfd-worker release that defines each (flag.ExitOnError: an unknown flag exits the worker).
# Read at kubernetes-sigs/node-feature-discovery: deployment/helm/node-feature-discovery/templates/
# worker.yaml (v0.19.0: `-owner-refs=`), cmd/nfd-worker/main.go (v0.18.3: only `-no-owner-refs`;
# v0.19.0: `-owner-refs`). gpu-operator v26.7.0's deployments/gpu-operator/Chart.yaml: NFD 0.19.0.
NFD_CHART_WORKER_FLAGS = {"0.19.0": {"-owner-refs": (0, 19, 0)}}


def test_the_nfd_image_defines_every_flag_the_bundled_nfd_chart_passes(each_stack):
    image = release(each_stack).inputs["values"]["node-feature-discovery"]["image"]
    tag = image["tag"].split("@", 1)[0]
    version = tuple(int(part) for part in tag.removeprefix("v").split("."))
    assert operator.NFD_CHART_VERSION == "0.19.0"  # gpu-operator v26.7.0's dependency
    for flag, since in NFD_CHART_WORKER_FLAGS[operator.NFD_CHART_VERSION].items():
        assert version >= since, f"nfd-worker {tag} does not define {flag}, which chart {operator.NFD_CHART_VERSION} passes"
    assert tag == f"v{operator.NFD_CHART_VERSION}"  # the chart's appVersion
