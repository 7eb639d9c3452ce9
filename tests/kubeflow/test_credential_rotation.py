"""Consumers that read a credential once, at start, restart when it rotates.

Which Deployments read which credential is derived from the data tier's contract
(data/endpoints.py accounts and artifact Secret) and the rendered patches, never listed here.
"""
from kfplatform.data.endpoints import data_endpoints
from kfplatform.kubeflow import patches
from kfplatform.render.run import read_stack_config
from kfplatform.config import load_platform_config
from kfplatform.secrets.plane import ROTATION_ANNOTATION
from tests.conftest import PROJECT_DIR
from tests.secrets.rotation import expected_marker

APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


def endpoints(result):
    raw, _ = read_stack_config(PROJECT_DIR, result.stack)
    config = load_platform_config(result.stack, raw, PROJECT_DIR)
    return config.stack.cluster.namespaces.kubeflow, data_endpoints(config.stack)


def deployment_patches(result):
    """(Application name, parsed Deployment patch) of every Kubeflow Application."""
    for app in [o for o in result.kubernetes_objects() if o["kind"] == "Application" and o["metadata"]["name"].startswith("kubeflow-")]:
        for p in app["spec"]["source"]["kustomize"].get("patches", []):
            if p["target"].get("kind") == "Deployment":
                yield app["metadata"]["name"], patches.parse(p)


def paths_of(result, namespace, secret):
    es = result.find("ExternalSecret", secret, namespace)
    return sorted({d["remoteRef"]["key"] for d in es["spec"]["data"]})


def rotated_credentials(result):
    """Secret name (kubeflow namespace) -> Vault paths, for the data tier's credentials of KFP, MLMD, Katib."""
    namespace, data = endpoints(result)
    secrets = {a.secret_name: a.vault_path for a in data.accounts.values()}
    for secret, path in secrets.items():
        assert paths_of(result, namespace, secret) == [path], secret  # the contract holds
    return namespace, {s: paths_of(result, namespace, s) for s in [*secrets, data.platform_artifact_secret]}


def test_every_consumer_of_a_rotated_credential_restarts_with_its_rotation_marker(each_stack):
    namespace, credentials = rotated_credentials(each_stack)
    readers = {secret: [] for secret in credentials}
    for app, body in deployment_patches(each_stack):
        read = patches.secrets_read(body) & set(credentials)
        annotations = ((body.get("spec") or {}).get("template", {}).get("metadata") or {}).get("annotations") or {}
        if not read:
            assert ROTATION_ANNOTATION not in annotations, (app, body["metadata"]["name"])
            continue
        paths = [p for secret in read for p in paths_of(each_stack, namespace, secret)]
        assert expected_marker(each_stack, paths) is not None
        assert annotations.get(ROTATION_ANNOTATION) == expected_marker(each_stack, paths), (app, body["metadata"]["name"])
        for secret in read:
            readers[secret].append(body["metadata"]["name"])
    # Every credential has a reader among the patched upstream Deployments (the contract is used).
    assert all(readers.values()), readers
    assert {"ml-pipeline", "cache-server"} <= set(readers[data_endpoints_account(each_stack, "kfp")])


def data_endpoints_account(result, key):
    return endpoints(result)[1].accounts[key].secret_name


def test_an_application_waits_for_the_external_secrets_of_the_credentials_it_restarts_on(each_stack):
    """Pulumi updates the ExternalSecrets (ESO refreshes the Secret at once) before Argo CD gets the
    changed pod template: new pods read the new value."""
    namespace, credentials = rotated_credentials(each_stack)
    es_urn = {r.name: r.urn for r in each_stack.by_type(EXTERNAL_SECRET)}
    apps = {r.name: r for r in each_stack.by_type(APPLICATION)}
    checked = 0
    for app, body in deployment_patches(each_stack):
        component = app.removeprefix("kubeflow-")
        for secret in patches.secrets_read(body) & set(credentials):
            assert es_urn[f"{namespace}-{secret}"] in apps[f"install-{component}"].dependencies, (app, secret)
            checked += 1
    assert checked
