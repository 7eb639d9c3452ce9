"""The upstream install: pinned, wired to the data tier, no bundled stores."""
import re

import pytest

from kfplatform.data.endpoints import data_endpoints
from kfplatform.kubeflow.release import COMPONENTS, REQUIRED_COMPONENTS

from .conftest import app_patches, container_env, patches_for


def applications(result):
    """The install's Applications (a team's Model Registry has its own: tests/modelregistry)."""
    return [
        o for o in result.kubernetes_objects()
        if o["kind"] == "Application" and "kfplatform.io/kubeflow-component" in o["metadata"]["labels"]
    ]


def test_every_component_is_pinned_to_the_release_commit(each_stack):
    apps = applications(each_stack)
    assert {a["metadata"]["name"] for a in apps} == {f"kubeflow-{c}" for c in COMPONENTS}
    release = each_stack.exports["kubeflowRelease"]
    for a in apps:
        source = a["spec"]["source"]
        assert source["targetRevision"] == release["commit"] and len(source["targetRevision"]) == 40
        assert source["repoURL"] == release["repo"]
        assert {"name": "kubeflow release", "value": release["tag"]} in a["spec"]["info"]
        assert a["spec"]["project"] == "kubeflow-install"
        assert "finalizers" not in a["metadata"]  # deleting an Application never deletes Kubeflow


@pytest.mark.parametrize("tag", ["master", "main", "1.11", "v1.11"])
def test_a_moving_or_partial_tag_is_refused(issues, tag):
    (found,) = issues("prod", lambda kf: kf["release"].update(tag=tag))
    assert found.startswith("kubeflow-platform:kubeflow.release.tag:")


def test_an_abbreviated_commit_is_refused(issues):
    (found,) = issues("prod", lambda kf: kf["release"].update(commit="009c880"))
    assert "40-character commit" in found


def test_required_components_cannot_be_skipped(issues):
    (found,) = issues("prod", lambda kf: kf.update(skipComponents=["pipelines"]))
    assert "cannot be skipped" in found
    assert issues("prod", lambda kf: kf.update(skipComponents=["cert-manager"])) == []
    assert REQUIRED_COMPONENTS <= set(COMPONENTS)


def test_platform_namespaces_and_crds_are_protected_in_every_application(prod):
    for a in applications(prod):
        targets = [p["target"] for p in a["spec"]["source"]["kustomize"]["patches"]]
        ns = next(t for t in targets if t.get("kind") == "Namespace")
        for name in ("kubeflow", "istio-system", "auth", "oauth2-proxy"):
            assert re.fullmatch(ns["name"], name)
        assert not re.fullmatch(ns["name"], "knative-serving")  # upstream's own namespaces stay upstream's
        crd = next(p for p in a["spec"]["source"]["kustomize"]["patches"] if p["target"].get("kind") == "CustomResourceDefinition")
        assert "Prune=false,Delete=false" in crd["patch"]


@pytest.mark.parametrize("component,selector", [("pipelines", "app in (mysql,minio,seaweedfs)"), ("katib", "katib.kubeflow.org/component in (mysql,postgres)")])
def test_bundled_stores_are_dropped(prod, component, selector):
    patches = app_patches(prod, component)
    assert any(p["target"].get("labelSelector") == selector and "$patch: delete" in p["patch"] for p in patches)
    deleted = {(p["target"].get("kind"), p["target"].get("name")) for p in patches if "$patch: delete" in p["patch"]}
    if component == "pipelines":
        assert {("Secret", "mysql-secret"), ("Secret", "mlpipeline-minio-artifact"), ("PersistentVolumeClaim", "mysql-pv-claim")} <= deleted
    else:
        assert ("Secret", "katib-mysql-secrets") in deleted


def test_kfp_api_server_uses_proxysql_its_own_account_and_minio_over_tls(prod):
    from kfplatform.config import load_platform_config  # noqa: F401  (config already validated by the render)
    data = data_endpoints_of(prod)
    (patch,) = [p for p in patches_for(prod, "pipelines", "Deployment", "ml-pipeline") if "containers" in p["spec"]["template"]["spec"] and any("env" in c for c in p["spec"]["template"]["spec"]["containers"])]
    env = container_env(patch, "ml-pipeline-api-server")
    for key in ("DBCONFIG_HOST", "DBCONFIG_MYSQLCONFIG_HOST"):
        assert env[key] == {"name": key, "value": data.database_host, "valueFrom": None}
    assert env["DBCONFIG_MYSQLCONFIG_PORT"]["value"] == str(data.database_port)
    for key in ("DBCONFIG_USER", "DBCONFIG_MYSQLCONFIG_USER"):
        assert env[key]["valueFrom"]["secretKeyRef"] == {"name": data.accounts["kfp"].secret_name, "key": "username"}
    assert env["OBJECTSTORECONFIG_HOST"]["value"] == data.object_store_host
    assert env["OBJECTSTORECONFIG_PORT"]["value"] == "443"
    assert env["OBJECTSTORECONFIG_SECURE"]["value"] == "true"
    assert env["OBJECTSTORECONFIG_BUCKETNAME"]["value"] == data.artifact_bucket
    assert env["OBJECTSTORECONFIG_ACCESSKEY"]["valueFrom"]["secretKeyRef"]["name"] == data.platform_artifact_secret


