"""`.gitlab-ci.yml`: valid against GitLab's CI schema, every command it runs exists in the project,
the merge-request gate and the deploy rules are what docs/merge-requests.md says."""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from unittest import mock

import pytest
import yaml

from tests.conftest import PROJECT_DIR, SHARED_DIR
from tests.secrets.test_vault_isolation import bao  # noqa: F401 - a real OpenBao dev server on loopback

SCHEMA = SHARED_DIR / "schemas" / "gitlab-ci.json"
CI = yaml.safe_load((PROJECT_DIR / ".gitlab-ci.yml").read_text())
RESERVED = {"workflow", "stages", "default", "variables", "include", "image", "services", "cache", "before_script",
            "after_script"}
JOBS = {name: job for name, job in CI.items() if name not in RESERVED and not name.startswith(".")}
# Programs the runner image provides; anything else a script runs must be a file of the project.
EXTERNAL = {"python3", "pulumi", "eval", "cd"}


def _resolved(job: dict) -> dict:
    """A job with its `extends` templates merged in (what GitLab runs)."""
    merged: dict = {}
    for parent in ([job["extends"]] if isinstance(job.get("extends"), str) else job.get("extends") or []):
        merged.update(_resolved(CI[parent]))
    merged.update({k: v for k, v in job.items() if k != "extends"})
    return merged


def _commands(job: dict) -> list[list[str]]:
    job = _resolved(job)
    lines = [*job.get("before_script", []), *job.get("script", [])]
    commands = []
    for line in lines:
        for part in line.split("&&"):
            commands.append(shlex.split(part.strip()))
    return commands


@pytest.mark.skipif(not SCHEMA.exists(), reason="../shared/schemas/gitlab-ci.json not present")
def test_the_pipeline_validates_against_gitlabs_ci_schema():
    import jsonschema

    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    assert [e.message for e in validator.iter_errors(CI)] == []
    broken = {**CI, "render": {**CI["render"], "artifacts": {**CI["render"]["artifacts"], "expose_as": ["a"]}}}
    assert list(validator.iter_errors(broken)), "the schema must refuse a malformed job"
    misspelt = {**CI, "policy": {**CI["policy"], "rulez": []}}
    assert list(validator.iter_errors(misspelt)), "the schema must refuse an unknown keyword"


def _kfplatform_parser() -> argparse.ArgumentParser:
    """The real `python -m kfplatform` parser (captured from cli.main, not rebuilt)."""
    from kfplatform import cli

    captured = {}

    def capture(self, args=None, namespace=None):
        captured["parser"] = self
        raise SystemExit(0)

    with mock.patch.object(argparse.ArgumentParser, "parse_args", capture), pytest.raises(SystemExit):
        cli.main([])
    return captured["parser"]


ASSIGNED = re.compile(r"^(?P<var>[A-Z_]+)=\$\((?P<command>.+)\)$")


def test_every_command_the_pipeline_runs_exists_in_the_project():
    from kfguard import engine

    parser = _kfplatform_parser()
    seen = set()
    for name, job in JOBS.items():
        assigned = set()
        commands = list(_commands(job))
        while commands:
            argv = commands.pop(0)
            program = argv[0]
            if (match := ASSIGNED.match(program)) and len(argv) == 1:
                # VAR="$(command)": the command is checked like any other; `eval "$VAR"` may follow.
                assigned.add(match["var"])
                commands.insert(0, shlex.split(match["command"]))
                continue
            if program == "eval" and argv[1].startswith("$") and not argv[1].startswith("$("):
                assert argv[1].strip("${}") in assigned, (name, argv)
                continue
            if program == ".venv/bin/python":
                assert argv[1:3] == ["-m", "kfplatform"], (name, argv)
                args = parser.parse_args(argv[3:])  # argparse refuses an unknown subcommand or flag
                seen.add(args.command)
                for path in (getattr(args, "resources", None), getattr(args, "config", None)):
                    if path is not None and not str(path).startswith("build/"):
                        assert (PROJECT_DIR / path).exists(), (name, path)
                if getattr(args, "stack", None):
                    assert (PROJECT_DIR / f"Pulumi.{args.stack}.yaml").exists(), (name, args.stack)
            elif program == ".venv/bin/pip":
                requirement = argv[argv.index("-r") + 1]
                assert (PROJECT_DIR / requirement).exists(), (name, requirement)
            elif program == "pulumi":
                if argv[1] in ("destroy", "config"):
                    # Only the sandbox is ever destroyed or reconfigured, and only by the drill job.
                    assert name == "drill:sandbox" and argv[argv.index("--stack") + 1] == "sandbox", (name, argv)
                    if argv[1] == "config":
                        _check_config_path(argv)
                elif argv[1] in ("preview", "up"):
                    stack = argv[argv.index("--stack") + 1]
                    pack = argv[argv.index("--policy-pack") + 1]
                    config = argv[argv.index("--policy-pack-config") + 1]
                    assert (PROJECT_DIR / f"Pulumi.{stack}.yaml").exists(), (name, stack)
                    assert (PROJECT_DIR / pack / "PulumiPolicy.yaml").exists(), (name, pack)
                    assert config == f"policy/config/{stack}.json", (name, config)
                    engine.load_config(PROJECT_DIR / config)  # a config the pack accepts
                else:
                    assert argv[1] in ("login", "install"), (name, argv)
            elif program == "cd":
                assert (PROJECT_DIR / argv[1]).is_dir(), (name, argv)
            elif program == "eval":
                inner = argv[1].strip("$()")
                assert os.access(PROJECT_DIR / inner, os.X_OK), (name, inner)
            elif program.startswith(".ci/"):
                assert os.access(PROJECT_DIR / program, os.X_OK), (name, program)
            else:
                assert program in EXTERNAL, (name, argv)
    assert seen == {"render", "capacity", "policy", "drill-backups", "drill"}


