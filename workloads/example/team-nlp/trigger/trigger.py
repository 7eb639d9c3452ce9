"""Start a training run when a new version of the dataset manifest lands; do nothing otherwise.

Run every few minutes by the CronJob `sentiment-training-trigger` (trigger.yaml), stdlib only
(the platform's mirrored Python image, nothing installed). One pass:
1. HEAD the manifest object (the team's object-store key): its S3 version id is the dataset version.
2. Look for a KFP run named `<RUN_PREFIX>-<version id>` in the team's experiment: if there is one,
   that version was already handled (KFP is the record, the trigger keeps no state).
3. Otherwise create it: the committed IR (run-request.json, the same pipeline as pipeline.yaml)
   with `dataset_manifest_version` = that version id, through the KFP API as the pod's
   ServiceAccount (a projected token for audience `pipelines.kubeflow.org`, the KFP API server's
   TokenReview audience: kubeflow/pipelines 2.15.0 backend/src/apiserver/common/const.go).

Exit status: 0 when a run was created or none was needed; 1 on any error (the Job shows failed).
"""
import datetime
import hashlib
import hmac
import json
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

EQUALS = 1  # KFP filter operation (kfp 2.15.2 client.py _FILTER_OPERATIONS)


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        raise SystemExit(f"trigger: environment variable {name} is not set")
    return value


def s3_head_version(endpoint: str, bucket: str, key: str, access: str, secret: str, ca_file: str | None,
                    region: str = "us-east-1", now: datetime.datetime | None = None) -> str:
    """The current version id of s3://bucket/key (AWS Signature V4, HEAD)."""
    url = urllib.parse.urlsplit(endpoint)
    path = "/" + bucket + "/" + urllib.parse.quote(key, safe="/-_.~")
    amz_date = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    payload = hashlib.sha256(b"").hexdigest()
    headers = {"host": url.netloc, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(["HEAD", path, "", "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, payload])
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signing_key = ("AWS4" + secret).encode()
    for part in (amz_date[:8], region, "s3", "aws4_request"):
        signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"{url.scheme}://{url.netloc}{path}", method="HEAD", headers={
        "Host": url.netloc, "x-amz-content-sha256": payload, "x-amz-date": amz_date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={signed}, Signature={signature}",
    })
    context = ssl.create_default_context(cafile=ca_file) if url.scheme == "https" else None
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        version = response.headers.get("x-amz-version-id")
    if not version or version == "null":
        raise SystemExit(f"trigger: s3://{bucket}/{key} has no version id: the bucket must be versioned")
    return version


class KfpApi:
    def __init__(self, base: str, token: str, namespace: str):
        self.base, self.token, self.namespace = base.rstrip("/"), token, namespace

    def call(self, method: str, path: str, query: dict | None = None, body: dict | None = None) -> dict:
        url = f"{self.base}/apis/v2beta1/{path}" + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise SystemExit(f"trigger: KFP API {method} {path}: HTTP {error.code} {error.read()[:500]!r}") from None

    @staticmethod
    def named(name: str) -> str:
        return json.dumps({"predicates": [{"operation": EQUALS, "key": "display_name", "stringValue": name}]})

    def experiment_id(self, name: str) -> str:
        found = self.call("GET", "experiments", {"namespace": self.namespace, "filter": self.named(name)}).get("experiments") or []
        if found:
            return found[0]["experiment_id"]
        return self.call("POST", "experiments", body={"display_name": name, "namespace": self.namespace})["experiment_id"]

    def run_exists(self, experiment_id: str, name: str) -> bool:
        query = {"namespace": self.namespace, "experiment_id": experiment_id, "filter": self.named(name)}
        return bool(self.call("GET", "runs", query).get("runs"))

    def create_run(self, experiment_id: str, name: str, pipeline_spec: dict, parameters: dict, service_account: str) -> str:
        body = {
            "display_name": name, "experiment_id": experiment_id, "pipeline_spec": pipeline_spec,
            "runtime_config": {"parameters": parameters}, "service_account": service_account,
        }
        return self.call("POST", "runs", body=body)["run_id"]


def main() -> int:
    namespace = env("NAMESPACE")
    bucket, key = env("DATASET_BUCKET"), env("DATASET_MANIFEST_KEY")
    with open(env("TOKEN_FILE", "/var/run/secrets/kfp/token")) as f:
        token = f.read().strip()
    ca_file = os.environ.get("S3_CA_FILE") or None
    version = s3_head_version(env("S3_ENDPOINT"), bucket, key, env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"),
                              ca_file if ca_file and os.path.exists(ca_file) else None)
    run_name = f"{env('RUN_PREFIX')}-{version}"
    api = KfpApi(env("KFP_API", "http://ml-pipeline.kubeflow.svc.cluster.local:8888"), token, namespace)
    experiment = api.experiment_id(env("EXPERIMENT"))
    if api.run_exists(experiment, run_name):
        print(f"trigger: dataset version {version} already has run {run_name}; nothing to do")
        return 0
    with open(env("RUN_REQUEST", "/etc/trigger/run-request.json")) as f:
        pipeline_spec = json.load(f)
    parameters = {"dataset_manifest_version": version, "dataset_manifest_key": key, "dataset_bucket": bucket}
    run_id = api.create_run(experiment, run_name, pipeline_spec, parameters, env("RUN_SERVICE_ACCOUNT", "default-editor"))
    print(f"trigger: dataset version {version} -> run {run_name} ({run_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
