"""The offline render's contract: files, formats, options, and validity against real schemas."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
import yaml

from kfplatform.render.mocks import DuplicateResourceError
from kfplatform.render.run import run_under_mocks
from tests.conftest import PROJECT_DIR, SHARED_DIR, once_across_workers

VALIDATOR = SHARED_DIR / "tools" / "validate_manifests.py"


def _cli_render(stack: str, tmp: pathlib.Path) -> tuple[pathlib.Path, str]:
    """`python -m kfplatform render --stack STACK`, once for all the session's workers (its output
    folder and stdout, or the failure)."""
    def produce() -> bytes:
        folder = tmp / stack
        folder.mkdir()
        proc = subprocess.run(
            [sys.executable, "-m", "kfplatform", "render", "--stack", stack, "--out", str(folder)],
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
        )
        return json.dumps({"folder": str(folder), "returncode": proc.returncode, "stdout": proc.stdout,
                           "stderr": proc.stderr}).encode()

    result = json.loads(once_across_workers(f"cli-render-{stack}", produce))
    assert result["returncode"] == 0, result["stderr"]
    return pathlib.Path(result["folder"]), result["stdout"]


@pytest.fixture(scope="session")
def rendered_files(tmp_path_factory, worker_id):
    """`python -m kfplatform render` for each stack, as a user runs it (once for all workers)."""
    # Workers take the stacks in different orders, so two workers render both at once.
    order = ("prod", "sandbox") if worker_id in ("master", "gw0") else ("sandbox", "prod")
    tmp = tmp_path_factory.mktemp("cli-render")
    return {stack: _cli_render(stack, tmp) for stack in order}


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
    # The policy pack ran over the written render (the gate is `python -m kfplatform policy`).
    assert "policy pack (config prod.json): " in stdout and (folder / "policy.txt").exists()
    assert (folder / "summary.txt").read_text().startswith("stack prod: ")


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


def test_skipping_source_positions_changes_nothing_recorded():
    """The render skips the SDK's per-resource stack capture; what is registered must not change."""
    import pulumi
    import pulumi_kubernetes as k8s
    from pulumi.runtime import resource as sdk_resource

    from kfplatform.render import run

    original = sdk_resource._get_stack_trace  # gone in a new SDK: remove run.no_source_positions

    def program():
        parent = pulumi.ComponentResource("test:index:Box", "box")
        for i in range(3):
            k8s.core.v1.ConfigMap(f"cm{i}", metadata={"name": f"cm{i}", "namespace": "x"}, data={"k": str(i)},
                                  opts=pulumi.ResourceOptions(parent=parent, protect=i == 1))

    fast = run.run_under_mocks(program, "test")
    assert sdk_resource._get_stack_trace is original, "restored after the render"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(run, "no_source_positions", __import__("contextlib").nullcontext)
        slow = run.run_under_mocks(program, "test")
    assert [r.as_json() for r in fast.resources] == [r.as_json() for r in slow.resources]
    assert len(fast.resources) == 4 and [r.protect for r in fast.resources].count(True) == 1



def test_cyclic_gc_is_paused_only_during_the_run():
    import gc

    from kfplatform.render import run

    seen = []
    run.run_under_mocks(lambda: seen.append(gc.isenabled()), "test")
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        run.run_under_mocks(lambda: None, "test")
        assert not gc.isenabled(), "a caller's disabled GC stays disabled"
    finally:
        gc.enable()

def test_duplicate_resource_names_fail_like_the_real_engine():
    import pulumi_kubernetes as k8s

    def program():
        k8s.core.v1.ConfigMap("same", metadata={"name": "a"})
        k8s.core.v1.ConfigMap("same", metadata={"name": "b"})

    with pytest.raises(DuplicateResourceError, match="duplicate resource URN"):
        run_under_mocks(program, "test")


# What installs the CRD of each API group the program declares objects of: a Helm release (by
# chart) or a Kubeflow Argo CD Application (by name). Groups of services that exist before this
# program runs are listed apart, with who provides them (README, prerequisites).
CRD_INSTALLERS = {
    "k8s.mariadb.com": ("chart", "mariadb-operator-crds"),
    "minio.min.io": ("chart", "operator"),
    "external-secrets.io": ("chart", "external-secrets"),
    "kubeflow.org/Profile": ("application", "kubeflow-profiles"),
    "kubeflow.org/PodDefault": ("application", "kubeflow-admission-webhook"),
    "security.istio.io": ("application", "kubeflow-istio-crds"),
    "policy.sigstore.dev": ("chart", "policy-controller"),
    "velero.io": ("chart", "velero"),
}
PRE_EXISTING = {
    "argoproj.io": "Argo CD", "monitoring.coreos.com": "the Prometheus operator",
    "oadp.openshift.io": "the OADP operator (OLM, OpenShift stacks only)",
}
CORE_GROUPS = ("core", "apps", "rbac.authorization.k8s.io", "networking.k8s.io", "policy", "autoscaling",
               "scheduling.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io", "helm.sh", "batch")


