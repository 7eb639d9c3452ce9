"""What the install Applications build, checked the way the API server and kubelet would use it.

The schema validator sees the Applications, not what Argo CD builds from them; these tests build
the stand-ins of upstream (tests/kubeflow/upstream_fixture/, names, labels and Secret references
as upstream ships them) with the prod Applications' kustomize settings, through real kustomize,
and check the semantics a schema cannot:
- every Secret a built Deployment reads exists: in the build, or delivered by an ExternalSecret of
  the render into that namespace *with that key*, or issued by upstream's own machinery (listed);
- every environment variable Dex's config reads is in the environment the Deployment gets;
- each HPA targets a Deployment that exists, its PDB and spread select that Deployment's pods,
  the floor is the replica count, no second HPA/PDB targets it, and no patch adds a container.
"""
from __future__ import annotations

import pytest
import yaml

from kfplatform.kubeflow.release import HA_WORKLOADS

from .conftest import app
from .test_kustomize_semantics import FIXTURES, build

# Components with a stand-in of their upstream objects.
BUILT = ("pipelines", "katib", "dex", "oauth2-proxy", "istio-install")
# Secrets neither in the build nor ours: issued in the cluster by upstream's own objects
# (cert-manager Certificates of the KFP cert-manager install). (namespace, name)
UPSTREAM_ISSUED_SECRETS = {("kubeflow", "webhook-server-tls")}


@pytest.fixture(scope="module")
def builds(prod, tmp_path_factory) -> dict[str, tuple[dict, dict]]:
    """component -> (upstream stand-in as built alone, built with the prod Application's settings)."""
    out = {}
    for component in BUILT:
        kustomize = app(prod, component)["spec"]["source"]["kustomize"]
        plain = build(tmp_path_factory.mktemp(f"{component}-plain"), component, {})
        patched = build(tmp_path_factory.mktemp(f"{component}-patched"), component, kustomize)
        out[component] = (plain, patched)
    return out


def destination(result, component: str) -> str:
    return app(result, component)["spec"]["destination"]["namespace"]


def delivered_keys(result, namespace: str, name: str) -> set[str] | None:
    """Keys of the Secret an ExternalSecret of the render writes as `namespace/name`; None if none does."""
    for o in result.kubernetes_objects():
        if o["kind"] != "ExternalSecret" or o["metadata"].get("namespace") != namespace:
            continue
        target = o["spec"]["target"]
        if target.get("name", o["metadata"]["name"]) != name:
            continue
        template = (target.get("template") or {}).get("data")
        return set(template) if template else {d["secretKey"] for d in o["spec"].get("data", [])}
    return None


def secret_references(deployment: dict):
    """(secret name, key or None for the whole Secret, optional) of every Secret the pods read."""
    spec = deployment["spec"]["template"]["spec"]
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        for env in container.get("env", []):
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                yield ref["name"], ref["key"], bool(ref.get("optional"))
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                yield source["secretRef"]["name"], None, bool(source["secretRef"].get("optional"))
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            yield volume["secret"]["secretName"], None, bool(volume["secret"].get("optional"))


def secret_keys(result, objects: dict, namespace: str, name: str) -> set[str] | None:
    """Keys of Secret namespace/name as the cluster will hold it; None if nothing makes it."""
    built = objects.get(("Secret", name))
    if built is not None:
        return set(built.get("data", {})) | set(built.get("stringData", {}))
    return delivered_keys(result, namespace, name)


@pytest.mark.parametrize("component", BUILT)
def test_every_secret_a_built_deployment_reads_exists_with_its_key(prod, builds, component):
    _, objects = builds[component]
    namespace = destination(prod, component)
    deployments = [o for (kind, _), o in objects.items() if kind == "Deployment"]
    assert deployments
    for deployment in deployments:
        ns = deployment["metadata"].get("namespace", namespace)
        for name, key, optional in secret_references(deployment):
            if optional or (ns, name) in UPSTREAM_ISSUED_SECRETS:
                continue
            keys = secret_keys(prod, objects, ns, name)
            where = f"{component}: Deployment {deployment['metadata']['name']} reads Secret {ns}/{name}"
            assert keys is not None, f"{where}, which nothing creates"
            assert key is None or key in keys, f"{where} key {key!r}; it has {sorted(keys)}"


