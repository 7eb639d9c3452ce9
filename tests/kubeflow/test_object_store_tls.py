"""Every KFP client of the object store trusts the CA that signs MinIO's certificate.

MinIO's certificate comes from the MinIO operator through the Kubernetes CSR API, so the cluster CA
signs it (`kube-root-ca.crt`, key `ca.crt`, in every namespace; kfplatform/data/endpoints.py). No
image trusts that CA by itself. These tests build the pipelines stand-in with each stack's
Application settings through real kustomize and follow each client's trust setting to the file,
the volume and the ConfigMap key behind it:
- ml-pipeline: SSL_CERT_FILE (its own MinIO client) and CABUNDLE_SECRET_NAME, the only CA setting
  KFP 2.15.0 reads (a Secret, key `ca.crt`, in every tenant namespace: ESO copies the ConfigMap);
- pipeline pods: the compiled spec patch mounts that Secret at /kfp/certs in `main` (2.15.0 mounts
  it itself only with KFP's own TLS on) and SSL_CERT_DIR lists /kfp/certs;
- ml-pipeline-ui: NODE_EXTRA_CA_CERTS;
- Argo's executor (artifacts and archived logs): SSL_CERT_FILE in workflow-controller-configmap's
  `executor`, the service-account volume's copy of the same ConfigMap key.
"""
from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from kfplatform.data.endpoints import (
    OBJECT_STORE_CA_CONFIGMAP,
    OBJECT_STORE_CA_KEY,
    SERVICE_ACCOUNT_CA_FILE,
)
from kfplatform.kubeflow import patches
from kfplatform.kubeflow.pipelines import KFP_CA_DIR, executor_config, kfp_patches

from .conftest import app
from .test_install import data_endpoints_of
from .test_kustomize_semantics import build

CLUSTER_CA = (OBJECT_STORE_CA_CONFIGMAP, OBJECT_STORE_CA_KEY)
# Variables through which a container's TLS stack takes extra roots: Go (SSL_CERT_FILE), Node.js.
TRUST_VARIABLES = ("SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS")


@pytest.fixture(scope="module")
def built(each_stack, tmp_path_factory):
    kustomize = app(each_stack, "pipelines")["spec"]["source"]["kustomize"]
    return each_stack, build(tmp_path_factory.mktemp(f"tls-{each_stack.stack}"), "pipelines", kustomize)


