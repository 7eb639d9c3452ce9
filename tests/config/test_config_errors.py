"""Each class of bad input fails before any resource exists, naming the file, the key and the problem."""
from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from kfplatform.config import ConfigError, load_platform_config
from tests.conftest import PROJECT_DIR
from tests.config.helpers import project_copy, stack_config, tenant


def issues_for(tmp_path, config=None, tenants=None, stack="prod") -> list[str]:
    project = project_copy(tmp_path, stack, config, tenants)
    import yaml

    raw = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())["config"]
    with pytest.raises(ConfigError) as caught:
        load_platform_config(stack, raw, project)
    return [str(issue) for issue in caught.value.issues]


def test_committed_stacks_and_tenants_are_valid():
    for stack in ("prod", "sandbox"):
        config = load_platform_config(stack, stack_config(stack), PROJECT_DIR)
        assert [t.config.name for t in config.tenants] == ["team-forecasting", "team-nlp", "team-vision"]


def test_unknown_key_is_named_with_its_file_and_path(tmp_path):
    config = stack_config()
    config["kubeflow-platform:cluster"]["zone"] = "eu-west-1a"
    assert issues_for(tmp_path, config) == [
        "Pulumi.prod.yaml: kubeflow-platform:cluster.zone: unknown key (check the spelling; keys are camelCase)"
    ]


def test_missing_required_section(tmp_path):
    config = stack_config()
    del config["kubeflow-platform:network"]
    assert issues_for(tmp_path, config) == ["Pulumi.prod.yaml: kubeflow-platform:network: Field required"]


def test_all_errors_are_reported_at_once_across_stack_and_tenants(tmp_path):
    config = stack_config()
    config["kubeflow-platform:cluster"]["domain"] = "not a domain"
    config["kubeflow-platform:secrets"]["vault"]["address"] = "http://vault:8200"
    bad = tenant()
    bad["owner"] = "maria"
    issues = issues_for(tmp_path, config, {"team-vision": bad})
    assert len(issues) == 3
    assert any(i.startswith("Pulumi.prod.yaml: kubeflow-platform:cluster.domain: ") for i in issues)
    assert any(i.startswith("Pulumi.prod.yaml: kubeflow-platform:secrets.vault.address: ") and "https" in i for i in issues)
    assert any(i.startswith("tenants/team-vision.yaml: owner: ") and "e-mail" in i for i in issues)


def test_quota_keys_must_be_real_resource_names(tmp_path):
    bad = tenant()
    bad["quota"]["request.cpu"] = "4"
    bad["quota"]["requests.nvidia.com/mig-1g.10GB"] = "1"
    bad["quota"]["limits.nvidia.com/gpu"] = "1"
    (issue,) = issues_for(tmp_path, tenants={"team-vision": bad})
    assert issue.startswith("tenants/team-vision.yaml: quota: ")
    assert "request.cpu: not a ResourceQuota resource name" in issue
    assert "'nvidia.com/mig-1g.10GB' is not an NVIDIA resource name" in issue
    assert "limits.nvidia.com/gpu: extended resources are limited as `requests.<name>` only" in issue


def test_quota_quantities_must_parse_and_devices_be_whole(tmp_path):
    bad = tenant()
    bad["quota"]["requests.memory"] = "lots"
    bad["quota"]["requests.nvidia.com/gpu"] = "0.5"
    (issue,) = issues_for(tmp_path, tenants={"team-vision": bad})
    assert issue.startswith("tenants/team-vision.yaml: quota: ")
    assert "requests.memory: 'lots' is not a Kubernetes quantity" in issue
    assert "requests.nvidia.com/gpu: '0.5' is not a whole number of devices" in issue


def test_an_emptied_tenants_folder_is_refused_in_prod(tmp_path):
    gone = {name: None for name in ("team-vision", "team-nlp", "team-forecasting")}
    (issue,) = issues_for(tmp_path, tenants=gone)
    assert issue.startswith("Pulumi.prod.yaml: kubeflow-platform:tenancy.minTenants: expected at least 3 tenant files, found 0")


def test_a_tenant_needs_bounded_compute(tmp_path):
    bad = tenant()
    del bad["quota"]["limits.memory"]
    (issue,) = issues_for(tmp_path, tenants={"team-vision": bad})
    assert "missing limits.memory" in issue


