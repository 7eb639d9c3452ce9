"""Fake servers on 127.0.0.1 for the reference workload's tests: S3 (versioned), KFP API, GitLab,
Model Registry, OCI registry. Each records what it was asked and answers like the real API for the
calls the workload makes; S3 checks AWS Signature V4 with its own implementation (anchored to
AWS's published test vector in test_trigger.py).
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.server
import json
import threading
import urllib.parse
import uuid


def sigv4_signature(secret: str, method: str, raw_path: str, query: str, headers: dict[str, str],
                    signed_headers: list[str], scope: str, amz_date: str, payload_hash: str) -> str:
    """Signature V4 as the AWS documentation builds it (canonical request, string to sign, key chain)."""
    pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
    canonical_query = "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in pairs)
    canonical_headers = "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed_headers)
    canonical_request = "\n".join([method, raw_path, canonical_query, canonical_headers, ";".join(signed_headers), payload_hash])
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    date, region, service, terminal = scope.split("/")
    key = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    key = hmac.new(key, region.encode(), hashlib.sha256).digest()
    key = hmac.new(key, service.encode(), hashlib.sha256).digest()
    key = hmac.new(key, terminal.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "fake"

    def log_message(self, *args):  # quiet
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes | dict | None = None, headers: dict | None = None):
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        self.server.fake.handle(self, "GET")

    def do_HEAD(self):
        self.server.fake.handle(self, "HEAD")

    def do_POST(self):
        self.server.fake.handle(self, "POST")

    def do_PUT(self):
        self.server.fake.handle(self, "PUT")


class Fake:
    """Base: a threaded HTTP server; subclasses implement `route(handler, method, path, query, body)`."""

    def __init__(self):
        self.requests: list[tuple[str, str]] = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.fake = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def handle(self, handler: _Handler, method: str):
        split = urllib.parse.urlsplit(handler.path)
        body = handler._body() if method in ("POST", "PUT") else b""
        self.requests.append((method, handler.path))
        try:
            self.route(handler, method, split.path, split.query, body)
        except Exception as error:  # a bug in a fake must show, not hang the client
            handler._send(500, {"error": repr(error)})

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeS3(Fake):
    """A versioned bucket: GET ?versionId=, HEAD (current version); refuses a bad signature (403)."""

    def __init__(self, access_key: str, secret_key: str):
        super().__init__()
        self.access_key, self.secret_key = access_key, secret_key
        self.objects: dict[tuple[str, str], list[tuple[str, bytes]]] = {}

    def put(self, bucket: str, key: str, data: bytes) -> str:
        version = uuid.uuid4().hex
        self.objects.setdefault((bucket, key), []).append((version, data))
        return version

    def _authorized(self, handler, method, path, query) -> bool:
        auth = handler.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return False
        fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        access, scope = fields["Credential"].split("/", 1)
        signed = fields["SignedHeaders"].split(";")
        headers = {k.lower(): v for k, v in handler.headers.items()}
        if access != self.access_key or "host" not in signed or scope.split("/")[2:] != ["s3", "aws4_request"]:
            return False
        expected = sigv4_signature(self.secret_key, method, path, query, headers, signed, scope,
                                   headers["x-amz-date"], headers["x-amz-content-sha256"])
        return hmac.compare_digest(expected, fields["Signature"])

    def route(self, handler, method, path, query, body):
        if not self._authorized(handler, method, path, query):
            return handler._send(403, b"SignatureDoesNotMatch")
        bucket, _, key = urllib.parse.unquote(path).lstrip("/").partition("/")
        versions = self.objects.get((bucket, key))
        if not versions:
            return handler._send(404, b"NoSuchKey")
        wanted = dict(urllib.parse.parse_qsl(query)).get("versionId")
        if wanted is None:
            version, data = versions[-1]
        else:
            match = [v for v in versions if v[0] == wanted]
            if not match:
                return handler._send(404, b"NoSuchVersion")
            version, data = match[0]
        handler._send(200, data, {"x-amz-version-id": version, "Content-Type": "application/octet-stream"})


class FakeKfp(Fake):
    """KFP API v2beta1: experiments and runs of one namespace; requires the bearer token."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token
        self.experiments: list[dict] = []
        self.runs: list[dict] = []

    @staticmethod
    def _named(query: dict) -> str | None:
        if "filter" not in query:
            return None
        (predicate,) = json.loads(query["filter"])["predicates"]
        assert predicate["operation"] == 1 and predicate["key"] == "display_name"
        return predicate["stringValue"]

    def route(self, handler, method, path, query, body):
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return handler._send(401, {"error": "no token"})
        q = dict(urllib.parse.parse_qsl(query))
        if path == "/apis/v2beta1/experiments" and method == "GET":
            name = self._named(q)
            found = [e for e in self.experiments if e["namespace"] == q.get("namespace") and name in (None, e["display_name"])]
            return handler._send(200, {"experiments": found} if found else {})
        if path == "/apis/v2beta1/experiments" and method == "POST":
            experiment = {**json.loads(body), "experiment_id": uuid.uuid4().hex}
            self.experiments.append(experiment)
            return handler._send(200, experiment)
        if path == "/apis/v2beta1/runs" and method == "GET":
            name = self._named(q)
            found = [r for r in self.runs if r["experiment_id"] == q.get("experiment_id") and name in (None, r["display_name"])]
            return handler._send(200, {"runs": found} if found else {})
        if path == "/apis/v2beta1/runs" and method == "POST":
            run = {**json.loads(body), "run_id": uuid.uuid4().hex}
            self.runs.append(run)
            return handler._send(200, run)
        handler._send(404, {"error": path})


