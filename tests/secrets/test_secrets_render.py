"""The secrets plane as rendered from the committed stacks: no secret in YAML, stores isolated."""
import re

from kfplatform.config import load_platform_config
from kfplatform.config.stack import PlatformNamespaces
from kfplatform.data.endpoints import data_endpoints
from kfplatform.images import is_digest_pinned
from kfplatform.render.run import read_stack_config
from kfplatform.secrets import eso
from kfplatform.secrets.config import PROD_MAX_TOKEN_MAX_TTL, PROD_MAX_TOKEN_TTL
from kfplatform.secrets.vault_auth import PLATFORM_STORE_SA, TENANT_STORE_SA
from kfplatform.secrets.vault_layout import (
    OPTIONAL_PLATFORM_HOMES,
    OPTIONAL_TENANT_HOMES,
    PLATFORM_HOMES,
    TENANT_HOMES,
    platform_home,
    tenant_home,
)
from tests.conftest import PROJECT_DIR

PLATFORM_NAMESPACES = PlatformNamespaces().names()
TENANTS = {"team-forecasting", "team-nlp", "team-vision"}


def objects(result, kind):
    return [o for o in result.kubernetes_objects() if o["kind"] == kind]


def contains_secret_marker(value) -> bool:
    if isinstance(value, dict):
        return any(contains_secret_marker(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret_marker(v) for v in value)
    return value == "[secret]"


def test_no_kubernetes_secret_carries_data_and_no_object_carries_a_secret_value(each_stack):
    for secret in objects(each_stack, "Secret"):
        assert not secret.get("data") and not secret.get("stringData"), secret["metadata"]
    leaking = [o["metadata"] for o in each_stack.kubernetes_objects() if contains_secret_marker(o)]
    assert leaking == []
    for release in each_stack.by_type("kubernetes:helm.sh/v3:Release"):
        assert not contains_secret_marker(release.inputs), release.name


def test_every_external_secret_reads_through_a_store_its_namespace_may_use(each_stack):
    cluster_store = each_stack.find("ClusterSecretStore", "vault-platform")
    allowed = set(cluster_store["spec"]["conditions"][0]["namespaces"])
    assert allowed == PLATFORM_NAMESPACES
    namespace_urns = {r.inputs["metadata"]["name"]: r.urn for r in each_stack.by_type("kubernetes:core/v1:Namespace")}
    external_secrets = [r for r in each_stack.resources if r.type == "kubernetes:external-secrets.io/v1:ExternalSecret"]
    assert external_secrets
    for resource in external_secrets:
        es = resource.inputs
        namespace = es["metadata"]["namespace"]
        assert namespace_urns[namespace] in resource.dependencies  # created after its namespace
        ref = es["spec"]["secretStoreRef"]
        keys = {d["remoteRef"]["key"] for d in es["spec"]["data"]}
        assert es["spec"]["refreshInterval"]
        if ref["kind"] == "SecretStore":
            store = each_stack.find("SecretStore", ref["name"], namespace)  # the store is in its own namespace
            assert namespace in TENANTS
            assert store["spec"]["provider"]["vault"]["auth"]["kubernetes"]["role"] == f"tenant-{namespace}"
            assert all(key.startswith(f"tenants/{namespace}/") for key in keys), (namespace, keys)
        else:
            assert ref == {"kind": "ClusterSecretStore", "name": "vault-platform"}
            assert namespace in allowed
            assert all(key.startswith("platform/") for key in keys), (namespace, keys)


def test_tenant_stores_log_in_as_their_own_service_account_and_the_platform_store_never_as_esos(each_stack):
    for tenant in TENANTS:
        auth = each_stack.find("SecretStore", "vault-tenant", tenant)["spec"]["provider"]["vault"]["auth"]["kubernetes"]
        assert auth["serviceAccountRef"] == {"name": TENANT_STORE_SA}
        sa = each_stack.find("ServiceAccount", TENANT_STORE_SA, tenant)
        assert sa["automountServiceAccountToken"] is False
    platform = each_stack.find("ClusterSecretStore", "vault-platform")["spec"]["provider"]["vault"]["auth"]["kubernetes"]
    assert platform["serviceAccountRef"] == {"name": PLATFORM_STORE_SA, "namespace": "platform-operators"}
    assert platform["serviceAccountRef"]["name"] != eso.CONTROLLER_SERVICE_ACCOUNT
    each_stack.find("ServiceAccount", PLATFORM_STORE_SA, "platform-operators")


def policy_paths(hcl: str) -> dict[str, list[str]]:
    return {
        path: re.findall(r'"(\w+)"', caps)
        for path, caps in re.findall(r'path "([^"]+)" \{\s*capabilities = \[([^\]]*)\]', hcl)
    }


def test_each_tenant_policy_reads_its_own_tree_only(each_stack):
    policies = {r.inputs["name"]: r.inputs["policy"] for r in each_stack.by_type("vault:index/policy:Policy")}
    assert set(policies) == {"kfplatform-platform"} | {f"kfplatform-tenant-{t}" for t in TENANTS}
    for tenant in TENANTS:
        paths = policy_paths(policies[f"kfplatform-tenant-{tenant}"])
        assert paths == {
            f"kfplatform/data/tenants/{tenant}/*": ["read"],
            f"kfplatform/metadata/tenants/{tenant}/*": ["read", "list"],
        }
    assert policy_paths(policies["kfplatform-platform"]) == {
        "kfplatform/data/platform/*": ["read"],
        "kfplatform/metadata/platform/*": ["read", "list"],
    }


def test_roles_bind_one_service_account_in_one_namespace_with_short_ttls(prod):
    roles = {r.inputs["roleName"]: r.inputs for r in prod.by_type("vault:kubernetes/authBackendRole:AuthBackendRole")}
    assert set(roles) == {"platform"} | {f"tenant-{t}" for t in TENANTS}
    for tenant in TENANTS:
        role = roles[f"tenant-{tenant}"]
        assert role["boundServiceAccountNames"] == [TENANT_STORE_SA]
        assert role["boundServiceAccountNamespaces"] == [tenant]
        assert role["tokenPolicies"] == [f"kfplatform-tenant-{tenant}"]
        assert role["backend"] == "kubernetes-ml-prod"
    assert roles["platform"]["boundServiceAccountNames"] == [PLATFORM_STORE_SA]
    assert roles["platform"]["boundServiceAccountNamespaces"] == ["platform-operators"]
    assert roles["platform"]["tokenPolicies"] == ["kfplatform-platform"]
    for role in roles.values():
        assert 0 < role["tokenTtl"] <= PROD_MAX_TOKEN_TTL and 0 < role["tokenMaxTtl"] <= PROD_MAX_TOKEN_MAX_TTL
        # ESO's controller logs in with its own token when a store names no ServiceAccount: no role may accept it.
        assert eso.CONTROLLER_SERVICE_ACCOUNT not in role["boundServiceAccountNames"]
        assert "*" not in role["boundServiceAccountNames"] + role["boundServiceAccountNamespaces"]


def test_every_login_service_account_may_have_its_token_reviewed(each_stack):
    bindings = [b for b in objects(each_stack, "ClusterRoleBinding") if b["roleRef"]["name"] == "system:auth-delegator"]
    subjects = {(s["namespace"], s["name"]) for b in bindings for s in b["subjects"]}
    assert subjects == {("platform-operators", PLATFORM_STORE_SA)} | {(t, TENANT_STORE_SA) for t in TENANTS}
    (config,) = each_stack.by_type("vault:kubernetes/authBackendConfig:AuthBackendConfig")
    assert config.inputs["disableLocalCaJwt"] is True and "tokenReviewerJwt" not in config.inputs


def test_the_kv_mount_is_kv_v2_and_protected_on_every_stack_the_auth_backend_in_prod_only(prod, sandbox):
    """Deleting the mount deletes the values people wrote: the sandbox's drill rebuild
    (`pulumi destroy --exclude-protected`) must keep it, so it is protected in the sandbox too."""
    for result, protected in ((prod, True), (sandbox, False)):
        (mount,) = result.by_type("vault:index/mount:Mount")
        assert mount.inputs["type"] == "kv" and mount.inputs["options"] == {"version": "2"}
        assert mount.protect is True
        (backend,) = result.by_type("vault:index/authBackend:AuthBackend")
        assert backend.inputs["type"] == "kubernetes" and backend.protect is protected


def test_every_vault_resource_uses_the_explicit_vault_provider(each_stack):
    vault_resources = [r for r in each_stack.resources if r.type.startswith("vault:") and r.custom]
    assert vault_resources
    assert all("pulumi:providers:vault::vault" in r.provider for r in vault_resources)


def test_eso_is_a_pinned_chart_with_digest_pinned_images(prod, sandbox):
    for result, replicas in ((prod, 2), (sandbox, 1)):
        release = result.helm_release("external-secrets")
        inputs = release.inputs
        assert (inputs["chart"], inputs["version"], inputs["name"], inputs["namespace"]) == (
            "external-secrets", eso.CHART_VERSION, "external-secrets", "platform-operators"
        )
        values = inputs["values"]
        assert values["installCRDs"] is True and values["processPushSecret"] is False
        # Uninstalling would delete the CRDs, every ExternalSecret and (owner references) every Secret it made.
        assert values["crds"]["annotations"] == {"helm.sh/resource-policy": "keep"}
        assert release.protect is (replicas > 1)  # prod only
        for workload in (values, values["webhook"], values["certController"]):
            image = workload["image"]
            assert image["repository"].startswith("registry.ml.example.com/mirror/")
            assert is_digest_pinned(f"{image['repository']}:{image['tag']}") and not image["flavour"]
            assert workload["replicaCount"] == replicas
            assert workload["podDisruptionBudget"]["enabled"] is (replicas > 1)
        stores = objects(result, "SecretStore") + objects(result, "ClusterSecretStore")
        by_name = {(r.inputs["metadata"].get("namespace"), r.inputs["metadata"]["name"]): r for r in result.resources
                   if r.type.startswith("kubernetes:external-secrets.io/v1:")}
        for store in stores:
            key = (store["metadata"].get("namespace"), store["metadata"]["name"])
            assert release.urn in by_name[key].dependencies  # ESO installs the CRDs


def test_each_category_has_its_home(each_stack):
    def es(name, namespace):
        return each_stack.find("ExternalSecret", name, namespace)

    for account in data_endpoints_accounts():
        for namespace in ("kubeflow", "kubeflow-db"):
            assert es(account.secret_name, namespace)["spec"]["data"][0]["remoteRef"]["key"] == account.vault_path
    es("proxysql-monitor", "kubeflow-db")  # generated and delivered by the data tier
    dex_upstream = {d["secretKey"]: d["remoteRef"]["key"] for d in es("dex-upstream-idp", "auth")["spec"]["data"]}
    assert dex_upstream == {"client_secret": "platform/identity/oidc-client"}
    proxy = {d["secretKey"]: d["remoteRef"]["key"] for d in es("oauth2-proxy", "oauth2-proxy")["spec"]["data"]}
    assert proxy == {"client_secret": "platform/identity/oauth2-proxy", "cookie_secret": "platform/identity/oauth2-proxy"}
    for namespace in PLATFORM_NAMESPACES:
        pull = es("internal-registry", namespace)
        assert pull["spec"]["target"]["template"]["type"] == "kubernetes.io/dockerconfigjson"
        assert {d["remoteRef"]["key"] for d in pull["spec"]["data"]} == {"platform/registry/pull"}
    for tenant in TENANTS:
        assert {d["remoteRef"]["key"] for d in es("internal-registry", tenant)["spec"]["data"]} == {f"tenants/{tenant}/registry"}
        artifact = es("mlpipeline-minio-artifact", tenant)["spec"]["data"]
        assert {(d["secretKey"], d["remoteRef"]["key"]) for d in artifact} == {
            ("accesskey", f"tenants/{tenant}/object-store"), ("secretkey", f"tenants/{tenant}/object-store")
        }
        git = es("git-credentials", tenant)
        assert git["spec"]["target"]["template"]["type"] == "kubernetes.io/basic-auth"
        assert {d["remoteRef"]["key"] for d in git["spec"]["data"]} == {f"tenants/{tenant}/git"}


def data_endpoints_accounts():
    raw, _ = read_stack_config(PROJECT_DIR, "prod")
    return data_endpoints(load_platform_config("prod", raw, PROJECT_DIR).stack).accounts.values()


def test_every_path_an_external_secret_reads_is_generated_or_a_home_written_outside(each_stack):
    tenants = each_stack.exports["tenantNamespaces"]
    written = {r.inputs["name"] for r in each_stack.by_type("vault:kv/secretV2:SecretV2")}
    read = {d["remoteRef"]["key"] for es in objects(each_stack, "ExternalSecret") for d in es["spec"]["data"]}
    outside = {platform_home(h) for h in PLATFORM_HOMES if not h.generated}
    outside |= {tenant_home(t, h) for t in tenants for h in TENANT_HOMES if not h.generated}
    optional = {platform_home(h) for h in OPTIONAL_PLATFORM_HOMES}
    optional |= {tenant_home(t, h) for t in tenants for h in OPTIONAL_TENANT_HOMES}
    assert outside <= read - written <= outside | optional
    # Nothing generated that no one receives; prod's read-only drill keys are received by a person,
    # who copies them into the sandbox's Vault (kfplatform/backup, docs/restore-drill.md).
    from kfplatform.backup.config import DRILL_READER_PATH

    assert written - {DRILL_READER_PATH} <= read


def embedded_secrets(value, where: str = ""):
    """(where, document) of every mapping of kind Secret, also inside YAML strings (kustomize patches, values)."""
    import yaml

    if isinstance(value, dict):
        if value.get("kind") == "Secret" and "apiVersion" in value:
            yield where, value
        for key, item in value.items():
            yield from embedded_secrets(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from embedded_secrets(item, f"{where}[{index}]")
    elif isinstance(value, str) and "\n" in value and "Secret" in value:
        try:
            documents = list(yaml.safe_load_all(value))
        except yaml.YAMLError:
            return
        for document in documents:
            yield from embedded_secrets(document, f"{where}<yaml>")


def test_no_secret_with_literal_data_hides_in_patches_or_helm_values(each_stack):
    """Argo CD patches and Helm values never add a Secret with data; a patch naming a Secret only deletes it."""
    found = [
        (f"{r.name}{where}", doc) for r in each_stack.resources if r.custom for where, doc in embedded_secrets(r.inputs)
    ]
    assert found, "the Kubeflow patches delete upstream's literal Secrets: expected to see them"
    for where, doc in found:
        assert doc.get("$patch") == "delete", where
        assert not doc.get("data") and not doc.get("stringData"), where


def test_the_embedded_secret_walk_finds_literal_data():
    patch = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  password: hunter2\n"
    (where, doc), = embedded_secrets({"spec": {"source": {"kustomize": {"patches": [{"patch": patch}]}}}})
    assert doc["stringData"] == {"password": "hunter2"} and where.endswith("<yaml>")


def test_every_external_secret_of_a_rotated_path_is_forced_to_sync_by_its_marker_and_no_other(each_stack):
    """ESO refreshes an ExternalSecret whose annotations changed: the marker delivers a rotation at
    once. ExternalSecrets of values written by people (or never rotated) carry none."""
    from kfplatform.secrets.plane import ROTATION_ANNOTATION
    from tests.secrets.rotation import expected_marker, rotated_paths

    rotated = rotated_paths(each_stack)
    assert {"platform/database/kfp", "platform/object-store/kfp", "platform/database/proxysql-admin"} <= set(rotated)
    assert "platform/database/root" not in rotated and "platform/registry/pull" not in rotated
    marked = unmarked = 0
    for es in objects(each_stack, "ExternalSecret"):
        expected = expected_marker(each_stack, [d["remoteRef"]["key"] for d in es["spec"]["data"]])
        annotations = es["metadata"].get("annotations") or {}
        where = f"{es['metadata']['namespace']}/{es['metadata']['name']}"
        if expected is None:
            assert ROTATION_ANNOTATION not in annotations, where
            unmarked += 1
        else:
            assert annotations.get(ROTATION_ANNOTATION) == expected, where
            marked += 1
    assert marked and unmarked
