"""SignedImages: Sigstore's policy-controller and the ClusterImagePolicy `kfplatform-signed-images`.

policy-controller validates pods (and workloads) only in namespaces labelled
`policy.sigstore.dev/include: "true"` (chart 0.10.6 values.yaml `webhook.namespaceSelector`, the
default of templates/_helpers.tpl "policy-controller.webhook.namespaceSelector"): regulated tenant
namespaces carry that label (`namespace_labels`), nothing else does. In them:

- every image under the internal mirror must carry a signature made with the platform key
  (`authorities[].key.data`, the PUBLIC half from stack config; the private key signs in the
  mirroring pipeline and never touches this program);
- `no-match-policy: deny` (config-policy-controller, policy-controller v0.13.1
  pkg/config/store.go `NoMatchPolicyKey`) refuses any image no policy matches, i.e. any image
  that is not from the mirror.

Models are OCI images (KServe modelcar, `storageUri: oci://...`): KServe's pod mutator injects
the model image as a container before validating webhooks run, so this check covers the model too.

A key authority without `ctlog` verifies offline: policy-controller v0.13.1
(pkg/webhook/validator.go, checkOptsFromAuthority) skips the transparency log when no Rekor client
is configured, so an air-gapped cluster verifies with the key alone.
"""
from __future__ import annotations

from typing import Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..k8s import child, custom_resource, meta
from . import releases
from .config import stand_in_key_problem

POLICY_NAME = "kfplatform-signed-images"
INCLUDE_LABEL = "policy.sigstore.dev/include"
RELEASE_NAME = "policy-controller"


def image_glob(registry: str) -> str:
    """policy-controller's glob for every image under `registry` (`**` crosses `/`)."""
    return f"{registry.rstrip('/')}/**"


def policy_spec(registry: str, public_key: str) -> dict:
    return {
        "mode": "enforce",
        "images": [{"glob": image_glob(registry)}],
        "authorities": [{"name": "platform-signing-key", "key": {"data": public_key, "hashAlgorithm": "sha256"}}],
    }


def chart_values(*, mirror: str, pull_secret: str, replicas: int) -> dict:
    image = releases.POLICY_CONTROLLER.image
    cleanup = releases.LEASES_CLEANUP.image
    return {
        "installCRDs": True,
        "imagePullSecrets": [{"name": pull_secret}],
        "webhook": {
            # `version: sha256:...` renders `repository@sha256:...` (the chart's image helper).
            "image": {"repository": image.repository(mirror), "version": image.digest, "pullPolicy": "IfNotPresent"},
            "replicaCount": replicas,
            "failurePolicy": "Fail",
            "namespaceSelector": {"matchExpressions": [{"key": INCLUDE_LABEL, "operator": "In", "values": ["true"]}]},
            "configData": {"no-match-policy": "deny"},
            "podDisruptionBudget": {"enabled": replicas > 1, "minAvailable": 1},
        },
        "leasescleanup": {"image": {"repository": cleanup.repository(mirror), "version": cleanup.digest}},
    }


class SignedImages(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        *,
        namespace: str,
        registry: str,
        public_key: str,
        mirror: str,
        pull_secret: str,
        replicas: int,
        chart_repository: str,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:compliance:SignedImages", name, None, opts)
        if (problem := stand_in_key_problem(public_key)) is not None:
            pulumi.log.warn(problem)
        chart = releases.POLICY_CONTROLLER_CHART
        self.release = k8s.helm.v3.Release(
            f"{name}-policy-controller",
            name=RELEASE_NAME,
            chart=chart.name,
            version=chart.version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart_repository),
            namespace=namespace,
            create_namespace=False,
            atomic=True,
            cleanup_on_fail=True,
            max_history=10,
            values=chart_values(mirror=mirror, pull_secret=pull_secret, replicas=replicas),
            opts=child(self, depends_on=list(depends_on)),
        )
        self.policy = custom_resource(
            POLICY_NAME,
            api_version="policy.sigstore.dev/v1beta1",
            kind="ClusterImagePolicy",
            metadata=meta(POLICY_NAME, component="compliance"),
            spec=policy_spec(registry, public_key),
            opts=child(self, depends_on=[self.release]),
        )
        self.register_outputs({"policy": POLICY_NAME, "chartVersion": chart.version})
