"""ObjectUsers: MinIO users made inside the cluster by `mc`, so no access key is a Pulumi name or ID.

pulumi-minio 0.17.1 keys an `IamUser` (and an `IamServiceAccount`) by its access key: the key is the
resource's ID, and IDs are stored in plaintext in Pulumi state (../shared/FACTS.md). So the program
keeps only what is not secret in state (each account's `IamPolicy`, policy names and documents), and
a reconciler in the object store's namespace (which already holds MinIO's root credentials) makes
the users from the keys ESO delivers there:

    Vault (generated, rotated) ── ESO ── Secret minio-account-<policy> (object-store namespace)
                                            └── Job minio-user-<policy>-<hash of the rotation>  (`pulumi up`)
                                            └── CronJob minio-users (every account, every 15 minutes: repairs drift)

Per account, as MinIO's root (`MC_HOST_store`, minio/mc RELEASE.2025-08-13T08-35-41Z cmd/config.go
`mcEnvHostPrefix`), the script (`SCRIPT`) runs:
- `mc admin user add store` with the access and secret key on standard input (cmd/admin-user-add.go:
  `fetchUserKeys` reads both lines from a non-terminal stdin when only TARGET is given, so the keys
  are never in a process's arguments). AddUser creates the user or resets its secret key, and
  enables it (madmin-go 4b504b82db63 user-commands.go: `SetUser(..., AccountEnabled)`).
- `mc admin policy attach store <policy> --user <key>` (cmd/admin-policy-attach.go): mc itself
  tolerates `XMinioAdminPolicyChangeAlreadyApplied` (`errCodeChangeAlreadyApplied`), so it is
  idempotent.
- `mc admin policy entities store --policy <policy> --json` (cmd/admin-policy-entities.go, printed
  by `policyEntities.JSON` in cmd/idp-ldap-policy-subcommands.go: madmin-go 4b504b82db63
  `PolicyEntitiesResult`, `result.policyMappings[].users[]`; indented, but compacted onto one line
  when stdout is not a terminal, cmd/globals.go `globalJSONLine = !isTerminal() && json` and
  cmd/print.go `printMsg`, which is always the case in a pod and in `$(...)`):
  every user attached to the account's policy that is not its current key is stale. Each policy
  belongs to exactly one account, so a stale user is the previous key or someone else's user.
- `mc admin policy entities store --user <key> --json` (same command, `result.userMappings[].policies[]`)
  and `mc admin policy detach store <other> --user <key>` (cmd/admin-policy-detach.go): the user
  keeps its account's policy and no other one someone attached by hand. (Group memberships are not
  checked: the platform makes no groups.)
- `mc admin user remove store <user>` (cmd/admin-user-remove.go) for each stale user, once the
  current keys are older than the grace (`previousKeyGraceHours`): consumers pick up a rotated key
  on ESO's refresh and restart, and a pipeline step started before the rotation still holds the
  old one. The keys' age comes from the rotation marker the Secret carries
  (`<period start>/<due date>`, secrets/rotation.py): the due date is the `up` that rotated plus
  `rotateDays`. mc at the pinned tag prints no creation time of a user (cmd/admin-user-add.go
  `userMessage` has none), so the marker is the only honest clock.
- Every run first checks that each Secret it reads carries the rotation its pod spec was made for
  (`EXPECTED_ROTATIONS`, `<policy>=<marker>;...`, set by the program on the Jobs and the CronJob):
  ESO refreshes the Secret in the same `up` (the rotation annotation, secrets/plane.py), and until
  it did (or while a mounted volume lags) the pod fails and the Job retries. So no run acts on
  keys older than its own spec's (the window that remains: docs/data-tier.md, "MinIO accounts").

Shell: the mc image is `ubi9/ubi-micro` plus `/usr/bin/mc` (minio/mc Dockerfile.release at the tag:
nothing else is installed). The script needs only a POSIX `/bin/sh` (its builtins), `date` (GNU
`-d`, from ubi-micro's coreutils-single) and mc; the tests run it with nothing else on PATH.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..alerts import PLATFORM_TEAM, alert_rule, runbook_url
from ..backup import releases as mc_releases
from ..k8s import child, custom_resource, meta
from ..secrets.plane import ROTATION_ANNOTATION, SecretsPlane, platform_path
from .endpoints import OBJECT_STORE_CA_CONFIGMAP, OBJECT_STORE_CA_KEY

COMPONENT = "object-store"
CRONJOB = "minio-users"
ADMIN_SECRET = "minio-users-admin"
ALIAS = "store"
ACCOUNTS_DIR = "/accounts"
CONFIG_DIR = "/tmp/.mc"
# Every 15 minutes (minutes 7, 22, 37, 52): drift, a previous key past its grace and a user removed
# by a mistake (or by the `up` that retires the old IamUser resources) are repaired that fast.
CRON = "7-59/15 * * * *"
CRON_INTERVAL_SECONDS = 900  # tests check it against backup/config.py's cron parser
RULE_NAME = "kfplatform-object-users"
H_NOT_RECONCILED = "Object store: users not reconciled"
HEADINGS = (H_NOT_RECONCILED,)
# Alert when no run succeeded for an hour: four runs in a row.
STALE_AFTER_SECONDS = 4 * CRON_INTERVAL_SECONDS
# The files of an account's Secret (its directory under ACCOUNTS_DIR is named after its policy).
FILES = ("accesskey", "secretkey", "rotation", "rotatedays")


def account_secret(policy: str) -> str:
    return f"minio-account-{policy}"


def job_name(policy: str, marker: str) -> str:
    """`minio-user-<policy>-<hash>`: changes exactly when the account's rotation marker does.

    Made from the policy name and the marker (dates), never from a key. 63 characters at most.
    """
    digest = hashlib.sha256(f"{policy}\n{marker}".encode()).hexdigest()[:10]
    return f"{f'minio-user-{policy}'[:52].rstrip('-')}-{digest}"


SCRIPT = r"""set -eu
fail() { echo "minio-users: $*" >&2; exit 1; }
mc() { command mc --config-dir "$MC_DIR" --quiet --no-color "$@"; }
# A mounted file's content (ESO writes no trailing newline), with the shell's own `read`.
value() { v=; IFS= read -r v < "$1" || :; printf '%s' "$v"; }
now=$(date -u +%s)

