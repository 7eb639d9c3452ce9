"""The contract with Kubeflow (endpoints.py) matches what the data tier renders, and the plane's extensions."""
from kfplatform.data.endpoints import data_endpoints, tenant_artifact_prefixes

from .helpers import data_section, load_with_data


def test_endpoints_name_what_is_rendered(each_stack):
    stack = load_with_data(each_stack.stack, data_section(each_stack.stack)).stack
    endpoints = data_endpoints(stack)
    host, ns = endpoints.database_host.split(".")[:2]
    service = each_stack.find("Service", host, ns)["spec"]
    assert any(p["port"] == endpoints.database_port for p in service["ports"])
    for account in endpoints.accounts.values():
        each_stack.find("User", account.user, ns)
        consumer = each_stack.find("ExternalSecret", account.secret_name, stack.cluster.namespaces.kubeflow)
        assert set(consumer["spec"]["target"]["template"]["data"]) == {"username", "password"}
    artifact = each_stack.find("ExternalSecret", endpoints.platform_artifact_secret, stack.cluster.namespaces.kubeflow)
    assert {d["secretKey"] for d in artifact["spec"]["data"]} == {"accesskey", "secretkey"}
    assert endpoints.artifact_bucket == each_stack.exports["buckets"]["artifacts"]
    store_ns = endpoints.object_store_host.split(".")[1]
    assert each_stack.find("Tenant", "kubeflow-minio", store_ns)["spec"]["requestAutoCert"] is endpoints.object_store_secure
    assert each_stack.exports["objectStoreEndpoint"] == "https://minio.kubeflow-minio.svc.cluster.local:443"


def test_artifact_bucket_follows_config():
    data = data_section("prod")
    data["objectStore"]["buckets"]["artifacts"] = "kfp-artifacts"
    assert data_endpoints(load_with_data("prod", data).stack).artifact_bucket == "kfp-artifacts"


def test_tenant_prefixes_are_the_kfp_v1_and_v2_layouts():
    assert tenant_artifact_prefixes("team-a") == ("artifacts/team-a/", "private-artifacts/team-a/")