def _check_config_path(argv: list[str]) -> None:
    """`pulumi config set --path KEY VALUE`: KEY is a key of the stack config model (a typo would add
    an unknown key the loader refuses only at `pulumi up`)."""
    from kfplatform.backup.config import BackupConfig

    assert argv[2] == "set" and "--path" in argv, argv
    key = next(a for a in argv[3:] if a.startswith("kubeflow-platform:"))
    section, *path = key.removeprefix("kubeflow-platform:").split(".")
    assert section == "backup", key  # the drill job sets the restore source, nothing else
    model = BackupConfig
    for part in path:
        fields = {f.alias or n: f for n, f in model.model_fields.items()}
        assert part in fields, (key, part, sorted(fields))
        annotation = fields[part].annotation
        model = next((a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type) and
                      hasattr(a, "model_fields")), None) or annotation


def test_a_merge_request_runs_tests_both_renders_the_gate_and_the_prod_preview():
    def runs_on_mr(job):
        rules = _resolved(job).get("rules", [])
        return any('$CI_PIPELINE_SOURCE == "merge_request_event"' in r.get("if", "") and r.get("when") != "manual"
                   for r in rules)

    on_mr = {name for name, job in JOBS.items() if runs_on_mr(job)}
    assert on_mr == {"tests", "render", "policy", "preview:prod"}
    commands = [" ".join(c) for c in _commands(JOBS["preview:prod"])]
    assert ("pulumi preview --stack prod --policy-pack policy --policy-pack-config policy/config/prod.json --diff "
            "--refresh") in commands
    assert "cd policy" in commands and "pulumi install" in commands  # the pack's own dependencies
    render = " ".join(" ".join(c) for c in _commands(JOBS["render"]))
    assert "render --stack prod" in render and "render --stack sandbox" in render and "capacity --stack prod" in render
    assert JOBS["policy"]["needs"] == ["render"] and "allow_failure" not in JOBS["policy"]


def test_the_merge_request_shows_the_summary_capacity_and_policy_results(prod, sandbox, tmp_path):
    """The exposed artifacts are files `render` writes (checked against what it writes here)."""
    from kfplatform.render.output import write_render_with_gate

    artifacts = JOBS["render"]["artifacts"]
    assert artifacts["expose_as"] and artifacts["when"] == "always"
    written = set()
    for result in (prod, sandbox):
        _, files = write_render_with_gate(result, tmp_path / result.stack)
        written |= {f"build/{result.stack}/{f.name}" for f in files}
    assert set(artifacts["paths"]) <= written
    assert {"build/prod/summary.txt", "build/prod/capacity.md", "build/prod/policy.txt"} <= set(artifacts["paths"])


