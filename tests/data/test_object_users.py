"""The MinIO users reconciler's script, run by a real shell against a fake `mc` (fake_mc.py).

The script runs under `/bin/sh` in the mc image (ubi-micro: bash); here under `/bin/sh` (dash on
Debian, stricter POSIX), the central behaviours also under bash, with nothing but mc and `date` on
PATH. Time is real: a key's age comes from its rotation
marker (`<period start>/<due date>`), so "time passing" is a marker whose due date is older.
"""
from __future__ import annotations

import datetime as dt
import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from kfplatform.data.object_users import ALIAS, SCRIPT, job_name

FAKE_MC = pathlib.Path(__file__).with_name("fake_mc.py")
SHELLS = ["/bin/sh", *([shutil.which("bash")] if shutil.which("bash") else [])]
DAYS = 90
HOUR = 3600


def marker(made_hours_ago: float, days: int = DAYS) -> str:
    """The rotation marker of keys made `made_hours_ago` hours ago by an `up` (secrets/rotation.py)."""
    made = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=made_hours_ago)
    due = made + dt.timedelta(days=days)
    return f"2026-01-01T00:00:00Z/{due.strftime('%Y-%m-%dT%H:%M:%SZ')}"


class Store:
    """A MinIO behind the fake mc, accounts' Secrets as mounted files, and a way to run the script."""

    def __init__(self, tmp: pathlib.Path, shell: str, policies: list[str]):
        self.tmp, self.shell = tmp, shell
        self.state_file = tmp / "state.json"
        self.accounts = tmp / "accounts"
        self.accounts.mkdir()
        (tmp / "mc-config").mkdir()
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "mc").write_text(f"#!{sys.executable}\nimport runpy, sys\nrunpy.run_path({str(FAKE_MC)!r}, run_name='__main__')\n")
        (bin_dir / "mc").chmod(0o755)
        # Nothing but mc and date on PATH: the mc image has little more than a shell and coreutils.
        (bin_dir / "date").symlink_to(shutil.which("date"))
        self.bin_dir = bin_dir
        self.write({"policies": policies, "users": {}, "mappings": {}, "calls": []})

    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def write(self, state: dict) -> None:
        self.state_file.write_text(json.dumps(state))

    def account(self, policy: str, access_key: str, secret_key: str, rotation: str, days: int = DAYS) -> None:
        d = self.accounts / policy
        d.mkdir(exist_ok=True)
        # ESO writes the templated values as they are: no trailing newline.
        for name, value in (("accesskey", access_key), ("secretkey", secret_key), ("rotation", rotation),
                            ("rotatedays", str(days))):
            (d / name).write_text(value)

    def run(self, grace_hours: int = 48, expected: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run the script as a Job/CronJob would; `expected`: the markers its pod spec carries
        (EXPECTED_ROTATIONS), by default those of the mounted Secrets (ESO has delivered)."""
        if expected is None:
            expected = {d.name: (d / "rotation").read_text() for d in self.accounts.iterdir()}
        env = {
            "PATH": str(self.bin_dir),
            "FAKE_MC_STATE": str(self.state_file),
            f"MC_HOST_{ALIAS}": "https://root:rootpassword@minio.kubeflow-minio.svc:443",
            "MC_DIR": str(self.tmp / "mc-config"), "ALIAS": ALIAS, "ACCOUNTS_DIR": str(self.accounts),
            "GRACE_SECONDS": str(grace_hours * HOUR), "TMPDIR": str(self.tmp / "mc-config"),
        }
        env["EXPECTED_ROTATIONS"] = ";".join(f"{policy}={m}" for policy, m in sorted(expected.items()))
        return subprocess.run([self.shell, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)


POLICIES = ["tenant-team-a", "kfp-artifacts", "backup-velero"]


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path, "/bin/sh", POLICIES)


@pytest.fixture(params=SHELLS)
def each_shell(tmp_path, request) -> Store:
    """The central behaviours also under bash (the mc image's /bin/sh is bash)."""
    return Store(tmp_path, request.param, POLICIES)


def ok(run: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert run.returncode == 0, run.stderr
    return run


def attached(state: dict, policy: str) -> set[str]:
    return {u for u, ps in state["mappings"].items() if policy in ps}


def test_the_first_run_creates_every_user_and_attaches_its_policy(each_shell):
    store = each_shell
    store.account("tenant-team-a", "AKTEAMA0001", "secret-a-1", marker(2))
    store.account("kfp-artifacts", "AKKFP00001", "secret-k-1", marker(2))
    out = ok(store.run())
    state = store.state()
    assert state["users"] == {"AKTEAMA0001": "secret-a-1", "AKKFP00001": "secret-k-1"}
    assert attached(state, "tenant-team-a") == {"AKTEAMA0001"} and attached(state, "kfp-artifacts") == {"AKKFP00001"}
    assert "2 account(s) reconciled" in out.stdout


def test_a_second_run_changes_nothing(store):
    store.account("tenant-team-a", "AKTEAMA0001", "secret-a-1", marker(2))
    ok(store.run())
    before = store.state()
    ok(store.run())
    after = store.state()
    assert (after["users"], after["mappings"]) == (before["users"], before["mappings"])
    assert not any(call[:3] == ["admin", "user", "remove"] for call in after["calls"])


def test_secret_keys_never_appear_in_a_process_argument(store):
    store.account("tenant-team-a", "AKTEAMA0001", "secret-a-1", marker(2))
    ok(store.run())
    assert not any("secret-a-1" in arg for call in store.state()["calls"] for arg in call)


def test_after_a_rotation_past_the_grace_the_new_user_is_attached_and_the_old_one_removed(store):
    store.account("tenant-team-a", "AKTEAMA0001", "secret-a-1", marker(24 * 40))
    ok(store.run())
    # The next period's keys, made 49 hours ago (grace 48 h).
    store.account("tenant-team-a", "AKTEAMA0002", "secret-a-2", marker(49))
    out = ok(store.run())
    state = store.state()
    assert state["users"] == {"AKTEAMA0002": "secret-a-2"}
    assert attached(state, "tenant-team-a") == {"AKTEAMA0002"}
    assert "1 stale user(s) removed" in out.stdout
    assert "AKTEAMA0001" not in out.stdout + out.stderr  # logs name no access key


def test_within_the_grace_the_previous_key_keeps_working_until_the_grace_ends(each_shell):
    store = each_shell
    store.account("tenant-team-a", "AKTEAMA0001", "secret-a-1", marker(24 * 40))
    ok(store.run())
    rotation = marker(1)  # rotated an hour ago
    store.account("tenant-team-a", "AKTEAMA0002", "secret-a-2", rotation)
    out = ok(store.run(expected={"tenant-team-a": rotation}))  # the one-shot Job of the rotation's `up`
    state = store.state()
    assert state["users"] == {"AKTEAMA0001": "secret-a-1", "AKTEAMA0002": "secret-a-2"}
    assert attached(state, "tenant-team-a") == {"AKTEAMA0001", "AKTEAMA0002"}
    assert "1 kept until the grace" in out.stdout
    # 47 hours later (the same keys, made 48 hours ago): the CronJob removes the previous one.
    store.account("tenant-team-a", "AKTEAMA0002", "secret-a-2", marker(48))
    ok(store.run())
    assert store.state()["users"] == {"AKTEAMA0002": "secret-a-2"}


def test_a_grace_of_zero_removes_the_previous_key_at_once(store):
    store.account("backup-velero", "AKVELERO001", "secret-v-1", marker(24 * 40))
    ok(store.run(grace_hours=0))
    store.account("backup-velero", "AKVELERO002", "secret-v-2", marker(0.01))
    ok(store.run(grace_hours=0))
    assert store.state()["users"] == {"AKVELERO002": "secret-v-2"}


def test_a_foreign_user_attached_to_an_accounts_policy_is_removed_and_others_are_left_alone(each_shell):
    store = each_shell
    store.account("tenant-team-a", "AKTEAMA0001", "secret-a-1", marker(24 * 10))
    state = store.state()
    # Someone attached tenant-team-a's policy to their own user; an unrelated user has another policy.
    state["users"].update({"intruder": "x", "AKOTHER": "y"})
    state["mappings"].update({"intruder": ["tenant-team-a"], "AKOTHER": ["readonly"]})
    store.write(state)
    ok(store.run())
    state = store.state()
    assert set(state["users"]) == {"AKTEAMA0001", "AKOTHER"}
    assert attached(state, "tenant-team-a") == {"AKTEAMA0001"} and state["mappings"]["AKOTHER"] == ["readonly"]


@pytest.mark.parametrize("command", ["user add", "policy attach", "policy entities", "policy detach", "user remove"])
def test_a_failing_mc_call_fails_the_run_and_names_the_account(store, command):
    store.account("kfp-artifacts", "AKKFP00001", "secret-k-1", marker(24 * 40))
    state = store.state()
    state["users"].update({"AKKFPOLD": "old", "AKKFP00001": "secret-k-1"})
    state["mappings"].update({"AKKFPOLD": ["kfp-artifacts"], "AKKFP00001": ["consoleAdmin"]})
    state["policies"].append("consoleAdmin")
    state["fail"] = {command: "*"}
    store.write(state)
    run = store.run()
    assert run.returncode != 0
    assert f"account kfp-artifacts: mc admin {command}" in run.stderr
    assert "reconciled" not in run.stdout


def test_an_unknown_policy_fails_the_run(store):
    """The policy is Pulumi's IamPolicy; before it exists, attaching fails and the Job retries."""
    store.account("not-created-yet", "AKNEW00001", "secret-n-1", marker(2))
    run = store.run()
    assert run.returncode != 0 and "account not-created-yet: mc admin policy attach failed" in run.stderr


def test_the_rotations_job_waits_for_eso_to_deliver_the_rotated_keys(store):
    store.account("tenant-team-a", "AKTEAMA0001", "secret-a-1", marker(24 * 40))
    run = store.run(expected={"tenant-team-a": marker(0)})
    assert run.returncode != 0 and "account tenant-team-a: its Secret holds rotation" in run.stderr
    assert store.state()["calls"] == []  # nothing touched MinIO with the old keys


def test_a_run_holding_keys_older_than_its_spec_never_removes_the_newer_user(each_shell):
    store = each_shell
    """The race a rotation could bring: a CronJob pod whose mounted Secret still holds the previous
    keys while the rotation's Job has made the new user. Its spec names the new marker: it stops."""
    old, new = marker(24 * 40), marker(0.1)
    store.account("kfp-artifacts", "AKKFPNEW", "secret-new", new)
    ok(store.run(expected={"kfp-artifacts": new}))  # the rotation's Job
    store.account("kfp-artifacts", "AKKFPOLD", "secret-old", old)  # a lagging mount
    run = store.run(expected={"kfp-artifacts": new})
    assert run.returncode != 0 and "account kfp-artifacts: its Secret holds rotation" in run.stderr
    assert "AKKFPNEW" in store.state()["users"]


def test_an_account_its_spec_does_not_expect_fails(store):
    store.account("tenant-team-a", "AKTEAMA0001", "secret-a-1", marker(2))
    store.account("tenant-team-ab", "AKTEAMAB001", "secret-ab-1", marker(2))
    run = store.run(expected={"tenant-team-ab": marker(2)})  # `tenant-team-a` is a prefix, not a match
    assert run.returncode != 0 and "account tenant-team-a: no expected rotation" in run.stderr


def test_a_secret_missing_a_key_fails_naming_the_account(store):
    store.account("tenant-team-a", "AKTEAMA0001", "", marker(2))
    run = store.run()
    assert run.returncode != 0 and "account tenant-team-a: secretkey missing" in run.stderr


def test_no_account_mounted_is_a_failure_not_a_silent_success(store):
    run = store.run()
    assert run.returncode != 0 and "no account" in run.stderr


def test_the_jobs_name_changes_with_the_rotation_and_never_with_a_key():
    first, second = marker(24 * 40), marker(1)
    assert job_name("tenant-team-a", first) != job_name("tenant-team-a", second)
    assert job_name("tenant-team-a", first) == job_name("tenant-team-a", first)
    assert job_name("tenant-team-a", first) != job_name("tenant-team-b", first)
    long_policy = "tenant-" + "a" * 63
    assert len(job_name(long_policy, first)) <= 63 and job_name(long_policy, first).startswith("minio-user-tenant-aaa")


@pytest.mark.parametrize("name", ['evil"quote', "a<b"])
def test_a_user_name_the_script_cannot_read_safely_fails_the_run_for_a_person(store, name):
    """mc's JSON escapes `"` and `<` (Go's encoder): the script refuses to guess which user it means."""
    store.account("tenant-team-a", "AKTEAMA0001", "secret-a-1", marker(24 * 10))
    state = store.state()
    state["users"][name] = "x"
    state["mappings"][name] = ["tenant-team-a"]
    store.write(state)
    run = store.run()
    assert run.returncode != 0 and "account tenant-team-a: a user with escaped characters" in run.stderr
    assert name in store.state()["users"]  # nothing removed by a guess


def test_user_names_with_json_punctuation_are_read_whole(each_shell):
    store = each_shell
    """Names may hold `,`, `]` or `[` (not escaped in JSON): each is one user, removed exactly."""
    store.account("tenant-team-a", "AKTEAMA0001", "secret-a-1", marker(24 * 10))
    state = store.state()
    for name in ("x],[y", "a,b"):
        state["users"][name] = "x"
        state["mappings"][name] = ["tenant-team-a"]
    store.write(state)
    ok(store.run())
    assert store.state()["users"] == {"AKTEAMA0001": "secret-a-1"}


def test_another_policy_attached_to_an_accounts_user_is_detached(store):
    """Someone gave a team's user `consoleAdmin` too: the next run leaves it only its own policy."""
    store.account("tenant-team-a", "AKTEAMA0001", "secret-a-1", marker(2))
    ok(store.run())
    state = store.state()
    state["policies"] += ["consoleAdmin", "readwrite"]
    state["mappings"]["AKTEAMA0001"] += ["consoleAdmin", "readwrite"]
    state["users"]["AKOTHER"] = "y"
    state["mappings"]["AKOTHER"] = ["readwrite"]  # another user's policies are not the account's business
    store.write(state)
    out = ok(store.run())
    state = store.state()
    assert state["mappings"]["AKTEAMA0001"] == ["tenant-team-a"] and state["mappings"]["AKOTHER"] == ["readwrite"]
    assert "(2 other policies detached)" in out.stdout