class FakeModelRegistry(Fake):
    """Kubeflow Model Registry REST v1alpha3 (model-registry v0.3.4): the calls register-model makes."""

    PREFIX = "/api/model_registry/v1alpha3"

    def __init__(self):
        super().__init__()
        self.registered: list[dict] = []
        self.versions: list[dict] = []
        self.artifacts: list[dict] = []

    def route(self, handler, method, path, query, body):
        path = path[len(self.PREFIX):] if path.startswith(self.PREFIX) else None
        q = dict(urllib.parse.parse_qsl(query))
        if path == "/registered_model" and method == "GET":
            found = [m for m in self.registered if m["name"] == q.get("name")]
            return handler._send(200, found[0]) if found else handler._send(404, {"code": "not found"})
        if path == "/registered_models" and method == "POST":
            model = {**json.loads(body), "id": str(len(self.registered) + 1)}
            self.registered.append(model)
            return handler._send(201, model)
        if path == "/model_versions" and method == "POST":
            version = json.loads(body)
            if any(v["name"] == version["name"] and v["registeredModelId"] == version["registeredModelId"] for v in self.versions):
                return handler._send(409, {"code": "conflict"})
            version = {**version, "id": str(100 + len(self.versions)), "state": "LIVE"}
            self.versions.append(version)
            return handler._send(201, version)
        if path and path.startswith("/model_versions/") and path.endswith("/artifacts") and method == "POST":
            artifact = {**json.loads(body), "id": str(500 + len(self.artifacts)), "modelVersionId": path.split("/")[2]}
            self.artifacts.append(artifact)
            return handler._send(201, artifact)
        handler._send(404, {"code": "no route"})


class FakeGitLab(Fake):
    """GitLab API v4: raw file read, commits with actions on a new branch, merge requests."""

    def __init__(self, token: str, project: str, files: dict[str, str], branch: str = "main"):
        super().__init__()
        self.token, self.project = token, project
        self.branches = {branch: dict(files)}
        self.commits: list[dict] = []
        self.merge_requests: list[dict] = []

    def route(self, handler, method, path, query, body):
        if handler.headers.get("PRIVATE-TOKEN") != self.token:
            return handler._send(401, {"message": "401 Unauthorized"})
        prefix = f"/api/v4/projects/{urllib.parse.quote(self.project, safe='')}"
        raw_path = handler.path.split("?")[0]
        if not raw_path.startswith(prefix):
            return handler._send(404, {"message": "404 Project Not Found"})
        rest = raw_path[len(prefix):]
        q = dict(urllib.parse.parse_qsl(query))
        if method == "GET" and rest.startswith("/repository/files/") and rest.endswith("/raw"):
            file_path = urllib.parse.unquote(rest[len("/repository/files/"):-len("/raw")])
            content = self.branches.get(q.get("ref"), {}).get(file_path)
            return handler._send(200, content.encode()) if content is not None else handler._send(404, {"message": "404 File Not Found"})
        if method == "POST" and rest == "/repository/commits":
            commit = json.loads(body)
            if commit["branch"] in self.branches:
                return handler._send(400, {"message": "branch exists"})
            files = dict(self.branches[commit["start_branch"]])
            for action in commit["actions"]:
                assert action["action"] == "update" and action["file_path"] in files
                files[action["file_path"]] = action["content"]
            self.branches[commit["branch"]] = files
            self.commits.append(commit)
            return handler._send(201, {"id": uuid.uuid4().hex})
        if method == "POST" and rest == "/merge_requests":
            request = json.loads(body)
            request["iid"] = len(self.merge_requests) + 1
            request["web_url"] = f"https://git.example/{self.project}/-/merge_requests/{request['iid']}"
            self.merge_requests.append(request)
            return handler._send(201, request)
        handler._send(404, {"message": rest})