def test_tenant_name_is_a_dns_label_matching_its_file(tmp_path):
    bad = tenant()
    bad["name"] = "Team_Vision"
    other = tenant("team-nlp")
    other["name"] = "team-language"
    issues = issues_for(tmp_path, tenants={"team-vision": bad, "team-nlp": other})
    assert any(i.startswith("tenants/team-vision.yaml: name: ") and "DNS label" in i for i in issues)
    assert "tenants/team-nlp.yaml: name: 'team-language' must match the file name 'team-nlp'" in issues


def test_a_tenant_may_not_take_a_platform_namespace(tmp_path):
    bad = tenant()
    bad["name"] = "kubeflow"
    issues = issues_for(tmp_path, tenants={"team-vision": None, "kubeflow": bad})
    assert "tenants/kubeflow.yaml: name: 'kubeflow' is taken: the platform's kubeflow namespace (cluster.namespaces.kubeflow); pick another name" in issues


def test_prod_refuses_privileged_tenant_namespaces_sandbox_allows(tmp_path):
    prod = stack_config("prod")
    prod["kubeflow-platform:tenancy"]["podSecurity"]["enforce"] = "privileged"
    (issue,) = issues_for(tmp_path, prod)
    assert issue.startswith("Pulumi.prod.yaml: kubeflow-platform:tenancy.podSecurity.enforce: prod tenant")
    sandbox = stack_config("sandbox")
    sandbox["kubeflow-platform:tenancy"] = {"podSecurity": {"enforce": "privileged"}}
    assert load_platform_config("sandbox", sandbox, PROJECT_DIR).stack.tenancy.pod_security.enforce == "privileged"


def test_network_allow_lists_are_required_and_never_the_whole_internet(tmp_path):
    config = stack_config()
    del config["kubeflow-platform:network"]["egress"]["dns"]
    config["kubeflow-platform:network"]["ingress"]["prometheus"]["cidrs"] = ["0.0.0.0/0"]
    issues = issues_for(tmp_path, config)
    assert "Pulumi.prod.yaml: kubeflow-platform:network.egress: missing required allow-list entries: dns" in issues
    assert any("network.ingress.prometheus" in i and "exactly one of `namespace`" in i for i in issues)


def test_egress_proxy_cannot_open_the_internet(tmp_path):
    bad = tenant("team-nlp")
    bad["egressProxy"]["cidrs"] = ["0.0.0.0/0"]
    (issue,) = issues_for(tmp_path, tenants={"team-nlp": bad})
    assert issue.startswith("tenants/team-nlp.yaml: egressProxy: ") and "whole internet" in issue


def test_invalid_yaml_in_a_tenant_file(tmp_path):
    (issue,) = issues_for(tmp_path, tenants={"team-vision": "name: [unclosed"})
    assert issue.startswith("tenants/team-vision.yaml: (top level): not valid YAML")


def test_render_exits_2_with_the_message_and_no_traceback(tmp_path):
    bad = tenant()
    bad["groups"] = []
    project = project_copy(tmp_path, tenants={"team-vision": bad})
    proc = subprocess.run(
        [sys.executable, "-m", "kfplatform", "--project", str(project), "render", "--stack", "prod", "--out", str(tmp_path / "out")],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "tenants/team-vision.yaml: groups: List should have at least 1 item" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists(), "nothing is written when the configuration is invalid"


def test_unknown_stack_names_the_stacks_there(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "kfplatform", "render", "--stack", "staging"],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "Pulumi.staging.yaml: (top level): no such stack file (stacks here: prod, sandbox)" in proc.stderr


def test_the_program_reads_config_the_way_the_pulumi_cli_passes_it(monkeypatch):
    """`pulumi up` hands config to the program in PULUMI_CONFIG, not through set_all_config."""
    import json

    import pulumi

    from kfplatform.config import load_from_pulumi
    from tests.config.helpers import as_engine_config

    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(as_engine_config(stack_config("sandbox"))))
    pulumi.runtime.set_all_config({})
    monkeypatch.setattr(pulumi, "get_stack", lambda: "sandbox")
    config = load_from_pulumi(PROJECT_DIR)
    assert config.stack.environment.value == "sandbox" and config.stack_file == "Pulumi.sandbox.yaml"


def defined_cross_checks() -> list[str]:
    """`module.function` of every function in kfplatform/ shaped like a cross-check, read from the source.

    A cross-check takes the PlatformConfig and yields ConfigIssues; one that no list composes would
    never run (a silent omission), so the composed list is compared with what the source defines.
    """
    found = []
    for path in sorted((PROJECT_DIR / "kfplatform").rglob("*.py")):
        module = ".".join(path.relative_to(PROJECT_DIR).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef) or node.returns is None:
                continue
            params = [a.annotation for a in node.args.args]
            if (len(params) == 1 and params[0] is not None and ast.unparse(params[0]) == "PlatformConfig"
                    and ast.unparse(node.returns) == "Iterable[ConfigIssue]"):
                found.append(f"{module}.{node.name}")
    return found


