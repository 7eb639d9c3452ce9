"""Class 2, names and label values: label grammar for what lands in labels, anchored checks, duplicate
keys, tenant files by any spelling of their extension, one team in one file."""
from __future__ import annotations

import ast
import pathlib

import pytest

from kfplatform.config.base import label_key, label_value
from tests.conftest import PROJECT_DIR
from tests.config.helpers import errors, load, tenant, with_tenant


@pytest.mark.parametrize("value", ["", "CC-4102", "a", "A.b_c-9", "x" * 63, "0"])
def test_label_values_accepted(value):
    assert label_value(value) == value


@pytest.mark.parametrize("value", ["x" * 64, "-a", "a-", "_a", "a b", "a\n", "CC/4102", "é", "a:b", ".a", "a."])
def test_label_values_refused(value):
    with pytest.raises(ValueError, match="label value"):
        label_value(value)


@pytest.mark.parametrize("value, ok", [
    ("app", True), ("k8s-app", True), ("app.kubernetes.io/name", True), ("example.com/x_y", True),
    ("/app", False), ("Example.com/app", False), ("a/b/c", False), ("app\n", False), ("x" * 64, False), ("", False),
])
def test_label_keys(value, ok):
    if ok:
        assert label_key(value) == value
    else:
        with pytest.raises(ValueError):
            label_key(value)


@pytest.mark.parametrize("bad, good", [
    ("CC 4102", "CC-4102"),
    ("CC-4102\n", "CC-4102"),
    ("Finance/ML", "Finance.ML"),
    ("x" * 64, "x" * 63),
    ("-4102", "4102"),
])
def test_cost_center_lands_in_a_label(tmp_path, bad, good):
    (issue,) = errors(tmp_path / "bad", tenants=with_tenant(costCenter=bad))
    assert issue.startswith("tenants/team-vision.yaml: costCenter: ") and "label value" in issue
    assert load(tmp_path / "good", tenants=with_tenant(costCenter=good))


def test_description_is_free_text_rendered_nowhere(tmp_path, prod):
    # It may hold anything a person writes (it lands in no label or annotation), but not a novel.
    assert load(tmp_path / "ok", tenants=with_tenant(description="Vision: detection, segmentation & more — 2025"))
    (issue,) = errors(tmp_path / "bad", tenants=with_tenant(description="x" * 501))
    assert issue.startswith("tenants/team-vision.yaml: description: ")
    text = (PROJECT_DIR / "tenants" / "team-vision.yaml").read_text()
    described = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("description:"))
    assert not any(described in str(obj) for obj in prod.kubernetes_objects())


@pytest.mark.parametrize("key, bad, good", [
    ("name", "team-vision\n", None),
    ("owner", "maria.garcia@example.com\n", "maria.garcia@example.com"),
])
def test_a_trailing_newline_is_not_accepted_by_any_check(tmp_path, key, bad, good):
    issues = errors(tmp_path / "bad", tenants=with_tenant(**{key: bad}))
    assert any(i.startswith(f"tenants/team-vision.yaml: {key}: ") for i in issues), issues


def test_stack_values_with_a_trailing_newline_are_refused(tmp_path):
    from tests.config.helpers import with_stack

    config = with_stack(cluster={"domain": "kubeflow.ml.example.com\n"})
    (issue,) = errors(tmp_path, config)
    assert issue.startswith("Pulumi.prod.yaml: kubeflow-platform:cluster.domain: ")