def test_mlmd_and_katib_use_their_own_accounts_through_proxysql(prod):
    data = data_endpoints_of(prod)
    mlmd = next(container_env(p, "container") for p in patches_for(prod, "pipelines", "Deployment", "metadata-grpc-deployment") if "env" in p["spec"]["template"]["spec"]["containers"][0])
    assert mlmd["MYSQL_HOST"]["value"] == data.database_host
    assert mlmd["MYSQL_DATABASE"]["value"] == "metadb"
    assert mlmd["DBCONFIG_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "mlmd-db-credentials", "key": "password"}
    (katib,) = patches_for(prod, "katib", "Deployment", "katib-db-manager")
    env = container_env(katib, "katib-db-manager")
    assert env["KATIB_MYSQL_DB_HOST"]["value"] == data.database_host
    assert env["KATIB_MYSQL_DB_PORT"]["value"] == "6033"
    assert env["DB_USER"]["valueFrom"]["secretKeyRef"] == {"name": "katib-db-credentials", "key": "username"}


def test_install_config_and_argo_artifact_repository_point_at_the_data_tier(prod):
    data = data_endpoints_of(prod)
    (cm,) = patches_for(prod, "pipelines", "ConfigMap", "pipeline-install-config")
    assert cm["data"]["dbHost"] == cm["data"]["mysqlHost"] == data.database_host
    assert (cm["data"]["pipelineDb"], cm["data"]["cacheDb"], cm["data"]["mlmdDb"]) == ("mlpipeline", "cachedb", "metadb")
    import yaml

    (wc,) = patches_for(prod, "pipelines", "ConfigMap", "workflow-controller-configmap")
    repo = yaml.safe_load(wc["data"]["artifactRepository"])["s3"]
    assert repo["endpoint"] == f"{data.object_store_host}:443" and repo["insecure"] is False


def test_install_waits_for_the_identity_secrets(prod):
    from kfplatform.kubeflow.identity import DEX_CLIENT_SECRET, DEX_IDP_SECRET

    dex = next(r for r in prod.resources if r.name == "install-dex")
    wanted = {f"auth-{DEX_IDP_SECRET}", f"auth-{DEX_CLIENT_SECRET}"}
    secrets = {r.urn for r in prod.resources if r.type.endswith("ExternalSecret") and r.name in wanted}
    assert len(secrets) == 2 and secrets <= set(dex.dependencies)


def data_endpoints_of(result):
    from kfplatform.render.run import read_stack_config
    from kfplatform.config import load_platform_config
    from tests.conftest import PROJECT_DIR

    raw, _ = read_stack_config(PROJECT_DIR, result.stack)
    return data_endpoints(load_platform_config(result.stack, raw, PROJECT_DIR).stack)


def test_both_stacks_pin_the_commit_tag_v1_11_0_points_at(each_stack):
    """kubeflow/manifests `v1.11.0` is commit 854bd3a2... (read in the upstream repository)."""
    from kfplatform.kubeflow.release import VERIFIED_TAG_COMMITS

    release = each_stack.exports["kubeflowRelease"]
    assert VERIFIED_TAG_COMMITS["v1.11.0"] == "854bd3a21044f767204def71b2dcda83e376891f"
    assert (release["tag"], release["commit"]) == ("v1.11.0", VERIFIED_TAG_COMMITS["v1.11.0"])


@pytest.mark.parametrize(
    "tag, commit, warned",
    [
        ("v1.11.0", "854bd3a21044f767204def71b2dcda83e376891f", None),
        ("v1.11.0", "0" * 40, "is not the one verified for the tag (tag v1.11.0 is commit 854bd3a2"),
        ("v1.12.0", "1" * 40, "tag v1.12.0's commit is not verified here"),
    ],
)
def test_a_commit_other_than_the_verified_one_is_warned_about(tag, commit, warned):
    from kfplatform.kubeflow.config import ReleaseConfig
    from kfplatform.kubeflow.install import release_commit_problem

    release = ReleaseConfig.model_validate({"repoUrl": "https://git.example.com/m.git", "tag": tag, "commit": commit})
    problem = release_commit_problem(release)
    assert (problem is None) if warned is None else (warned in problem)
