"""`python -m kfplatform diff`: on real renders (the committed project, and a copy whose tenant files
were changed), and on real renders edited where a tenant-file change cannot reach (a protected
namespace deleted, a MinIO pool resized, a password in an env var)."""
from __future__ import annotations

import copy
import json
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from kfplatform.tenancy.rbac import binding_name
from kfplatform.render.diff import MASK, compare, diff_dirs, markdown_report, text_report
from kfplatform.render.output import write_render
from kfplatform.render.run import render_stack
from tests.conftest import PROJECT_DIR, copy_project

MOVED = "oncall-ml@example.com"  # a `members:` entry of tenants/team-vision.yaml
BINDING = binding_name("user", MOVED, "view")  # KFAM's shape with a hash of the exact subject (kfplatform/tenancy/rbac.py)


@pytest.fixture(scope="session")
def base_dir(prod, tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("old")
    write_render(prod, folder)
    return folder


@pytest.fixture(scope="session")
def moved_dir(tmp_path_factory) -> pathlib.Path:
    """The committed project with one person moved from team-vision's file to team-nlp's."""
    project = copy_project(tmp_path_factory.mktemp("moved-project"))
    vision = project / "tenants" / "team-vision.yaml"
    nlp = project / "tenants" / "team-nlp.yaml"
    data = yaml.safe_load(vision.read_text())
    (member,) = [m for m in data["members"] if m["user"] == MOVED]
    data["members"].remove(member)
    if not data["members"]:
        del data["members"]
    vision.write_text(yaml.safe_dump(data, sort_keys=False))
    data = yaml.safe_load(nlp.read_text())
    data["members"] = data.get("members", []) + [member]
    nlp.write_text(yaml.safe_dump(data, sort_keys=False))
    folder = tmp_path_factory.mktemp("new")
    write_render(render_stack(project, "prod"), folder)
    return folder


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kfplatform", "diff", *args], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=60)


def test_a_member_who_changes_teams_loses_and_gains_exactly_their_bindings(base_dir, moved_dir):
    """The identity runbook's promise (docs/identity.md, "This person changed teams")."""
    entries = diff_dirs(base_dir, moved_dir)
    got = sorted((e.action, e.kind, e.label) for e in entries)
    assert got == [
        ("added", "AuthorizationPolicy", f"team-nlp/{BINDING}"),
        ("added", "RoleBinding", f"team-nlp/{BINDING}"),
        ("removed", "AuthorizationPolicy", f"team-vision/{BINDING}"),
        ("removed", "RoleBinding", f"team-vision/{BINDING}"),
    ], "moving a member must change their bindings and nothing else"
    assert {e.component for e in entries} == {"kfplatform:tenancy:Tenants"}
    assert not any(e.dangers for e in entries)
    # The bindings are the person's: a User subject and the mesh's user-id header.
    new = {r["urn"]: r for r in json.loads((moved_dir / "resources.json").read_text())}
    added = {e.kind: new[e.urn]["inputs"] for e in entries if e.action == "added"}
    assert added["RoleBinding"]["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": MOVED}]
    assert added["RoleBinding"]["roleRef"]["name"] == "kubeflow-view"
    (rule,) = added["AuthorizationPolicy"]["spec"]["rules"]
    assert rule["when"][0]["values"][0].endswith(MOVED)


def test_cli_exit_codes_and_markdown(base_dir, moved_dir, tmp_path):
    same = run_cli(str(base_dir), str(base_dir), "--markdown", str(tmp_path / "same.md"))
    assert same.returncode == 0 and "no change" in same.stdout
    changed = run_cli(str(base_dir), str(moved_dir), "--markdown", str(tmp_path / "diff.md"))
    assert changed.returncode == 1, changed.stderr
    assert "2 added (2 objects), 2 removed (2 objects), 0 changed" in changed.stdout
    assert f"+ team-nlp/{BINDING}" in changed.stdout and f"- team-vision/{BINDING}" in changed.stdout
    assert "\033[" not in changed.stdout, "no colour when the output is not a terminal"
    md = (tmp_path / "diff.md").read_text()
    assert "#### `kfplatform:tenancy:Tenants`" in md and f"`team-nlp/{BINDING}`" in md
    missing = run_cli(str(tmp_path / "nowhere"), str(moved_dir))
    assert missing.returncode == 2 and "no resources.json" in missing.stderr


def edited(base_dir: pathlib.Path, dest: pathlib.Path, edit) -> pathlib.Path:
    """A copy of a real render whose resources.json `edit(resources_by_urn)` changed."""
    shutil.copytree(base_dir, dest)
    resources = json.loads((dest / "resources.json").read_text())
    by_urn = {r["urn"]: r for r in resources}
    edit(by_urn)
    (dest / "resources.json").write_text(json.dumps(list(by_urn.values()), indent=1))
    return dest


def find(by_urn: dict, type_: str, name: str, namespace: str | None = None) -> dict:
    (r,) = [r for r in by_urn.values() if r["type"] == type_ and r["inputs"]["metadata"]["name"] == name
            and r["inputs"]["metadata"].get("namespace") == namespace]
    return r