def test_prod_is_deployed_only_from_the_default_branch_by_hand():
    up = _resolved(JOBS["up:prod"])
    assert up["rules"] == [{"if": '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE != "schedule"',
                            "when": "manual"}]
    assert up["allow_failure"] is False  # a blocking manual job: the pipeline waits for the approval
    assert up["environment"]["name"] == "prod" and up["resource_group"] == _resolved(JOBS["preview:prod"])["resource_group"]
    ups = [name for name, job in JOBS.items() for c in _commands(job) if c[:2] == ["pulumi", "up"]]
    assert sorted(ups) == ["drill:sandbox", "up:prod"]
    # Every preview and up refreshes: time.Rotating detects a due rotation only on refresh (FACTS.md).
    assert all("--refresh" in c for job in JOBS.values() for c in _commands(job) if c[:2] in (["pulumi", "up"], ["pulumi", "preview"]))
    drill = _resolved(JOBS["drill:sandbox"])
    assert any("--stack sandbox" in " ".join(c) for c in _commands(drill))
    assert not any("--stack prod" in " ".join(c) for c in _commands(drill))


def test_vault_is_reached_with_an_id_token_never_a_stored_secret():
    for name, job in JOBS.items():
        job = _resolved(job)
        uses_vault = any(c[:1] == ["eval"] for c in _commands(job))
        assert ("id_tokens" in job) == uses_vault, name
        if uses_vault:
            assert job["id_tokens"]["VAULT_ID_TOKEN"]["aud"].startswith("https://vault.")
        assert "secrets" not in job, name
    text = (PROJECT_DIR / ".gitlab-ci.yml").read_text()
    assert "VAULT_TOKEN:" not in text and "CI_JOB_JWT" not in text


def _jwt(key: str, claims: dict) -> str:
    """An RS256 JWT signed with openssl (GitLab signs its ID tokens with RS256)."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "test"}).encode()) + "." + \
        b64(json.dumps(claims).encode())
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input.encode(),
                               capture_output=True, check=True, timeout=30).stdout
    return f"{signing_input}.{b64(signature)}"


def _vault_login(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROJECT_DIR / ".ci" / "vault-login")], env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, text=True, timeout=60)


def test_vault_login_trades_a_gitlab_id_token_for_a_job_token_on_a_real_openbao(bao, tmp_path):
    """OpenBao's JWT auth method as the docs configure it: bound audience, issuer and claims."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to sign the test JWT")
    key, pub = tmp_path / "key.pem", tmp_path / "pub.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True,
                   timeout=60)
    issuer, audience = "https://gitlab.ml.example.com", CI["preview:prod"]["id_tokens"]["VAULT_ID_TOKEN"]["aud"]
    bao.sys.enable_auth_method("jwt", path="jwt-gitlab")
    bao.adapter.post("/v1/auth/jwt-gitlab/config", json={"jwt_validation_pubkeys": [pub.read_text()], "bound_issuer": issuer})
    bao.sys.create_or_update_policy("kfp-preview", 'path "kfplatform/data/platform/object-store/root" { capabilities = ["read"] }')
    bao.adapter.post("/v1/auth/jwt-gitlab/role/kfp-preview", json={
        "role_type": "jwt", "user_claim": "sub", "bound_audiences": [audience],
        "bound_claims": {"project_path": "ml/kubeflow-platform"}, "token_policies": ["kfp-preview"], "token_ttl": "15m"})
    bao.sys.enable_secrets_engine("kv", path="kfplatform", options={"version": "2"})
    bao.secrets.kv.v2.create_or_update_secret(mount_point="kfplatform", path="platform/object-store/root",
                                              secret={"user": "root-user", "password": "p'w d"})
    now = int(time.time())
    claims = {"iss": issuer, "aud": audience, "sub": "project_path:ml/kubeflow-platform:ref_type:branch:ref:main",
              "project_path": "ml/kubeflow-platform", "iat": now, "nbf": now - 5, "exp": now + 300}
    env = {"VAULT_ADDR": bao.url, "VAULT_AUTH_ROLE": "kfp-preview"}

    proc = _vault_login({**env, "VAULT_ID_TOKEN": _jwt(str(key), claims)})
    assert proc.returncode == 0, proc.stderr
    exported = subprocess.run(["bash", "-c", proc.stdout + 'printf "%s|%s" "$MINIO_USER" "$MINIO_PASSWORD"; echo; echo "$VAULT_TOKEN"'],
                              capture_output=True, text=True, timeout=10).stdout.splitlines()
    assert exported[0] == "root-user|p'w d"
    import hvac

    job = hvac.Client(url=bao.url, token=exported[1]).auth.token.lookup_self()["data"]
    assert job["policies"] == ["default", "kfp-preview"] and job["ttl"] <= 15 * 60

    for wrong in ({"aud": "https://other.example.com"}, {"project_path": "someone/fork"}, {"exp": now - 60}):
        denied = _vault_login({**env, "VAULT_ID_TOKEN": _jwt(str(key), {**claims, **wrong})})
        assert denied.returncode == 1 and "failed: HTTP" in denied.stderr and denied.stdout == "", wrong


