"""Who a tenant file may grant access to: literal e-mail addresses and IdP group names.

These strings land, verbatim, in places that match patterns or grant cluster-wide power:
- Istio AuthorizationPolicy `when` values (`request.headers[kubeflow-userid]`,
  `request.auth.claims[groups]`) treat a leading or trailing `*` as a prefix/suffix wildcard
  ("*" alone matches anything), so `*@example.com` would admit every user of the domain;
- RoleBinding `User`/`Group` subjects: the API server's `--oidc-groups-prefix` is prepended to
  groups, and `system:*` groups are Kubernetes' own (`system:masters` is cluster-admin);
- Kubeflow's `kubeflow-groups` header is a comma-joined list, so a `,` in a name splits it.

So an e-mail is a strict subset of RFC 5322's addr-spec (dot-atoms of letters, digits and
`_%+-`, a DNS domain with a letter TLD): no `*`, whitespace, comma, quotes or comments. A group is
letters, digits and `._:@/=+-`, starting and ending with a letter or digit. E-mail addresses are
compared case-insensitively (IdPs do not agree on case), so two spellings are one identity.
"""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

LOCAL_PART = re.compile(r"[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*")
DOMAIN = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
GROUP = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._:@/=+-]*[A-Za-z0-9])?")
MAX_GROUP = 200
SYSTEM_PREFIX = "system:"


def email(value: str) -> str:
    """A single literal e-mail address; ValueError saying what is wrong."""
    local, at, domain = value.rpartition("@")
    if (
        not at or len(value) > 254 or len(local) > 64
        or not LOCAL_PART.fullmatch(local) or not DOMAIN.fullmatch(domain) or any(len(p) > 63 for p in domain.split("."))
    ):
        hint = ""
        if "*" in value:
            hint = " ('*' would be a wildcard in Istio's AuthorizationPolicy: name each person)"
        elif "," in value or any(c.isspace() for c in value):
            hint = " (one address per entry)"
        raise ValueError(f"{value!r} is not a single literal e-mail address like name@example.com{hint}")
    return value


def identity_key(address: str) -> str:
    """The form two addresses are compared in: `Li.Wei@Example.com` and `li.wei@example.com` are one person."""
    return address.casefold()


def system_group_problem(group: str, prefix: str = "") -> str | None:
    """Why `prefix + group` (or the bare group, which Istio matches) would be a Kubernetes system group."""
    for candidate in (group, prefix + group):
        if candidate.casefold().startswith(SYSTEM_PREFIX):
            return (
                f"{group!r} with oidcGroupsPrefix {prefix!r} is the Kubernetes group {candidate!r}: "
                "system:* groups are the API server's own (system:masters is cluster-admin)"
            )
    return None


def idp_group(value: str) -> str:
    if len(value) > MAX_GROUP or not GROUP.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an IdP group name (at most {MAX_GROUP} letters, digits and '._:@/=+-', starting and "
            "ending with a letter or digit; no '*', ',' or whitespace, which Istio and Kubeflow read as patterns or lists)"
        )
    problem = system_group_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Email = Annotated[str, AfterValidator(email)]
IdpGroup = Annotated[str, AfterValidator(idp_group)]