def test_dangerous_changes_come_first_with_a_warning(base_dir, tmp_path):
    def edit(by_urn):
        ns = find(by_urn, "kubernetes:core/v1:Namespace", "team-forecasting")
        del by_urn[ns["urn"]]  # a team's file removed: its protected namespace would be deleted
        tenant = find(by_urn, "kubernetes:minio.min.io/v2:Tenant", "kubeflow-minio", "kubeflow-minio")
        tenant["inputs"]["spec"]["pools"][0]["servers"] += 1  # immutable in MinIO
        quota = find(by_urn, "kubernetes:core/v1:ResourceQuota", "tenant-quota", "team-nlp")
        quota["inputs"]["spec"]["hard"]["pods"] = "999"  # harmless

    new = edited(base_dir, tmp_path / "new", edit)
    entries = diff_dirs(base_dir, new)
    report = text_report(entries, "old", "new")
    warning = report.index("WARNING: 2 dangerous change(s)")
    first_component = report.index("\nkfplatform:")
    assert warning < first_component, "dangerous changes are listed before the per-component detail"
    danger_lines = [line for line in report.splitlines() if line.startswith("  ! ")]
    assert len(danger_lines) == 2
    assert any("Namespace team-forecasting" in line and "protected" in line for line in danger_lines)
    assert any("Tenant kubeflow-minio/kubeflow-minio" in line and re.search(r"spec\.pools\[[^]]+\]\.servers is immutable", line)
               for line in danger_lines), danger_lines
    assert not any("ResourceQuota" in line for line in danger_lines)
    assert '"pods": "999"' not in report and 'spec.hard.pods: ' in report
    coloured = text_report(entries, "old", "new", color=True)
    assert "\033[31m" in coloured and "\033[31m" not in report
    assert ":warning:" in markdown_report(entries, "old", "new")


def test_unprotecting_and_removing_a_retained_resource(base_dir, tmp_path):
    def edit(by_urn):
        find(by_urn, "kubernetes:core/v1:Namespace", "kubeflow-db")["protect"] = False

    entries = diff_dirs(base_dir, edited(base_dir, tmp_path / "new", edit))
    (entry,) = entries
    assert entry.changes[0].path == "(option) protect"
    assert entry.dangers == ["protection removed: a later change can delete it"]


def test_secret_values_are_masked(base_dir, tmp_path):
    def add_password(value):
        def edit(by_urn):
            sts = next(r for r in by_urn.values() if r["type"] == "kubernetes:core/v1:ConfigMap")
            sts["inputs"].setdefault("data", {})["admin_password"] = value
            kv = next(r for r in by_urn.values() if r["type"] == "kubernetes:helm.sh/v3:Release")
            kv["inputs"]["values"]["extraEnv"] = [{"name": "DB_PASSWORD", "value": value}]
        return edit

    old = edited(base_dir, tmp_path / "old", add_password("hunter2-old"))
    new = edited(base_dir, tmp_path / "new", add_password("hunter2-new"))
    entries = compare(*(  # both sides carry a password; only its change may show, masked
        {r["urn"]: r for r in json.loads((d / "resources.json").read_text())} for d in (old, new)))
    report = text_report(entries, "old", "new") + markdown_report(entries, "old", "new")
    assert "hunter2" not in report
    assert f"data.admin_password: \"{MASK}\" -> \"{MASK}\"" in report
    # Added whole (no old value): masked inside the added value too.
    fresh = compare({r["urn"]: r for r in json.loads((base_dir / "resources.json").read_text())},
                    {r["urn"]: r for r in json.loads((new / "resources.json").read_text())})
    assert "hunter2" not in text_report(fresh, "old", "new")


def test_lists_are_aligned_not_compared_by_position():
    from kfplatform.render.diff import field_changes

    old = {"elements": [{"tenant": "a"}, {"tenant": "b"}, {"tenant": "c"}]}
    new = {"elements": [{"tenant": "b"}, {"tenant": "c"}]}
    changes = field_changes(copy.deepcopy(old), new)
    assert [(c.path, c.old, c.new) for c in changes][0][:2] == ("elements[0]", {"tenant": "a"})
    assert len(changes) == 1
    named = field_changes({"c": [{"name": "x", "image": "1"}, {"name": "y", "image": "1"}]},
                          {"c": [{"name": "y", "image": "2"}, {"name": "x", "image": "1"}]})
    assert [(c.path, c.old, c.new) for c in named] == [("c[name=y].image", "1", "2")]
    assert re.match(r"^c\[name=y\]", named[0].path)


def test_stack_outputs_that_differ_are_listed(base_dir, tmp_path):
    new = tmp_path / "new"
    shutil.copytree(base_dir, new)
    exports = json.loads((new / "exports.json").read_text())
    exports["dashboardUrl"] = "https://elsewhere.example.com/"
    exports["vaultKvMount"] = exports["vaultKvMount"] + "-2"
    exports["adminPassword"] = "hunter2"  # a secret-looking output: masked
    (new / "exports.json").write_text(json.dumps(exports))
    entries = diff_dirs(base_dir, new)
    assert sorted((e.action, e.label) for e in entries) == [
        ("added", "adminPassword"), ("changed", "dashboardUrl"), ("changed", "vaultKvMount")]
    report = text_report(entries, "old", "new")
    assert "0 added (0 objects), 0 removed (0 objects), 0 changed (0 objects); 3 stack outputs differ" in report
    assert '"https://elsewhere.example.com/"' in report and "hunter2" not in report
    assert run_cli(str(base_dir), str(new), "--markdown", str(tmp_path / "d.md")).returncode == 1
