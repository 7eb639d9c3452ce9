"""What the render declares for a team's Model Registry, and for teams without one: nothing."""
from __future__ import annotations

import re

import yaml


from kfplatform.backup.pitr import ARCHIVER_USER
from kfplatform.config.base import quantity_value
from kfplatform.data.galera import APP_PRIVILEGES
from kfplatform.kubeflow import patches
from kfplatform.modelregistry import release
from kfplatform.modelregistry.config import CREDENTIALS_SECRET, database_name
from kfplatform.modelregistry.install import AUTHORIZATION_POLICY, DATABASE_EGRESS_POLICY, application_name
from kfplatform.secrets.plane import MIRROR_OF, ROTATION_ANNOTATION
from tests.conftest import PROJECT_DIR
from tests.secrets.rotation import expected_marker

TEAM = "team-nlp"  # the only committed tenant with `modelRegistry: true`
DB_NS = "kubeflow-db"


def objects(result, kind: str, namespace: str | None = None) -> list[dict]:
    return [o for o in result.kubernetes_objects() if o["kind"] == kind and (namespace is None or o["metadata"].get("namespace") == namespace)]


def application(result, team: str = TEAM) -> dict:
    return result.find("Application", application_name(team), "argocd")


def kustomize_patch(result, kind: str, name: str) -> dict:
    (found,) = [
        patches.parse(p) for p in application(result)["spec"]["source"]["kustomize"]["patches"]
        if p["target"].get("kind") == kind and p["target"].get("name") == name and "$patch" not in p["patch"]
    ]
    return found


def resource(result, kind: str, name: str, namespace: str | None):
    (found,) = [
        r for r in result.resources
        if r.custom and r.inputs.get("kind") == kind and (r.inputs.get("metadata") or {}).get("name") == name
        and (r.inputs.get("metadata") or {}).get("namespace") == namespace
    ]
    return found


def test_only_the_teams_that_opt_in_get_anything(each_stack):
    named = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
        for o in each_stack.kubernetes_objects()
        if "model-registry" in o["metadata"]["name"]
    }
    assert named == {
        ("Application", "argocd", "model-registry-team-nlp"),
        ("AuthorizationPolicy", TEAM, AUTHORIZATION_POLICY),
        ("NetworkPolicy", TEAM, DATABASE_EGRESS_POLICY),
        ("ExternalSecret", TEAM, CREDENTIALS_SECRET),
        ("ExternalSecret", DB_NS, "model-registry-team-nlp"),
        ("Database", DB_NS, "model-registry-team-nlp"),
        ("User", DB_NS, "model-registry-team-nlp"),
        ("Grant", DB_NS, "model-registry-team-nlp-model-registry-team-nlp"),
    }
    assert not any("team-vision" in o["metadata"]["name"] or "team-forecasting" in o["metadata"]["name"]
                   for o in objects(each_stack, "Database") + objects(each_stack, "User"))


def test_the_teams_account_is_granted_its_own_database_and_nothing_else(each_stack):
    user = database_name(TEAM)
    grants = objects(each_stack, "Grant", DB_NS)
    mine = [g["spec"] for g in grants if g["spec"]["username"] == user]
    assert mine == [{
        "mariaDbRef": {"name": "galera", "namespace": DB_NS, "waitForIt": True}, "username": user, "host": "%",
        "database": database_name(TEAM), "table": "*", "privileges": list(APP_PRIVILEGES), "grantOption": False,
    }]
    # Nobody else is granted the team's database; no grant uses a wildcard that could reach another's
    # (`_` and `%` match any character in a GRANT's database name, even back-quoted).
    assert [g["spec"]["username"] for g in grants if g["spec"]["database"] == database_name(TEAM)] == [user]
    # The one global grant is the binlog archiver's REPLICATION SLAVE (kfplatform/backup/pitr.py): no
    # SQL access to any database (it reads the binlogs, which the platform archives).
    archiver = [g["spec"] for g in grants if g["spec"]["database"] == "*"]
    assert all(g["username"] == ARCHIVER_USER and g["privileges"] == ["REPLICATION SLAVE"] for g in archiver), archiver
    assert all(not re.search(r"[_%\\]", g["spec"]["database"]) for g in grants if g["spec"]["database"] != "*")
    (database,) = [d["spec"] for d in objects(each_stack, "Database", DB_NS) if d["spec"]["name"] == database_name(TEAM)]
    assert database["cleanupPolicy"] == "Skip"  # opting out never drops the team's registry data
    assert resource(each_stack, "Database", database_name(TEAM), DB_NS).protect == (each_stack.stack == "prod")


