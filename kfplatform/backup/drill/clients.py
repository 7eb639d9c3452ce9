"""Standard clients the drill talks through: the Kubernetes API (kubeconfig), the KFP API (v2beta1
REST), MariaDB through ProxySQL (PyMySQL). Stdlib HTTP only, so the same code talks to the fakes the
tests serve on 127.0.0.1.
"""
from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import yaml


class DrillRefused(Exception):
    """Bad input: refused before anything is touched (exit 2)."""


class ApiError(Exception):
    def __init__(self, status: int, url: str, body: str):
        super().__init__(f"HTTP {status} from {url}: {body[:300]}")
        self.status = status


@dataclass(frozen=True)
class KubeTarget:
    context: str
    server: str


def read_kubeconfig(path: str, context: str | None) -> tuple[KubeTarget, dict, dict]:
    """(target, cluster, user) of `context` (default: current-context); DrillRefused if unusable."""
    try:
        config = yaml.safe_load(open(path)) or {}
    except (OSError, yaml.YAMLError) as e:
        raise DrillRefused(f"kubeconfig {path}: cannot read it ({e})") from None
    name = context or config.get("current-context")
    contexts = {c["name"]: c.get("context", {}) for c in config.get("contexts") or []}
    if not name or name not in contexts:
        raise DrillRefused(f"kubeconfig {path}: no context {name!r} (contexts: {', '.join(sorted(contexts)) or 'none'})")
    ctx = contexts[name]
    clusters = {c["name"]: c.get("cluster", {}) for c in config.get("clusters") or []}
    users = {u["name"]: u.get("user", {}) for u in config.get("users") or []}
    cluster = clusters.get(ctx.get("cluster"))
    if not cluster or not cluster.get("server"):
        raise DrillRefused(f"kubeconfig {path}: context {name!r} names no cluster with a server")
    return KubeTarget(name, cluster["server"].rstrip("/")), cluster, users.get(ctx.get("user"), {})


def _ssl_context(cluster: dict, user: dict) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif cluster.get("certificate-authority-data"):
        context.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    elif cluster.get("certificate-authority"):
        context.load_verify_locations(cafile=cluster["certificate-authority"])
    cert, key = user.get("client-certificate-data"), user.get("client-key-data")
    if cert and key:
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for name, data in (("cert", cert), ("key", key)):
                path = os.path.join(tmp, name)
                with open(path, "wb") as f:
                    f.write(base64.b64decode(data))
                paths.append(path)
            context.load_cert_chain(*paths)
    elif user.get("client-certificate") and user.get("client-key"):
        context.load_cert_chain(user["client-certificate"], user["client-key"])
    return context


class Http:
    """JSON over HTTP(S) with fixed headers and TLS context."""

    def __init__(self, base: str, headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None,
                 timeout: float = 30):
        self.base = base.rstrip("/")
        self.headers = dict(headers or {})
        self.context = context
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, query: dict | None = None) -> Any:
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={
            "Accept": "application/json", **({"Content-Type": "application/json"} if data else {}), **self.headers,
        })
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.context) as resp:
                text = resp.read().decode()
        except urllib.error.HTTPError as e:
            raise ApiError(e.code, url, e.read().decode(errors="replace")) from None
        return json.loads(text) if text else {}

    def get(self, path: str, query: dict | None = None) -> Any:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)


def exec_token(spec: dict) -> str:
    """A client-go credential plugin (`users[].user.exec`, e.g. `aws eks get-token`): run it and read
    the ExecCredential's `status.token`."""
    import subprocess

    env = {**os.environ, **{e["name"]: e["value"] for e in spec.get("env") or []}}
    try:
        out = subprocess.run(
            [spec["command"], *(spec.get("args") or [])], env=env, capture_output=True, text=True, timeout=60, check=True,
        ).stdout
        return json.loads(out)["status"]["token"]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
        raise DrillRefused(f"kubeconfig credential plugin {spec.get('command')!r} gave no token: {e}") from None


def kube_client(cluster: dict, user: dict, server: str) -> Http:
    headers = {}
    if user.get("token"):
        headers["Authorization"] = f"Bearer {user['token']}"
    elif user.get("token-file"):
        headers["Authorization"] = f"Bearer {open(user['token-file']).read().strip()}"
    elif user.get("exec"):
        headers["Authorization"] = f"Bearer {exec_token(user['exec'])}"
    context = _ssl_context(cluster, user) if server.startswith("https://") else None
    return Http(server, headers, context)


def status_of(url: str, timeout: float = 20, context: ssl.SSLContext | None = None) -> int:
    """The HTTP status a plain GET of `url` gets (redirects not followed): does the gateway answer?"""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    handlers = [NoRedirect()]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(urllib.request.Request(url, method="GET"), timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
