"""Class 8, parsing: what YAML would silently change or blow up is refused with the file and key,
and the CLI exits 2 within seconds, with no traceback."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from kfplatform.config import ConfigError
from kfplatform.config.yamlsafe import MAX_VALUES, load_yaml
from kfplatform.render.run import read_stack_config
from tests.conftest import PROJECT_DIR
from tests.config.helpers import errors, load

STACK = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))


def stack_issues(tmp_path, text: str) -> list[str]:
    (tmp_path / "Pulumi.prod.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_stack_config(tmp_path, "prod")
    return [str(i) for i in caught.value.issues]


def edit(old: str, new: str) -> str:
    assert STACK.count(old) == 1, old
    return STACK.replace(old, new)


@pytest.mark.parametrize("text, issue", [
    ("- config\n- x\n", "Pulumi.prod.yaml: (top level): expected a mapping with a `config:` key"),
    ("just text\n", "Pulumi.prod.yaml: (top level): expected a mapping with a `config:` key"),
    ("config: [a, b]\n", "Pulumi.prod.yaml: config: expected a mapping of config keys"),
    ("config:\n  1: x\n", "Pulumi.prod.yaml: config.1: a config key must be text"),
    ("config: {a: 1\n", "Pulumi.prod.yaml: (top level): not valid YAML"),
    ("config:\n  x: " + "[" * 1200 + "\n", "Pulumi.prod.yaml: (top level): "),
])
def test_stack_files_that_are_not_a_config_mapping(tmp_path, text, issue):
    (found,) = stack_issues(tmp_path, text)
    assert found.startswith(issue), found


@pytest.mark.parametrize("old, new, key, why", [
    ("    tag: v1.11.0\n", "    tag: 2024-01-01\n", "kubeflow-platform:kubeflow.release.tag", "as a date"),
    ("zones: [eu-west-1a, eu-west-1b, eu-west-1c]", "zones: [eu-west-1a, 2024-01-01T10:00:00, eu-west-1c]",
     "kubeflow-platform:cluster.zones[1]", "as a date"),
    ("    sst: mariabackup\n", "    sst: on\n", "kubeflow-platform:data.galera.sst", "boolean in YAML 1.1"),
    ("    connectorName: Example Corp SSO\n", "    connectorName: no\n", "kubeflow-platform:kubeflow.identity.connectorName",
     "boolean in YAML 1.1"),
    ("    storageSize: 200Gi\n", "    storageSize: 1:30\n", "kubeflow-platform:data.galera.storageSize", "base-60"),
    ("    name: ml-prod\n", "    name: ml-prod\n    name: ml-prod\n", "kubeflow-platform:cluster.name", "key given twice"),
])
def test_values_yaml_would_silently_change(tmp_path, old, new, key, why):
    (issue,) = stack_issues(tmp_path, edit(old, new))
    assert issue.startswith(f"Pulumi.prod.yaml: {key}: ") and why in issue, issue


@pytest.mark.parametrize("old, new", [
    ("    tag: v1.11.0\n", "    tag: \"v1.11.0\"\n"),
    ("    sst: mariabackup\n", "    sst: 'mariabackup'\n"),
    ("    connectorName: Example Corp SSO\n", "    connectorName: \"no\"\n"),
    # Aliases that expand to a few values are ordinary YAML.
    ("        ports: [{port: 443}]\n      logCollector:", "        ports: &https [{port: 443}]\n      logCollector:"),
])
def test_quoted_and_ordinary_neighbours_load(tmp_path, old, new):
    from kfplatform.config import load_platform_config

    (tmp_path / "Pulumi.prod.yaml").write_text(edit(old, new))
    raw, _ = read_stack_config(tmp_path, "prod")
    assert load_platform_config("prod", raw, PROJECT_DIR)


def test_an_alias_bomb_in_the_stack_file_is_refused_quickly_naming_the_key(tmp_path):
    bomb = "\n".join("    " + line for line in LAUGHS.splitlines())
    text = STACK + "  kubeflow-platform:extra:\n" + bomb + "\n"
    started = time.monotonic()
    (issue,) = stack_issues(tmp_path, text)
    assert time.monotonic() - started < 2
    assert issue.startswith("Pulumi.prod.yaml: kubeflow-platform:extra.e: expands to ") and f"at most {MAX_VALUES:,}" in issue


def test_an_alias_bomb_in_a_tenant_file_is_refused(tmp_path):
    started = time.monotonic()
    issues = errors(tmp_path, tenants={"team-vision": "name: team-vision\nquota:\n" + "\n".join(
        "  " + line for line in LAUGHS.splitlines()) + "\n"})
    assert time.monotonic() - started < 5
    assert any(i.startswith("tenants/team-vision.yaml: quota.e: expands to ") for i in issues), issues


def test_recursive_aliases_are_refused():
    data, issues = load_yaml("a: &a [1, *a]\n", "f.yaml")
    assert data is None and [str(i) for i in issues] == ["f.yaml: (top level): a YAML alias refers to itself (recursive); write the values out"]


@pytest.mark.parametrize("body, key", [
    ("name: team-vision\ncostCenter: no\n", "costCenter"),
    ("name: team-vision\ndescription: 2024-01-01\n", "description"),
    ("name: team-vision\nquota: {pods: 1:30}\n", "quota.pods"),
    ("name: team-vision\nname: team-vision\n", "name"),
    ("on: x\n", ""),
])
def test_tenant_files_get_the_same_reading(tmp_path, body, key):
    (issue,) = errors(tmp_path, tenants={"team-vision": body})
    assert issue.startswith(f"tenants/team-vision.yaml: {key or '(top level)'}: "), issue


@pytest.mark.parametrize("body", ["- a\n- b\n", "text\n", ""])
def test_a_tenant_file_that_is_not_a_mapping(tmp_path, body):
    (issue,) = errors(tmp_path, tenants={"team-vision": body})
    assert issue == "tenants/team-vision.yaml: (top level): expected a mapping of tenant settings"


@pytest.mark.parametrize("text, what", [
    ("- not\n- a mapping\n", "expected a mapping with a `config:` key"),
    (STACK + "  kubeflow-platform:extra:\n" + "\n".join("    " + l for l in LAUGHS.splitlines()) + "\n", "expands to"),
])
def test_the_cli_exits_2_within_seconds_without_a_traceback(tmp_path, text, what):
    from tests.conftest import copy_project

    project = copy_project(tmp_path)
    (project / "Pulumi.prod.yaml").write_text(text)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "kfplatform", "--project", str(project), "render", "--stack", "prod", "--out", str(tmp_path / "out")],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60,
    )
    assert time.monotonic() - started < 20
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Pulumi.prod.yaml: " in proc.stderr and what in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("old, new, key, why", [
    ("    storageSize: 200Gi\n", "    storageSize: !!binary aGVsbG8=\n", "kubeflow-platform:data.galera.storageSize", "'binary'"),
    ("    zones: [eu-west-1a, eu-west-1b, eu-west-1c]\n", "    zones: !!set {eu-west-1a, eu-west-1b}\n",
     "kubeflow-platform:cluster.zones", "'set'"),
    ("    tag: v1.11.0\n", "    tag: !!timestamp \"2024-01-01\"\n", "kubeflow-platform:kubeflow.release.tag", "'timestamp'"),
    ("      replicas: 3\n      maxBackendConnections: 300\n", "      replicas: 03\n      maxBackendConnections: 300\n",
     "kubeflow-platform:data.proxysql.replicas", "leading 0"),
    ("    maxConnections: 1500\n", "    maxConnections: 1_500\n", "kubeflow-platform:data.galera.maxConnections", "separators"),
])
def test_yaml_types_and_numbers_json_or_yaml_1_2_read_otherwise(tmp_path, old, new, key, why):
    (issue,) = stack_issues(tmp_path, edit(old, new))
    assert issue.startswith(f"Pulumi.prod.yaml: {key}: ") and why in issue, issue


def test_a_stack_file_that_is_not_text(tmp_path):
    (tmp_path / "Pulumi.prod.yaml").write_bytes(b"config:\n  x: \xff\xfe\n")
    with pytest.raises(ConfigError) as caught:
        read_stack_config(tmp_path, "prod")
    assert str(caught.value.issues[0]).startswith("Pulumi.prod.yaml: (top level): cannot be read")
