"""Each policy of the pack, compliant and violating, through pulumi-policy's analyzer servicer.

Every case builds resources.json entries and runs them via `kfguard.engine.evaluate`, which sends
`AnalyzeRequest`/`AnalyzeStackRequest` protobufs to `_PolicyAnalyzerServicer`: props arrive as the
engine's `_DictProxy`/`_ListProxy`, numbers as floats, unknowns as sentinels. Each violating case
is run again with unknown values injected where the engine would have them (generated values,
IDs, computed annotations): the known parts must still be enforced, and no policy may fall back
to the advisory "can't run policy during preview" note.
"""
from __future__ import annotations

import copy
import json
import re

import pytest

from kfguard import checks
from kfguard.pack import POLICY_NAMES

from .harness import (
    GOOD_RESOURCES, MIRROR, SHA, UNKNOWN, by_name, config, deployment, found, k8s, recorded, resource, run,
)

PLACEHOLDER = "sha256:" + "0" * 64


@pytest.fixture(scope="module")
def prod_resources(prod):
    return recorded(prod)


@pytest.fixture(scope="module")
def prod_report(prod_resources):
    return run(prod_resources)


# Images still carrying the all-zero placeholder (each a mandatory violation until its real digest
# is pinned: docs/supply-chain.md). (resource name, property path). Remove an entry when resolved.
KNOWN_PLACEHOLDER_DIGESTS = {
    ("gpu-operator-release", "values.node-feature-discovery.image"),
    ("gpu-operator-release", "values.nodeStatusExporter"),
    ("gpu-operator-release", "values.operator"),
    ("gpu-operator-release", "values.validator"),
    ("minio-operator", "values.operator.image"),
    ("minio-operator", "values.operator.env[1].value"),  # OPERATOR_SIDECAR_IMAGE
    ("mariadb-operator", "values.image"),
    ("mariadb-operator", "values.webhook.image"),
    ("mariadb-operator", "values.certController.image"),
    ("galera", "spec.galera.agent.image"),
    ("galera", "spec.galera.initContainer.image"),
    ("galera", "spec.metrics.exporter.image"),
    ("proxysql", "spec.template.spec.containers[0].image"),
    # The Model Registry server, rewritten by team-nlp's Application (kfplatform/modelregistry/install.py).
    ("team-nlp-model-registry", "spec.source.kustomize.images[0]"),
    # kfplatform/compliance/releases.py (docs/compliance.md, "digests")
    ("signed-images-policy-controller", "values.leasescleanup.image"),
    ("audit-retention-job", "spec.template.spec.containers[0].image"),
    ("kfplatform-audit", "values.image"),
    ("kfplatform-payloads", "values.image"),
    # kfplatform/backup/releases.py: Velero and its AWS plugin
    ("velero", "values.image"),
    ("velero", "values.initContainers[0].image"),
}
# A stack in observability mode `install` (the sandbox) also runs the monitoring stack's images
# (kfplatform/observability/stack.py).
INSTALL_MODE_PLACEHOLDER_DIGESTS = {
    ("observability-stack-alloy", "values.configReloader.image"),
    ("observability-stack-alloy", "values.image"),
    ("observability-stack-kube-prometheus-stack", "values.alertmanager.alertmanagerSpec.image"),
    ("observability-stack-kube-prometheus-stack", "values.kube-state-metrics.image"),
    ("observability-stack-kube-prometheus-stack", "values.prometheus-node-exporter.image"),
    ("observability-stack-kube-prometheus-stack", "values.prometheus.prometheusSpec.image"),
    ("observability-stack-kube-prometheus-stack", "values.prometheusOperator.admissionWebhooks.patch.image"),
    ("observability-stack-kube-prometheus-stack", "values.prometheusOperator.image"),
    ("observability-stack-kube-prometheus-stack", "values.prometheusOperator.prometheusConfigReloader.image"),
    ("observability-stack-loki", "values.loki.image"),
    ("observability-stack-loki", "values.sidecar.image"),
}
# Per stack: prod replicates artifacts to the DR site (mc) and archives Galera's binlogs (mc, next to
# the pinned mariadb image); the sandbox installs its monitoring and rolls the databases forward (mc).
PLACEHOLDERS_BY_STACK = {
    "prod": KNOWN_PLACEHOLDER_DIGESTS | {("artifact-replication", "spec.jobTemplate.spec.template.spec.containers[0].image"),
                                         ("galera-binlog-archiver", "spec.template.spec.initContainers[0].image")},
    "sandbox": KNOWN_PLACEHOLDER_DIGESTS | INSTALL_MODE_PLACEHOLDER_DIGESTS
    | {("galera-point-in-time-restore", "spec.template.spec.initContainers[0].image")},
}


def _placeholders(report) -> set[tuple[str, str]]:
    return {
        (v.urn.rsplit("::", 1)[1], v.message.split(": ", 1)[0])
        for v in report.violations if "placeholder digest" in v.message
    }


def test_prod_has_no_mandatory_violation_but_the_known_placeholder_digests(prod_report):
    assert prod_report.resources > 300
    assert _placeholders(prod_report) == PLACEHOLDERS_BY_STACK["prod"]
    assert [(v.policy, v.message) for v in prod_report.mandatory if "placeholder digest" not in v.message] == []
    # Advisory only: the real but unverified ESO digest (tests/policy/test_supply_chain.py).
    assert {v.policy for v in prod_report.advisory} == {"image-digests-verified"}
    assert prod_report.not_run == []