def test_vault_login_names_what_is_missing():
    missing = _vault_login({})
    assert missing.returncode == 2 and "VAULT_ADDR, VAULT_ID_TOKEN, VAULT_AUTH_ROLE" in missing.stderr


def test_the_drill_job_restores_prods_newest_run_into_a_rebuilt_sandbox_and_runs_the_drill():
    job = _resolved(JOBS["drill:sandbox"])
    lines = [" ".join(c) for c in _commands(job)]

    def at(words: str) -> int:
        found = [i for i, line in enumerate(lines) if words in line]
        assert len(found) == 1, (words, lines)
        return found[0]

    # Resolve first (a refusal stops the job before anything is destroyed), then rebuild from empty
    # with the resolved names, then the drill with the same backup.
    resolve = at("kfplatform drill-backups --stack sandbox")
    assert lines[resolve].startswith("DRILL_RUN=$(") and lines[resolve + 1] == "eval $DRILL_RUN"
    order = [resolve, at("pulumi destroy --stack sandbox"),
             at("backup.restore.backup $DRILL_BACKUP"), at("backup.restore.volumesBackup $DRILL_VOLUMES_BACKUP"),
             at("backup.restore.pointInTime"), at("pulumi up --stack sandbox"), at("DRILL_CONNECT=$(.ci/drill-connect)"),
             at("kfplatform drill --stack sandbox --backup $DRILL_BACKUP")]
    assert order == sorted(order), lines
    assert lines[at("backup.restore.pointInTime")].endswith("pointInTime ")  # '': the newest physical backup
    # The rebuild keeps protected resources: the sandbox's Vault KV mount, whose deletion would delete
    # every value people wrote there (prod's drill keys, the pull robot), so the `up` after it could not run.
    assert "--exclude-protected" in lines[at("pulumi destroy --stack sandbox")].split()
    # No backup name is written into the job: it is resolved at run time, and never committed.
    assert not re.search(r"kfplatform-tenants?-[a-z-]*[0-9]{14}", (PROJECT_DIR / ".gitlab-ci.yml").read_text())
    assert not any("git commit" in line or "git push" in line for line in lines)
    # The drill log is kept whatever the outcome (a failed drill is the record that matters most).
    assert job["artifacts"]["when"] == "always"
    assert set(job["artifacts"]["paths"]) == {"drills/drill-log.md", "drills/drill-log.json"}
    # The sandbox's own Vault (its stack file's address), never prod's.
    sandbox = yaml.safe_load((PROJECT_DIR / "Pulumi.sandbox.yaml").read_text())["config"]
    assert job["variables"]["VAULT_ADDR"] == sandbox["kubeflow-platform:secrets"]["vault"]["address"]
    assert job["id_tokens"]["VAULT_ID_TOKEN"]["aud"] == job["variables"]["VAULT_ADDR"].rsplit(":", 1)[0]
    assert not any("--stack prod" in line for line in lines)
    # The merge-request and prod jobs keep prod's Vault.
    assert CI["variables"]["VAULT_ADDR"] == "https://vault.ml.example.com:8200"
    assert all("VAULT_ADDR" not in _resolved(j).get("variables", {}) for n, j in JOBS.items() if n != "drill:sandbox")


def test_no_job_evals_a_command_substitution_whose_failure_would_be_lost():
    """`eval "$(cmd)"` succeeds when cmd fails (eval of nothing), so a refused Vault login or drill
    preflight would go on without its exports; an assignment first fails the line (GitLab's
    `set -e`). Every `eval` runs a variable that a line of its own assigned."""
    offenders = [
        (name, line) for name, job in JOBS.items()
        for line in [*_resolved(job).get("before_script", []), *_resolved(job).get("script", [])]
        if re.search(r"\beval\s+\"?\$\(", line)
    ]
    assert offenders == []
    for name, job in JOBS.items():
        lines = [*_resolved(job).get("before_script", []), *_resolved(job).get("script", [])]
        for i, line in enumerate(lines):
            evaluated = re.fullmatch(r'eval "\$(\w+)"', line.strip())
            if evaluated:
                assert any(re.match(rf'{evaluated.group(1)}="\$\(', earlier) for earlier in lines[:i]), (name, line)