# The strings of array KEY in `mc admin policy entities --json`: one line of JSON (stdout is not a
# terminal), `..."users":["AK1","AK2"],...` or `..."policies":["p1"]...`; `null` when there is none.
strings_of() {
  pattern="\"$1\":["
  rest=${2#*"$pattern"}
  [ "$rest" != "$2" ] || return 0
  while :; do
    case $rest in
      \"*)
        rest=${rest#?}
        user=${rest%%\"*}
        printf '%s\n' "$user"
        rest=${rest#*\"}
        rest=${rest#,} ;;
      *) return 0 ;;
    esac
  done
}

reconcile() {
  dir=$1
  policy=${dir%/}; policy=${policy##*/}
  for f in accesskey secretkey rotatedays; do
    [ -s "$dir/$f" ] || fail "account $policy: $f missing from its Secret"
  done
  [ -f "$dir/rotation" ] || fail "account $policy: rotation missing from its Secret"
  access_key=$(value "$dir/accesskey")
  rotation=$(value "$dir/rotation")
  days=$(value "$dir/rotatedays")
  expected=";${EXPECTED_ROTATIONS:-}"
  [ "${expected#*;"$policy"=}" != "$expected" ] || fail "account $policy: no expected rotation for it in EXPECTED_ROTATIONS"
  expected=${expected#*;"$policy"=}
  expected=${expected%%;*}
  if [ "$rotation" != "$expected" ]; then
    fail "account $policy: its Secret holds rotation $rotation, not $expected yet (ESO refresh pending; the Job retries)"
  fi
  printf '%s\n%s\n' "$access_key" "$(value "$dir/secretkey")" | mc admin user add "$ALIAS" >/dev/null \
    || fail "account $policy: mc admin user add failed"
  mc admin policy attach "$ALIAS" "$policy" --user "$access_key" >/dev/null \
    || fail "account $policy: mc admin policy attach failed"
  # The user has its account's policy and no other (someone may have attached more).
  mapped=$(mc admin policy entities "$ALIAS" --user "$access_key" --json) \
    || fail "account $policy: mc admin policy entities failed (for its user)"
  detached=0
  others=$(strings_of policies "$mapped")
  while IFS= read -r other; do
    [ -n "$other" ] && [ "$other" != "$policy" ] || continue
    case "$other" in *\\*) fail "account $policy: a policy with escaped characters is attached to its user; detach it by hand" ;; esac
    mc admin policy detach "$ALIAS" "$other" --user "$access_key" >/dev/null \
      || fail "account $policy: mc admin policy detach of another policy failed"
    detached=$((detached + 1))
  done <<EOF
$others
EOF
  entities=$(mc admin policy entities "$ALIAS" --policy "$policy" --json) \
    || fail "account $policy: mc admin policy entities failed"
  # The current keys' age: the rotation's due date is the `up` that made them plus `days`.
  age=$GRACE_SECONDS
  case "$rotation" in
    */*)
      due=$(date -u -d "${rotation#*/}" +%s) || fail "account $policy: unreadable rotation date in $rotation"
      age=$((now - due + days * 86400)) ;;
  esac
  kept=0
  removed=0
  attached=$(strings_of users "$entities")
  while IFS= read -r user; do
    [ -n "$user" ] && [ "$user" != "$access_key" ] || continue
    case "$user" in *\\*) fail "account $policy: a user with escaped characters is attached to $policy; remove it by hand" ;; esac
    if [ "$age" -lt "$GRACE_SECONDS" ]; then
      kept=$((kept + 1))
      continue
    fi
    mc admin user remove "$ALIAS" "$user" >/dev/null || fail "account $policy: mc admin user remove of a stale user failed"
    removed=$((removed + 1))
  done <<EOF
$attached
EOF
  echo "account $policy: user in place and attached ($detached other policies detached); $removed stale user(s) removed, $kept kept until the grace of $GRACE_SECONDS s ends (keys $age s old)"
}

count=0
for dir in "$ACCOUNTS_DIR"/*/; do
  [ -d "$dir" ] || continue
  reconcile "$dir"
  count=$((count + 1))
done
[ "$count" -gt 0 ] || fail "no account under $ACCOUNTS_DIR"
echo "minio-users: $count account(s) reconciled"
"""


class ObjectUsers(pulumi.ComponentResource):
    """The MinIO users of every `ObjectAccount`, made in-cluster (module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        namespace: str,
        object_store_host: str,
        object_store_port: int,
        secrets: SecretsPlane,
        mirror: str,
        pull_secret: str,
        grace_hours: int,
        monitoring_namespace: str,
        monitoring_ready: Sequence[pulumi.Resource],
        runbook_base_url: str,
        depends_on: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("kfplatform:data:ObjectUsers", name, None, opts)
        self._monitoring_ready = list(monitoring_ready)
        self.namespace = namespace
        self._secrets = secrets
        self._mirror = mirror
        self._pull_secret = pull_secret
        self._grace_seconds = grace_hours * 3600
        self._monitoring_namespace = monitoring_namespace
        self._runbook_base_url = runbook_base_url
        self._depends_on = list(depends_on)
        self._accounts: dict[str, pulumi.Output[str]] = {}  # policy -> its rotation marker ("" if never rotated)
        self._deliveries: list[pulumi.Resource] = []
        self._paths: list[str] = []  # the Vault paths the reconciler reads
        self._finished = False
        self.cronjob: k8s.batch.v1.CronJob | None = None
        # MinIO's root as `mc` alias `store`, in the namespace where the root credentials already are.
        self.admin = secrets.deliver(
            namespace, ADMIN_SECRET, platform_path("object-store", "root"), {"user": "user", "password": "password"},
            template_data={
                f"MC_HOST_{ALIAS}": f"https://{{{{ .user }}}}:{{{{ .password }}}}@{object_store_host}:{object_store_port}",
            },
            depends_on=self._depends_on,
        )

    def account(
        self,
        *,
        policy_name: str,
        vault_path: str,
        rotate_days: int,
        depends_on: Sequence[pulumi.Resource],
        parent: pulumi.Resource,
    ) -> k8s.batch.v1.Job:
        """Deliver the account's keys to the object store's namespace and make its user now.

        The returned Job completes once the user exists with the current keys and is attached:
        what reads the keys depends on it. Tenant keys (`tenants/<team>/...`, which the platform's
        store may not read) are mirrored to `platform/object-store/users/<policy>` first.
        """
        if self._finished:
            raise RuntimeError(f"{policy_name}: ObjectUsers.finish() already ran; accounts come before it")
        if policy_name in self._accounts:
            raise ValueError(f"MinIO policy {policy_name!r} belongs to two accounts: each policy has exactly one")
        secrets = self._secrets
        path = vault_path
        if not vault_path.startswith("platform/"):
            path = platform_path("object-store", f"users/{policy_name}")
            secrets.mirrored(vault_path, path)
        marker = secrets.rotation_marker(path)
        marker_out = marker if marker is not None else pulumi.Output.from_input("")
        self._accounts[policy_name] = marker_out
        self._paths.append(path)
        delivery = secrets.deliver(
            self.namespace, account_secret(policy_name), path, {"access_key": "access_key", "secret_key": "secret_key"},
            template_data={
                "accesskey": "{{ .access_key }}",
                "secretkey": "{{ .secret_key }}",
                "rotation": marker_out,
                "rotatedays": str(rotate_days),
            },
            depends_on=[*self._depends_on, *depends_on],
        )
        self._deliveries.append(delivery)
        return k8s.batch.v1.Job(
            f"{policy_name}-minio-user",
            metadata=meta(
                marker_out.apply(lambda m: job_name(policy_name, m)), self.namespace, component=COMPONENT,
            ),
            spec={
                # Retries cover ESO's refresh of the Secret after a rotation (EXPECTED_ROTATIONS).
                "backoffLimit": 6,
                "activeDeadlineSeconds": 900,
                "template": {
                    "metadata": {
                        "labels": {"app.kubernetes.io/name": CRONJOB},
                        # The plane's convention for what reads a rotated credential (plane.py).
                        "annotations": {ROTATION_ANNOTATION: secrets.rotation_markers([path])} if marker is not None else None,
                    },
                    "spec": self._pod_spec(
                        [policy_name], expected_rotations({policy_name: marker_out}),
                    ),
                },
            },
            opts=child(parent, depends_on=[self.admin, delivery, *self._depends_on, *depends_on]),
        )

    def finish(self) -> None:
        """The CronJob over every account, and its alert. Called once, after the last account."""
        if self._finished:
            raise RuntimeError("ObjectUsers.finish() called twice")
        self._finished = True
        if not self._accounts:
            self.register_outputs({})
            return
        markers = self._secrets.rotation_markers(self._paths)
        self.cronjob = k8s.batch.v1.CronJob(
            "minio-users",
            metadata=meta(CRONJOB, self.namespace, component=COMPONENT),
            spec={
                "schedule": CRON,
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": 900,
                    "template": {
                        "metadata": {
                            "labels": {"app.kubernetes.io/name": CRONJOB},
                            # Every account's marker, as on any reader of rotated keys (plane.py).
                            "annotations": {ROTATION_ANNOTATION: markers} if markers is not None else None,
                        },
                        "spec": self._pod_spec(sorted(self._accounts), expected_rotations(self._accounts)),
                    },
                }},
            },
            opts=child(self, depends_on=[self.admin, *self._deliveries, *self._depends_on]),
        )
        custom_resource(
            "object-users-alerts", api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
            metadata=meta(RULE_NAME, self._monitoring_namespace, component=COMPONENT),
            spec={"groups": [{"name": RULE_NAME, "rules": rules(self.namespace, self._runbook_base_url)}]},
            opts=child(self, depends_on=self._monitoring_ready),
        )
        self.register_outputs({"accounts": sorted(self._accounts), "cronJob": CRONJOB})

    def _pod_spec(self, policies: Sequence[str], expected: pulumi.Output[str]) -> dict:
        return pod_spec(
            policies, mirror=self._mirror, pull_secret=self._pull_secret, grace_seconds=self._grace_seconds,
            extra_env=[{"name": "EXPECTED_ROTATIONS", "value": expected}],
        )


def expected_rotations(markers: dict[str, pulumi.Output[str]]) -> pulumi.Output[str]:
    """EXPECTED_ROTATIONS: `<policy>=<marker>` per account, `;`-separated (markers hold neither)."""
    policies = sorted(markers)
    return pulumi.Output.all(*[markers[p] for p in policies]).apply(
        lambda values: ";".join(f"{p}={m}" for p, m in zip(policies, values))
    )


def pod_spec(
    policies: Sequence[str], *, mirror: str, pull_secret: str, grace_seconds: int, extra_env: Sequence[dict] = (),
) -> dict:
    """The reconciler's pod: `mc` as non-root, root alias from ADMIN_SECRET, each account's Secret
    projected into ACCOUNTS_DIR/<policy>/, the cluster CA (it signs MinIO's certificate) in certs/CAs."""
    container = {
        "name": "mc",
        "image": mc_releases.MC.ref(mirror),
        "command": ["/bin/sh", "-c", SCRIPT],
        "env": [
            {"name": "MC_DIR", "value": CONFIG_DIR},
            {"name": "ALIAS", "value": ALIAS},
            {"name": "ACCOUNTS_DIR", "value": ACCOUNTS_DIR},
            {"name": "GRACE_SECONDS", "value": str(grace_seconds)},
            # The shell's here-documents: the root filesystem is read-only.
            {"name": "TMPDIR", "value": CONFIG_DIR},
            *extra_env,
        ],
        "envFrom": [{"secretRef": {"name": ADMIN_SECRET}}],
        "volumeMounts": [
            {"name": "mc-config", "mountPath": CONFIG_DIR},
            {"name": "cluster-ca", "mountPath": f"{CONFIG_DIR}/certs/CAs", "readOnly": True},
            {"name": "accounts", "mountPath": ACCOUNTS_DIR, "readOnly": True},
        ],
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
            "runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    return {
        "restartPolicy": "Never",
        "imagePullSecrets": [{"name": pull_secret}],
        # fsGroup: the projected key files are group-readable (0440) by the non-root user only.
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": "mc-config", "emptyDir": {}},
            {"name": "cluster-ca", "configMap": {
                "name": OBJECT_STORE_CA_CONFIGMAP, "items": [{"key": OBJECT_STORE_CA_KEY, "path": "cluster-ca.crt"}],
            }},
            {"name": "accounts", "projected": {"defaultMode": 0o440, "sources": [
                {"secret": {"name": account_secret(policy), "items": [
                    {"key": f, "path": f"{policy}/{f}"} for f in FILES
                ]}}
                for policy in policies
            ]}},
        ],
    }


def rules(namespace: str, runbook_base_url: str) -> list[dict]:
    """The reconciler has not succeeded for STALE_AFTER_SECONDS, or never (kube-state-metrics
    v2.20.0 internal/store/cronjob.go `kube_cronjob_status_last_successful_time`, as backup/alerts.py)."""
    last = f'kube_cronjob_status_last_successful_time{{namespace="{namespace}",cronjob="{CRONJOB}"}}'
    url = runbook_url(runbook_base_url, H_NOT_RECONCILED)
    hours = f"{STALE_AFTER_SECONDS / 3600:g}h"
    common = dict(severity="ticket", slo="object_store_users", team=PLATFORM_TEAM, name="minio", runbook=url)
    return [
        alert_rule(
            "ObjectStoreUsersNotReconciled", f"time() - {last} > {STALE_AFTER_SECONDS}", for_="15m",
            summary=f"MinIO users have not been reconciled for more than {hours}: drift and stale keys stay",
            **common,
        ),
        alert_rule(
            "ObjectStoreUsersNeverReconciled", f"absent({last})", for_=f"{STALE_AFTER_SECONDS // 60}m",
            summary=f"The MinIO users reconciler has not succeeded once in {hours}",
            **common,
        ),
    ]