def containers(deployment: dict) -> dict[str, dict]:
    return {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def configmap_files(deployment: dict, container: dict) -> dict[str, tuple[str, str]]:
    """Path of each file the container sees from a ConfigMap volume -> (ConfigMap, key)."""
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"].get("volumes", [])}
    files = {}
    for mount in container.get("volumeMounts", []):
        source = volumes[mount["name"]].get("configMap")  # KeyError: a mount without a volume
        if source is None:
            continue
        assert "items" in source, "project only the CA key: a whole-ConfigMap mount would be fragile"
        for item in source["items"]:
            files[f"{mount['mountPath'].rstrip('/')}/{item['path']}"] = (source["name"], item["key"])
    return files


def trusted_ca(deployment: dict, container: dict) -> dict[str, tuple[str, str]]:
    """Trust variable -> (ConfigMap, key) of the file it names; a path to nothing fails here."""
    files, env = configmap_files(deployment, container), env_of(container)
    out = {}
    for name in TRUST_VARIABLES:
        if name in env:
            assert env[name] in files, f"{container['name']}: {name}={env[name]} is not a mounted ConfigMap file"
            out[name] = files[env[name]]
    return out


def test_every_object_store_client_with_tls_trusts_the_ca_that_signs_minio(built):
    """Whatever Deployment talks TLS to the object store (KFP's or UI's variables) has the CA."""
    result, objects = built
    assert data_endpoints_of(result).object_store_secure
    clients = []
    for (kind, name), obj in objects.items():
        if kind != "Deployment":
            continue
        for container in containers(obj).values():
            env = env_of(container)
            if "true" in (env.get("OBJECTSTORECONFIG_SECURE"), env.get("MINIO_SSL")):
                clients.append(name)
                assert CLUSTER_CA in trusted_ca(obj, container).values(), f"{name}/{container['name']}"
    assert sorted(clients) == ["ml-pipeline", "ml-pipeline-ui"]


# Env names kubeflow/pipelines 2.15.0 reads for the custom CA (backend/src/apiserver/common/config.go):
# only the Secret. The ConfigMap/key variables exist from 2.16.0 and would be ignored.
KFP_2_15_CA_ENV = {"CABUNDLE_SECRET_NAME"}
KFP_2_16_ONLY_CA_ENV = {"CABUNDLE_CONFIGMAP_NAME", "CABUNDLE_KEY_NAME"}


def ca_secret_sources(result) -> dict[tuple[str, str], tuple[str, str]]:
    """(namespace, Secret) -> (ConfigMap, key) its `ca.crt` is copied from, per rendered ExternalSecret."""
    out = {}
    for es in result.kubernetes_objects():
        if es["kind"] != "ExternalSecret":
            continue
        template = es["spec"]["target"].get("template") or {}
        for source in template.get("templateFrom") or []:
            for item in source["configMap"]["items"]:
                if item["key"] == OBJECT_STORE_CA_KEY and "data" not in template:
                    out[(es["metadata"]["namespace"], es["spec"]["target"]["name"])] = (source["configMap"]["name"], item["key"])
    return out


def test_api_server_trusts_the_ca_and_hands_it_to_every_pipeline_pod(built):
    result, objects = built
    api = objects[("Deployment", "ml-pipeline")]
    container = containers(api)["ml-pipeline-api-server"]
    assert trusted_ca(api, container) == {"SSL_CERT_FILE": CLUSTER_CA}
    env = env_of(container)
    assert KFP_2_15_CA_ENV <= set(env) and not KFP_2_16_ONLY_CA_ENV & set(env)
    secret = env["CABUNDLE_SECRET_NAME"]
    assert container["image"] == "ghcr.io/kubeflow/kfp-api-server"  # a patch, not a new container
    # Every pipeline pod's `main`: the Secret at /kfp/certs (KFP's volume name and path), and Go's roots.
    pod_patch = json.loads(json.loads(env["COMPILED_PIPELINE_SPEC_PATCH"])["podSpecPatch"])
    (main,) = pod_patch["containers"]
    volumes = {v["name"]: v for v in pod_patch["volumes"]}
    (mount,) = [m for m in main["volumeMounts"] if m["mountPath"] == KFP_CA_DIR]
    assert volumes[mount["name"]]["secret"]["secretName"] == secret and mount["name"] == "ca-secret"
    dirs = env_of(main)["SSL_CERT_DIR"].split(":")
    assert dirs[0] == KFP_CA_DIR and "/etc/ssl/certs" in dirs  # adds the CA, keeps the image's roots
    # The Secret exists in every namespace a run can be in (each tenant's), holding the cluster CA as `ca.crt`.
    sources = ca_secret_sources(result)
    for tenant in result.exports["tenantNamespaces"]:
        assert sources.get((tenant, secret)) == CLUSTER_CA, tenant


def test_the_ca_secret_holds_only_the_ca(each_stack):
    """ESO must read something; the team's key it reads is not written into the CA Secret."""
    from kfplatform.data.endpoints import OBJECT_STORE_CA_SECRET

    found = [es for es in each_stack.kubernetes_objects()
             if es["kind"] == "ExternalSecret" and es["spec"]["target"]["name"] == OBJECT_STORE_CA_SECRET]
    assert len(found) == len(each_stack.exports["tenantNamespaces"])
    for es in found:
        template = es["spec"]["target"]["template"]
        assert "data" not in template and template.get("mergePolicy", "Replace") == "Replace"
        (source,) = template["templateFrom"]
        assert source == {"configMap": {"name": OBJECT_STORE_CA_CONFIGMAP, "items": [{"key": OBJECT_STORE_CA_KEY}]}}


def test_ui_trusts_the_ca(built):
    _, objects = built
    ui = objects[("Deployment", "ml-pipeline-ui")]
    container = containers(ui)["ml-pipeline-ui"]
    assert trusted_ca(ui, container) == {"NODE_EXTRA_CA_CERTS": CLUSTER_CA}
    assert env_of(container)["MINIO_SSL"] == "true"
    assert container["image"] == "ghcr.io/kubeflow/kfp-frontend"


def test_argo_executor_trusts_the_ca_through_the_service_account_volume(built):
    _, objects = built
    config = objects[("ConfigMap", "workflow-controller-configmap")]["data"]
    repository = yaml.safe_load(config["artifactRepository"])["s3"]
    assert repository["insecure"] is False
    assert repository["endpoint"].endswith(":443")
    assert "caSecret" not in repository  # no Secret holding the CA in every namespace
    executor = yaml.safe_load(config["executor"])
    assert executor["imagePullPolicy"] == "IfNotPresent"  # upstream's setting survives the patch
    assert env_of(executor) == {"SSL_CERT_FILE": SERVICE_ACCOUNT_CA_FILE}
    # The kubelet's service-account volume carries kube-root-ca.crt's ca.crt at exactly this path.
    assert CLUSTER_CA == ("kube-root-ca.crt", "ca.crt")
    assert SERVICE_ACCOUNT_CA_FILE == "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"


def test_the_executor_refuses_a_ca_the_service_account_volume_does_not_carry(prod):
    other = dataclasses.replace(data_endpoints_of(prod), object_store_ca_configmap="org-ca-bundle")
    with pytest.raises(ValueError, match="cluster CA"):
        executor_config(other)


def test_without_tls_nothing_is_mounted(prod):
    plain = dataclasses.replace(data_endpoints_of(prod), object_store_secure=False)
    config = _pipelines_config(prod)
    text = json.dumps([patches.parse(p) for p in kfp_patches(plain, config)])
    for marker in ("CABUNDLE_", "SSL_CERT_", "NODE_EXTRA_CA_CERTS", "object-store-ca"):
        assert marker not in text


def _pipelines_config(result):
    from kfplatform.config import load_platform_config
    from kfplatform.render.run import read_stack_config
    from tests.conftest import PROJECT_DIR

    raw, _ = read_stack_config(PROJECT_DIR, result.stack)
    return load_platform_config(result.stack, raw, PROJECT_DIR).stack.kubeflow.pipelines
