"""`.ci/drill-connect`: the CI drill job's connection to the restored sandbox. The KFP database password
comes from a real OpenBao (KV v2, with the job's token); the port-forwards are a stand-in `kubectl`
that listens where `kubectl port-forward` would, or fails as it does for a missing Service."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import PROJECT_DIR
from tests.secrets.test_vault_isolation import bao, free_port  # noqa: F401 - a real OpenBao dev server on loopback

SCRIPT = PROJECT_DIR / ".ci" / "drill-connect"

# kubectl port-forward -n NS svc/NAME LOCAL:REMOTE --address 127.0.0.1: records its arguments, then
# listens on LOCAL (or fails like kubectl when the Service is missing).
FAKE_KUBECTL = textwrap.dedent("""\
    #!{python}
    import socket, sys, time
    args = sys.argv[1:]
    open({record!r}, "a").write(" ".join(args) + "\\n")
    if args[3] in {missing!r}:
        print('error: services "%s" not found' % args[3][4:], file=sys.stderr)
        sys.exit(1)
    server = socket.socket()
    server.bind(("127.0.0.1", int(args[4].split(":")[0])))
    server.listen()
    time.sleep(60)
""")


def _run(tmp_path, env: dict, missing=()):
    record = tmp_path / "kubectl-args"
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.format(python=sys.executable, record=str(record), missing=list(missing)))
    kubectl.chmod(0o755)
    full = {"PATH": os.environ["PATH"], "KUBECTL": str(kubectl), **env}
    proc = subprocess.run([sys.executable, str(SCRIPT)], env=full, capture_output=True, text=True, timeout=90)
    return proc, (record.read_text().splitlines() if record.exists() else [])


def _stop(pids: str) -> None:
    for pid in pids.split():
        try:
            os.killpg(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            pass


def test_the_drill_job_gets_the_kfp_database_password_and_both_forwards(bao, tmp_path):  # noqa: F811
    bao.sys.enable_secrets_engine("kv", path="kfplatform", options={"version": "2"})
    bao.secrets.kv.v2.create_or_update_secret(mount_point="kfplatform", path="platform/database/kfp",
                                              secret={"password": "p'w d$x"})
    kfp_port, db_port = free_port(), free_port()
    env = {"VAULT_ADDR": bao.url, "VAULT_TOKEN": bao.token, "DRILL_KFP_LOCAL_PORT": str(kfp_port),
           "DRILL_DB_LOCAL_PORT": str(db_port)}
    proc, calls = _run(tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    exported = subprocess.run(["bash", "-c", proc.stdout + 'printf "%s\\n%s" "$DRILL_DB_PASSWORD" "$DRILL_PORT_FORWARD_PIDS"'],
                              capture_output=True, text=True, timeout=10).stdout.splitlines()
    try:
        assert exported[0] == "p'w d$x"
        assert sorted(calls) == sorted([
            f"port-forward -n kubeflow svc/ml-pipeline {kfp_port}:8888 --address 127.0.0.1",
            f"port-forward -n kubeflow-db svc/proxysql {db_port}:6033 --address 127.0.0.1",
        ])
        assert len(exported[1].split()) == 2  # both forwards outlive the script, for the drill to use
        for pid in exported[1].split():
            os.kill(int(pid), 0)
    finally:
        _stop(exported[1] if len(exported) > 1 else "")

    # A forward that cannot start: exit 1 naming the Service and kubectl's reason; the other is stopped.
    proc, calls = _run(tmp_path, {**env, "DRILL_KFP_LOCAL_PORT": str(free_port())}, missing=["svc/proxysql"])
    assert proc.returncode == 1 and proc.stdout == ""
    assert 'svc/proxysql (' in proc.stderr and 'services "proxysql" not found' in proc.stderr, proc.stderr

    # A token that may not read the password: exit 1, nothing forwarded.
    (tmp_path / "kubectl-args").unlink()
    proc, calls = _run(tmp_path, {**env, "VAULT_TOKEN": "not-a-token"})
    assert proc.returncode == 1 and "HTTP 403" in proc.stderr and calls == [] and proc.stdout == ""


def test_drill_connect_names_what_is_missing(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT)], env={"PATH": "/nonexistent", "KUBECTL": ""},
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "VAULT_ADDR, VAULT_TOKEN" in proc.stderr


@pytest.mark.parametrize("name", ["drill-connect"])
def test_the_script_is_executable(name):
    assert os.access(PROJECT_DIR / ".ci" / name, os.X_OK)
