"""The SecretsPlane's contract with the components that consume secrets."""
import base64
import re

import pulumi_kubernetes as k8s
import pulumi_vault as vault
import pytest

from kfplatform.config.stack import ClusterConfig, ImagesConfig
from kfplatform.render.run import run_under_mocks
from kfplatform.secrets.config import SecretsConfig
from kfplatform.secrets.plane import SecretsPlane, SecretsPlaneArgs

TEST_CA = """-----BEGIN CERTIFICATE-----
MIIBnDCCAUGgAwIBAgIUSPBjfc3AvembTCfR4/jr6EH0I74wCgYIKoZIzj0EAwIw
IjEgMB4GA1UEAwwXa2ZwbGF0Zm9ybS10ZXN0LW9ubHktY2EwIBcNMjYxMTI4MDkw
NTIxWhgPMjEyNjExMDQwOTA1MjFaMCIxIDAeBgNVBAMMF2tmcGxhdGZvcm0tdGVz
dC1vbmx5LWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFgqyXK9BpgXkSbzY
yq4DJEn84CnjrOMG/dF3OM8ByhtRugVlmQIavjePZxIjfL7btPbg7sWo2LcEW8Sz
HHsKnqNTMFEwHQYDVR0OBBYEFO8HIgwabKUQ+ReUDzMAYKh8apePMB8GA1UdIwQY
MBaAFO8HIgwabKUQ+ReUDzMAYKh8apePMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZI
zj0EAwIDSQAwRgIhAL/FDzhAYUXVMYpH9dofvt7oJXdlvKAx/xzx1IxbKnseAiEA
8ONftWwO/rqXaGy7Z88/+BN1GFjrlHDPQlpp1LPfcZ8=
-----END CERTIFICATE-----
"""  # a throwaway self-signed certificate (public; its key was never kept)


def secrets_config(**vault_extra) -> SecretsConfig:
    return SecretsConfig.model_validate({
        "vault": {"address": "https://vault.example.com:8200", "kubernetes": {"host": "https://api.example.com:6443"}, **vault_extra},
        "rotationDays": 30,
    })


def build(use, config: SecretsConfig | None = None):
    """Run `use(plane)` under mocks with a plane for tenant `team-a` and the default platform namespaces."""

    def program():
        ns = k8s.core.v1.Namespace("team-a", metadata={"name": "team-a"})
        plane = SecretsPlane(
            "secrets",
            SecretsPlaneArgs(
                config=config or secrets_config(),
                cluster=ClusterConfig(name="test", domain="kf.example.com"),
                images=ImagesConfig(mirror="registry.example.com/mirror"),
                platform_namespaces={},
                tenant_namespaces={"team-a": ns},
            ),
            vault.Provider("vault", address="https://vault.example.com:8200"),
        )
        use(plane)

    return run_under_mocks(program, "test")


def kv_secret(result, path):
    (kv,) = [r for r in result.by_type("vault:kv/secretV2:SecretV2") if r.inputs["name"] == path]
    return kv


def test_generated_values_are_written_to_vault_as_secrets_and_rotate():
    result = build(lambda plane: plane.generated("platform/test/thing", ["password"]))
    kv = kv_secret(result, "platform/test/thing")
    assert kv.inputs["mount"] == "kfplatform"
    assert kv.inputs["dataJson"] == "[secret]"
    (rotation,) = [r for r in result.by_type("time:index/rotating:Rotating") if r.name == "platform-test-thing-rotation"]
    assert rotation.inputs["rotationDays"] == 30
    (password,) = [r for r in result.by_type("random:index/randomPassword:RandomPassword") if r.name == "platform-test-thing-password"]
    assert password.inputs["keepers"]["rotation"].startswith("mock-rotation-")


def test_labelled_delivery_keeps_vault_keys_and_labels_the_secret():
    result = build(lambda plane: plane.deliver("kubeflow-db", "s", "platform/a/b", {"password": "password"}, labels={"x/watch": ""}))
    template = result.find("ExternalSecret", "s", "kubeflow-db")["spec"]["target"]["template"]
    assert template == {"engineVersion": "v2", "metadata": {"labels": {"x/watch": ""}}, "mergePolicy": "Merge"}


def test_rotate_days_overrides_the_stack_default():
    result = build(lambda plane: plane.generated("platform/test/thing", ["password"], rotate_days=7))
    (rotation,) = [r for r in result.by_type("time:index/rotating:Rotating") if r.name == "platform-test-thing-rotation"]
    assert rotation.inputs["rotationDays"] == 7


def test_generated_twice_returns_the_same_values_and_refuses_different_arguments():
    seen = {}

    def use(plane):
        seen["a"] = plane.generated("platform/test/thing", ["password"])
        seen["b"] = plane.generated("platform/test/thing", ["password"])
        with pytest.raises(ValueError, match="generated twice"):
            plane.generated("platform/test/thing", ["password"], length=16)

    build(use)
    assert seen["a"] is seen["b"]