CONFIG_MODULES = sorted(
    ".".join(p.relative_to(PROJECT_DIR).with_suffix("").parts) for p in (PROJECT_DIR / "kfplatform").glob("*/config.py")
)
CHECKS_MODULES = sorted(
    ".".join(p.relative_to(PROJECT_DIR).with_suffix("").parts) for p in (PROJECT_DIR / "kfplatform").glob("*/checks.py")
)
FIRST_IMPORTS = CONFIG_MODULES + ["kfplatform.data.geometry", "kfplatform.config.loader"] + CHECKS_MODULES
# One interpreter that has imported the third-party packages but nothing of kfplatform forks a child
# per module: each child starts with no kfplatform module loaded, as a fresh interpreter would (the
# import order within kfplatform is what could cycle), without paying an interpreter start each.
FORK_EACH = """
import json, os, sys
import pydantic, yaml, pulumi, pulumi_kubernetes  # noqa: F401 (third-party only: the fork's shared part)
assert not any(m == "kfplatform" or m.startswith("kfplatform.") for m in sys.modules)
results = {}
for module in json.loads(sys.argv[1]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            __import__(module)
            from kfplatform.config.checks import CROSS_CHECKS
            out = {"composed": [f"{c.__module__}.{c.__name__}" for c in CROSS_CHECKS]}
        except BaseException as e:  # reported, never hidden
            out = {"error": f"{type(e).__name__}: {e}"}
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        results[module] = json.loads(f.read())
    os.waitpid(pid, 0)
print(json.dumps(results))
"""


def test_any_kfplatform_config_or_checks_module_can_be_imported_first_and_every_check_is_composed():
    """StackConfig composes the areas' models and they import the config base; the checks list
    composes the areas' checks: whichever module is imported first, the import works and the composed
    list holds every cross-check defined in kfplatform/, once each."""
    proc = subprocess.run([sys.executable, "-c", FORK_EACH, json.dumps(FIRST_IMPORTS)], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)
    assert sorted(results) == sorted(FIRST_IMPORTS) and len(CHECKS_MODULES) >= 8 and len(CONFIG_MODULES) >= 8
    expected = sorted(defined_cross_checks())
    for module, result in results.items():
        assert "error" not in result, (module, result)
        composed = result["composed"]
        assert len(composed) == len(set(composed)) and sorted(composed) == expected, module


def test_each_area_exports_its_own_checks_in_a_stable_order():
    """The order issues are reported in is the composed order: the loader's own, then area by area."""
    from kfplatform.config.checks import CROSS_CHECKS

    assert [f"{c.__module__}.{c.__name__}" for c in CROSS_CHECKS] == [
        "kfplatform.config.checks.tenant_names",
        "kfplatform.backup.checks.restored_namespaces_are_teams",
        "kfplatform.backup.checks.volumes_backup_matches_the_opted_in_teams",
        "kfplatform.backup.checks.binlog_archive_needs_gtids_the_sst_keeps",
        "kfplatform.data.checks.object_store_survives_a_zone",
        "kfplatform.data.geometry.geometry_issues",
        "kfplatform.gpu.checks.gpu_capacity",
        "kfplatform.kubeflow.checks._kubeflow",
        "kfplatform.tenancy.checks._cluster_ranges_declared",
        "kfplatform.tenancy.checks._stack_egress",
        "kfplatform.tenancy.checks._tenant_egress",
        "kfplatform.tenancy.checks._system_groups",
        "kfplatform.tenancy.checks._container_ceiling_within_quota",
        "kfplatform.tenancy.checks._unique_object_names",
        "kfplatform.compliance.checks.regulated_tenants_need_a_signing_key",
        "kfplatform.compliance.checks.no_team_downgrades_itself",
        "kfplatform.compliance.checks.signed_registry_is_under_the_mirror",
        "kfplatform.modelregistry.checks._model_registry",
    ]
    assert len(defined_cross_checks()) == len(CROSS_CHECKS)


def test_no_area_imports_the_loader_to_be_composed():
    """No registry and no cycle: the checks modules import the leaf PlatformConfig module, never the loader."""
    for path in (PROJECT_DIR / "kfplatform").glob("*/checks.py"):
        assert "config.loader" not in path.read_text(), path
    assert "cross_check" not in (PROJECT_DIR / "kfplatform/config/loader.py").read_text()