def _first_deploy(resources: list[dict]) -> list[dict]:
    """The render as `pulumi preview` sees it before the first deploy: every value computed from a
    provider output (generated passwords and keys, rotation dates, anything derived from them, like
    ProxySQL's rotation annotation or an Argo CD patch embedding it) is unknown."""
    computed = re.compile(r"mock-(password|rotation|hex|b64|string)-[0-9a-f]{16}")

    def blank(value):
        if isinstance(value, dict):
            return {k: blank(v) for k, v in value.items()}
        if isinstance(value, list):
            return [blank(v) for v in value]
        return UNKNOWN if isinstance(value, str) and computed.search(value) else value

    return [{**r, "inputs": blank(r["inputs"])} for r in resources]


def test_first_deploy_unknowns_change_nothing_the_pack_can_know(prod_resources, prod_report):
    first = _first_deploy(prod_resources)
    assert sum(json.dumps(r["inputs"]).count(UNKNOWN) for r in first) >= 20
    report = run(first)
    assert report.not_run == []
    assert _placeholders(report) == PLACEHOLDERS_BY_STACK["prod"]
    assert [(v.policy, v.message) for v in report.mandatory if "placeholder digest" not in v.message] == []


def test_sandbox_is_advisory_only(sandbox):
    report = run(recorded(sandbox), "sandbox")
    assert report.violations and report.mandatory == [] and report.not_run == []
    assert _placeholders(report) == PLACEHOLDERS_BY_STACK["sandbox"]


def test_every_placeholder_in_the_image_table_is_a_violation_and_nothing_else_is(prod_report, sandbox):
    """Across both stacks (some components render in one only: install-mode monitoring, DR
    replication), the placeholder images the pack refuses are exactly the table's placeholders."""
    from kfplatform.images import table

    placeholders = {e.image.path for e in table() if e.image.is_placeholder}
    refs = set()
    for report in (prod_report, run(recorded(sandbox), "sandbox")):
        refs |= {re.sub(r":[^/:@]+$", "", m.group(1))  # a chart may render the digest without the tag
                 for v in report.violations if (m := re.search(r"/mirror/(\S+?)@sha256:0{64}", v.message))}
    assert refs == placeholders


# --------------------------------------------------------------------------------------------
# images-pinned-by-digest
# --------------------------------------------------------------------------------------------

def test_nginx_latest_deployment_is_caught_through_the_engine():
    report = run([deployment("web", "kubeflow", "nginx:latest", resources=GOOD_RESOURCES)])
    assert found(report, "images-pinned-by-digest") == [
        "spec.template.spec.containers[0].image: image 'nginx:latest' is not pinned by digest",
        "spec.template.spec.containers[0].image: image 'nginx:latest' is not pulled from the internal registry "
        f"({MIRROR})",
        "spec.template.spec.containers[0].image: image 'nginx:latest' uses the `latest` tag",
    ]
    assert all(v.mandatory and v.hint for v in report.violations)


@pytest.mark.parametrize(
    "image, problems",
    [
        (f"{MIRROR}/app:1.2@{SHA}", []),
        (f"{MIRROR}/app:1.2", ["not pinned by digest"]),
        (f"{MIRROR}/app:1.2@{PLACEHOLDER}", ["placeholder digest"]),
        (f"{MIRROR}/app:latest@{SHA}", ["`latest` tag"]),
        (f"docker.io/library/app:1.2@{SHA}", ["internal registry"]),
        (f"{MIRROR}-evil/app:1.2@{SHA}", ["internal registry"]),  # a prefix, not a registry path
        ({"repository": f"{MIRROR}/app", "tag": f"1.2@{SHA}"}, []),
        ({"repository": f"{MIRROR}/app", "tag": "1.2"}, ["not pinned by digest"]),
        ({"repository": f"{MIRROR}/app", "tag": "1.2", "digest": SHA}, []),
        ({"registry": "registry.ml.example.com", "repository": "mirror/app", "tag": f"1@{SHA}"}, []),
        ({"repository": "quay.io/app", "tag": f"1@{SHA}"}, ["internal registry"]),
        # kube-prometheus-stack: bare hex `sha`; kube-state-metrics: prefixed `sha`; node-exporter,
        # Loki, Alloy: `digest` (observability/stack.py).
        ({"registry": "registry.ml.example.com", "repository": "mirror/app", "tag": "v1", "sha": SHA.removeprefix("sha256:")}, []),
        ({"registry": "registry.ml.example.com", "repository": "mirror/app", "tag": "v1", "sha": SHA}, []),
        ({"registry": "registry.ml.example.com", "repository": "mirror/app", "tag": "v1", "sha": PLACEHOLDER.removeprefix("sha256:")},
         ["placeholder digest"]),
        ({"registry": "registry.ml.example.com", "repository": "mirror/app", "tag": "v1", "digest": PLACEHOLDER}, ["placeholder digest"]),
    ],
)
def test_image_references_in_pod_specs_and_helm_values(image, problems):
    deploy = deployment("app", "kubeflow", image if isinstance(image, str) else f"{MIRROR}/x:1@{SHA}",
                        resources=GOOD_RESOURCES)
    if isinstance(image, dict):  # a chart's split image map, in Helm values
        deploy = resource("kubernetes:helm.sh/v3:Release", "chart", {"chart": "c", "values": {"controller": {"image": image}}})
    messages = found(run([deploy]), "images-pinned-by-digest")
    assert len(messages) == len(problems), messages
    for message, problem in zip(sorted(messages), sorted(problems)):
        assert problem in message