def test_generated_paths_stay_inside_the_layout():
    with pytest.raises(ValueError, match="not a Vault path of the platform's layout"):
        build(lambda plane: plane.generated("secret/elsewhere", ["password"]))


def test_tenant_delivery_uses_the_tenants_own_store():
    result = build(lambda plane: plane.deliver("team-a", "creds", "tenants/team-a/object-store", {"accesskey": "access_key"}))
    es = result.find("ExternalSecret", "creds", "team-a")
    assert es["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "vault-tenant"}
    assert es["spec"]["data"] == [{"secretKey": "accesskey", "remoteRef": {"key": "tenants/team-a/object-store", "property": "access_key"}}]


def test_a_tenant_namespace_cannot_be_given_another_tenants_path():
    with pytest.raises(ValueError, match="may only read tenants/team-a/"):
        build(lambda plane: plane.deliver("team-a", "x", "tenants/team-b/object-store", {"k": "k"}))


def test_a_platform_namespace_cannot_be_given_a_tenant_path():
    with pytest.raises(ValueError, match="reads platform/... only"):
        build(lambda plane: plane.deliver("kubeflow", "x", "tenants/team-a/object-store", {"k": "k"}))


def test_delivering_one_secret_twice_with_different_contents_is_refused():
    def use(plane):
        plane.deliver("kubeflow", "x", "platform/test/one", {"k": "k"})
        assert plane.deliver("kubeflow", "x", "platform/test/one", {"k": "k"}) is not None
        with pytest.raises(ValueError, match="delivered twice"):
            plane.deliver("kubeflow", "x", "platform/test/two", {"k": "k"})

    build(use)


def test_platform_delivery_uses_the_cluster_store_limited_to_platform_namespaces():
    result = build(lambda plane: plane.deliver("kubeflow", "db", "platform/database/kfp", {"password": "password"}))
    assert result.find("ExternalSecret", "db", "kubeflow")["spec"]["secretStoreRef"]["kind"] == "ClusterSecretStore"
    store = result.find("ClusterSecretStore", "vault-platform")
    assert "kubeflow" in store["spec"]["conditions"][0]["namespaces"]
    assert "team-a" not in store["spec"]["conditions"][0]["namespaces"]


def test_every_database_user_has_a_recorded_reason_for_static_credentials():
    from kfplatform.data.galera import MONITOR_USER
    from kfplatform.secrets.database import static_credentials_reason

    for account in data_endpoints_accounts():
        assert "Vault runs outside the cluster" in static_credentials_reason(account.user)
    static_credentials_reason(MONITOR_USER)
    with pytest.raises(ValueError, match="record its rotation decision"):
        static_credentials_reason("newapp")


def data_endpoints_accounts():
    from kfplatform.config import load_platform_config
    from kfplatform.data.endpoints import data_endpoints
    from kfplatform.render.run import read_stack_config
    from tests.conftest import PROJECT_DIR

    raw, _ = read_stack_config(PROJECT_DIR, "prod")
    return data_endpoints(load_platform_config("prod", raw, PROJECT_DIR).stack).accounts.values()


def test_vault_ca_reaches_the_stores_and_kubernetes_ca_reaches_vault():
    config = secrets_config(caCert=TEST_CA, kubernetes={"host": "https://api.example.com:6443", "caCert": TEST_CA})
    result = build(lambda plane: None, config=config)
    store = result.find("SecretStore", "vault-tenant", "team-a")
    assert base64.b64decode(store["spec"]["provider"]["vault"]["caBundle"]).decode() == TEST_CA
    assert base64.b64decode(result.find("ClusterSecretStore", "vault-platform")["spec"]["provider"]["vault"]["caBundle"]).decode() == TEST_CA
    (auth_config,) = result.by_type("vault:kubernetes/authBackendConfig:AuthBackendConfig")
    assert auth_config.inputs["kubernetesCaCert"] == TEST_CA


def test_without_a_vault_ca_the_stores_use_system_roots():
    result = build(lambda plane: None)
    assert "caBundle" not in result.find("SecretStore", "vault-tenant", "team-a")["spec"]["provider"]["vault"]


# -- rotation: delivered at once, and visible to consumers -----------------------------------------

ROTATING = "time:index/rotating:Rotating"


def mock_marker(path: str, days: int = 30) -> str:
    """The rotation marker of generated `path` under the mocks: the current period's start, and its
    Rotating's rotationRfc3339 (what the mocks give)."""
    from kfplatform.render.mocks import computed_output
    from kfplatform.secrets.rotation import ROTATION_PERIOD_KEY, triggers

    rfc = computed_output(ROTATING, path.replace("/", "-") + "-rotation", "rotationRfc3339")
    return f"{triggers(days)[ROTATION_PERIOD_KEY]}/{rfc}"


def test_an_external_secret_of_a_rotated_path_carries_its_rotation_marker_and_waits_for_the_vault_write():
    from kfplatform.secrets.plane import ROTATION_ANNOTATION

    seen = {}

    def use(plane):
        plane.generated("platform/test/thing", ["password"])
        plane.deliver("kubeflow", "thing", "platform/test/thing", {"password": "password"})
        plane.rotation_marker("platform/test/thing").apply(lambda m: seen.setdefault("marker", m))

    result = build(use)
    es = result.find("ExternalSecret", "thing", "kubeflow")
    assert seen["marker"] == mock_marker("platform/test/thing")
    assert es["metadata"]["annotations"] == {ROTATION_ANNOTATION: f"platform/test/thing={seen['marker']}"}
    (resource,) = [r for r in result.by_type("kubernetes:external-secrets.io/v1:ExternalSecret") if r.name == "kubeflow-thing"]
    assert kv_secret(result, "platform/test/thing").urn in resource.dependencies


def test_external_secrets_of_values_not_rotated_or_written_by_people_carry_no_marker():
    def use(plane):
        plane.generated("platform/test/fixed", ["password"], rotate=False)
        plane.deliver("kubeflow", "fixed", "platform/test/fixed", {"password": "password"})
        plane.deliver("kubeflow", "by-hand", "platform/test/by-hand", {"password": "password"})
        assert plane.rotation_marker("platform/test/fixed") is None
        with pytest.raises(KeyError):
            plane.rotation_marker("platform/test/by-hand")
        assert plane.rotation_markers(["platform/test/fixed", "platform/test/by-hand"]) is None

    result = build(use)
    for name in ("fixed", "by-hand"):
        assert not result.find("ExternalSecret", name, "kubeflow")["metadata"].get("annotations")


def test_rotation_markers_name_every_rotated_path_in_order_and_delivery_tells_the_paths():
    seen = {}

    def use(plane):
        plane.generated("platform/test/b", ["password"])
        plane.generated("platform/test/a", ["password"], rotate_days=7)
        es = plane.deliver("kubeflow", "b", "platform/test/b", {"password": "password"})
        assert plane.delivery("kubeflow", "b") == (es, ("platform/test/b",))
        with pytest.raises(KeyError):
            plane.delivery("kubeflow", "nothing")
        plane.rotation_markers(["platform/test/b", "platform/test/by-hand", "platform/test/a"]).apply(
            lambda m: seen.setdefault("markers", m)
        )

    build(use)
    a, b = mock_marker("platform/test/a", days=7), mock_marker("platform/test/b")
    assert seen["markers"] == f"platform/test/a={a},platform/test/b={b}"


def test_values_must_be_generated_before_they_are_delivered():
    def use(plane):
        plane.deliver("kubeflow", "early", "platform/test/early", {"password": "password"})
        with pytest.raises(ValueError, match="generate values before delivering"):
            plane.generated("platform/test/early", ["password"])

    build(use)


def test_mirrored_values_are_the_sources_with_its_rotation_marker_and_say_so_in_vault():
    from kfplatform.secrets.plane import MIRROR_OF

    seen = {}

    def use(plane):
        source = plane.generated("platform/database/x-team-a", ["password"])
        mirror = plane.mirrored("platform/database/x-team-a", "tenants/team-a/x")
        seen["same"] = mirror is source
        seen["again"] = plane.mirrored("platform/database/x-team-a", "tenants/team-a/x") is mirror
        seen["marker"] = plane.rotation_marker("tenants/team-a/x") is plane.rotation_marker("platform/database/x-team-a")
        with pytest.raises(KeyError):
            plane.mirrored("platform/database/never-generated", "tenants/team-a/y")
        with pytest.raises(ValueError):
            plane.mirrored("platform/database/x-team-a", "elsewhere/team-a/y")
        plane.deliver("team-a", "x", "tenants/team-a/x", {"password": "password"})
        with pytest.raises(ValueError):  # a path already delivered from people's values cannot become a mirror
            plane.deliver("team-a", "z", "tenants/team-a/z", {"password": "password"})
            plane.mirrored("platform/database/x-team-a", "tenants/team-a/z")

    result = build(use)
    assert seen == {"same": True, "again": True, "marker": True}
    mirror, source = kv_secret(result, "tenants/team-a/x"), kv_secret(result, "platform/database/x-team-a")
    assert mirror.inputs["customMetadata"] == {"data": {MIRROR_OF: "platform/database/x-team-a"}}
    assert source.urn in mirror.dependencies and mirror.inputs["dataJson"] == "[secret]"
    assert not [r for r in result.by_type("time:index/rotating:Rotating") if r.name.startswith("tenants-team-a-x")]
    es = result.find("ExternalSecret", "x", "team-a")
    # The source's marker: `<path>=<rotation period start>/<the Rotating's rotationRfc3339>`.
    assert re.fullmatch(r"tenants/team-a/x=\d{4}-\d\d-\d\dT00:00:00Z/mock-rotation-[0-9a-f]{16}",
                        es["metadata"]["annotations"]["kfplatform.io/credentials-rotation"])
