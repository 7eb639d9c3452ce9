"""The artifact-replication Job's script, run under /bin/sh with only `mc` on PATH (the mc image is
ubi9/ubi-micro plus mc: no grep, sed or awk), against a fake `mc` holding the bucket's rules.

The fake answers `replicate ls --json` as mc RELEASE.2025-08-13T08-35-41Z does (cmd/replicate-list.go):
a fatal exit when the bucket has no replication configuration yet, else one JSON message per rule
with the rule under `rule` and its id under `ID` (minio-go pkg/replication Rule).
"""
from __future__ import annotations

import json
import os
import pathlib
import stat
import subprocess
import sys

import pytest

from kfplatform.backup import replication

FAKE_MC = r'''#!{python}
import json, os, sys
state_path = os.environ["FAKE_STATE"]
state = json.load(open(state_path))
args = [a for a in sys.argv[1:] if a not in ("--quiet", "--json")]
if args[:1] == ["--config-dir"]:
    args = args[2:]
state["calls"].append(args)
def save():
    json.dump(state, open(state_path, "w"))
if args[:2] == ["replicate", "ls"]:
    save()
    if not state["rules"]:
        print("mc: <ERROR> Unable to list replication configuration: replication configuration not set.", file=sys.stderr)
        sys.exit(1)
    for rule in state["rules"]:
        print(json.dumps({"op": "", "status": "success", "url": "", "rule": {"ID": rule, "Status": "Enabled"}}))
elif args[:2] == ["replicate", "add"]:
    rule = args[args.index("--id") + 1]
    if rule in state["rules"]:
        save(); sys.exit(1)
    state["rules"].append(rule)
    save()
elif args[:2] == ["replicate", "update"]:
    rule = args[args.index("--id") + 1]
    save()
    sys.exit(0 if rule in state["rules"] else 1)
else:
    save()
'''


def run(tmp_path: pathlib.Path, rules: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    mc = bin_dir / "mc"
    mc.write_text(FAKE_MC.replace("{python}", sys.executable))
    mc.chmod(mc.stat().st_mode | stat.S_IXUSR)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"rules": rules, "calls": []}))
    script = replication.script(
        source_url="https://minio.store.svc", source_bucket="artifacts", target_url="https://s3.dr.example.com",
        target_bucket="artifacts-dr",
    )
    env = {"PATH": str(bin_dir), "FAKE_STATE": str(state), "SRC_ACCESS_KEY": "a", "SRC_SECRET_KEY": "b",
           "DR_ACCESS_KEY": "c", "DR_SECRET_KEY": "d"}
    proc = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    return proc, json.loads(state.read_text())


def verbs(state: dict) -> list[str]:
    return [" ".join(call[:2]) for call in state["calls"] if call[0] == "replicate"]


@pytest.mark.parametrize("rules, expected", [
    ([], ["replicate ls", "replicate add", "replicate ls"]),  # first run: no configuration at all
    ([replication.REPLICATION_RULE], ["replicate ls", "replicate update", "replicate ls"]),
    # another rule on the bucket (someone's own) is not ours: ours is added beside it
    (["kfplatform-dr-old"], ["replicate ls", "replicate add", "replicate ls"]),
])
def test_rule_added_when_absent_updated_when_present(tmp_path, rules, expected):
    proc, state = run(tmp_path, rules)
    assert proc.returncode == 0, proc.stderr
    assert verbs(state) == expected
    assert replication.REPLICATION_RULE in state["rules"]


def test_runs_twice_idempotently(tmp_path):
    proc, state = run(tmp_path, [])
    assert proc.returncode == 0
    proc, state = run(tmp_path, state["rules"])
    assert proc.returncode == 0, proc.stderr
    assert state["rules"].count(replication.REPLICATION_RULE) == 1