def test_one_password_reaches_the_user_proxysql_and_the_team_through_its_own_store(each_stack):
    user = each_stack.find("User", database_name(TEAM), DB_NS)["spec"]
    db_secret = user["passwordSecretKeyRef"]["name"]
    db_es = each_stack.find("ExternalSecret", db_secret, DB_NS)["spec"]
    team_es = each_stack.find("ExternalSecret", CREDENTIALS_SECRET, TEAM)["spec"]
    (platform_path,) = {d["remoteRef"]["key"] for d in db_es["data"]}
    (team_path,) = {d["remoteRef"]["key"] for d in team_es["data"]}
    assert platform_path == f"platform/database/{database_name(TEAM)}" and team_path == f"tenants/{TEAM}/model-registry-db"
    assert db_es["secretStoreRef"]["kind"] == "ClusterSecretStore" and team_es["secretStoreRef"] == {"kind": "SecretStore", "name": "vault-tenant"}
    # The team's copy is the platform path's values (plane.mirrored), written after them.
    kv = {r.inputs["name"]: r for r in each_stack.by_type("vault:kv/secretV2:SecretV2")}
    assert kv[team_path].inputs["customMetadata"]["data"] == {MIRROR_OF: platform_path}
    assert kv[platform_path].urn in kv[team_path].dependencies
    assert team_es["target"]["template"]["data"] == {"username": user["name"], "password": "{{ .password }}"}
    # ProxySQL authenticates the account from the same Secret.
    cnf = each_stack.find("ConfigMap", "proxysql-config", DB_NS)["data"]["proxysql.cnf"]
    assert re.search(rf'username="{user["name"]}"\s*password="@@secret:{db_secret}/password@@"', cnf)


def test_the_application_installs_upstreams_profile_overlay_at_the_pinned_commit(each_stack):
    app = application(each_stack)
    release_ = each_stack.exports["kubeflowRelease"]
    source = app["spec"]["source"]
    assert (source["repoURL"], source["targetRevision"], source["path"]) == (release_["repo"], release_["commit"], release.OVERLAY_PATH)
    assert app["spec"]["destination"]["namespace"] == TEAM and app["spec"]["project"] == "kubeflow-install"
    assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    deleted = {(p["target"]["kind"], p["target"]["name"]) for p in source["kustomize"]["patches"] if "$patch: delete" in p["patch"]}
    assert deleted == {("Deployment", "model-registry-db"), ("Service", "model-registry-db"),
                       ("PersistentVolumeClaim", "metadata-mysql"), ("Secret", "model-registry-db-secrets")}
    (image,) = source["kustomize"]["images"]
    name, ref = image.split("=")
    stack_file = yaml.safe_load((PROJECT_DIR / f"Pulumi.{each_stack.stack}.yaml").read_text())
    mirror = re.escape(stack_file["config"]["kubeflow-platform:images"]["mirror"])
    assert name == release.UPSTREAM_IMAGE_NAME
    assert re.fullmatch(rf"{mirror}/kubeflow/model-registry/server:v0\.3\.4@sha256:[0-9a-f]{{64}}", ref), ref