class FakeRegistry(Fake):
    """OCI distribution API: manifests, blobs, uploads, cross-repository mounts; basic auth only."""

    def __init__(self, username: str, password: str, bearer: bool = False):
        super().__init__()
        self.auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        # bearer: Docker's token flow. Every request needs `Bearer <token>` for its repository; a 401
        # names the realm and scope; the realm takes the basic credentials (as Harbor's /service/token).
        self.bearer = bearer
        self.tokens: dict[str, str] = {}  # token -> scope it was issued for
        self.blobs: dict[str, dict[str, bytes]] = {}  # repo -> digest -> bytes
        self.manifests: dict[str, dict[str, tuple[str, bytes]]] = {}  # repo -> digest -> (type, body)
        self.uploads: dict[str, str] = {}
        self.mounts: list[tuple[str, str, str]] = []

    def put_blob(self, repo: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blobs.setdefault(repo, {})[digest] = data
        return digest

    def put_manifest(self, repo: str, media_type: str, body: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        self.manifests.setdefault(repo, {})[digest] = (media_type, body)
        return digest

    def _repository(self, path: str) -> str:
        for marker in ("/manifests/", "/blobs/"):
            if marker in path:
                return path[4:].split(marker)[0]
        return ""

    def route(self, handler, method, path, query, body):
        q = dict(urllib.parse.parse_qsl(query))
        if self.bearer and path == "/token":
            if handler.headers.get("Authorization") != self.auth:
                return handler._send(401, {})
            token = uuid.uuid4().hex
            self.tokens[token] = q["scope"]
            return handler._send(200, {"token": token})
        if self.bearer:
            repo = self._repository(path)
            scope = f"repository:{repo}:pull,push"
            if "mount" in q:
                scope += f" repository:{q.get('from', '')}:pull"
            given = handler.headers.get("Authorization", "")
            if not given.startswith("Bearer ") or self.tokens.get(given[7:]) != scope:
                challenge = f'Bearer realm="{self.url}/token",service="fake-registry",scope="{scope}"'
                return handler._send(401, {"errors": [{"code": "UNAUTHORIZED"}]}, {"WWW-Authenticate": challenge})
        elif handler.headers.get("Authorization") != self.auth:
            return handler._send(401, {"errors": [{"code": "UNAUTHORIZED"}]})
        parts = path.split("/")
        if path.startswith("/v2/") and "/manifests/" in path:
            repo, ref = path[4:].split("/manifests/")
            if method == "GET":
                found = self.manifests.get(repo, {}).get(ref)
                return handler._send(200, found[1], {"Content-Type": found[0]}) if found else handler._send(404, {})
            if method == "PUT":
                digest = self.put_manifest(repo, handler.headers["Content-Type"], body)
                manifest = json.loads(body)
                missing = [d["digest"] for d in [manifest["config"], *manifest["layers"]] if d["digest"] not in self.blobs.get(repo, {})]
                if missing or (ref.startswith("sha256:") and ref != digest):
                    return handler._send(400, {"errors": [{"code": "MANIFEST_BLOB_UNKNOWN", "detail": missing}]})
                return handler._send(201, b"", {"Docker-Content-Digest": digest})
        if path.startswith("/v2/") and "/blobs/uploads/" in path and method == "POST":
            repo = path[4:].split("/blobs/uploads/")[0]
            if "mount" in q and "no-mount" not in repo:  # a repository the registry will not mount into
                source = self.blobs.get(q.get("from", ""), {}).get(q["mount"])
                if source is not None:
                    self.blobs.setdefault(repo, {})[q["mount"]] = source
                    self.mounts.append((repo, q["from"], q["mount"]))
                    return handler._send(201, b"", {"Location": f"/v2/{repo}/blobs/{q['mount']}"})
            upload = uuid.uuid4().hex
            self.uploads[upload] = repo
            return handler._send(202, b"", {"Location": f"/v2/{repo}/blobs/uploads/{upload}?state=x"})
        if path.startswith("/v2/") and "/blobs/uploads/" in path and method == "PUT":
            repo, upload = path[4:].split("/blobs/uploads/")
            if self.uploads.pop(upload, None) != repo:
                return handler._send(404, {})
            digest = q["digest"]
            if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
                return handler._send(400, {"errors": [{"code": "DIGEST_INVALID"}]})
            self.blobs.setdefault(repo, {})[digest] = body
            return handler._send(201, b"", {"Docker-Content-Digest": digest})
        if path.startswith("/v2/") and "/blobs/" in path and method == "GET":
            repo, digest = path[4:].split("/blobs/")
            data = self.blobs.get(repo, {}).get(digest)
            return handler._send(200, data) if data is not None else handler._send(404, {})
        handler._send(404, {"path": path, "parts": parts})


@contextlib.contextmanager
def running(*fakes: Fake):
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(f) for f in fakes]
