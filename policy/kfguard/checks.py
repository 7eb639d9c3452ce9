"""Pure checks over resources as the policy engine sends them: type token, camelCase props, options.

Every check reads props through `walk` (Mapping/Sequence, per-field unknown handling), so the same
code is right on the engine's `_DictProxy`/`_ListProxy` during `pulumi preview` and on plain dicts.
A check returns `Finding`s: what is wrong (the message) and how to fix it (the hint); the pack
reports `message` + a `fix:` line (policy/kfguard/pack.py), which `python -m kfplatform policy`
prints as separate columns.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

from . import walk as w

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
DIGEST_SUFFIX = re.compile(r"@(sha256:[0-9a-f]{64})$")
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
TENANT_LABEL = "kfplatform.io/tenant"
HA_TARGET_LABEL = "kfplatform.io/ha-target"
COMPLIANCE_LABEL = "kfplatform.io/compliance"
REGULATED_POLICY = "kfplatform-regulated-inference"
SIGNED_IMAGES_POLICY = "kfplatform-signed-images"
CLUSTER_IMAGE_POLICY_TYPE = "kubernetes:policy.sigstore.dev/v1beta1:ClusterImagePolicy"
VAP_TYPE = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
VAP_BINDING_TYPE = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
RANDOM_PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"
ROTATING_TYPE = "time:index/rotating:Rotating"


@dataclass(frozen=True)
class Finding:
    message: str
    hint: str


@dataclass(frozen=True)
class Res:
    """What a stack check reads of one resource (a PolicyResource's fields, engine or plain)."""
    type: str
    props: Any
    urn: str
    name: str
    protect: bool = False
    dependencies: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Images: pinned by digest, from the internal mirror, anywhere an image can appear.
# --------------------------------------------------------------------------------------------

def _split_image_map(value: Any) -> str | None:
    """A Helm/CR image written as a map: `{repository, image, tag|version|digest}`, `{registry, repository, tag}`."""
    image = w.get(value, "image")
    name = image if isinstance(image, str) else w.get(value, "name")
    parts = [p for p in (w.get(value, "registry"), w.get(value, "repository"), name) if isinstance(p, str) and p]
    if not parts:
        return None
    ref = "/".join(parts)
    version = w.get(value, "tag") or w.get(value, "version")
    if isinstance(version, str) and version:
        ref += f"@{version}" if DIGEST.match(version) else f":{version}"
    digest = w.get(value, "digest")
    if isinstance(digest, str) and digest and "@" not in ref:
        ref += f"@{digest}"
    return ref


@functools.lru_cache(maxsize=4096)
def _patch_documents(text: str) -> tuple[Any, ...]:
    """The YAML documents of a patch (cached: three policies read every Argo CD patch)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return tuple(doc for doc in yaml.load_all(text, Loader=loader) if doc is not None)
    except yaml.YAMLError:
        return ()


ARGO_APPLICATION_TYPES = ("kubernetes:argoproj.io/v1alpha1:Application", "kubernetes:argoproj.io/v1alpha1:ApplicationSet")


def argo_patches(props: Any) -> Iterator[tuple[str, Any]]:
    """Argo CD Application kustomize patches, parsed: (path, document)."""
    sources = []
    for base, spec in (("spec", w.get(props, "spec")), ("spec.template.spec", w.dig(props, "spec", "template", "spec"))):
        # An Application's spec, or an ApplicationSet's Application template.
        sources.append((f"{base}.source", w.get(spec, "source")))
        sources += [(f"{base}.sources[{i}]", s) for i, s in w.elements(w.get(spec, "sources"))]
    for where, source in sources:
        for index, patch in w.elements(w.dig(source, "kustomize", "patches")):
            text = w.get(patch, "patch")
            if isinstance(text, str):
                for number, doc in enumerate(_patch_documents(text)):
                    yield f"{where}.kustomize.patches[{index}].patch#{number}", doc


def image_references(resource_type: str, props: Any) -> Iterator[tuple[str, str]]:
    """(path, image reference) for every image a Kubernetes resource declares.

    Pod specs and CR specs (`image: <ref>`), Helm values split over `repository`/`image`/`tag`/
    `version`/`digest`, Argo CD Applications' kustomize `images` overrides and their inline patches.
    """
    if not resource_type.startswith("kubernetes:"):
        return
    yield from _images_in(props, "")
    if resource_type in ARGO_APPLICATION_TYPES:
        for path, doc in argo_patches(props):
            yield from _images_in(doc, path)
        for path, value in w.walk(w.get(props, "spec"), "spec"):
            if path.endswith(".kustomize.images") and w.is_seq(value):
                for index, entry in w.elements(value):
                    if isinstance(entry, str):
                        yield f"{path}[{index}]", entry.split("=", 1)[-1]


def _images_in(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if w.is_map(value):
        env_name, env_value = w.get(value, "name"), w.get(value, "value")
        if isinstance(env_name, str) and env_name.endswith("_IMAGE") and isinstance(env_value, str):
            # An operator told which image to inject by env (e.g. MinIO's OPERATOR_SIDECAR_IMAGE).
            yield f"{path}.value", env_value
            return
        inner = w.get(value, "image")
        if isinstance(inner, str) and any(w.has(value, k) for k in ("repository", "version", "tag", "digest")):
            ref = _split_image_map(value)  # {repository, image: <name>, version}: one image
            if ref:
                yield (path or "(root)"), ref
            return
        for key, item in w.items(value):
            here = f"{path}.{key}" if path else str(key)
            if key == "image" and isinstance(item, str):
                yield here, item
            elif str(key).endswith("Image") and isinstance(item, str) and ("/" in item or "@" in item):
                yield here, item  # e.g. KFP's `baseImage` in the tenant defaults ConfigMap
            elif key == "image" and w.is_map(item) and (w.get(item, "repository") or w.get(item, "name")):
                ref = _split_image_map(item)
                if ref:
                    yield here, ref
            else:
                yield from _images_in(item, here)
    elif w.is_seq(value):
        for index, item in w.elements(value):
            yield from _images_in(item, f"{path}[{index}]")


def image_problems(ref: str, registries: Sequence[str]) -> list[Finding]:
    found = []
    digest = DIGEST_SUFFIX.search(ref)
    name_part = ref[: digest.start()] if digest else ref
    tag = name_part.rsplit(":", 1)[1] if ":" in name_part.rsplit("/", 1)[-1] else ""
    if not digest:
        found.append(Finding(
            f"image {ref!r} is not pinned by digest",
            "mirror the image and pin it as <mirror>/<path>:<tag>@sha256:<digest> (kfplatform/images.py)",
        ))
    elif digest.group(1) == PLACEHOLDER_DIGEST:
        found.append(Finding(
            f"image {ref!r} has a placeholder digest",
            "resolve the real digest of the mirrored image (`crane digest <ref>`) and pin it where the image "
            "is declared (docs/supply-chain.md#updating-a-digest)",
        ))
    if tag == "latest":
        found.append(Finding(f"image {ref!r} uses the `latest` tag", "name the release tag the digest belongs to"))
    if registries and not any(ref.startswith(r.rstrip("/") + "/") for r in registries):
        found.append(Finding(
            f"image {ref!r} is not pulled from the internal registry ({', '.join(registries)})",
            "reference the mirrored copy (`Image.ref(stack images.mirror)`), never a public registry",
        ))
    return found


def unverified_digests(resource_type: str, props: Any, unverified: Sequence[str]) -> list[Finding]:
    """Images whose digest is real but not verified (kfplatform/images.py table, `source` empty):
    `unverified` lists them as `<path>:<tag>@<digest>` (policy config, kept equal to the table)."""
    if not unverified:
        return []
    return [
        Finding(
            f"{path}: image {ref!r} has a digest nobody verified against its registry",
            "check it (`crane digest` of the upstream and of the mirror) and record where in its "
            "images.pin(..., source=...) (docs/supply-chain.md#updating-a-digest)",
        )
        for path, ref in image_references(resource_type, props)
        if any(ref.endswith("/" + entry) for entry in unverified)
    ]


def unpinned_images(resource_type: str, props: Any, registries: Sequence[str] = ()) -> list[Finding]:
    return [
        Finding(f"{path}: {f.message}", f.hint)
        for path, ref in image_references(resource_type, props)
        for f in image_problems(ref, registries)
    ]


# --------------------------------------------------------------------------------------------
# The pipeline supply chain: no step pointed at a public registry or package index.
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Credentials: no literal secret values in Secrets, ConfigMaps, env or annotations.
# --------------------------------------------------------------------------------------------

_CREDENTIAL_WORDS = re.compile(
    r"(^|[_.\-/])(password|passwd|pwd|secret|secret[_-]?key|secretkey|token|api[_-]?key|apikey|"
    r"access[_-]?key|accesskey|private[_-]?key|client[_-]?secret|credentials?)$"
)


_SECRET_REFERENCE_NAME = re.compile(r"(^|[_.\-/])(existing|pull|tls|cert|ca|config|env|root[_-]?ca)[_-]?secret$")


class _CredentialKey:
    """Matches names that hold a credential: `DB_PASSWORD`, `rootPassword`, `minio.secret-key`, `apiKey`."""

    @staticmethod
    def search(name: str):
        normal = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
        if _SECRET_REFERENCE_NAME.search(normal):
            return None  # names a Secret object (`existingSecret`, `tlsSecret`), not a secret value
        return _CREDENTIAL_WORDS.search(normal)


CREDENTIAL_KEY = _CredentialKey()
CREDENTIAL_VALUE = (
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@{}$]+:[^/\s@{}$]+@"), "a URL with an embedded password"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"), "a GitHub token"),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20}\b"), "a GitLab token"),
)
# Values that name where a credential is, not the credential: paths, references, templates.
_REFERENCE = re.compile(r"^(/|\$\(|\$\{|\{\{|[a-z0-9-]+/[a-z0-9/_.-]+$|secret:|vault:|ref\+)")


def _looks_literal(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != "" and not _REFERENCE.match(value.strip())


def _value_patterns(path: str, value: str) -> list[Finding]:
    return [
        Finding(f"{path} holds {what}", "remove it; keep the value in Vault and deliver it with an ExternalSecret")
        for pattern, what in CREDENTIAL_VALUE
        if pattern.search(value)
    ]


def credential_literals(resource_type: str, props: Any) -> list[Finding]:
    """No Secret with literal data; no credential-looking literal in ConfigMaps, env or annotations."""
    if not resource_type.startswith("kubernetes:"):
        return []
    found = []
    name = w.name_of(props)
    if resource_type.startswith("kubernetes:helm.sh/"):
        # Chart values: a credential-named key with a literal (charts' `auth.password`, `apiKey`, ...).
        for path, value in w.walk(w.get(props, "values"), "values"):
            key = path.rsplit(".", 1)[-1]
            if isinstance(value, str) and CREDENTIAL_KEY.search(key) and _looks_literal(value):
                found.append(Finding(
                    f"{path}: chart value looks like a credential with a literal value",
                    "point the chart at an existing Secret (its `existingSecret`-style value) delivered by an "
                    "ExternalSecret; Helm stores values in the release Secret in clear",
                ))
    if resource_type == "kubernetes:core/v1:Secret":
        for key in ("data", "stringData"):
            if w.keys(w.get(props, key)):
                found.append(Finding(
                    f"Secret {name} has literal `{key}`",
                    "keep the value in Vault and deliver it with an ExternalSecret",
                ))
        return found
    if resource_type == "kubernetes:core/v1:ConfigMap":
        for key, value in w.items(w.get(props, "data")):
            if CREDENTIAL_KEY.search(str(key)) and _looks_literal(value):
                found.append(Finding(
                    f"ConfigMap {name} key {key!r} looks like a credential with a literal value",
                    "a ConfigMap is readable by anyone who can read the namespace: move the value to Vault "
                    "and mount the ExternalSecret's Secret",
                ))
    docs: list[tuple[str, Any]] = [("", props)]
    if resource_type in ARGO_APPLICATION_TYPES:
        docs += list(argo_patches(props))
    for base, doc in docs:
        for path, value in w.walk(doc, base):
            if path.endswith(".env") and w.is_seq(value):
                for index, entry in w.elements(value):
                    var, literal = w.get(entry, "name"), w.get(entry, "value")
                    if isinstance(var, str) and CREDENTIAL_KEY.search(var) and _looks_literal(literal):
                        found.append(Finding(
                            f"{path}[{index}]: env {var} has a literal value",
                            "use valueFrom.secretKeyRef on a Secret delivered by an ExternalSecret",
                        ))
            elif path.endswith("metadata.annotations") and w.is_map(value):
                for key, literal in w.items(value):
                    if CREDENTIAL_KEY.search(str(key)) and _looks_literal(literal):
                        found.append(Finding(
                            f"{path}: annotation {key} looks like a credential with a literal value",
                            "annotations are readable by anyone who can list the object: never put a credential there",
                        ))
            elif isinstance(value, str):
                found.extend(_value_patterns(path or "(root)", value))
    return found


# --------------------------------------------------------------------------------------------
# Stateful resources protected on protected stacks.
# --------------------------------------------------------------------------------------------

STATEFUL_TYPES = {
    "kubernetes:k8s.mariadb.com/v1alpha1:MariaDB": "the Galera cluster",
    "kubernetes:minio.min.io/v2:Tenant": "the MinIO tenant",
    "minio:index/s3Bucket:S3Bucket": "an object-store bucket",
    "vault:index/mount:Mount": "a Vault mount",
    # A Database object's schema (cleanupPolicy Skip keeps it, but only while the object says so).
    "kubernetes:k8s.mariadb.com/v1alpha1:Database": "a Galera database",
}
# Helm charts whose uninstall deletes data: removing mariadb-operator's CRDs deletes every MariaDB,
# Database and User object, and with them the StatefulSets; the MinIO operator chart (`operator`)
# renders the Tenant CRD from its templates, so the same holds for the Tenant.
STATEFUL_CHARTS = {
    "mariadb-operator-crds": "mariadb-operator's CRDs",
    "operator": "the MinIO operator (its release holds the Tenant CRD)",
    "external-secrets": "External Secrets Operator (its CRDs own every delivered Secret)",
}


def unprotected_stateful(resource_type: str, props: Any, protect: bool) -> list[Finding]:
    what = STATEFUL_TYPES.get(resource_type)
    if what is None and resource_type == "kubernetes:core/v1:Namespace" and w.has(w.labels_of(props), TENANT_LABEL):
        what = "a tenant namespace"
    if (what is None and resource_type == "kubernetes:storage.k8s.io/v1:StorageClass"
            and w.get(props, "reclaimPolicy") == "Retain"):
        # Its reclaim policy is immutable: protection keeps a replacement from switching it to Delete.
        what = "a Retain storage class"
    if what is None and resource_type == "kubernetes:helm.sh/v3:Release":
        chart = w.get(props, "chart")
        what = STATEFUL_CHARTS.get(chart) if isinstance(chart, str) else None
    if what and not protect:
        return [Finding(
            f"{what} ({w.name_of(props) or resource_type}) must be protected against deletion (protect=True)",
            "pass opts protect=True where it is declared (the data tier does on protected stacks); to delete it "
            "on purpose, unprotect it in its own reviewed merge request",
        )]
    return []


# --------------------------------------------------------------------------------------------
# Network policies.
# --------------------------------------------------------------------------------------------

def internet_egress(resource_type: str, props: Any) -> list[Finding]:
    """A NetworkPolicy never opens 0.0.0.0/0 or ::/0: name the proxy or service instead."""
    if resource_type != "kubernetes:networking.k8s.io/v1:NetworkPolicy":
        return []
    found = []
    for direction, peers_key in (("egress", "to"), ("ingress", "from")):
        for rule in w.each(w.dig(props, "spec", direction)):
            for peer in w.each(w.get(rule, peers_key)):
                cidr = w.dig(peer, "ipBlock", "cidr")
                if isinstance(cidr, str) and cidr.endswith("/0"):
                    found.append(Finding(
                        f"NetworkPolicy {w.name_of(props)} opens {direction} to {cidr}",
                        "name the peer (namespace/pod labels, a /32 of the proxy, the tenant's egress proxy)",
                    ))
    return found


def auto_named(resource_type: str, props: Any) -> list[Finding]:
    """Kubernetes objects carry an explicit metadata.name: auto-naming adds random suffixes."""
    if not resource_type.startswith("kubernetes:") or "kind" not in w.keys(props) or resource_type.startswith("kubernetes:helm.sh/"):
        return []
    if w.unknown_at(w.get(props, "metadata"), "name"):
        return []  # computed (e.g. from another resource's output): a name, known after deploy
    if not w.dig(props, "metadata", "name"):
        return [Finding(f"{w.get(props, 'kind')} has no explicit metadata.name",
                        "give metadata.name (kfplatform/k8s.py meta())")]
    return []


# --------------------------------------------------------------------------------------------
# Workloads: requests and limits; non-root in restricted namespaces.
# --------------------------------------------------------------------------------------------

POD_TEMPLATE_PATHS = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}
REQUIRED_RESOURCES = (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))


def pod_spec(resource_type: str, props: Any) -> Any:
    path = POD_TEMPLATE_PATHS.get(resource_type)
    return w.dig(props, *path) if path else None


def _missing_resources(resources: Any) -> list[str]:
    missing = []
    for section, key in REQUIRED_RESOURCES:
        if w.unknown_at(resources, section) or w.unknown_at(w.get(resources, section), key):
            continue  # unknown during preview: not provably missing
        if not w.has(w.get(resources, section), key):
            missing.append(f"{section}.{key}")
    return missing


def missing_requests_limits(resource_type: str, props: Any) -> list[Finding]:
    """Platform workloads set requests (cpu, memory) and a memory limit on every container.

    CPU limits are not required: they throttle latency-sensitive servers (ProxySQL, Galera) while
    the node has idle CPU; memory is the resource whose overcommit kills neighbours.
    """
    hint = "set resources.requests.cpu, resources.requests.memory and resources.limits.memory"
    found = []
    spec = pod_spec(resource_type, props)
    if spec is not None:
        for list_key in ("initContainers", "containers"):
            for index, container in w.elements(w.get(spec, list_key)):
                if w.unknown_at(container, "resources"):
                    continue  # unknown during preview
                missing = _missing_resources(w.get(container, "resources"))
                if missing:
                    found.append(Finding(
                        f"{w.name_of(props)}: {list_key}[{index}] ({w.get(container, 'name')}) has no "
                        f"{', '.join(missing)}", hint))
    elif resource_type == "kubernetes:k8s.mariadb.com/v1alpha1:MariaDB":
        missing = _missing_resources(w.dig(props, "spec", "resources"))
        if missing:
            found.append(Finding(f"MariaDB {w.name_of(props)}: spec.resources has no {', '.join(missing)}", hint))
    elif resource_type == "kubernetes:minio.min.io/v2:Tenant":
        for index, pool in w.elements(w.dig(props, "spec", "pools")):
            missing = _missing_resources(w.get(pool, "resources"))
            if missing:
                found.append(Finding(
                    f"MinIO Tenant {w.name_of(props)}: spec.pools[{index}].resources has no {', '.join(missing)}", hint))
    return found


def _runs_as_root(spec: Any) -> list[str]:
    pod_ctx = w.get(spec, "securityContext")
    pod_non_root = w.get(pod_ctx, "runAsNonRoot") is True and w.get(pod_ctx, "runAsUser") != 0
    problems = []
    for list_key in ("initContainers", "containers"):
        for index, container in w.elements(w.get(spec, list_key)):
            ctx = w.get(container, "securityContext")
            non_root = w.get(ctx, "runAsNonRoot")
            user = w.get(ctx, "runAsUser")
            if user == 0 or non_root is False or (non_root is None and not pod_non_root):
                problems.append(f"{list_key}[{index}] ({w.get(container, 'name')})")
    return problems


def root_workloads(resources: Sequence[Res], restricted: Mapping[str, str]) -> Iterator[tuple[Res, Finding]]:
    """Workloads in namespaces labelled restricted (label -> value pairs) run as non-root."""
    namespaces = set()
    for r in resources:
        if r.type == "kubernetes:core/v1:Namespace":
            labels = w.labels_of(r.props)
            if any(w.get(labels, k) == v for k, v in restricted.items()):
                name = w.dig(r.props, "metadata", "name")
                if isinstance(name, str):
                    namespaces.add(name)
    for r in resources:
        spec = pod_spec(r.type, r.props)
        if spec is None or w.dig(r.props, "metadata", "namespace") not in namespaces:
            continue
        problems = _runs_as_root(spec)
        if problems:
            yield r, Finding(
                f"{w.name_of(r.props)} runs in a restricted namespace but {', '.join(problems)} may run as root",
                "set securityContext.runAsNonRoot: true (pod or every container) and a non-zero runAsUser",
            )


# --------------------------------------------------------------------------------------------
# Stack checks: tenants, HA floors, rotation, signed artifacts.
# --------------------------------------------------------------------------------------------

def _objects(resources: Sequence[Res], kind_type: str) -> list[Res]:
    return [r for r in resources if r.type == kind_type]


def _namespace(r: Res) -> Any:
    return w.dig(r.props, "metadata", "namespace")


def _is_default_deny(props: Any) -> bool:
    """podSelector {} with policyTypes [Ingress, Egress] and no rules (an unknown rule list is not proof)."""
    spec = w.get(props, "spec")
    if not w.is_map(spec):
        return False
    selector = w.get(spec, "podSelector")
    if w.get(selector, "matchLabels") or w.get(selector, "matchExpressions"):
        return False
    if {t for t in w.each(w.get(spec, "policyTypes")) if isinstance(t, str)} != {"Ingress", "Egress"}:
        return False
    for direction in ("ingress", "egress"):
        rules = w.get(spec, direction, w.MISSING)
        if w.unknown_at(spec, direction):
            return False  # unknown during preview
        if rules not in (w.MISSING, None) and (not w.is_seq(rules) or len(rules) > 0):
            return False
    return True


MIG_RESOURCE = "nvidia.com/mig-{}"
GPU_RESOURCE = "nvidia.com/gpu"


def gpu_supply(resources: Sequence[Res]) -> set[str] | None:
    """Extended resource names the GPU pools advertise, from the rendered node layouts.

    Nodes carry `nvidia.com/mig.config=<layout>` (NodePatch); layouts are in the mig-parted
    ConfigMap (`mig-configs`); the GPU operator's `mig.strategy` (Helm values) decides the names:
    `single` -> nvidia.com/gpu; `mixed` -> nvidia.com/mig-<profile> per MIG device, nvidia.com/gpu
    for GPUs with MIG disabled. None when the render has no GPU operator (nothing to compare).
    """
    import yaml

    strategy = None
    for r in _objects(resources, "kubernetes:helm.sh/v3:Release"):
        if w.get(r.props, "chart") == "gpu-operator":
            strategy = w.dig(r.props, "values", "mig", "strategy", default="single")
    if strategy is None:
        return None
    layouts: dict[str, Any] = {}
    for r in _objects(resources, "kubernetes:core/v1:ConfigMap"):
        for key, text in w.items(w.get(r.props, "data")):
            if isinstance(text, str) and "mig-configs" in text:
                try:
                    layouts.update((yaml.safe_load(text) or {}).get("mig-configs") or {})
                except yaml.YAMLError:
                    pass
    supply: set[str] = set()
    for r in _objects(resources, "kubernetes:core/v1:NodePatch"):
        layout = w.get(w.labels_of(r.props), "nvidia.com/mig.config")
        if not isinstance(layout, str):
            continue
        if layout == "all-disabled":
            supply.add(GPU_RESOURCE)
            continue
        entries = layouts.get(layout)
        if entries is None and layout.startswith("all-"):
            entries = [{"mig-enabled": True, "mig-devices": {layout[4:]: 1}}]
        for entry in entries or []:
            if not entry.get("mig-enabled"):
                supply.add(GPU_RESOURCE)
            elif strategy == "single":
                supply.add(GPU_RESOURCE)
            else:
                supply.update(MIG_RESOURCE.format(p.replace("+", ".")) for p in (entry.get("mig-devices") or {}))
    return supply


def _quantity_is_zero(value: Any) -> bool:
    return isinstance(value, (int, float)) and value == 0 or (isinstance(value, str) and value.strip() in ("0", "0.0"))


def tenant_isolation(resources: Sequence[Res]) -> Iterator[tuple[Res, Finding]]:
    """Each tenant namespace: default-deny ingress+egress, a ResourceQuota, a LimitRange; GPU quotas
    name only resources the pools supply."""
    tenants = {}
    for r in _objects(resources, "kubernetes:core/v1:Namespace"):
        name = w.dig(r.props, "metadata", "name")
        if w.has(w.labels_of(r.props), TENANT_LABEL) and isinstance(name, str):
            tenants[name] = r
    deny = {_namespace(r) for r in _objects(resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy") if _is_default_deny(r.props)}
    quotas = {_namespace(r) for r in _objects(resources, "kubernetes:core/v1:ResourceQuota")}
    limits = {_namespace(r) for r in _objects(resources, "kubernetes:core/v1:LimitRange")}
    for ns, r in sorted(tenants.items()):
        if ns not in deny:
            yield r, Finding(f"tenant namespace {ns} has no default-deny NetworkPolicy",
                             "every tenant gets TenantNetworkPolicies (kfplatform/tenancy): restore its default-deny")
        if ns not in quotas:
            yield r, Finding(f"tenant namespace {ns} has no ResourceQuota",
                             "declare the team's quotas in tenants/<team>.yaml (the Tenant component renders them)")
        if ns not in limits:
            yield r, Finding(f"tenant namespace {ns} has no LimitRange",
                             "the Tenant component renders `tenant-container-limits`: restore it")
    supply = gpu_supply(resources)
    for r in _objects(resources, "kubernetes:core/v1:ResourceQuota"):
        if _namespace(r) not in tenants:
            continue
        for key, value in w.items(w.dig(r.props, "spec", "hard")):
            resource_name = str(key).split(".", 1)[1] if str(key).startswith(("requests.", "limits.")) else str(key)
            if not resource_name.startswith("nvidia.com/") or _quantity_is_zero(value):
                continue
            if supply is None or resource_name not in supply:
                offered = ", ".join(sorted(supply or [])) or "none"
                yield r, Finding(
                    f"ResourceQuota {w.name_of(r.props)} grants {key}={value}, which no GPU pool supplies "
                    f"(pools supply: {offered})",
                    "quote a MIG profile or nvidia.com/gpu that a pool's layout provides (docs/gpus.md), or 0",
                )


def _replicas_of(resources: Sequence[Res], namespace: str, name: str) -> tuple[int | None, Res | None, bool]:
    """Replica floor of a workload: an HPA's minReplicas on it, or our own Deployment's replicas.

    (replicas or None, the resource holding them, whether a holder's count is unknown in preview).
    """
    best, holder, unknown = None, None, False
    holders = [(r, "minReplicas") for r in _objects(resources, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
               if _namespace(r) == namespace and w.dig(r.props, "spec", "scaleTargetRef", "name") == name]
    holders += [(r, "replicas") for t in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")
                for r in _objects(resources, t)
                if _namespace(r) == namespace and w.dig(r.props, "metadata", "name") == name]
    for r, key in holders:
        spec = w.get(r.props, "spec")
        if w.unknown_at(spec, key):
            unknown, holder = True, holder or r
            continue
        value = w.get(spec, key, 1)  # the API default for both fields is 1
        if isinstance(value, (int, float)):
            best, holder = max(best or 0, int(value)), r
    return best, holder, unknown


def _pdb_for(resources: Sequence[Res], namespace: str, name: str) -> Res | None:
    template_labels: dict = {}
    for r in _objects(resources, "kubernetes:apps/v1:Deployment") + _objects(resources, "kubernetes:apps/v1:StatefulSet"):
        if _namespace(r) == namespace and w.dig(r.props, "metadata", "name") == name:
            template_labels = w.plain(w.dig(r.props, "spec", "template", "metadata", "labels", default={})) or {}
    for r in _objects(resources, "kubernetes:policy/v1:PodDisruptionBudget"):
        if _namespace(r) != namespace:
            continue
        if w.get(w.labels_of(r.props), HA_TARGET_LABEL) == name or w.dig(r.props, "metadata", "name") == name:
            return r
        selector = w.plain(w.dig(r.props, "spec", "selector", "matchLabels", default={})) or {}
        if template_labels and selector and all(template_labels.get(k) == v for k, v in selector.items()):
            return r
    return None


def ha_floors(resources: Sequence[Res], floors: Mapping[str, int], galera_min: int, minio_min_servers: int,
              failure_domain: Mapping[str, Any]) -> Iterator[tuple[Res | None, Finding]]:
    for target, floor in sorted(floors.items()):
        namespace, _, name = target.partition("/")
        replicas, holder, unknown = _replicas_of(resources, namespace, name)
        if replicas is None and unknown:
            pass  # computed during preview: checked on the next preview, when it is known
        elif replicas is None:
            yield None, Finding(
                f"{target}: no HorizontalPodAutoscaler or Deployment holds it at >= {int(floor)} replicas",
                "ControlPlaneHA (kfplatform/kubeflow/ha.py) renders an HPA per HA target; restore it")
        elif replicas < floor:
            yield holder, Finding(f"{target} runs {replicas} replica(s), below the floor of {int(floor)}",
                                  f"raise its replicas / HPA minReplicas to >= {int(floor)} in the stack file")
        pdb = _pdb_for(resources, namespace, name)
        if pdb is None:
            yield holder, Finding(f"{target} has no PodDisruptionBudget",
                                  "add a PDB (maxUnavailable: 1) with the replicas: drains then keep it serving")
        elif replicas is not None and isinstance(w.dig(pdb.props, "spec", "minAvailable"), (int, float)) \
                and w.dig(pdb.props, "spec", "minAvailable") >= replicas:
            yield pdb, Finding(f"{target}: PDB minAvailable >= replicas blocks every node drain",
                               "use maxUnavailable: 1")
    for r in _objects(resources, "kubernetes:k8s.mariadb.com/v1alpha1:MariaDB"):
        if w.dig(r.props, "spec", "galera", "enabled") is not True:
            yield r, Finding(f"MariaDB {w.name_of(r.props)} is not a Galera cluster",
                             "set spec.galera.enabled: true (the data tier's GaleraCluster does)")
            continue
        replicas = w.dig(r.props, "spec", "replicas")
        if isinstance(replicas, (int, float)) and (replicas < galera_min or int(replicas) % 2 == 0):
            yield r, Finding(
                f"Galera {w.name_of(r.props)} has {int(replicas)} nodes: it needs an odd number >= {galera_min} "
                "to keep quorum through a node loss",
                f"set data.galera.replicas to an odd number >= {galera_min}")
    for r in _objects(resources, "kubernetes:minio.min.io/v2:Tenant"):
        parity = _minio_parity(resources, r)
        for index, pool in w.elements(w.dig(r.props, "spec", "pools")):
            servers, volumes = w.get(pool, "servers"), w.get(pool, "volumesPerServer")
            if not isinstance(servers, (int, float)) or not isinstance(volumes, (int, float)):
                continue
            servers, volumes = int(servers), int(volumes)
            pool_name = w.get(pool, "name") or index
            if servers < minio_min_servers:
                yield r, Finding(f"MinIO pool {pool_name}: {servers} servers, below {minio_min_servers}",
                                 f"a distributed pool has >= {minio_min_servers} servers (docs/data-tier.md)")
            if parity is None:
                yield r, Finding(f"MinIO tenant {w.name_of(r.props)}: no MINIO_STORAGE_CLASS_STANDARD parity found "
                                 "in its configuration Secret",
                                 "set data.objectStore.parity (rendered into the Tenant's config.env)")
                continue
            if parity == "unknown":
                continue
            lost, domain = _servers_lost(servers, failure_domain)
            tolerated = servers_tolerated(servers, volumes, parity)
            if lost > tolerated:
                yield r, Finding(
                    f"MinIO pool {pool_name}: losing one {domain} takes {lost} of {servers} servers; EC:{parity} "
                    f"on {servers}x{volumes} drives keeps writes through {tolerated}",
                    "raise parity or spread more servers over the failure domain (kfplatform/data/checks.py)")


def _servers_lost(servers: int, failure_domain: Mapping[str, Any]) -> tuple[int, str]:
    kind = str(failure_domain.get("kind", "node"))
    if kind == "zone":
        zones = int(failure_domain.get("zones", 1))
        return -(-servers // max(1, zones)), "zone"
    return 1, "node"


def _minio_parity(resources: Sequence[Res], tenant: Res) -> int | str | None:
    secret = w.dig(tenant.props, "spec", "configuration", "name")
    namespace = _namespace(tenant)
    pattern = re.compile(r'MINIO_STORAGE_CLASS_STANDARD="?EC:(\d+)')
    for r in resources:
        if _namespace(r) != namespace:
            continue
        if r.type == "kubernetes:external-secrets.io/v1:ExternalSecret" and w.dig(r.props, "spec", "target", "name") == secret:
            data = w.dig(r.props, "spec", "target", "template", "data")
        elif r.type == "kubernetes:core/v1:Secret" and w.dig(r.props, "metadata", "name") == secret:
            data = w.get(r.props, "stringData")
        else:
            continue
        if w.unknown_at(data, "config.env"):
            return "unknown"
        match = pattern.search(str(w.get(data, "config.env") or ""))
        if match:
            return int(match.group(1))
    return None


# MinIO erasure arithmetic: the pack runs in its own virtualenv without `kfplatform`, so this is a
# copy of kfplatform/data/erasure.py (tests/policy assert both agree on every small geometry).
def erasure_set_size(servers: int, volumes_per_server: int) -> int | None:
    total = servers * volumes_per_server
    candidates = [size for size in range(2, 17) if total % size == 0]
    symmetric = [size for size in candidates if size % servers == 0 or servers % size == 0]
    chosen = symmetric or candidates
    return max(chosen) if chosen else None


def servers_tolerated(servers: int, volumes_per_server: int, parity: int) -> int:
    set_size = erasure_set_size(servers, volumes_per_server)
    if set_size is None or servers <= 1:
        return 0
    data = set_size - parity
    quorum = data + 1 if data == parity else data
    per_server = max(1, set_size // servers) if set_size >= servers else 1
    return max(0, (set_size - quorum) // per_server)


ROTATION_UNITS_DAYS = {"rotationMinutes": 1 / 1440, "rotationHours": 1 / 24, "rotationDays": 1,
                       "rotationMonths": 31, "rotationYears": 366}


def rotation_days(props: Any) -> float | None:
    for key, days in ROTATION_UNITS_DAYS.items():
        value = w.get(props, key)
        if isinstance(value, (int, float)):
            return value * days
    return None


def stale_credentials(resources: Sequence[Res], name_pattern: str, max_age_days: float,
                      manual: Sequence[str]) -> Iterator[tuple[Res, Finding]]:
    """Generated database passwords and object-store keys are replaced at least every max_age_days:
    each RandomPassword matching `name_pattern` depends on a `time.Rotating` (its keeper) whose period
    is at most the maximum age. `manual` names those rotated by hand (documented, listed in config)."""
    by_urn = {r.urn: r for r in resources}
    pattern = re.compile(name_pattern)
    for r in _objects(resources, RANDOM_PASSWORD_TYPE):
        if not pattern.search(r.name) or r.name in manual:
            continue
        rotations = [by_urn[d] for d in r.dependencies if d in by_urn and by_urn[d].type == ROTATING_TYPE]
        if not rotations or not w.has(r.props, "keepers"):
            yield r, Finding(
                f"{r.name} is a generated credential that never rotates",
                "generate it with rotate=True (SecretsPlane.generate), or list it under manuallyRotated in "
                "policy/config/<stack>.json with the runbook that rotates it")
            continue
        for rotation in rotations:
            days = rotation_days(rotation.props)
            if days is not None and days > max_age_days:
                yield r, Finding(
                    f"{r.name} rotates every {days:g} days, above the maximum age of {max_age_days:g}",
                    f"lower secrets.rotationDays (or the path's rotate_days) to <= {max_age_days:g}")


def missing_signed_artifact_policy(resources: Sequence[Res], required: bool) -> Iterator[tuple[Res | None, Finding]]:
    """Regulated namespaces (or a stack that asks) need the admission policies for signed artifacts."""
    regulated = sorted(
        str(w.dig(r.props, "metadata", "name"))
        for r in _objects(resources, "kubernetes:core/v1:Namespace")
        if w.get(w.labels_of(r.props), COMPLIANCE_LABEL) == "regulated"
    )
    if not regulated and not required:
        return
    why = f"namespaces {', '.join(regulated)} are regulated" if regulated else "the stack requires signed images"
    if regulated:
        vaps = [r for r in _objects(resources, VAP_TYPE) if w.dig(r.props, "metadata", "name") == REGULATED_POLICY]
        bindings = [r for r in _objects(resources, VAP_BINDING_TYPE) if w.dig(r.props, "spec", "policyName") == REGULATED_POLICY]
        if not vaps:
            yield None, Finding(f"{why} but ValidatingAdmissionPolicy {REGULATED_POLICY} is not rendered",
                                "the compliance component renders it for regulated tenants (docs/compliance.md)")
        if not bindings:
            yield None, Finding(f"{why} but no ValidatingAdmissionPolicyBinding binds {REGULATED_POLICY}",
                                "bind the policy (validationActions: [Deny]) to the regulated namespaces")
    cips = [r for r in _objects(resources, CLUSTER_IMAGE_POLICY_TYPE) if w.dig(r.props, "metadata", "name") == SIGNED_IMAGES_POLICY]
    if not cips:
        yield None, Finding(f"{why} but Sigstore ClusterImagePolicy {SIGNED_IMAGES_POLICY} is not rendered",
                            "the compliance component renders it (policy.sigstore.dev/v1beta1)")
