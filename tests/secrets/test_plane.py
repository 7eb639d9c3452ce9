"""The SecretsPlane's contract with the components that consume secrets."""
import json

import pulumi
import pulumi_vault as vault
import pytest

from kfplatform.render.run import run_under_mocks
from kfplatform.secrets.config import SecretsConfig
from kfplatform.secrets.plane import SecretsPlane

CONFIG = SecretsConfig.model_validate({"vault": {"address": "https://vault.example.com:8200"}, "rotationDays": 30})


def build(use):
    """Run `use(plane)` under mocks with a plane for tenant `team-a` and platform namespace `kubeflow`."""
    import pulumi_kubernetes as k8s

    def program():
        ns = k8s.core.v1.Namespace("team-a", metadata={"name": "team-a"})
        plane = SecretsPlane(
            "secrets", CONFIG, ["kubeflow"], ("platform-operators", "external-secrets"), {"team-a": ns},
            vault.Provider("vault", address=CONFIG.vault.address),
        )
        use(plane)

    return run_under_mocks(program, "test")


def test_generated_values_are_written_to_vault_as_secrets_and_rotate():
    result = build(lambda plane: plane.generated("platform/database/kfp", ["password"]))
    (kv,) = result.by_type("vault:kv/secretV2:SecretV2")
    assert kv.inputs["name"] == "platform/database/kfp" and kv.inputs["mount"] == "kfplatform"
    assert kv.inputs["dataJson"] == "[secret]"
    (rotation,) = result.by_type("time:index/rotating:Rotating")
    assert rotation.inputs["rotationDays"] == 30
    (password,) = result.by_type("random:index/randomPassword:RandomPassword")
    assert password.inputs["keepers"]["rotation"].startswith("mock-rotation-")


def test_tenant_delivery_uses_the_tenants_own_store():
    result = build(lambda plane: plane.deliver("team-a", "creds", "tenants/team-a/object-store", {"accesskey": "access_key"}))
    es = result.find("ExternalSecret", "creds", "team-a")
    assert es["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "vault-tenant"}
    assert es["spec"]["data"] == [{"secretKey": "accesskey", "remoteRef": {"key": "tenants/team-a/object-store", "property": "access_key"}}]


def test_a_tenant_namespace_cannot_be_given_another_tenants_path():
    with pytest.raises(ValueError, match="may only read tenants/team-a/"):
        build(lambda plane: plane.deliver("team-a", "x", "tenants/team-b/object-store", {"k": "k"}))


def test_platform_delivery_uses_the_cluster_store_limited_to_platform_namespaces():
    result = build(lambda plane: plane.deliver("kubeflow", "db", "platform/database/kfp", {"password": "password"}))
    assert result.find("ExternalSecret", "db", "kubeflow")["spec"]["secretStoreRef"]["kind"] == "ClusterSecretStore"
    store = result.find("ClusterSecretStore", "vault-platform")
    assert store["spec"]["conditions"] == [{"namespaces": ["kubeflow"]}]