def test_images_in_operator_crs_env_argo_patches_and_kustomize_overrides():
    patch = (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ml-pipeline\nspec:\n  template:\n    spec:\n"
             f"      containers:\n      - name: api\n        image: gcr.io/ml-pipeline/api-server:2.15.0\n")
    app = k8s("kubernetes:argoproj.io/v1alpha1:Application", "pipelines", "argocd", {"spec": {"source": {
        "kustomize": {"patches": [{"patch": patch}], "images": [f"nginx={MIRROR}/nginx:1.27"]}}}})
    operator = resource("kubernetes:helm.sh/v3:Release", "operator", {"chart": "operator", "values": {"operator": {
        "env": [{"name": "OPERATOR_SIDECAR_IMAGE", "value": "quay.io/minio/operator-sidecar:v7.0.1"}]}}})
    galera = k8s("kubernetes:k8s.mariadb.com/v1alpha1:MariaDB", "galera", "db", {"spec": {
        "image": f"{MIRROR}/library/mariadb:11.8.5@{SHA}", "galera": {"agent": {"image": "mariadb-operator:26.6.0"}}}})
    report = run([app, operator, galera])
    messages = found(report, "images-pinned-by-digest")
    assert any(m.startswith("spec.source.kustomize.patches[0].patch#0.spec.template.spec.containers[0].image: "
                            "image 'gcr.io/ml-pipeline/api-server:2.15.0' is not pinned") for m in messages)
    assert any(m.startswith("spec.source.kustomize.images[0]: image 'registry.ml.example.com/mirror/nginx:1.27' "
                            "is not pinned") for m in messages)
    assert any(m.startswith("values.operator.env[0].value: image 'quay.io/minio/operator-sidecar:v7.0.1'")
               for m in messages)
    assert any(m.startswith("spec.galera.agent.image:") for m in messages)
    assert not any(m.startswith("spec.image:") for m in messages)


def test_images_in_applicationset_templates_and_pipeline_defaults():
    patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n" \
            "      containers:\n      - name: x\n        image: ghcr.io/team/model-server:v2\n"
    appset = k8s("kubernetes:argoproj.io/v1alpha1:ApplicationSet", "workloads", "argocd", {"spec": {"template": {
        "spec": {"source": {"kustomize": {"patches": [{"patch": patch}], "images": ["app=quay.io/app:1"]}}}}}})
    defaults = k8s("kubernetes:core/v1:ConfigMap", "kfp-platform-defaults", "team-nlp",
                   {"data": {"baseImage": f"{MIRROR}/library/python:3.12", "pipIndexUrl": "https://pypi.ml.example.com"}})
    messages = found(run([appset, defaults], only="images-pinned-by-digest"), "images-pinned-by-digest")
    assert any(m.startswith("spec.template.spec.source.kustomize.patches[0].patch#0.spec.template.spec.containers[0]"
                            ".image: image 'ghcr.io/team/model-server:v2' is not pinned") for m in messages), messages
    assert any(m.startswith("spec.template.spec.source.kustomize.images[0]: image 'quay.io/app:1'") for m in messages)
    assert "data.baseImage: image 'registry.ml.example.com/mirror/library/python:3.12' is not pinned by digest" in messages


@pytest.mark.parametrize("override, public", [
    (f"ghcr.io/kubeflow/model-registry/server={MIRROR}/kubeflow/model-registry/server:v0.3.4@{SHA}", False),
    (f"kubeflow/model-registry/server={MIRROR}/kubeflow/model-registry/server:v0.3.4@{SHA}", False),
    (f"{MIRROR}/server=ghcr.io/kubeflow/model-registry/server:v0.3.4@{SHA}", True),
    (f"ghcr.io/kubeflow/model-registry/server:v0.3.4@{SHA}", True),
])
def test_kustomize_image_overrides_are_judged_by_what_they_point_at(override, public):
    """`name=newName:tag@digest` rewrites an upstream name (which may be public) to the mirror: only
    the image that runs counts for pipeline-sources-internal."""
    app = k8s("kubernetes:argoproj.io/v1alpha1:Application", "model-registry", "argocd",
              {"spec": {"source": {"kustomize": {"images": [override]}}}})
    messages = found(run([app], only="pipeline-sources-internal"), "pipeline-sources-internal")
    assert bool(messages) == public, messages


def test_known_image_fields_are_checked_when_others_are_unknown():
    """First deploy: a pod template annotation and an env value are computed (unknown)."""
    deploy = deployment("web", "kubeflow", "nginx:latest", resources=GOOD_RESOURCES,
                        env=[{"name": "DB_HOST", "value": UNKNOWN}], annotations={"kfplatform.io/config-sha256": UNKNOWN})
    second = deployment("api", "kubeflow", UNKNOWN, resources=GOOD_RESOURCES)
    report = run([deploy, second])
    assert len(found(report, "images-pinned-by-digest")) == 3
    assert report.not_run == []


# --------------------------------------------------------------------------------------------
# pipeline-sources-internal
# --------------------------------------------------------------------------------------------