def test_the_server_connects_to_proxysql_with_the_teams_database_and_account(each_stack):
    proxysql = each_stack.find("Service", "proxysql", DB_NS)
    (port,) = [p["port"] for p in proxysql["spec"]["ports"] if p["name"] == "mysql"]
    parameters = kustomize_patch(each_stack, "ConfigMap", release.DB_PARAMETERS_CONFIGMAP)["data"]
    assert parameters == {
        "MYSQL_HOST": f"proxysql.{DB_NS}.svc.cluster.local", "MYSQL_PORT": str(port),
        "MYSQL_DATABASE": each_stack.find("Database", database_name(TEAM), DB_NS)["spec"]["name"],
        "MYSQL_ALLOW_EMPTY_PASSWORD": None,
    }
    deployment = kustomize_patch(each_stack, "Deployment", release.DEPLOYMENT)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["name"] == release.CONTAINER
    assert {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]} == {
        "DBCONFIG_USER": {"name": CREDENTIALS_SECRET, "key": "username"},
        "DBCONFIG_PASSWORD": {"name": CREDENTIALS_SECRET, "key": "password"},
    }
    # Nothing of the bundled database's Secret is read any more.
    assert patches.secrets_read(deployment) == {CREDENTIALS_SECRET}
    assert container["envFrom"] == [{"configMapRef": {"name": "model-registry-configmap"}}, {"configMapRef": {"name": release.DB_PARAMETERS_CONFIGMAP}}]
    dsn = [a for a in container["args"] if a.startswith(release.DSN_FLAG + "=")]
    assert dsn == [f"{release.DSN_FLAG}=$(DBCONFIG_USER):$(DBCONFIG_PASSWORD)@tcp($(MYSQL_HOST):$(MYSQL_PORT))/$(MYSQL_DATABASE)?charset=utf8mb4"]
    # The server reads its password once, at start: a rotation restarts it through Argo CD.
    team_es = each_stack.find("ExternalSecret", CREDENTIALS_SECRET, TEAM)
    marker = expected_marker(each_stack, [d["remoteRef"]["key"] for d in team_es["spec"]["data"]])
    assert marker and deployment["spec"]["template"]["metadata"]["annotations"] == {ROTATION_ANNOTATION: marker}
    assert team_es["metadata"]["annotations"][ROTATION_ANNOTATION] == marker


def test_the_application_waits_for_the_account_proxysql_and_the_credentials(each_stack):
    app = resource(each_stack, "Application", application_name(TEAM), "argocd")
    waits_for = {
        resource(each_stack, "Grant", "model-registry-team-nlp-model-registry-team-nlp", DB_NS).urn,
        resource(each_stack, "User", database_name(TEAM), DB_NS).urn,
        resource(each_stack, "Deployment", "proxysql", DB_NS).urn,
        resource(each_stack, "ExternalSecret", CREDENTIALS_SECRET, TEAM).urn,
        resource(each_stack, "Namespace", TEAM, None).urn,
    }
    assert waits_for <= set(app.dependencies)


def test_the_server_fits_the_teams_limit_range(each_stack):
    (container,) = kustomize_patch(each_stack, "Deployment", release.DEPLOYMENT)["spec"]["template"]["spec"]["containers"]
    (limits,) = each_stack.find("LimitRange", "tenant-container-limits", TEAM)["spec"]["limits"]
    for kind in ("requests", "limits"):
        for name, value in container["resources"][kind].items():
            assert quantity_value(value) <= quantity_value(limits["max"][name]), (kind, name)


def test_the_mesh_admits_the_rest_api_only(each_stack):
    policy = each_stack.find("AuthorizationPolicy", AUTHORIZATION_POLICY, TEAM)
    assert policy["spec"] == {
        "action": "ALLOW",
        "selector": {"matchLabels": {"component": "model-registry-server"}},
        "rules": [
            # The team's own mesh workloads (notebooks), and callers with no mesh identity (pipeline pods).
            {"from": [{"source": {"namespaces": [TEAM]}}], "to": [{"operation": {"ports": ["8080"], "paths": ["/api/model_registry/*"]}}]},
            {"from": [{"source": {"notPrincipals": ["*"]}}], "to": [{"operation": {"ports": ["8080"], "paths": ["/api/model_registry/*"]}}]},
        ],
    }
    istio_crds = next(r for r in each_stack.resources if r.name == "install-istio-crds")
    assert istio_crds.urn in resource(each_stack, "AuthorizationPolicy", AUTHORIZATION_POLICY, TEAM).dependencies


def egress_rules_to(result, namespace: str, target_namespace: str) -> list[tuple[dict, dict, list]]:
    """(policy podSelector, peer, ports) of every egress rule from `namespace` reaching `target_namespace`."""
    found = []
    for policy in objects(result, "NetworkPolicy", namespace):
        for rule in policy["spec"].get("egress") or []:
            for peer in rule.get("to") or []:
                labels = (peer.get("namespaceSelector") or {}).get("matchLabels") or {}
                if labels.get("kubernetes.io/metadata.name") == target_namespace or ("namespaceSelector" in peer and not labels):
                    found.append((policy["spec"]["podSelector"], peer, rule.get("ports")))
    return found


