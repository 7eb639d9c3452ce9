"""The offline render's contract: files, formats, options, and validity against real schemas."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from kfplatform.render.mocks import DuplicateResourceError
from kfplatform.render.run import run_under_mocks
from tests.conftest import PROJECT_DIR, SHARED_DIR

VALIDATOR = SHARED_DIR / "tools" / "validate_manifests.py"


@pytest.fixture(scope="session")
def rendered_files(tmp_path_factory):
    """`python -m kfplatform render` for each stack, as a user runs it."""
    out = {}
    for stack in ("prod", "sandbox"):
        folder = tmp_path_factory.mktemp(stack)
        proc = subprocess.run(
            [sys.executable, "-m", "kfplatform", "render", "--stack", stack, "--out", str(folder)],
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        out[stack] = (folder, proc.stdout)
    return out


def test_render_writes_manifests_resources_and_a_summary(rendered_files):
    folder, stdout = rendered_files["prod"]
    docs = list(yaml.safe_load_all((folder / "manifests.yaml").read_text()))
    assert docs and all(list(d)[:3] == ["apiVersion", "kind", "metadata"] for d in docs)
    assert all(d["metadata"].get("name") for d in docs), "every object has an explicit name"
    resources = json.loads((folder / "resources.json").read_text())
    assert set(resources[0]) == {
        "urn", "type", "name", "parent", "custom", "inputs", "protect", "dependencies", "retain_on_delete", "ignore_changes",
    }
    assert len(docs) == sum(1 for r in resources if r["custom"] and r["inputs"].get("kind"))
    assert "resources by component:" in stdout and "objects by kind:" in stdout
    assert "tenants (3): team-forecasting, team-nlp, team-vision" in stdout


@pytest.mark.skipif(not VALIDATOR.exists(), reason="../shared/tools/validate_manifests.py not present")
@pytest.mark.parametrize("stack", ["prod", "sandbox"])
def test_every_rendered_object_validates_against_upstream_schemas(rendered_files, stack):
    folder, _ = rendered_files[stack]
    proc = subprocess.run(
        [sys.executable, str(VALIDATOR), str(folder / "manifests.yaml")], capture_output=True, text=True, timeout=120
    )
    summary = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 0 and summary.endswith(" 0 invalid"), proc.stdout[-3000:]


def test_secrets_are_never_written_in_clear(rendered_files):
    for stack, (folder, _) in rendered_files.items():
        text = (folder / "resources.json").read_text() + (folder / "manifests.yaml").read_text()
        assert "mock-password-" not in text, f"{stack}: a generated password leaked into the render"
    resources = json.loads((rendered_files["prod"][0] / "resources.json").read_text())
    kv = [r for r in resources if r["type"] == "vault:kv/secretV2:SecretV2"]
    assert all(r["inputs"].get("dataJson") in (None, "[secret]") for r in kv)


def test_every_resource_hangs_off_the_platform_component(each_stack):
    by_urn = {r.urn: r for r in each_stack.resources}
    (root,) = [r for r in each_stack.resources if r.type == "kfplatform:index:Platform"]
    for resource in each_stack.resources:
        if resource is root or resource.type.startswith("pulumi:providers:"):
            continue
        node = resource
        while node.parent in by_urn:
            node = by_urn[node.parent]
        assert node is root, f"{resource.urn} is not under the Platform component"


def depends_on_transitively(result, resource) -> set[str]:
    by_urn = {r.urn: r for r in result.resources}
    seen: set[str] = set()
    todo = list(resource.dependencies)
    while todo:
        urn = todo.pop()
        if urn not in seen:
            seen.add(urn)
            todo.extend(by_urn[urn].dependencies if urn in by_urn else [])
    return seen


def test_namespaced_objects_wait_for_the_namespace_the_program_creates(each_stack):
    """Pulumi creates in parallel: an object must (transitively) depend on its own namespace."""
    namespaces = {
        r.inputs["metadata"]["name"]: r.urn for r in each_stack.resources if r.type == "kubernetes:core/v1:Namespace"
    }
    missing = []
    for r in each_stack.resources:
        ns = (r.inputs.get("metadata") or {}).get("namespace") if isinstance(r.inputs, dict) else None
        if r.custom and ns in namespaces and namespaces[ns] not in depends_on_transitively(each_stack, r):
            missing.append(r.name)
    assert missing == []


def test_duplicate_resource_names_fail_like_the_real_engine():
    import pulumi_kubernetes as k8s

    def program():
        k8s.core.v1.ConfigMap("same", metadata={"name": "a"})
        k8s.core.v1.ConfigMap("same", metadata={"name": "b"})

    with pytest.raises(DuplicateResourceError, match="duplicate resource URN"):
        run_under_mocks(program, "test")