def test_the_rendered_pipeline_supply_chain_is_internal(prod_report, prod_resources):
    assert found(prod_report, "pipeline-sources-internal") == []
    rendered = " ".join(str(r["inputs"]) for r in prod_resources)
    assert "pypi.ml.example.com" in rendered  # the internal index is what the defaults name


@pytest.mark.parametrize(
    "value, problem",
    [
        ("https://pypi.org/simple", "public package index pypi.org"),
        ("https://files.pythonhosted.org/packages/x.whl", "public package index files.pythonhosted.org"),
        ("docker.io/library/python:3.12", "public registry docker.io"),
        ("pip install --index-url https://download.pytorch.org/whl/cu121 torch", "download.pytorch.org"),
        ("https://pypi.ml.example.com/simple", None),
        (f"{MIRROR}/library/python:3.12@{SHA}", None),
        ("mypypi.org.example.com", None),
    ],
)
def test_public_index_or_registry_in_pipeline_defaults(value, problem):
    defaults = k8s("kubernetes:core/v1:ConfigMap", "kfp-platform-defaults", "team-nlp", {"data": {"pip": value}})
    poddefault = k8s("kubernetes:kubeflow.org/v1alpha1:PodDefault", "pip", "team-nlp", {"spec": {
        "selector": {"matchLabels": {"a": "b"}}, "env": [{"name": "PIP_INDEX_URL", "value": value}]}})
    messages = found(run([defaults, poddefault]), "pipeline-sources-internal")
    if problem is None:
        assert messages == []
    else:
        assert len(messages) == 2 and all(problem in m for m in messages), messages


# --------------------------------------------------------------------------------------------
# no-credential-literals
# --------------------------------------------------------------------------------------------