def test_custom_resources_wait_for_whatever_installs_their_crd(each_stack):
    installers = {}
    for r in each_stack.resources:
        if r.type == "kubernetes:helm.sh/v3:Release":
            installers[("chart", r.inputs["chart"])] = r.urn
        elif r.type == "kubernetes:argoproj.io/v1alpha1:Application":
            installers[("application", r.inputs["metadata"]["name"])] = r.urn
    checked = 0
    for r in each_stack.resources:
        if not (r.custom and r.type.startswith("kubernetes:")) or r.type.startswith("kubernetes:helm.sh/"):
            continue
        group = r.type.split(":")[1].split("/")[0]
        if group in CORE_GROUPS or "/" not in r.type.split(":")[1]:
            continue
        kind = r.type.split(":")[2]
        key = f"{group}/{kind}" if f"{group}/{kind}" in CRD_INSTALLERS else group
        if group in PRE_EXISTING:
            continue
        assert key in CRD_INSTALLERS, f"{r.type}: who installs this CRD? add it to CRD_INSTALLERS or PRE_EXISTING"
        installer = installers[CRD_INSTALLERS[key]]
        assert installer in depends_on_transitively(each_stack, r), f"{r.name} ({kind}) does not wait for {CRD_INSTALLERS[key]}"
        checked += 1
    assert checked > 50


def test_kubeflow_applications_that_install_crds_are_awaited(prod):
    apps = [o for o in prod.kubernetes_objects() if o["kind"] == "Application"]
    awaited = {a["metadata"]["name"] for a in apps if "pulumi.com/waitFor" in (a["metadata"].get("annotations") or {})}
    assert awaited == {name for how, name in CRD_INSTALLERS.values() if how == "application"}


def test_whole_numbers_are_rendered_as_integers_as_the_api_server_receives_them(rendered_files):
    """The mocks' wire format makes every number a double; `replicas: 3.0` would not decode as int32."""
    folder, _ = rendered_files["prod"]
    docs = list(yaml.safe_load_all((folder / "manifests.yaml").read_text()))

    def floats(value):
        if isinstance(value, dict):
            return [f for v in value.values() for f in floats(v)]
        if isinstance(value, list):
            return [f for v in value for f in floats(v)]
        return [value] if isinstance(value, float) and value.is_integer() else []

    hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler")
    assert isinstance(hpa["spec"]["maxReplicas"], int)
    assert [f for d in docs for f in floats(d)] == []


def test_the_render_is_byte_for_byte_reproducible(rendered_files, prod, tmp_path):
    """Two renders of the same input (this session's in-process one, the CLI's subprocess) write
    the same bytes: registration order varies with asyncio scheduling, the written order must not."""
    from kfplatform.render.output import write_render

    folder, _ = rendered_files["prod"]
    written = write_render(prod, tmp_path)
    assert {p.name for p in written} >= {"manifests.yaml", "resources.json", "exports.json"}
    files = [f for p in written for f in (sorted(p.rglob("*")) if p.is_dir() else [p]) if f.is_file()]
    assert any(f.parent.name == "rules" for f in files)  # written folders (rule files) are compared file by file
    for path in files:
        name = path.relative_to(tmp_path)
        assert path.read_bytes() == (folder / name).read_bytes(), f"{name} differs between two renders"


def test_parents_are_written_before_their_children(each_stack):
    """The written order is a walk of the component tree (the root Stack itself is not recorded)."""
    recorded, seen = {r.urn for r in each_stack.resources}, set()
    for r in each_stack.resources:
        assert r.parent not in recorded or r.parent in seen, f"{r.urn} before its parent"
        seen.add(r.urn)
    assert len(seen) == len(each_stack.resources)


def test_libyaml_writes_the_same_bytes_as_the_pure_python_emitter(each_stack):
    from kfplatform.render.output import manifests_text

    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML without libyaml: the render uses the pure-Python emitter anyway")
    objects = each_stack.kubernetes_objects()
    assert manifests_text(objects) == manifests_text(objects, pure=True)

