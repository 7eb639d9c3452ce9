"""The MinIO Tenant, its configuration Secret, PDB and buckets, as rendered from the committed stacks."""
import json

import pytest

from .helpers import resource

STORE_NS = "kubeflow-minio"
MINIO = "pulumi:providers:minio"


def tenant(result) -> dict:
    return result.find("Tenant", "kubeflow-minio", STORE_NS)["spec"]


def test_prod_tenant_is_distributed_with_tls_and_spread(prod):
    spec = tenant(prod)
    (pool,) = spec["pools"]
    assert pool["name"] == "pool-0" and pool["servers"] == 6 and pool["volumesPerServer"] == 2
    assert pool["volumeClaimTemplate"]["spec"]["storageClassName"] == "kfp-data-retain"
    assert pool["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "2Ti"
    assert spec["requestAutoCert"] is True
    (term,) = pool["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == {"v1.min.io/tenant": "kubeflow-minio", "v1.min.io/pool": "pool-0"}
    assert pool["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    assert spec["exposeServices"] == {"minio": False, "console": False}


def test_sandbox_runs_a_single_server_with_four_drives(sandbox):
    (pool,) = tenant(sandbox)["pools"]
    assert (pool["servers"], pool["volumesPerServer"]) == (1, 4)
    with pytest.raises(KeyError):  # one server: a PDB would block every drain
        sandbox.find("PodDisruptionBudget", "kubeflow-minio-pool-0", STORE_NS)


@pytest.mark.parametrize("stack, parity", [("prod", "EC:4"), ("sandbox", "EC:2")])
def test_parity_and_root_credentials_are_in_the_configuration_secret(stack, parity, request):
    result = request.getfixturevalue(stack)
    assert tenant(result)["configuration"] == {"name": "kubeflow-minio-env"}
    spec = result.find("ExternalSecret", "kubeflow-minio-env", STORE_NS)["spec"]
    env = spec["target"]["template"]["data"]["config.env"]
    assert f'export MINIO_STORAGE_CLASS_STANDARD="{parity}"' in env
    assert 'MINIO_ROOT_PASSWORD="{{ .rootPassword }}"' in env
    assert {d["remoteRef"]["key"] for d in spec["data"]} == {"platform/object-store/root"}
    assert result.exports["erasureParity"] == parity


def test_prod_pool_pdb_lets_one_server_go_at_a_time(prod):
    pdb = prod.find("PodDisruptionBudget", "kubeflow-minio-pool-0", STORE_NS)["spec"]
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"]["matchLabels"] == {"v1.min.io/tenant": "kubeflow-minio", "v1.min.io/pool": "pool-0"}


def test_minio_image_is_digest_pinned_from_the_mirror(each_stack):
    image = tenant(each_stack)["image"]
    assert image.startswith("registry.ml.example.com/mirror/minio/minio:RELEASE.") and "@sha256:" in image


def test_buckets_versioned_audit_locked_behind_an_initialised_tenant(prod):
    the_tenant = resource(prod, "kubernetes:minio.min.io/v2:Tenant", "kubeflow-minio")
    assert the_tenant.inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.currentState}=Initialized"
    provider = resource(prod, MINIO, "minio")
    buckets = {}
    for role, name in (("artifacts", "mlpipeline"), ("backups", "kfp-backups"), ("audit", "kfp-audit")):
        bucket = resource(prod, "minio:index/s3Bucket:S3Bucket", f"bucket-{role}")
        assert bucket.inputs["bucket"] == name and bucket.inputs["acl"] == "private"
        assert bucket.inputs["forceDestroy"] is False
        assert the_tenant.urn in bucket.dependencies
        assert bucket.provider.startswith(provider.urn)
        versioning = resource(prod, "minio:index/s3BucketVersioning:S3BucketVersioning", f"bucket-{role}-versioning")
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
        buckets[role] = bucket
    assert buckets["audit"].inputs["objectLocking"] is True
    assert buckets["artifacts"].inputs["objectLocking"] is False


def test_kfp_gets_its_own_account_for_the_whole_artifact_bucket_only(prod):
    policy = json.loads(resource(prod, "minio:index/iamPolicy:IamPolicy", "kfp-object-store-policy").inputs["policy"])
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    assert resources == {"arn:aws:s3:::mlpipeline", "arn:aws:s3:::mlpipeline/*"}
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert "s3:*" not in actions and not any(a.startswith(("admin:", "s3:DeleteBucket", "s3:PutBucket")) for a in actions)
    secret = prod.find("ExternalSecret", "mlpipeline-minio-artifact", "kubeflow")["spec"]
    assert {d["secretKey"]: d["remoteRef"]["key"] for d in secret["data"]} == {
        "accesskey": "platform/object-store/kfp", "secretkey": "platform/object-store/kfp",
    }


def test_minio_provider_is_configured_for_the_runner_without_committed_credentials(prod, sandbox):
    for result, endpoint in ((prod, "minio-admin.ml.example.com:443"), (sandbox, "minio-admin.sandbox.ml.example.com:443")):
        inputs = resource(result, MINIO, "minio").inputs
        assert inputs["minioServer"] == endpoint and inputs["minioSsl"] in (True, "true")
        assert "minioPassword" not in inputs and "minioUser" not in inputs  # none in the environment here


def test_minio_provider_takes_credentials_from_the_runners_environment(monkeypatch):
    from kfplatform.providers import minio_provider
    from kfplatform.render.run import run_under_mocks

    from .helpers import data_section, load_with_data

    config = load_with_data("prod", data_section("prod"))
    monkeypatch.setenv("MINIO_USER", "runner-user")
    monkeypatch.setenv("MINIO_PASSWORD", "runner-password")
    result = run_under_mocks(lambda: minio_provider(config), "prod")
    inputs = resource(result, MINIO, "minio").inputs
    assert inputs["minioUser"] == "runner-user"
    assert inputs["minioPassword"] == "[secret]"  # kept in state only as a secret


def test_previous_versions_of_backups_expire_and_pinned_dataset_versions_stay(prod, sandbox):
    """Without a lifecycle rule every version Velero's GC, the Galera backups' retention and the
    binlog archive's pruning delete stays forever in the versioned backups bucket; the artifact
    bucket keeps them by default (a pipeline reads a dataset at its pinned version id)."""
    for result in (prod, sandbox):
        rule = resource(result, "minio:index/ilmPolicy:IlmPolicy", "bucket-backups-lifecycle")
        assert rule.inputs["bucket"] == "kfp-backups"
        assert rule.inputs["rules"] == [{
            "id": "expire-noncurrent-versions", "noncurrentVersionExpirationDays": 14, "expiration": "DeleteMarker",
        }]
        versioning = resource(result, "minio:index/s3BucketVersioning:S3BucketVersioning", "bucket-backups-versioning")
        assert versioning.urn in rule.dependencies
        rules = {r.name for r in result.resources if r.type == "minio:index/ilmPolicy:IlmPolicy"}
        assert rules == {"bucket-backups-lifecycle"}


def test_noncurrent_version_days_are_configurable_per_bucket(tmp_path):
    from kfplatform.data.config import NoncurrentVersionDays

    assert NoncurrentVersionDays.model_validate({"artifacts": 365, "backups": None}).artifacts == 365
    for bad in ({"backups": 0}, {"artifacts": -1}, {"backups": 3651}, {"backups": True}, {"audit": 30}, {"backups": "14d"}):
        with pytest.raises(ValueError):
            NoncurrentVersionDays.model_validate(bad)
