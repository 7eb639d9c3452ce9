"""The pipeline supply chain: no step pointed at a public registry or package index."""
from __future__ import annotations

import functools
import re
from typing import Any, Sequence

from .. import walk as w
from .common import *  # noqa: F403 - the shared constants, Finding, Res


PUBLIC_INDEXES = ("pypi.org", "pypi.python.org", "files.pythonhosted.org", "download.pytorch.org",
                  "conda.anaconda.org", "repo.anaconda.com", "anaconda.org")
PUBLIC_REGISTRIES = ("docker.io", "index.docker.io", "registry-1.docker.io", "gcr.io", "ghcr.io", "quay.io",
                     "nvcr.io", "registry.k8s.io", "k8s.gcr.io", "public.ecr.aws", "mcr.microsoft.com")
_HOST = r"(?<![\w.-])(?:[a-z0-9-]+\.)*{}(?![\w-])"
# Where pipeline steps get their settings: ConfigMaps (kfp-launcher, kfp-platform-defaults, Argo's
# workflow-controller-configmap), PodDefaults and other kubeflow.org objects, Argo CD Applications
# (their patches set KFP's COMPILED_PIPELINE_SPEC_PATCH) and Argo Workflows objects; plus every pod
# template's env (checked where POD_TEMPLATE_PATHS is defined, below).
PIPELINE_SOURCE_TYPES = ("kubernetes:core/v1:ConfigMap", "kubernetes:kubeflow.org/", "kubernetes:argoproj.io/")


@functools.lru_cache(maxsize=64)
def _host_pattern(hosts: tuple[str, ...]) -> re.Pattern:
    return re.compile(_HOST.format("(" + "|".join(re.escape(h) for h in hosts) + ")"))


def _public_host(text: str, hosts: Sequence[str]) -> str | None:
    match = _host_pattern(tuple(hosts)).search(text)
    return match.group(1) if match else None


def public_pipeline_sources(resource_type: str, props: Any, indexes: Sequence[str] = PUBLIC_INDEXES,
                            registries: Sequence[str] = PUBLIC_REGISTRIES) -> list[Finding]:
    """No rendered object points pipeline steps (pip, base images) at a public index or registry.

    Scans every string of Kubernetes objects (ConfigMaps such as `kfp-launcher` and
    `kfp-platform-defaults`, PodDefaults, env, Argo CD patches): a public package index anywhere,
    or a public registry host in an image-like value.
    """
    if not resource_type.startswith(PIPELINE_SOURCE_TYPES) and resource_type not in POD_TEMPLATE_PATHS:
        return []
    docs: list[tuple[str, Any]] = [("", props)]
    if resource_type in ARGO_APPLICATION_TYPES:
        docs += list(argo_patches(props))
    found = []
    for base, doc in docs:
        for path, text in w.strings(doc, base):
            if re.search(r"\.kustomize\.images\[\d+\]$", path) and "=" in text:
                # `name=newName:tag@digest`: the left side names the upstream image being replaced.
                text = text.split("=", 1)[1]
            host = _public_host(text, indexes)
            if host:
                found.append(Finding(
                    f"{path}: points at the public package index {host} ({text[:80]!r})",
                    "use the internal PyPI mirror (stack kubeflow.pipelines.pipIndexUrl)",
                ))
                continue
            host = _public_host(text, registries)
            if host and re.search(_HOST.format(re.escape(host)) + r"/[\w.-]", text):
                found.append(Finding(
                    f"{path}: points at the public registry {host} ({text[:80]!r})",
                    "use the mirrored image from the internal registry (stack images.mirror)",
                ))
    return found
