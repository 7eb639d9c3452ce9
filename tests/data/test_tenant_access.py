"""Per-tenant object-store access: a team's key reaches its own artifact prefixes and nothing else."""
import json

import pytest

from kfplatform.data.tenant_access import tenant_policy

from .helpers import allowed, resource

TENANTS = ["team-forecasting", "team-nlp", "team-vision"]


@pytest.mark.parametrize("team", TENANTS)
def test_a_teams_key_reaches_only_its_own_history(prod, team):
    policy = json.loads(resource(prod, "minio:index/iamPolicy:IamPolicy", f"{team}-object-store-policy").inputs["policy"])
    bucket = "arn:aws:s3:::mlpipeline"
    for own in (f"artifacts/{team}/run-1/out.tgz", f"private-artifacts/{team}/v2/artifacts/p/x"):
        assert allowed(policy, "s3:GetObject", f"{bucket}/{own}")
        assert allowed(policy, "s3:PutObject", f"{bucket}/{own}")
    assert allowed(policy, "s3:ListBucket", bucket, prefix=f"artifacts/{team}/")
    for other in TENANTS:
        if other == team:
            continue
        assert not allowed(policy, "s3:GetObject", f"{bucket}/artifacts/{other}/run-1/out.tgz")
        assert not allowed(policy, "s3:GetObject", f"{bucket}/private-artifacts/{other}/v2/artifacts/x")
        assert not allowed(policy, "s3:ListBucket", bucket, prefix=f"artifacts/{other}/")
    assert not allowed(policy, "s3:ListBucket", bucket, prefix="")  # no listing the whole bucket
    assert not allowed(policy, "s3:GetObject", f"{bucket}/pipelines/shared.yaml")
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::kfp-backups/galera/dump.sql")
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::kfp-audit/log")


def test_the_evaluator_is_not_vacuous():
    policy = json.loads(tenant_policy("mlpipeline", "team-a"))
    assert allowed(policy, "s3:GetObject", "arn:aws:s3:::mlpipeline/artifacts/team-a/x")
    assert not allowed(policy, "s3:GetObject", "arn:aws:s3:::mlpipeline/artifacts/team-ab/x")


@pytest.mark.parametrize("team", TENANTS)
def test_kfp_credentials_reach_the_tenant_namespace_from_its_own_vault_path(prod, team):
    secret = prod.find("ExternalSecret", "mlpipeline-minio-artifact", team)["spec"]
    assert secret["secretStoreRef"] == {"kind": "SecretStore", "name": "vault-tenant"}
    assert secret["data"] == [
        {"secretKey": "accesskey", "remoteRef": {"key": f"tenants/{team}/object-store", "property": "access_key"}},
        {"secretKey": "secretkey", "remoteRef": {"key": f"tenants/{team}/object-store", "property": "secret_key"}},
    ]
    vault = resource(prod, "vault:kv/secretV2:SecretV2", f"tenants-{team}-object-store")
    assert vault.inputs["name"] == f"tenants/{team}/object-store"


@pytest.mark.parametrize("team", TENANTS)
def test_the_teams_user_is_made_in_cluster_from_its_keys_before_kfp_gets_them(prod, team):
    """No IamUser (its ID would be the access key): a Job makes the user from the delivered keys."""
    component = resource(prod, "kfplatform:data:TenantObjectAccess", f"{team}-object-store")
    job = resource(prod, "kubernetes:batch/v1:Job", f"tenant-{team}-minio-user")
    assert job.parent == component.urn
    policy = resource(prod, "minio:index/iamPolicy:IamPolicy", f"{team}-object-store-policy")
    assert policy.urn in job.dependencies and policy.inputs["name"] == f"tenant-{team}"
    # The reconciler reads the platform's mirror of the team's keys (the team's tree stays the team's).
    copy = prod.find("ExternalSecret", f"minio-account-tenant-{team}", "kubeflow-minio")["spec"]
    assert {d["remoteRef"]["key"] for d in copy["data"]} == {f"platform/object-store/users/tenant-{team}"}
    assert copy["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault-platform"}
    # KFP's Secret in the team namespace is refreshed only after the user exists with those keys.
    consumer = resource(prod, "kubernetes:external-secrets.io/v1:ExternalSecret", f"{team}-mlpipeline-minio-artifact")
    assert job.urn in consumer.dependencies


@pytest.mark.parametrize("stack, days", [("prod", 90), ("sandbox", 30)])
def test_access_keys_rotate_after_the_configured_age(stack, days, request):
    result = request.getfixturevalue(stack)
    for path in ["platform-object-store-kfp", *[f"tenants-{t}-object-store" for t in TENANTS]]:
        rotation = resource(result, "time:index/rotating:Rotating", f"{path}-rotation")
        assert rotation.inputs["rotationDays"] == days
        for key in ("access_key", "secret_key"):
            password = resource(result, "random:index/randomPassword:RandomPassword", f"{path}-{key}")
            assert password.inputs["keepers"]["rotation"].startswith("mock-rotation-")
            assert rotation.urn in password.dependencies


@pytest.mark.parametrize("team", TENANTS)
def test_a_teams_key_reads_pinned_versions_of_its_own_objects_only(prod, team):
    """A pipeline reads its dataset at the S3 version id the manifest pins (docs/workloads.md)."""
    policy = json.loads(resource(prod, "minio:index/iamPolicy:IamPolicy", f"{team}-object-store-policy").inputs["policy"])
    bucket = "arn:aws:s3:::mlpipeline"
    assert allowed(policy, "s3:GetObjectVersion", f"{bucket}/private-artifacts/{team}/datasets/sentiment/part-000.jsonl")
    for other in TENANTS:
        if other != team:
            assert not allowed(policy, "s3:GetObjectVersion", f"{bucket}/private-artifacts/{other}/datasets/x")
    assert not allowed(policy, "s3:GetObjectVersion", "arn:aws:s3:::kfp-backups/galera/dump.sql")
    assert not allowed(policy, "s3:DeleteObjectVersion", f"{bucket}/private-artifacts/{team}/datasets/x")  # history stays