def test_only_the_registry_pods_reach_the_database_and_only_proxysql_on_its_port(each_stack):
    proxysql = each_stack.find("Service", "proxysql", DB_NS)
    (port,) = [p["port"] for p in proxysql["spec"]["ports"] if p["name"] == "mysql"]
    assert egress_rules_to(each_stack, TEAM, DB_NS) == [(
        {"matchLabels": {"component": "model-registry-server"}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": DB_NS}},
         "podSelector": {"matchLabels": proxysql["spec"]["selector"]}},
        [{"port": port, "protocol": "TCP"}],
    )]
    for team in each_stack.exports["tenantNamespaces"]:
        if team != TEAM:
            assert egress_rules_to(each_stack, team, DB_NS) == []


def test_pipeline_pods_reach_the_registry_in_their_own_namespace(each_stack):
    # Pipeline pods and the registry share the team namespace: its own pods reach each other.
    same = each_stack.find("NetworkPolicy", "allow-same-namespace", TEAM)["spec"]
    assert same["podSelector"] == {} and same["ingress"] == [{"from": [{"podSelector": {}}]}]
    assert same["egress"] == [{"to": [{"podSelector": {}}]}]


def test_the_data_tier_namespace_has_no_ingress_policy_to_open(each_stack):
    """ProxySQL's side: the database namespace has no NetworkPolicy today. Should one appear, this
    test makes whoever adds it admit the teams' registries (docs/model-registry.md)."""
    assert objects(each_stack, "NetworkPolicy", DB_NS) == []


def test_the_reference_pipeline_writes_to_this_service():
    source = (PROJECT_DIR / "workloads/example/team-nlp/pipeline/sentiment_pipeline.py").read_text()
    assert f'"http://{release.SERVICE}.{TEAM}.svc.cluster.local:{release.PORT}"' in source
    assert '"/api/model_registry/v1alpha3"' in source and "/api/model_registry/v1alpha3".startswith(release.API_PATH_PREFIX)


def test_the_policy_pack_refuses_the_placeholder_server_digest(prod):
    """Through the engine path (tests/policy/harness.py): the Application's kustomize image override."""
    from tests.policy.harness import found, recorded, run

    (app,) = [r for r in recorded(prod) if r["type"] == "kubernetes:argoproj.io/v1alpha1:Application"
              and r["inputs"]["metadata"]["name"] == application_name(TEAM)]
    policy = "images-pinned-by-digest"
    (problem,) = found(run([app], only=policy), policy)
    assert problem.startswith("spec.source.kustomize.images[0]: ") and "placeholder digest" in problem
    images = app["inputs"]["spec"]["source"]["kustomize"]["images"]
    images[0] = images[0].replace("0" * 64, "a" * 64)
    assert found(run([app], only=policy), policy) == []
    images[0] = "x=registry/x:v1"
    assert "not pinned by digest" in found(run([app], only=policy), policy)[0]


def test_a_team_cannot_take_the_connections_kubeflow_needs(each_stack):
    """The team's account is capped at each ProxySQL replica and at MariaDB; the platform's are not."""
    from kfplatform.modelregistry.config import MAX_CONNECTIONS
    from tests.data.test_proxysql import cnf

    users = {u["username"]: u for u in cnf(each_stack)["mysql_users"]}
    assert users[database_name(TEAM)]["max_connections"] == MAX_CONNECTIONS
    assert all("max_connections" not in users[u] for u in ("kfp", "mlmd", "katib"))
    replicas = each_stack.find("Deployment", "proxysql", DB_NS)["spec"]["replicas"]
    user = each_stack.find("User", database_name(TEAM), DB_NS)["spec"]
    assert user["maxUserConnections"] == MAX_CONNECTIONS * replicas
    assert each_stack.find("User", "kfp", DB_NS)["spec"]["maxUserConnections"] > user["maxUserConnections"]
