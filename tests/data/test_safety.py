"""Deletion protection of stateful resources, no secret material in the render, pinned releases."""
import pytest

from kfplatform.data import releases
from kfplatform.images import DIGEST, is_digest_pinned

from .helpers import resource

STATEFUL = [
    ("kubernetes:storage.k8s.io/v1:StorageClass", "data-storage-class"),
    ("kubernetes:k8s.mariadb.com/v1alpha1:MariaDB", "galera"),
    ("kubernetes:minio.min.io/v2:Tenant", "kubeflow-minio"),
    ("kubernetes:helm.sh/v3:Release", "mariadb-operator-crds"),
    ("kubernetes:helm.sh/v3:Release", "minio-operator"),  # its templates hold the Tenant CRD
    *[("kubernetes:k8s.mariadb.com/v1alpha1:Database", f"db-{db}") for db in ("mlpipeline", "cachedb", "metadb", "katib")],
    *[("minio:index/s3Bucket:S3Bucket", f"bucket-{role}") for role in ("artifacts", "backups", "audit")],
]


@pytest.mark.parametrize("type_, name", STATEFUL)
def test_stateful_resources_are_protected_in_prod_only(prod, sandbox, type_, name):
    assert resource(prod, type_, name).protect is True
    assert resource(sandbox, type_, name).protect is False  # the restore-drill stack is torn down


def test_resources_json_shows_the_protection(prod, tmp_path):
    import json

    from kfplatform.render.output import write_render

    write_render(prod, tmp_path)
    rows = json.loads((tmp_path / "resources.json").read_text())
    protected = {(r["type"], r["name"]) for r in rows if r["protect"]}
    assert set(STATEFUL) <= protected


def test_no_kubernetes_secret_carries_data_anywhere(each_stack):
    for obj in each_stack.kubernetes_objects():
        if obj["kind"] == "Secret":
            assert not obj.get("data") and not obj.get("stringData"), obj["metadata"]
    for r in each_stack.resources:
        assert not r.type.startswith("kubernetes:core/v1:Secret"), r.name


def test_no_generated_value_appears_in_a_manifest(each_stack):
    import json

    # Under the mocks every RandomPassword result is `mock-password-...`: none may reach an object.
    assert any(r.type == "random:index/randomPassword:RandomPassword" for r in each_stack.resources)
    assert "mock-password-" not in json.dumps(each_stack.kubernetes_objects())


def _images(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "image" and isinstance(item, str):
                yield item
            elif key == "image" and isinstance(item, dict) and "repository" in item:
                yield f"{item['repository']}:{item['tag']}"
            else:
                yield from _images(item)
    elif isinstance(value, list):
        for item in value:
            yield from _images(item)


def test_every_data_tier_image_is_digest_pinned_from_the_mirror(each_stack):
    data_types = ("kubernetes:k8s.mariadb.com/", "kubernetes:minio.min.io/", "kubernetes:helm.sh/", "kubernetes:apps/v1:")
    data_tier = each_stack.under("kfplatform:data:DataTier")
    refs = [ref for r in data_tier if r.type.startswith(data_types) for ref in _images(r.inputs)]
    refs += [e["value"] for r in each_stack.resources if r.name == "minio-operator" for e in r.inputs["values"]["operator"]["env"] if "IMAGE" in e["name"]]
    assert len(refs) >= 10
    for ref in refs:
        assert is_digest_pinned(ref) and ref.startswith("registry.ml.example.com/mirror/"), ref


def test_charts_are_pinned_to_exact_versions(prod):
    for name, chart in (("mariadb-operator-crds", releases.MARIADB_OPERATOR_CRDS_CHART),
                        ("mariadb-operator", releases.MARIADB_OPERATOR_CHART), ("minio-operator", releases.MINIO_OPERATOR_CHART)):
        inputs = resource(prod, "kubernetes:helm.sh/v3:Release", name).inputs
        assert inputs["version"] == chart.version and inputs["version"][0].isdigit()
        assert inputs["repositoryOpts"]["repo"] == chart.repo


def test_a_digest_is_either_verified_with_its_source_or_the_loud_placeholder():
    for pinned in releases.ALL_IMAGES:
        assert DIGEST.match(pinned.image.digest)
        if pinned.verified:
            assert pinned.source, pinned.image.path
        else:
            assert pinned.image.digest == releases.PLACEHOLDER_DIGEST and not pinned.source


def test_mariadb_operator_crds_are_installed_by_their_own_release(prod):
    values = resource(prod, "kubernetes:helm.sh/v3:Release", "mariadb-operator").inputs["values"]
    assert values["crds"] == {"enabled": False}
    assert values["ha"] == {"enabled": True, "replicas": 2} and values["pdb"]["enabled"] is True


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()) and all(
        (labels.get(e["key"]) in e["values"]) == (e["operator"] == "In") for e in selector.get("matchExpressions") or []
    )


def test_minio_operator_replicas_are_kept_apart_by_labels_their_pods_carry(each_stack):
    """Chart 7.1.1's pods carry `app.kubernetes.io/name: operator` and `app.kubernetes.io/instance:
    <release>` (helm/operator/templates/_helpers.tpl, operator-deployment.yaml at minio/operator
    v7.1.1); its default anti-affinity selects `name: minio-operator`, which matches none of them."""
    release = resource(each_stack, "kubernetes:helm.sh/v3:Release", "minio-operator")
    pod_labels = {"app.kubernetes.io/name": release.inputs["chart"], "app.kubernetes.io/instance": release.inputs["name"]}
    upstream_default = {"matchExpressions": [{"key": "name", "operator": "In", "values": ["minio-operator"]}]}
    assert not _selects(upstream_default, pod_labels)
    operator = release.inputs["values"]["operator"]
    terms = operator["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert [t["topologyKey"] for t in terms] == ["kubernetes.io/hostname"]
    assert all(_selects(t["labelSelector"], pod_labels) for t in terms)
    if operator["replicaCount"] > 1:
        (spread,) = operator["topologySpreadConstraints"]
        assert _selects(spread["labelSelector"], pod_labels) and spread["topologyKey"] == "topology.kubernetes.io/zone"


def test_minio_operator_values_use_only_keys_chart_7_1_1_has(each_stack):
    values = resource(each_stack, "kubernetes:helm.sh/v3:Release", "minio-operator").inputs["values"]
    assert set(values) <= {"operator"}, "chart 7.1.1's values.yaml has only `operator` (no `console`)"
    assert set(values["operator"]) <= {
        "env", "serviceAccountAnnotations", "additionalLabels", "image", "sidecarImage", "imagePullSecrets",
        "runtimeClassName", "initContainers", "replicaCount", "securityContext", "containerSecurityContext",
        "volumes", "volumeMounts", "nodeSelector", "priorityClassName", "affinity", "tolerations",
        "topologySpreadConstraints", "resources",
    }
