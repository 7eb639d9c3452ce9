"""Fakes of the Kubernetes API (Velero, mariadb-operator objects) and the KFP v2beta1 API, served on
127.0.0.1 by http.server in a thread; and a real MariaDB server started in a tmp dir."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.tools import require_tool


class Loopback:
    """An HTTP fake on 127.0.0.1 (a free port) serving `Handler` on a thread; `with` starts and stops it.
    Subclasses record `(method, path)` in `self.requests`."""

    requests: list[tuple[str, str]]

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]


class FakeApis(Loopback):
    """One server for both APIs (paths do not overlap) and the gateway's `/`."""

    def __init__(self):
        self.objects: dict[str, dict] = {}  # Kubernetes path -> object
        self.requests: list[tuple[str, str]] = []
        self.experiments: list[dict] = []
        self.runs: dict[str, dict] = {}  # KFP run_id -> run
        self.listed_runs: dict[str, list[str]] = {}  # namespace -> run ids the API lists
        self.run_outcome = "SUCCEEDED"
        self.polls_before_done = 1  # the first GET of a run says RUNNING
        self.created_runs: list[dict] = []
        self.dashboard_status = 302
        # Kubernetes collections the fake lists (GET .../<plural>); a path in missing_collections
        # answers 404, as the API server does when the CRD is not installed.
        self.collections = {"backups", "restores", "podvolumerestores", "podvolumebackups"}
        self.missing_collections: set[str] = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body=None, headers=None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                fake.requests.append(("GET", self.path))
                path, _, query = self.path.partition("?")
                params = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
                if path == "/":
                    return self._send(fake.dashboard_status, headers={"Location": "/oauth2/start"})
                if path in fake.objects:
                    return self._send(200, fake.objects[path])
                if path.rsplit("/", 1)[-1] in fake.collections and path not in fake.missing_collections:
                    # A list, filtered by `labelSelector` (k=v[,k=v]: equality only, as the drill sends it).
                    wanted = dict(term.split("=", 1) for term in params.get("labelSelector", "").split(",") if term)
                    items = [o for p, o in fake.objects.items() if p.rsplit("/", 1)[0] == path
                             and all(o.get("metadata", {}).get("labels", {}).get(k) == v for k, v in wanted.items())]
                    return self._send(200, {"items": items})
                if path == "/apis/v2beta1/experiments":
                    return self._send(200, {"experiments": [e for e in fake.experiments if e["namespace"] == params.get("namespace")]})
                if path == "/apis/v2beta1/runs":
                    ids = fake.listed_runs.get(params.get("namespace"), [])
                    return self._send(200, {"runs": [{"run_id": i} for i in ids]} if ids else {})
                if path.startswith("/apis/v2beta1/runs/"):
                    run = fake.runs[path.rsplit("/", 1)[1]]
                    run["polls"] += 1
                    return self._send(200, {"run_id": run["run_id"], "state": fake.run_outcome if run["polls"] > fake.polls_before_done else "RUNNING"})
                return self._send(404, {"message": f"{path} not found"})

            def do_POST(self):
                fake.requests.append(("POST", self.path))
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/apis/v2beta1/experiments":
                    experiment = {**body, "experiment_id": f"exp-{len(fake.experiments)}"}
                    fake.experiments.append(experiment)
                    return self._send(200, experiment)
                if self.path == "/apis/v2beta1/runs":
                    fake.created_runs.append(body)
                    run_id = f"run-{len(fake.runs)}"
                    fake.runs[run_id] = {"run_id": run_id, "polls": 0}
                    return self._send(200, {"run_id": run_id, "state": "PENDING"})
                return self._send(404, {})

        self._serve(Handler)



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MariaDbServer:
    """A real MariaDB server (Debian mariadb-server) in `tmp`, on 127.0.0.1 and a free port.

    Started without the grant tables (no mariadb-install-db, which takes several seconds here): the
    tests exercise KFP's schema and queries, not MariaDB's authentication.
    """

    def __init__(self, tmp):
        self.binary = require_tool("mariadbd")
        self.dir = tmp
        self.port = free_port()
        self.process = None

    def __enter__(self) -> "MariaDbServer":
        data = self.dir / "data"
        data.mkdir()
        args = [
            self.binary, "--no-defaults", f"--datadir={data}", f"--socket={self.dir / 'sock'}", f"--port={self.port}",
            "--bind-address=127.0.0.1", "--skip-networking=0", "--skip-grant-tables", "--skip-log-bin",
            "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M", f"--pid-file={self.dir / 'pid'}",
        ]
        if os.geteuid() == 0:
            args.append("--user=root")
        self.log = open(self.dir / "mariadbd.log", "w")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {(self.dir / 'mariadbd.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("mariadbd did not start within 20s")

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.dir / "data", ignore_errors=True)


class FakeProdStore(Loopback):
    """Prod's object store (S3 ListObjectsV2 and GetObject, path-style) and the sandbox's Vault (KV v2
    read), served on 127.0.0.1. Every S3 request must carry a SigV4 Authorization by the expected
    reader's keys (checked with the signer the unit tests hold to the published S3 examples); any
    method but GET is refused and recorded, so a test sees that nothing was written."""

    PAGE = 4  # small pages: listing must follow continuation tokens

    def __init__(self, *, bucket: str, access_key: str, secret_key: str, vault_path: str, vault_token: str):
        from kfplatform.backup.drill.s3 import authorization

        self.bucket, self.access_key, self.secret_key = bucket, access_key, secret_key
        self.objects: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.vault = {vault_path: {"access_key": access_key, "secret_key": secret_key}}
        self.vault_token = vault_token
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes, content_type="application/xml"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status: int, code: str):
                self._send(status, f"<Error><Code>{code}</Code></Error>".encode())

            def _refuse(self):
                fake.requests.append((self.command, self.path))
                self._error(405, "MethodNotAllowed")

            do_PUT = do_POST = do_DELETE = do_HEAD = _refuse

            def do_GET(self):
                fake.requests.append(("GET", self.path))
                path, _, query = self.path.partition("?")
                params = {k: v[0] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
                if path.startswith("/v1/"):
                    if self.headers.get("X-Vault-Token") != fake.vault_token:
                        return self._send(403, b'{"errors": ["permission denied"]}', "application/json")
                    data = fake.vault.get(path.split("/data/", 1)[-1])
                    if data is None:
                        return self._send(404, b'{"errors": []}', "application/json")
                    return self._send(200, json.dumps({"data": {"data": data}}).encode(), "application/json")
                auth = self.headers.get("Authorization", "")
                access = auth.split("Credential=", 1)[-1].split("/", 1)[0]
                expected = authorization(
                    method="GET", host=self.headers["Host"], path=urllib.parse.unquote(path), query=params, headers={},
                    access_key=access, secret_key=fake.secret_key, region="us-east-1", service="s3",
                    amz_date=self.headers.get("x-amz-date", ""), payload_sha256=self.headers.get("x-amz-content-sha256", ""),
                )
                if access != fake.access_key:
                    return self._error(403, "InvalidAccessKeyId")
                if auth != expected:
                    return self._error(403, "SignatureDoesNotMatch")
                bucket, _, key = urllib.parse.unquote(path).lstrip("/").partition("/")
                if bucket != fake.bucket:
                    return self._error(404, "NoSuchBucket")
                if not key:
                    return self._list(params)
                if key not in fake.objects:
                    return self._error(404, "NoSuchKey")
                return self._send(200, fake.objects[key], "application/octet-stream")

            def _list(self, params):
                assert params.get("list-type") == "2" and params.get("delimiter") == "/", params
                prefix = params.get("prefix", "")
                folders = sorted({prefix + k[len(prefix):].split("/", 1)[0] + "/" for k in fake.objects
                                  if k.startswith(prefix) and "/" in k[len(prefix):]})
                start = int(params.get("continuation-token") or 0)
                page = folders[start:start + fake.PAGE]
                more = start + fake.PAGE < len(folders)
                xml = ['<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
                       f"<Name>{fake.bucket}</Name><Prefix>{prefix}</Prefix>",
                       f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>"]
                if more:
                    xml.append(f"<NextContinuationToken>{start + fake.PAGE}</NextContinuationToken>")
                xml += [f"<CommonPrefixes><Prefix>{p}</Prefix></CommonPrefixes>" for p in page]
                xml.append("</ListBucketResult>")
                self._send(200, "".join(xml).encode())

        self._serve(Handler)

    def put_backup(self, name: str, schedule: str, *, phase="Completed", expiration="2027-01-01T01:30:00Z"):
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.strptime(name[-14:], "%Y%m%d%H%M%S"))
        self.objects[f"velero/backups/{name}/velero-backup.json"] = json.dumps({
            "metadata": {"name": name, "labels": {"velero.io/schedule-name": schedule}},
            "spec": {"ttl": "720h0m0s"}, "status": {"phase": phase, "startTimestamp": start, "expiration": expiration},
        }).encode()
        self.objects[f"velero/backups/{name}/{name}.tar.gz"] = b"contents"

