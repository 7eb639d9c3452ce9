"""Where KFP writes a tenant's artifacts is where that tenant's MinIO key may write, and nowhere else.

The data tier grants each tenant's key a few prefixes of the artifact bucket (its MinIO policy);
the Kubeflow side tells Argo (`keyFormat`) and the KFP v2 launcher (`defaultPipelineRoot`) where to
write. Both come from `kfplatform.data.endpoints`; these tests read both back from the prod render
and evaluate every tenant's policy against the keys KFP will actually use, so the two sides cannot
drift apart without a failure here.
"""
from __future__ import annotations

import json
import re

import pytest
import yaml

from kfplatform.data.endpoints import TENANT_ARTIFACT_SECRET
from tests.data.helpers import allowed, resource

from .conftest import patch_for

# Values Argo substitutes into keyFormat. `{{workflow.namespace}}` is set per tenant below.
ARGO_VARIABLES = {
    "workflow.name": "train-x7k2p",
    "workflow.creationTimestamp.Y": "2026",
    "workflow.creationTimestamp.m": "04",
    "workflow.creationTimestamp.d": "02",
    "pod.name": "train-x7k2p-3141592653",
}


def tenant_policies(result) -> dict[str, dict]:
    """Each tenant's MinIO policy document, as the data tier hands it to pulumi-minio."""
    tenants = [r.name.removesuffix("-object-store") for r in result.by_type("kfplatform:data:TenantObjectAccess")]
    assert tenants, "no TenantObjectAccess rendered"
    return {
        t: json.loads(resource(result, "minio:index/iamPolicy:IamPolicy", f"{t}-object-store-policy").inputs["policy"])
        for t in tenants
    }


def artifact_repository(result) -> dict:
    """Argo's controller-level artifact repository, as the pipelines Application patches it."""
    return yaml.safe_load(patch_for(result, "pipelines", "ConfigMap", "workflow-controller-configmap")["data"]["artifactRepository"])


def argo_key(key_format: str, namespace: str) -> str:
    """The object key Argo writes for a pod's archived log, `keyFormat` resolved for `namespace`."""
    values = {**ARGO_VARIABLES, "workflow.namespace": namespace}

    def resolve(match: re.Match) -> str:
        name = match.group(1).strip()
        assert name in values, f"keyFormat uses {{{{{name}}}}}, which this test does not know: add it to ARGO_VARIABLES"
        return values[name]

    return re.sub(r"\{\{([^}]*)\}\}", resolve, key_format) + "/main.log"


def split_minio_uri(uri: str) -> tuple[str, str]:
    assert uri.startswith("minio://"), uri
    bucket, _, key = uri.removeprefix("minio://").partition("/")
    return bucket, key


def test_every_tenant_has_a_policy_and_a_launcher_config(prod):
    tenants = set(tenant_policies(prod))
    assert tenants == set(prod.exports["tenantNamespaces"])
    for tenant in tenants:
        prod.find("ConfigMap", "kfp-launcher", tenant)


def test_argo_writes_each_tenants_artifacts_and_logs_under_that_tenants_prefix_only(prod):
    repo = artifact_repository(prod)
    s3 = repo["s3"]
    assert repo["archiveLogs"] is True  # every pod's log goes through keyFormat, v2 pipelines included
    assert s3["keyFormat"].startswith("artifacts/{{workflow.namespace}}/")
    # Argo reads the repository's Secret in the workflow's namespace: the tenant's own key.
    assert s3["accessKeySecret"] == {"name": TENANT_ARTIFACT_SECRET, "key": "accesskey"}
    assert s3["secretKeySecret"] == {"name": TENANT_ARTIFACT_SECRET, "key": "secretkey"}
    policies = tenant_policies(prod)
    for tenant, policy in policies.items():
        arn = f"arn:aws:s3:::{s3['bucket']}/{argo_key(s3['keyFormat'], tenant)}"
        for action in ("s3:PutObject", "s3:GetObject"):
            assert allowed(policy, action, arn), f"{tenant}'s key cannot {action} its own Argo artifact {arn}"
            for other, other_policy in policies.items():
                if other != tenant:
                    assert not allowed(other_policy, action, arn), f"{other}'s key can {action} {tenant}'s {arn}"


def test_the_v2_pipeline_root_is_inside_the_tenants_prefix_only_and_read_with_its_own_key(prod):
    policies = tenant_policies(prod)
    bucket_of_store = prod.exports["buckets"]["artifacts"]
    for tenant, policy in policies.items():
        launcher = prod.find("ConfigMap", "kfp-launcher", tenant)["data"]
        bucket, root = split_minio_uri(launcher["defaultPipelineRoot"])
        assert bucket == bucket_of_store
        # The launcher writes <root>/<pipeline>/<run id>/<task>/<output>.
        arn = f"arn:aws:s3:::{bucket}/{root}/my-pipeline/0f6a7c1e/train/model"
        for action in ("s3:PutObject", "s3:GetObject"):
            assert allowed(policy, action, arn), f"{tenant}'s key cannot {action} under its pipeline root {root}"
            for other, other_policy in policies.items():
                if other != tenant:
                    assert not allowed(other_policy, action, arn), f"{other}'s key can {action} under {tenant}'s root"
        assert allowed(policy, "s3:ListBucket", f"arn:aws:s3:::{bucket}", prefix=f"{root}/my-pipeline/")
        # The launcher's credentials for minio:// are the tenant's Secret, in the tenant's namespace.
        minio = yaml.safe_load(launcher["providers"])["minio"]["default"]
        assert minio["credentials"] == {
            "fromEnv": False,
            "secretRef": {"secretName": TENANT_ARTIFACT_SECRET, "accessKeyKey": "accesskey", "secretKeyKey": "secretkey"},
        }


@pytest.mark.parametrize("namespace", ["team-a", "team-ab", "a"])
def test_key_format_and_pipeline_root_come_from_the_tenant_prefixes(namespace):
    from kfplatform.data.endpoints import argo_key_format, tenant_artifact_prefixes, v2_pipeline_root

    argo_prefix, v2_prefix = tenant_artifact_prefixes(namespace)
    assert argo_key(argo_key_format(), namespace).startswith(argo_prefix)
    bucket, root = split_minio_uri(v2_pipeline_root("mlpipeline", namespace))
    assert bucket == "mlpipeline" and (root + "/").startswith(v2_prefix)
