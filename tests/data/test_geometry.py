"""The pool geometry lock: a recorded pool's servers and volumes never change, not even by accident."""
import json
import shutil

import pytest

from kfplatform.data import geometry

from .helpers import PROJECT_DIR, data_section, issues_for, load_with_data

POOLS = "kubeflow-platform:data.objectStore.pools"


@pytest.fixture
def project(tmp_path):
    """A copy of the project's stack files and locks, to edit freely."""
    for path in PROJECT_DIR.glob("Pulumi.*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    for path in PROJECT_DIR.glob("data-geometry.*.json"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copytree(PROJECT_DIR / "tenants", tmp_path / "tenants")
    return tmp_path


def test_committed_locks_match_the_committed_stacks():
    for stack in ("prod", "sandbox"):
        config = load_with_data(stack, data_section(stack))
        assert geometry.read_lock(geometry.lock_path(PROJECT_DIR, stack)) == geometry.configured_pools(config)


def test_changing_a_recorded_pool_is_refused_with_the_way_forward(project):
    found = {i.path: i.message for i in issues_for("prod", lambda d: d["objectStore"]["pools"][0].update(servers=9), project)}
    message = found[f"{POOLS}[0].servers"]
    assert "created with servers=6" in message and "9 is refused" in message and "add a new pool" in message


def test_dropping_a_recorded_pool_is_refused(project):
    def rename(data):
        data["objectStore"]["pools"][0]["name"] = "pool-a"

    found = {i.path: i.message for i in issues_for("prod", rename, project)}
    assert "'pool-0' is recorded" in found[POOLS] and "Decommission" in found[POOLS]
    assert "'pool-a'" in found[f"{POOLS}[0]"]  # and the new name is not recorded


def test_a_new_pool_must_be_recorded_in_the_same_change(project):
    def add(data):
        data["objectStore"]["pools"].append({"name": "pool-1", "servers": 6, "volumesPerServer": 2, "volumeSize": "2Ti"})

    found = {i.path: i.message for i in issues_for("prod", add, project)}
    assert "--stack prod --record" in found[f"{POOLS}[1]"]


def test_a_stack_without_a_lock_cannot_deploy(project):
    (project / "data-geometry.prod.json").unlink()
    found = {i.path for i in issues_for("prod", lambda d: None, project)}
    assert f"{POOLS}[0]" in found


def test_a_malformed_lock_is_an_error(project):
    (project / "data-geometry.prod.json").write_text('{"objectStore": {}}')
    found = {i.file: i.message for i in issues_for("prod", lambda d: None, project)}
    assert "not a geometry lock" in found["data-geometry.prod.json"]


def test_record_adds_new_pools_and_never_rewrites_recorded_ones(project, capsys):
    stack_file = project / "Pulumi.prod.yaml"
    text = stack_file.read_text()
    new_pool = (
        "        - name: pool-1\n          servers: 8\n          volumesPerServer: 2\n          volumeSize: 2Ti\n"
    )
    stack_file.write_text(text.replace("      parity: 4\n", new_pool + "      parity: 4\n"))
    assert geometry.main(["--project", str(project), "--stack", "prod"]) == 2  # not yet recorded
    assert geometry.main(["--project", str(project), "--stack", "prod", "--record"]) == 0
    pools = json.loads((project / "data-geometry.prod.json").read_text())["objectStore"]["pools"]
    assert pools == {"pool-0": {"servers": 6, "volumesPerServer": 2}, "pool-1": {"servers": 8, "volumesPerServer": 2}}
    assert geometry.main(["--project", str(project), "--stack", "prod"]) == 0

    # A changed pool is refused by --record too, and the lock keeps the applied geometry.
    stack_file.write_text(stack_file.read_text().replace("servers: 8", "servers: 12"))
    assert geometry.main(["--project", str(project), "--stack", "prod", "--record"]) == 2
    assert "created with servers=8" in capsys.readouterr().err
    pools = json.loads((project / "data-geometry.prod.json").read_text())["objectStore"]["pools"]
    assert pools["pool-1"] == {"servers": 8, "volumesPerServer": 2}
