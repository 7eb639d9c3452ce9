"""URLs and registry prefixes in the configuration: one grammar, checked whole (`fullmatch`).

A URL in the stack file lands verbatim in a Helm release's repository, a Vector sink, Argo CD's
notifications ConfigMap, Prometheus' remote write or an alert's `runbook_url`. Python's
`urllib.parse.urlsplit` is no validator: it drops tabs and newlines before parsing (so
`https://a.example.com\\n` looks clean while the value that lands still carries the newline), and
it accepts credentials (`https://user:password@host`), which would put a secret in plaintext in
the stack file and in Pulumi state. So a URL here is exactly:

    scheme://host[:port][/path]

- scheme: one the field names (https, and `http` or `oci` only where a field says so);
- host: a lower-case DNS name (labels of letters, digits, `-`), an IPv4 address, or `[IPv6]`;
- port: 1..65535;
- path (where the field takes one): `/`-separated segments of RFC 3986 unreserved characters
  and `%`-escapes; no query, no fragment, no user info, no whitespace anywhere.

A registry prefix (`images.mirror`, `compliance.signing.registry`) is the OCI distribution spec's
repository name grammar (distribution/reference: `host[:port]/path`, path components
`[a-z0-9]+([._-][a-z0-9]+)*`), since every image reference the platform writes starts with it.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator

DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
URL = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>\[[0-9a-fA-F:.]+\]|[^/:\[\]\s?#]+)(:(?P<port>[0-9]{1,5}))?"
    r"(?P<path>(/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)*)"
)
PATH_COMPONENT = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*")


def host_problem(host: str) -> str | None:
    """Why `host` (as written in a URL, `[...]` for IPv6) is not a host name or address."""
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return f"{host} is not an IPv6 address"
        return None
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"{host} is not an IPv4 address"
        return None
    if len(host) > 253 or not DNS_NAME.fullmatch(host) or any(len(label) > 63 for label in host.split(".")):
        return f"{host!r} is not a host name (lower-case letters, digits, '-' and '.')"
    return None


def url_problem(value: object, schemes: tuple[str, ...] = ("https",), path: bool = True) -> str | None:
    """Why `value` is not `scheme://host[:port][/path]` (path only if `path`), or None."""
    if not isinstance(value, str):
        return f"{value!r} is not a URL"
    example = f"{schemes[0]}://host.example.com" + (":8443/some/path" if path else ":8443")
    match = URL.fullmatch(value)
    if match is None:
        why = ""
        if any(c.isspace() for c in value):
            why = " (whitespace or a newline inside)"
        elif "@" in value:
            why = " (no user name or password in a URL: credentials go to Vault)"
        elif "?" in value or "#" in value:
            why = " (no query or fragment)"
        return f"{value!r} is not a URL like {example}{why}"
    if match["scheme"] not in schemes:
        return f"{value!r}: the scheme must be {' or '.join(schemes)}"
    if "@" in match["host"]:
        return f"{value!r}: no user name or password in a URL (credentials go to Vault)"
    if (why := host_problem(match["host"])) is not None:
        return f"{value!r}: {why}"
    if match["port"] is not None and not 1 <= int(match["port"]) <= 65535:
        return f"{value!r}: port {match['port']} is not 1..65535"
    if not path and match["path"] not in ("", "/"):
        return f"{value!r}: give the base URL only ({example}), without a path"
    return None


def url_host(value: str) -> str:
    """The host of a URL that passed `url_problem` (IPv6 without brackets)."""
    match = URL.fullmatch(value)
    assert match is not None
    return match["host"].strip("[]")


def _https_url(value: str) -> str:
    if (why := url_problem(value)) is not None:
        raise ValueError(why)
    return value


def registry_problem(value: object) -> str | None:
    """Why `value` is not a registry prefix `host[:port][/path]` (OCI distribution grammar)."""
    if not isinstance(value, str) or not value:
        return f"{value!r}: give a registry host and path, e.g. registry.example.com/mirror"
    host, slash, rest = value.partition("/")
    name, _, port = host.partition(":")
    problems = []
    if (why := host_problem(name)) is not None:
        problems.append(why)
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        problems.append(f"port {port!r} is not 1..65535")
    if slash and not all(PATH_COMPONENT.fullmatch(part) for part in rest.split("/")):
        problems.append(
            "each path component is lower-case letters and digits, separated by one of '._-' (no '*', "
            "'@', whitespace or a trailing '/')"
        )
    if problems:
        return f"{value!r}: not a registry prefix like registry.example.com/mirror: {'; '.join(problems)}"
    return None


def _registry(value: str) -> str:
    if (why := registry_problem(value)) is not None:
        raise ValueError(why)
    return value


HttpsUrl = Annotated[str, AfterValidator(_https_url)]
RegistryPrefix = Annotated[str, AfterValidator(_registry)]
