"""Read-only S3 listing of prod's backups bucket for `drill-backups` (standard library only).

Requests are signed with AWS Signature Version 4 (the algorithm of the AWS "Signature Version 4
signing process" reference: canonical request, string to sign, HMAC-SHA256 key derivation), which
MinIO verifies; the unit tests check the signer against the published S3 examples. Only two calls
are made, both GETs: ListObjectsV2 (`?list-type=2`, with `delimiter` and `continuation-token`) and
GetObject. Path-style addressing (`https://host:port/<bucket>/<key>`), as Velero's location sets
`s3ForcePathStyle` for MinIO.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Mapping

from .clients import DrillRefused

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _quote(text: str, safe: str) -> str:
    return urllib.parse.quote(text, safe=safe + "-_.~")


def authorization(
    *, method: str, host: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], access_key: str,
    secret_key: str, region: str, service: str, amz_date: str, payload_sha256: str = EMPTY_SHA256,
) -> str:
    """The `Authorization` header of a SigV4-signed request. `headers` are signed with `host`,
    `x-amz-date` and `x-amz-content-sha256` (which the caller sends with the same values)."""
    signed = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    signed.update({"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256})
    names = sorted(signed)
    canonical = "\n".join([
        method,
        _quote(path, "/"),
        "&".join(f"{_quote(k, '')}={_quote(v, '')}" for k, v in sorted(query.items())),
        "".join(f"{n}:{signed[n]}\n" for n in names),
        ";".join(names),
        payload_sha256,
    ])
    day = amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"


@dataclass
class Bucket:
    """One bucket of an S3 endpoint, read with one account's keys (GETs only)."""

    endpoint_url: str  # https://host[:port]
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    context: ssl.SSLContext | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    timeout_s: float = 30

    def _get(self, key: str, query: Mapping[str, str]) -> bytes:
        parts = urllib.parse.urlsplit(self.endpoint_url)
        # The Host header as standard clients send and sign it: no port when it is the scheme's default
        # (a proxy in front of MinIO may drop it; minio-go and http.client leave it out too).
        default = {"https": 443, "http": 80}.get(parts.scheme)
        host = parts.hostname if parts.port in (None, default) else f"{parts.hostname}:{parts.port}"
        path = f"/{self.bucket}/{key}" if key else f"/{self.bucket}"
        amz_date = self.clock().strftime("%Y%m%dT%H%M%SZ")
        headers = {
            "Host": host, "x-amz-date": amz_date, "x-amz-content-sha256": EMPTY_SHA256,
            "Authorization": authorization(
                method="GET", host=host, path=path, query=query, headers={}, access_key=self.access_key,
                secret_key=self.secret_key, region=self.region, service="s3", amz_date=amz_date,
            ),
        }
        url = f"{parts.scheme}://{parts.netloc}{_quote(path, '/')}"
        if query:
            url += "?" + "&".join(f"{_quote(k, '')}={_quote(v, '')}" for k, v in sorted(query.items()))
        request = urllib.request.Request(url, headers=headers, method="GET")
        where = f"{self.endpoint_url}/{self.bucket}/{key}"
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=self.timeout_s) as response:
                return response.read()
        except urllib.error.HTTPError as e:
            body = e.read().decode(errors="replace")
            code = _xml_text(body, "Code") or str(e.code)
            hint = " (the drill reader's keys: backup.restore.credentialsPath)" if e.code in (401, 403) else ""
            raise DrillRefused(f"prod's object store refused GET {where}: HTTP {e.code} {code}{hint}") from None
        except (OSError, ValueError) as e:
            raise DrillRefused(f"cannot reach prod's object store {self.endpoint_url}: {e}") from None

    def folders(self, prefix: str) -> list[str]:
        """The `folder/` names directly under `prefix` (ListObjectsV2 with delimiter '/', every page)."""
        names: list[str] = []
        token = ""
        for _ in range(1000):
            query = {"list-type": "2", "prefix": prefix, "delimiter": "/"}
            if token:
                query["continuation-token"] = token
            body = self._get("", query)
            try:
                root = ET.fromstring(body)
            except ET.ParseError as e:
                raise DrillRefused(f"listing {self.endpoint_url}/{self.bucket}/{prefix}: not an S3 answer ({e})") from None
            names += [p.text[len(prefix):].rstrip("/") for p in root.iter(f"{_NS}Prefix")
                      if p.text and p.text != prefix and p.text.startswith(prefix)]
            truncated = root.findtext(f"{_NS}IsTruncated") == "true"
            token = root.findtext(f"{_NS}NextContinuationToken") or ""
            if not truncated or not token:
                return names
        raise DrillRefused(f"listing {self.bucket}/{prefix} did not end after 1000 pages")

    def json(self, key: str) -> dict:
        data = self._get(key, {})
        try:
            return json.loads(data)
        except ValueError as e:
            raise DrillRefused(f"{self.bucket}/{key} is not JSON: {e}") from None


def _xml_text(body: str, tag: str) -> str:
    try:
        return ET.fromstring(body).findtext(tag) or ""
    except ET.ParseError:
        return ""