def test_no_validation_regex_is_applied_with_match():
    """Audit: `re.match`/`X.match` accept a trailing newline before `$`; validation uses fullmatch."""
    offenders = []
    for path in sorted(p for folder in ("kfplatform", "policy") for p in (PROJECT_DIR / folder).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "match":
                offenders.append(f"{path.relative_to(PROJECT_DIR)}:{node.lineno}")
    assert offenders == [], f"use fullmatch: {offenders}"


DUPLICATE_KEY_TENANT = """\
name: team-vision
owner: maria.garcia@example.com
groups:
  - {group: ml-vision-engineers, role: edit}
quota:
  requests.cpu: "96"
  limits.cpu: "192"
  requests.memory: 384Gi
  limits.memory: 512Gi
  requests.storage: 4Ti
  requests.cpu: "960"
"""


def test_duplicate_keys_in_a_tenant_file(tmp_path):
    (issue,) = errors(tmp_path, tenants={"team-vision": DUPLICATE_KEY_TENANT})
    assert issue.startswith("tenants/team-vision.yaml: quota.requests.cpu: key given twice (lines 6 and 11)")
    fixed = DUPLICATE_KEY_TENANT.replace('  requests.cpu: "960"\n', "")
    assert load(tmp_path / "ok", tenants={"team-vision": fixed})


def test_duplicate_keys_in_the_stack_file(tmp_path):
    from kfplatform.config import ConfigError
    from kfplatform.render.run import read_stack_config

    text = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()
    (tmp_path / "Pulumi.prod.yaml").write_text(text.replace(
        "    name: ml-prod\n", "    name: ml-prod\n    name: ml-other\n", 1))
    with pytest.raises(ConfigError) as caught:
        read_stack_config(tmp_path, "prod")
    (issue,) = map(str, caught.value.issues)
    assert issue.startswith("Pulumi.prod.yaml: kubeflow-platform:cluster.name: key given twice")
    # A duplicated top-level config key too.
    (tmp_path / "Pulumi.prod.yaml").write_text(text + "  kubeflow-platform:environment: sandbox\n")
    with pytest.raises(ConfigError) as caught:
        read_stack_config(tmp_path, "prod")
    assert str(caught.value.issues[0]).startswith("Pulumi.prod.yaml: kubeflow-platform:environment: key given twice")


@pytest.mark.parametrize("suffix", [".yml", ".YAML", ".Yaml", ".YML", ".yMl"])
def test_tenant_files_with_any_spelling_of_the_extension_are_loaded(tmp_path, suffix):
    body = tenant("team-forecasting")
    body["name"] = "team-robotics"
    config = load(tmp_path, tenants={f"team-robotics{suffix}": body})
    assert "team-robotics" in [t.config.name for t in config.tenants]
    assert config.tenant_file_count == 4


@pytest.mark.parametrize("name", ["team-robotics.json", "team-robotics.yaml.bak", "team-robotics.txt", "team-robotics.yaml~"])
def test_other_files_in_tenants_are_refused_not_ignored(tmp_path, name):
    (issue,) = errors(tmp_path, tenants={name: "name: team-robotics\n"})
    assert issue.startswith(f"tenants/{name}: (top level): not read: tenant files are tenants/<team>.yaml")


def test_notes_and_hidden_files_may_sit_in_tenants(tmp_path):
    assert load(tmp_path, tenants={"README.md": "# Tenants\n", ".gitkeep": ""})


def test_the_same_team_in_two_files_is_one_error_naming_both(tmp_path):
    issues = errors(tmp_path, tenants={"team-vision.yml": tenant()})
    assert issues == [
        "tenants/team-vision.yaml: name: team 'team-vision' is defined in 2 files "
        "(tenants/team-vision.yaml, tenants/team-vision.yml); keep one"
    ]


@pytest.mark.parametrize("selector, ok", [
    ({"node.kubernetes.io/instance-type": "p4d.24xlarge"}, True),
    ({"pool": "a100\n"}, False),
    ({"pool": "a100 mig"}, False),
    ({"bad key": "a100"}, False),
])
def test_gpu_pool_selectors_are_node_labels(selector, ok):
    import pydantic

    from kfplatform.gpu.config import PoolNodes

    if ok:
        assert PoolNodes.model_validate({"selector": selector, "count": 2}).selector == selector
    else:
        with pytest.raises(pydantic.ValidationError, match="label"):
            PoolNodes.model_validate({"selector": selector, "count": 2})