def test_the_examples_upstream_ships_are_not_what_runs(builds):
    """Dropped example Secrets and stores are really gone from the built output."""
    gone = {
        "pipelines": {("Secret", "mysql-secret"), ("Secret", "mlpipeline-minio-artifact")},
        "katib": {("Secret", "katib-mysql-secrets"), ("Deployment", "katib-mysql"), ("PersistentVolumeClaim", "katib-mysql")},
        "dex": {("Secret", "dex-oidc-client"), ("Secret", "dex-passwords")},
    }
    for component, objects in gone.items():
        assert not objects & set(builds[component][1]), component
    assert not [k for k in builds["oauth2-proxy"][1] if k[0] == "Secret"]  # the generated example Secret too


def _env_names_dex_reads(config: dict) -> set[str]:
    """Variables Dex expands: `*Env` fields (idEnv, secretEnv, hashFromEnv) and `$VAR` strings."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key.endswith("Env") and isinstance(value, str):
                    found.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str) and node.startswith("$"):
            found.add(node[1:])

    walk(config)
    return found


@pytest.mark.parametrize("stack", ["prod", "sandbox"])
def test_every_variable_the_dex_config_reads_is_in_its_environment(request, stack, tmp_path):
    result = request.getfixturevalue(stack)
    objects = build(tmp_path, "dex", app(result, "dex")["spec"]["source"]["kustomize"])
    config = yaml.safe_load(objects[("ConfigMap", "dex")]["data"]["config.yaml"])
    (container,) = objects[("Deployment", "dex")]["spec"]["template"]["spec"]["containers"]
    environment = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        keys = secret_keys(result, objects, "auth", source["secretRef"]["name"])
        assert keys is not None, source
        environment |= keys
    needed = _env_names_dex_reads(config)
    assert {"OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "UPSTREAM_OIDC_CLIENT_SECRET"} <= needed
    assert needed <= environment, sorted(needed - environment)
    if stack == "prod":  # no password database, so no password hash in its environment
        assert "dex-passwords" not in {s["secretRef"]["name"] for s in container["envFrom"]}


def _labels_select(selector: dict, labels: dict) -> bool:
    return selector.items() <= labels.items()


@pytest.mark.parametrize("key", sorted(HA_WORKLOADS))
def test_hpa_pdb_and_spread_match_the_built_upstream_deployment(prod, builds, key):
    workload = HA_WORKLOADS[key]
    plain, objects = builds[workload.component]
    ns = destination(prod, workload.component)
    deployment = objects.get(("Deployment", workload.deployment))
    assert deployment is not None, f"no Deployment {workload.deployment} in the built {workload.component}"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    hpa = prod.find("HorizontalPodAutoscaler", workload.deployment, ns)
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert deployment["spec"]["replicas"] == hpa["spec"]["minReplicas"]
    pdb = prod.find("PodDisruptionBudget", workload.deployment, ns)
    assert _labels_select(pdb["spec"]["selector"]["matchLabels"], pod_labels), (pdb["spec"]["selector"], pod_labels)
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread and all(_labels_select(c["labelSelector"]["matchLabels"], pod_labels) for c in spread)
    assert all(c["nodeTaintsPolicy"] == "Honor" for c in spread)
    if workload.deployment == "dex":  # the config hash reaches the pod template: a new config rolls Dex
        assert "kfplatform.io/dex-config-hash" in deployment["spec"]["template"]["metadata"]["annotations"]

    # Ours are the only HPA and PDB for it (two HPAs on one Deployment fight; upstream's floor is 1).
    assert not [o for (kind, _), o in objects.items() if kind == "HorizontalPodAutoscaler"
                and o["spec"]["scaleTargetRef"]["name"] == workload.deployment]
    assert not [o for (kind, _), o in objects.items() if kind == "PodDisruptionBudget"
                and _labels_select(o["spec"]["selector"].get("matchLabels", {}), pod_labels)]
    # A patch naming a container upstream does not have would add one (no image): the names match.
    names = [c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    upstream = plain[("Deployment", workload.deployment)]["spec"]["template"]["spec"]["containers"]
    assert names == [c["name"] for c in upstream]
    assert workload.container in names


def test_every_fixture_is_used():
    """A stand-in nobody builds checks nothing."""
    # workloads and kubeflow-roles: built by test_kustomize_semantics.py
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} == {*BUILT, "workloads", "kubeflow-roles"}