def test_no_credential_literal_in_the_render(prod_report):
    assert found(prod_report, "no-credential-literals") == []


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda: k8s("kubernetes:core/v1:Secret", "db", "kubeflow", {"stringData": {"password": "hunter2"}}),
         "Secret kubeflow/db has literal `stringData`"),
        (lambda: k8s("kubernetes:core/v1:Secret", "db", "kubeflow", {"data": {"password": UNKNOWN}}),
         "Secret kubeflow/db has literal `data`"),  # a generated value is still literal data in etcd
        (lambda: k8s("kubernetes:core/v1:ConfigMap", "cfg", "kubeflow", {"data": {"db_password": "hunter2"}}),
         "ConfigMap kubeflow/cfg key 'db_password' looks like a credential"),
        (lambda: deployment("a", "kubeflow", f"{MIRROR}/a:1@{SHA}", resources=GOOD_RESOURCES,
                            env=[{"name": "MINIO_SECRET_KEY", "value": "abc123"}]),
         "env MINIO_SECRET_KEY has a literal value"),
        (lambda: deployment("a", "kubeflow", f"{MIRROR}/a:1@{SHA}", resources=GOOD_RESOURCES,
                            annotations={"example.com/api-token": "t0k3n"}),
         "annotation example.com/api-token looks like a credential"),
        (lambda: k8s("kubernetes:core/v1:ConfigMap", "cfg", "kubeflow",
                     {"data": {"dsn": "mysql://kfp:hunter2@proxysql:6033/mlpipeline"}}),
         "holds a URL with an embedded password"),
        (lambda: resource("kubernetes:helm.sh/v3:Release", "chart", {"chart": "c", "values": {
            "auth": {"rootPassword": "hunter2", "existingSecret": "db-root"},
            "controller": {"env": [{"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "t"}}}]}}}),
         "values.auth.rootPassword: chart value looks like a credential"),
    ],
)
def test_credential_literals_are_refused(make, problem):
    report = run([make()])
    messages = found(report, "no-credential-literals")
    assert len(messages) == 1 and problem in messages[0], messages
    assert report.not_run == []


@pytest.mark.parametrize(
    "env",
    [
        [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
        [{"name": "DB_PASSWORD_FILE", "value": "/etc/db/password"}],
        [{"name": "DB_PASSWORD", "value": "/etc/db/password"}],
        [{"name": "DB_PASSWORD", "value": UNKNOWN}],
        [{"name": "TOKEN_AUDIENCE", "value": "vault"}],
    ],
)
def test_credential_references_are_not_literals(env):
    report = run([deployment("a", "kubeflow", f"{MIRROR}/a:1@{SHA}", resources=GOOD_RESOURCES, env=env)])
    assert found(report, "no-credential-literals") == [] and report.not_run == []


# --------------------------------------------------------------------------------------------
# stateful-resources-protected
# --------------------------------------------------------------------------------------------

def test_unprotected_stateful_resource_fails_on_prod_only(prod_resources, sandbox):
    tampered = copy.deepcopy(prod_resources)
    by_name(tampered, "team-vision-namespace")["protect"] = False
    assert found(run(tampered, only="stateful-resources-protected"), "stateful-resources-protected") == [
        "a tenant namespace (team-vision) must be protected against deletion (protect=True)"]
    sandbox_resources = recorded(sandbox)
    assert not any(r["protect"] for r in sandbox_resources if r["name"].endswith("-namespace"))
    assert found(run(sandbox_resources, "sandbox", only="stateful-resources-protected"), "stateful-resources-protected") == []


def test_every_stateful_resource_of_the_data_tier_is_guarded(prod_resources):
    """Each resource the data tier protects in prod, and ESO's release, fails once unprotected."""
    from tests.data.test_safety import STATEFUL

    for type_, name in [*STATEFUL, ("kubernetes:helm.sh/v3:Release", "eso-release")]:
        tampered = copy.deepcopy(prod_resources)
        target = next(r for r in tampered if r["type"] == type_ and r["name"] == name)
        target["protect"] = False
        violations = [v for v in run(tampered, only="stateful-resources-protected").violations if v.policy == "stateful-resources-protected"]
        assert len(violations) == 1 and violations[0].urn == target["urn"], (type_, name, violations)


# --------------------------------------------------------------------------------------------
# no-internet-network-policy, explicit-object-names
# --------------------------------------------------------------------------------------------

def test_internet_network_policy_is_refused_and_named_peers_pass(prod_report):
    assert found(prod_report, "no-internet-network-policy") == []
    policy = k8s("kubernetes:networking.k8s.io/v1:NetworkPolicy", "p", "t", {"spec": {
        "podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": UNKNOWN}}, {"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}})
    report = run([policy])
    assert found(report, "no-internet-network-policy") == ["NetworkPolicy t/p opens egress to 0.0.0.0/0"]
    assert report.not_run == []


def test_auto_named_object_is_advisory(prod_report):
    assert found(prod_report, "explicit-object-names") == []
    nameless = resource("kubernetes:core/v1:ConfigMap", "cm", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    computed = resource("kubernetes:core/v1:ConfigMap", "cm2", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                "metadata": {"name": UNKNOWN}})
    report = run([nameless, computed], only="explicit-object-names")
    (violation,) = report.violations
    assert violation.level == "advisory" and violation.urn.endswith("::cm") and report.not_run == []


# --------------------------------------------------------------------------------------------
# workload-requests-limits
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "resources, missing",
    [
        (GOOD_RESOURCES, None),
        ({"requests": {"cpu": "1", "memory": "1Gi"}}, "limits.memory"),
        ({"limits": {"memory": "1Gi"}}, "requests.cpu, requests.memory"),
        ({}, "requests.cpu, requests.memory, limits.memory"),
        (None, "requests.cpu, requests.memory, limits.memory"),
    ],
)
def test_workloads_set_requests_and_limits(resources, missing):
    report = run([deployment("app", "kubeflow", f"{MIRROR}/a:1@{SHA}", resources=resources)])
    messages = found(report, "workload-requests-limits")
    assert messages == ([] if missing is None else [f"kubeflow/app: containers[0] (app) has no {missing}"])


def test_the_data_tier_crs_are_checked_too(prod_resources, prod_report):
    assert found(prod_report, "workload-requests-limits") == []
    tampered = copy.deepcopy(prod_resources)
    del by_name(tampered, "galera")["inputs"]["spec"]["resources"]["limits"]
    by_name(tampered, "kubeflow-minio")["inputs"]["spec"]["pools"][0]["resources"] = {}
    assert found(run(tampered, only="workload-requests-limits"), "workload-requests-limits") == [
        "MariaDB kubeflow-db/galera: spec.resources has no limits.memory",
        "MinIO Tenant kubeflow-minio/kubeflow-minio: spec.pools[0].resources has no requests.cpu, requests.memory, "
        "limits.memory",
    ]


def test_unknown_resources_are_not_reported_as_missing():
    report = run([deployment("app", "kubeflow", f"{MIRROR}/a:1@{SHA}", resources=UNKNOWN),
                  deployment("b", "kubeflow", f"{MIRROR}/b:1@{SHA}", resources={"requests": UNKNOWN, "limits": {}})])
    assert found(report, "workload-requests-limits") == ["kubeflow/b: containers[0] (b) has no limits.memory"]
    assert report.not_run == []


# --------------------------------------------------------------------------------------------
# tenant-isolation
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "removed, problem",
    [
        ("team-nlp-default-deny", "tenant namespace team-nlp has no default-deny NetworkPolicy"),
        ("team-nlp-quota", "tenant namespace team-nlp has no ResourceQuota"),
        ("team-nlp-limits", "tenant namespace team-nlp has no LimitRange"),
    ],
)
def test_each_tenant_keeps_default_deny_quota_and_limits(prod_resources, prod_report, removed, problem):
    assert found(prod_report, "tenant-isolation") == []
    tampered = [r for r in prod_resources if r["name"] != removed]
    assert len(tampered) == len(prod_resources) - 1, removed
    assert found(run(tampered, only="tenant-isolation"), "tenant-isolation") == [problem]


def test_a_default_deny_that_allows_something_is_not_one(prod_resources):
    tampered = copy.deepcopy(prod_resources)
    by_name(tampered, "team-nlp-default-deny")["inputs"]["spec"]["egress"] = [{}]  # allow all egress
    assert found(run(tampered, only="tenant-isolation"), "tenant-isolation") == ["tenant namespace team-nlp has no default-deny NetworkPolicy"]


def test_gpu_quotas_name_only_resources_the_pools_supply(prod_resources):
    tampered = copy.deepcopy(prod_resources)
    hard = by_name(tampered, "team-nlp-quota")["inputs"]["spec"]["hard"]
    hard["requests.nvidia.com/mig-7g.80gb"] = "2"  # the pools' layouts have no 7g slice
    hard["requests.nvidia.com/mig-1g.5gb"] = "0"  # a zero quota grants nothing: fine
    (message,) = found(run(tampered, only="tenant-isolation"), "tenant-isolation")
    assert message.startswith("ResourceQuota team-nlp/tenant-quota grants requests.nvidia.com/mig-7g.80gb=2, "
                              "which no GPU pool supplies (pools supply: nvidia.com/gpu, nvidia.com/mig-1g.10gb, "
                              "nvidia.com/mig-2g.20gb, nvidia.com/mig-3g.40gb)")
    # The full-GPU pool gone (its nodes left the stack): quotas on nvidia.com/gpu name nothing.
    no_full_gpus = [r for r in prod_resources if "h100-train" not in r["name"]]
    messages = found(run(no_full_gpus, only="tenant-isolation"), "tenant-isolation")
    assert messages and all("requests.nvidia.com/gpu=" in m for m in messages)


def test_tenant_checks_hold_with_unknown_values(prod_resources):
    tampered = copy.deepcopy(prod_resources)
    for r in tampered:
        labels = (r["inputs"].get("metadata") or {}).get("labels") if isinstance(r["inputs"], dict) else None
        if labels and "kfplatform.io/cost-center" in labels:
            labels["kfplatform.io/cost-center"] = UNKNOWN
    tampered = [r for r in tampered if r["name"] != "team-vision-limits"]
    report = run(tampered, only="tenant-isolation")
    assert found(report, "tenant-isolation") == ["tenant namespace team-vision has no LimitRange"]
    assert report.not_run == []


# --------------------------------------------------------------------------------------------
# ha-floors
# --------------------------------------------------------------------------------------------

def _ha(resources):
    return found(run(resources, only="ha-floors"), "ha-floors")


def test_prod_meets_every_ha_floor(prod_report):
    assert found(prod_report, "ha-floors") == []


@pytest.mark.parametrize(
    "name, mutate, problem",
    [
        ("ha-ml-pipeline-hpa", lambda i: i["spec"].update(minReplicas=1),
         "kubeflow/ml-pipeline runs 1 replica(s), below the floor of 2"),
        ("ha-metadata-grpc-deployment-hpa", lambda i: i["spec"]["scaleTargetRef"].update(name="metadata-grpc"),
         "kubeflow/metadata-grpc-deployment: no HorizontalPodAutoscaler or Deployment holds it at >= 2 replicas"),
        ("Deployment:proxysql", lambda i: i["spec"].update(replicas=1), "kubeflow-db/proxysql runs 1 replica(s), below the floor of 2"),
        ("galera", lambda i: i["spec"].update(replicas=4),
         "Galera kubeflow-db/galera has 4 nodes: it needs an odd number >= 3 to keep quorum through a node loss"),
        ("galera", lambda i: i["spec"]["galera"].update(enabled=False), "MariaDB kubeflow-db/galera is not a Galera cluster"),
        ("kubeflow-minio", lambda i: i["spec"]["pools"][0].update(servers=3, volumesPerServer=4),
         "MinIO pool pool-0: 3 servers, below 4"),
    ],
)
def test_ha_floor_regressions_are_caught(prod_resources, name, mutate, problem):
    tampered = copy.deepcopy(prod_resources)
    mutate(by_name(tampered, name)["inputs"])
    messages = _ha(tampered)
    assert problem in messages, messages


def test_an_unknown_replica_count_skips_only_that_check(prod_resources):
    tampered = copy.deepcopy(prod_resources)
    by_name(tampered, "ha-ml-pipeline-hpa")["inputs"]["spec"]["minReplicas"] = UNKNOWN
    tampered = [r for r in tampered if r["name"] != "ha-ml-pipeline-pdb"]
    report = run(tampered, only="ha-floors")
    assert found(report, "ha-floors") == ["kubeflow/ml-pipeline has no PodDisruptionBudget"] and report.not_run == []


def test_a_ha_target_without_pdb_is_caught(prod_resources):
    pdbs = [r["name"] for r in prod_resources if r["type"].endswith(":PodDisruptionBudget")]
    for name in ("ha-ml-pipeline-ui-pdb", "proxysql-pdb"):
        assert name in pdbs, pdbs
    tampered = [r for r in prod_resources if r["name"] not in ("ha-ml-pipeline-ui-pdb", "proxysql-pdb")]
    assert _ha(tampered) == ["kubeflow-db/proxysql has no PodDisruptionBudget",
                             "kubeflow/ml-pipeline-ui has no PodDisruptionBudget"]


def test_minio_parity_must_survive_the_configured_failure_domain(prod_resources):
    tampered = copy.deepcopy(prod_resources)
    env = by_name(tampered, "kubeflow-minio-kubeflow-minio-env")["inputs"]["spec"]["target"]["template"]["data"]
    env["config.env"] = env["config.env"].replace("EC:4", "EC:2")
    assert _ha(tampered) == ["MinIO pool pool-0: losing one zone takes 2 of 6 servers; EC:2 on 6x2 drives keeps writes through 1"]
    # The same geometry only has to survive a node where the stack's failure domain is a node.
    cfg = config("prod")
    level, props = cfg["ha-floors"]
    cfg["ha-floors"] = (level, {**props, "failureDomain": {"kind": "node"}})
    assert found(run(tampered, cfg=cfg, only="ha-floors"), "ha-floors") == []
    # Unknown during preview (first deploy: the template is computed): the pool-size check still runs.
    env["config.env"] = UNKNOWN
    by_name(tampered, "kubeflow-minio")["inputs"]["spec"]["pools"][0]["servers"] = 2
    report = run(tampered, only="ha-floors")
    assert found(report, "ha-floors") == ["MinIO pool pool-0: 2 servers, below 4"] and report.not_run == []


def test_the_policys_erasure_arithmetic_is_the_data_tiers():
    from kfplatform.data import erasure

    for servers in range(1, 17):
        for volumes in range(1, 9):
            assert checks.erasure_set_size(servers, volumes) == erasure.erasure_set_size(servers, volumes)
            for parity in range(0, 9):
                assert checks.servers_tolerated(servers, volumes, parity) == erasure.servers_tolerated(servers, volumes, parity)


# --------------------------------------------------------------------------------------------
# credential-rotation
# --------------------------------------------------------------------------------------------

def test_generated_credentials_rotate_within_the_maximum_age(prod_resources, prod_report):
    assert found(prod_report, "credential-rotation") == []
    tampered = copy.deepcopy(prod_resources)
    by_name(tampered, "platform-database-kfp-rotation")["inputs"]["rotationDays"] = 120
    kfp_key = by_name(tampered, "tenants-team-nlp-object-store-access_key")
    kfp_key["dependencies"] = []
    del kfp_key["inputs"]["keepers"]
    assert found(run(tampered, only="credential-rotation"), "credential-rotation") == [
        "platform-database-kfp-password rotates every 120 days, above the maximum age of 90",
        "tenants-team-nlp-object-store-access_key is a generated credential that never rotates",
    ]


def test_manually_rotated_credentials_are_listed_in_the_pack_config(prod_resources):
    cfg = config("prod")
    level, props = cfg["credential-rotation"]
    assert "platform-database-root-password" in props["manuallyRotated"]
    cfg["credential-rotation"] = (level, {**props, "manuallyRotated": []})
    assert found(run(prod_resources, cfg=cfg, only="credential-rotation"), "credential-rotation") == [
        "platform-database-root-password is a generated credential that never rotates",
        "platform-object-store-root-password is a generated credential that never rotates",
        "platform-object-store-root-user is a generated credential that never rotates",
    ]


def test_rotation_is_checked_on_first_deploy_when_keepers_are_unknown(prod_resources):
    tampered = copy.deepcopy(prod_resources)
    for r in tampered:
        if r["type"] == "random:index/randomPassword:RandomPassword" and "keepers" in r["inputs"]:
            r["inputs"]["keepers"]["rotation"] = UNKNOWN  # the Rotating's output, unknown before it exists
    by_name(tampered, "platform-database-mlmd-rotation")["inputs"]["rotationDays"] = 365
    report = run(tampered, only="credential-rotation")
    assert found(report, "credential-rotation") == [
        "platform-database-mlmd-password rotates every 365 days, above the maximum age of 90"]
    assert report.not_run == []


# --------------------------------------------------------------------------------------------
# restricted-namespaces-non-root
# --------------------------------------------------------------------------------------------

RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}


@pytest.mark.parametrize(
    "security, ok",
    [
        ({"runAsNonRoot": True, "runAsUser": 1000}, True),
        ({"runAsNonRoot": True, "runAsUser": 0}, False),
        ({"runAsUser": 1000}, False),  # without runAsNonRoot the image's USER decides
        (None, False),
        ({"runAsNonRoot": UNKNOWN}, False),
    ],
)
def test_workloads_in_restricted_namespaces_run_as_non_root(security, ok):
    namespace = k8s("kubernetes:core/v1:Namespace", "secure", None, {}, labels=RESTRICTED)
    app = deployment("app", "secure", f"{MIRROR}/a:1@{SHA}", resources=GOOD_RESOURCES, security=security)
    elsewhere = deployment("app", "relaxed", f"{MIRROR}/a:1@{SHA}", resources=GOOD_RESOURCES)
    report = run([namespace, app, elsewhere])
    messages = found(report, "restricted-namespaces-non-root")
    assert messages == ([] if ok else ["secure/app runs in a restricted namespace but containers[0] (app) may run as root"])
    assert report.not_run == []


def test_no_rendered_namespace_is_restricted_yet(prod_resources, prod_report):
    """The policy has nothing to judge in today's prod render: no Namespace enforces `restricted`
    (the data tier's is audited and warned at restricted, and its pods meet it: tests/render)."""
    enforced = [r["inputs"]["metadata"]["name"] for r in prod_resources if r["type"] == "kubernetes:core/v1:Namespace"
                and (r["inputs"]["metadata"].get("labels") or {}).get("pod-security.kubernetes.io/enforce") == "restricted"]
    assert enforced == []
    assert found(prod_report, "restricted-namespaces-non-root") == []


# --------------------------------------------------------------------------------------------
# signed-artifact-admission
# --------------------------------------------------------------------------------------------

def _regulated_objects(with_vap=True, with_binding=True, with_cip=True, *, opted_in=True, actions=("Deny",),
                       failure_policy="Fail", mode="enforce") -> list[dict]:
    labels = {"kfplatform.io/tenant": "team-nlp", "kfplatform.io/compliance": "regulated"}
    if opted_in:
        labels["policy.sigstore.dev/include"] = "true"
    objs = [k8s("kubernetes:core/v1:Namespace", "team-nlp", None, {}, labels=labels)]
    if with_vap:
        objs.append(k8s("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
                        "kfplatform-regulated-inference", None,
                        {"spec": {"validations": [], "failurePolicy": failure_policy}}))
    if with_binding:
        objs.append(k8s("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
                        "kfplatform-regulated-inference", None, {"spec": {
                            "policyName": "kfplatform-regulated-inference", "validationActions": list(actions),
                            "matchResources": {"namespaceSelector": {"matchLabels": {"kfplatform.io/compliance": "regulated"}}}}}))
    if with_cip:
        objs.append(k8s("kubernetes:policy.sigstore.dev/v1beta1:ClusterImagePolicy", "kfplatform-signed-images", None,
                        {"spec": {"images": [{"glob": f"{MIRROR}/**"}], "mode": mode}}))
    return objs


NO_BINDING = ("namespaces team-nlp are regulated but no ValidatingAdmissionPolicyBinding of kfplatform-regulated-inference "
              "denies (validationActions: [Deny]) in namespaces labelled kfplatform.io/compliance=regulated")


def test_regulated_namespaces_need_the_signed_artifact_policies():
    assert found(run(_regulated_objects()), "signed-artifact-admission") == []
    messages = found(run(_regulated_objects(False, False, False)), "signed-artifact-admission")
    assert messages == sorted([
        "namespaces team-nlp are regulated but Sigstore ClusterImagePolicy kfplatform-signed-images is not rendered",
        "namespaces team-nlp are regulated but ValidatingAdmissionPolicy kfplatform-regulated-inference is not rendered",
        NO_BINDING,
    ])
    assert found(run(_regulated_objects(with_binding=False)), "signed-artifact-admission") == [NO_BINDING]


@pytest.mark.parametrize("change, expected", [
    ({"opted_in": False}, "regulated namespace team-nlp lacks label policy.sigstore.dev/include=true"),
    ({"actions": ("Warn", "Audit")}, NO_BINDING),
    ({"failure_policy": "Ignore"}, "kfplatform-regulated-inference has failurePolicy Ignore"),
    ({"mode": "warn"}, "ClusterImagePolicy kfplatform-signed-images is in mode warn"),
])
def test_regulated_namespaces_need_policies_that_refuse(change, expected):
    """Present is not enough: an admission check that only warns, fails open, or never sees the
    namespace's images admits what it was rendered to refuse."""
    messages = found(run(_regulated_objects(**change)), "signed-artifact-admission")
    assert len(messages) == 1 and messages[0].startswith(expected), messages


def test_a_regulated_namespace_with_an_unknown_name_does_not_stop_the_check():
    """Preview with a computed namespace name: the known regulated namespace is still checked."""
    objects = _regulated_objects(opted_in=False)
    unknown = k8s("kubernetes:core/v1:Namespace", "x", None, {}, labels={"kfplatform.io/compliance": "regulated"})
    unknown["inputs"]["metadata"]["name"] = UNKNOWN
    report = run(objects + [unknown])
    messages = found(report, "signed-artifact-admission")
    assert len(messages) == 1 and messages[0].startswith("regulated namespace team-nlp lacks label"), messages


def test_a_stack_can_require_signed_images_without_regulated_tenants():
    plain = [k8s("kubernetes:core/v1:Namespace", "team-nlp", None, {}, labels={"kfplatform.io/tenant": "team-nlp"})]
    assert found(run(plain), "signed-artifact-admission") == []
    cfg = config("prod")
    level, props = cfg["signed-artifact-admission"]
    cfg["signed-artifact-admission"] = (level, {**props, "requireSignedImages": True})
    assert found(run(plain, cfg=cfg, only="signed-artifact-admission"), "signed-artifact-admission") == [
        "the stack requires signed images but Sigstore ClusterImagePolicy kfplatform-signed-images is not rendered"]


def test_prod_renders_the_regulated_tenants_policies(prod_report):
    """team-forecasting is regulated in prod: the render carries everything the policy asks for."""
    assert found(prod_report, "signed-artifact-admission") == []


def test_the_remaining_policies_enforce_known_fields_next_to_unknown_ones():
    defaults = k8s("kubernetes:core/v1:ConfigMap", "kfp-platform-defaults", "team-nlp",
                   {"data": {"pipIndexUrl": "https://pypi.org/simple", "baseImage": UNKNOWN}})
    namespace = k8s("kubernetes:core/v1:Namespace", "team-x", None, {},
                    labels={"kfplatform.io/tenant": "team-x", "kfplatform.io/cost-center": UNKNOWN,
                            "kfplatform.io/compliance": "regulated"})
    computed = k8s("kubernetes:core/v1:Namespace", "other", None, {}, labels={"kfplatform.io/compliance": UNKNOWN})
    report = run([defaults, namespace, computed])
    assert report.not_run == []
    assert found(report, "pipeline-sources-internal") == [
        "data.pipIndexUrl: points at the public package index pypi.org ('https://pypi.org/simple')"]
    assert found(report, "stateful-resources-protected") == [
        "a tenant namespace (team-x) must be protected against deletion (protect=True)"]
    assert len(found(report, "signed-artifact-admission")) == 4  # three missing objects, and the namespace is not opted in to signature checks
    assert "tenant namespace team-x has no ResourceQuota" in found(report, "tenant-isolation")
