"""ProxySql: the only database endpoint of KFP, ML Metadata and Katib, in front of Galera.

mariadb-operator has no ProxySQL (mariadb-operator#1312), so it is built here: a Deployment
whose `proxysql.cnf` comes from a ConfigMap with `mysql_galera_hostgroups` (one writer; the other
nodes are backup writers that also serve as readers), a monitor account, and the consumers'
accounts. The ConfigMap holds no password: every credential is a `@@secret:<secret>/<key>@@`
reference that the container's start script replaces with the mounted Secret's value, in memory
(/run), when the container starts. When a password rotates, `pulumi up` rolls the pods: their
template carries the rotation marker of every mounted credential (`rotation`). Should a pod still
have started with an old value (ESO slower than the roll), the liveness check notices that the
mounted Secrets changed and the kubelet restarts the container, which renders the new values.

All statements go to the writer hostgroup: KFP and MLMD read their own writes, and one writer
spares Galera certification conflicts. ProxySQL moves the writer when the node fails.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..k8s import child, labels, meta
from ..secrets.plane import ROTATION_ANNOTATION
from . import releases
from .config import ProxySqlConfig
from .endpoints import PROXYSQL_PORT, PROXYSQL_SERVICE

ADMIN_SECRET = "proxysql-admin"
METRICS_PORT = 6070
GALERA_PORT = 3306
WRITER, BACKUP_WRITER, READER, OFFLINE = 10, 20, 30, 9999
SECRETS_DIR = "/etc/proxysql/secrets"
RUN_DIR = "/run/proxysql"
APP = {"app.kubernetes.io/name": "proxysql"}
RUN_AS = 65532  # the container's user and group (not root)


def secret_ref(secret: str, key: str = "password") -> str:
    """A placeholder the start script replaces with the mounted Secret's value."""
    return f"@@secret:{secret}/{key}@@"


def mounted_secrets(users: Mapping[str, str], monitor_secret: str) -> list[str]:
    """The Secrets (in ProxySQL's namespace) whose `password` each pod mounts and reads at start."""
    return sorted({ADMIN_SECRET, monitor_secret, *users.values()})


def proxysql_config(
    hosts: Sequence[str],
    users: Mapping[str, str],
    *,
    monitor_user: str,
    monitor_secret: str,
    config: ProxySqlConfig,
    server_version: str,
    user_limits: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """`proxysql.cnf` as data: `users` maps each consumer's username to its password Secret;
    `user_limits` caps some users' connections to this replica (mysql_users.max_connections)."""
    limits = dict(user_limits or {})
    return {
        "datadir": "/var/lib/proxysql",
        "admin_variables": {
            # Reachable only from inside the pod; ProxySQL's `admin` user is local-only anyway.
            "admin_credentials": f"admin:{secret_ref(ADMIN_SECRET)}",
            "mysql_ifaces": "127.0.0.1:6032",
            # Prometheus metrics at :6070/metrics.
            "restapi_enabled": True,
            "restapi_port": METRICS_PORT,
        },
        "mysql_variables": {
            "threads": config.threads,
            "max_connections": 4096,
            "interfaces": f"0.0.0.0:{PROXYSQL_PORT}",
            "server_version": server_version,
            # KFP, MLMD and Katib authenticate to ProxySQL, not to MariaDB: the plugin ProxySQL offers
            # its clients is the one KFP's driver needs (kubeflow/pipelines#9549). ProxySQL's default
            # since 2.6, written here so a newer default cannot change it silently.
            "default_authentication_plugin": "mysql_native_password",
            "default_schema": "information_schema",
            "connect_timeout_server": 3000,
            "monitor_username": monitor_user,
            "monitor_password": secret_ref(monitor_secret),
            "monitor_connect_interval": 10000,
            "monitor_ping_interval": 5000,
            "monitor_galera_healthcheck_interval": 2000,
            "monitor_galera_healthcheck_timeout": 800,
            "monitor_galera_healthcheck_max_timeout_count": 3,
        },
        # ProxySQL's Galera support moves nodes between these hostgroups from their wsrep state.
        "mysql_galera_hostgroups": [{
            "writer_hostgroup": WRITER,
            "backup_writer_hostgroup": BACKUP_WRITER,
            "reader_hostgroup": READER,
            "offline_hostgroup": OFFLINE,
            "active": 1,
            "max_writers": 1,
            # 2: backup writers also serve reads; the writer does not.
            "writer_is_also_reader": 2,
            "max_transactions_behind": 100,
            "comment": "galera",
        }],
        # Every node starts in the writer hostgroup; ProxySQL keeps one there and moves the rest.
        "mysql_servers": [
            {
                "address": host, "port": GALERA_PORT, "hostgroup": WRITER, "weight": 1000,
                "max_connections": config.max_backend_connections, "use_ssl": 1,
                "comment": host.split(".", 1)[0],
            }
            for host in hosts
        ],
        "mysql_users": [
            {
                "username": user, "password": secret_ref(secret), "default_hostgroup": WRITER,
                "transaction_persistent": 1, "active": 1,
                # mysql_users.max_connections, read from the config file with the other user
                # fields (ProxySQL's lib/ProxySQL_Config.cpp, Read_MySQL_Users_from_configfile).
                **({"max_connections": limits[user]} if user in limits else {}),
            }
            for user, secret in sorted(users.items())
        ],
    }


def _value(value: Any, indent: str) -> str:
    inner = indent + "  "
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if not value.isascii() or "\n" in value:
            raise ValueError(f"{value!r}: proxysql.cnf strings must be single-line ASCII")
        return json.dumps(value)
    if isinstance(value, dict):
        body = "".join(f"{inner}{k}={_value(v, inner)}\n" for k, v in value.items())
        return "{\n" + body + indent + "}"
    if isinstance(value, list):
        return "(\n" + ",\n".join(inner + _value(v, inner) for v in value) + "\n" + indent + ")"
    raise TypeError(f"cannot write {type(value).__name__} to proxysql.cnf")


def render_cnf(config: Mapping[str, Any]) -> str:
    """libconfig text, as ProxySQL reads it."""
    header = "# Rendered by kfplatform (kfplatform/data/proxysql.py); credentials are filled in from mounted Secrets at container start.\n"
    return header + "".join(f"{key}={_value(value, '')}\n\n" for key, value in config.items())


START_SCRIPT = f"""#!/bin/sh
# Render proxysql.cnf from the template and the mounted Secrets (in memory), then run ProxySQL.
set -eu
secrets={SECRETS_DIR}
out={RUN_DIR}/proxysql.cnf
cp /etc/proxysql/template/proxysql.cnf "$out.tmp"
for file in "$secrets"/*/*; do
  [ -f "$file" ] || continue
  ref="${{file#"$secrets"/}}"
  value=$(cat "$file")
  case "$value" in
    ''|*[!A-Za-z0-9._~+=-]*) echo "refusing $ref: empty or characters proxysql.cnf cannot hold" >&2; exit 1 ;;
  esac
  sed -i "s|@@secret:$ref@@|$value|g" "$out.tmp"
done
if grep -o '@@secret:[^@]*@@' "$out.tmp" >&2; then
  echo "the references above have no mounted Secret" >&2
  exit 1
fi
mv "$out.tmp" "$out"
cat "$secrets"/*/* | md5sum > {RUN_DIR}/credentials.md5
# --initial: the configuration comes from this file on every start, never from an older datadir.
exec proxysql -f --initial -c "$out" -D /var/lib/proxysql
"""

# Liveness: the credentials ProxySQL started with are still the mounted ones. After a rotation the
# check fails and the kubelet restarts the container, which renders the new passwords.
LIVENESS_SCRIPT = f"""#!/bin/sh
[ "$(cat {SECRETS_DIR}/*/* | md5sum)" = "$(cat {RUN_DIR}/credentials.md5)" ]
"""


# Draining on a rollout or a node drain. When a pod is deleted, Kubernetes takes it out of the
# Service's endpoints and runs the preStop hook before SIGTERM; ProxySQL itself closes every client
# connection when it stops. So the hook first waits for the endpoint removal to reach every node
# (no new connections arrive after that), then until the clients' connections to the MySQL port
# are gone (they finish their transactions and reconnect to another pod; Go's database/sql pools
# do so on the next query), at most DRAIN_MAX_SECONDS; the grace period covers both. The count
# reads /proc/net/tcp{,6} (local port in hex, state 01 = ESTABLISHED) with sh and grep, which the
# start script already relies on: no MySQL client is needed in the image.
DRAIN_MIN_SECONDS = 10
DRAIN_MAX_SECONDS = 40
TERMINATION_GRACE_SECONDS = DRAIN_MIN_SECONDS + DRAIN_MAX_SECONDS + 10
PRESTOP_SCRIPT = f"""#!/bin/sh
# preStop: stop taking new clients (endpoint removal), then let the open ones finish.
# (PROC_NET, DRAIN_MIN, DRAIN_MAX: set only by the tests.)
net=${{PROC_NET:-/proc/net}}
sleep ${{DRAIN_MIN:-{DRAIN_MIN_SECONDS}}}
end=$(( $(date +%s) + ${{DRAIN_MAX:-{DRAIN_MAX_SECONDS}}} ))
while [ "$(date +%s)" -lt "$end" ]; do
  open=$(cat "$net/tcp" "$net/tcp6" 2>/dev/null | grep -cE '^ *[0-9]+: [0-9A-F]+:{PROXYSQL_PORT:04X} [0-9A-F]+:[0-9A-F]+ 01 ' || true)
  [ "$open" -eq 0 ] && exit 0
  sleep 1
done
exit 0
"""


class ProxySql(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: ProxySqlConfig,
        *,
        namespace: str,
        galera_hosts: Sequence[str],
        users: Mapping[str, str],
        monitor_user: str,
        monitor_secret: str,
        admin_secret: pulumi.Resource,
        mirror: str,
        pull_secret: str,
        zones: Sequence[str],
        topology_key: str,
        rotation: pulumi.Input[str] | None = None,
        user_limits: Mapping[str, int] | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`user_limits`: connections per user to each replica, for capped (tenant) accounts.
        `rotation`: the rotation markers of the `mounted_secrets` (plane.rotation_markers), put
        on the pod template so a rotation rolls the pods; `depends_on` must hold their ExternalSecrets."""
        super().__init__("kfplatform:data:ProxySql", name, None, opts)
        self.config_data = proxysql_config(
            galera_hosts, users, monitor_user=monitor_user, monitor_secret=monitor_secret, config=config,
            server_version=f"{releases.MARIADB.image.tag}-MariaDB", user_limits=user_limits,
        )
        self.cnf = render_cnf(self.config_data)
        config_maps = self._config_maps(namespace, depends_on)
        secret_names = mounted_secrets(users, monitor_secret)
        container = self._container(config, mirror, secret_names)
        pod_spec = self._pod_spec(container, secret_names, pull_secret, zones, topology_key)
        self.deployment = self._deployment(
            config, namespace, pod_spec, rotation, depends_on=[*config_maps, admin_secret, *depends_on]
        )
        self.service = self._service(namespace, depends_on)
        if config.replicas >= 2:
            self._disruption_budget(namespace, depends_on)
        self.register_outputs({"service": PROXYSQL_SERVICE, "port": PROXYSQL_PORT})

    def _config_maps(self, namespace: str, depends_on: Sequence[pulumi.Resource]) -> list[k8s.core.v1.ConfigMap]:
        """The `proxysql.cnf` template (no password in it) and the start, liveness and preStop scripts."""
        template = k8s.core.v1.ConfigMap(
            "proxysql-config",
            metadata=meta("proxysql-config", namespace, component="database", extra_labels=APP),
            data={"proxysql.cnf": self.cnf},
            opts=child(self, depends_on=depends_on),
        )
        scripts = k8s.core.v1.ConfigMap(
            "proxysql-scripts",
            metadata=meta("proxysql-scripts", namespace, component="database", extra_labels=APP),
            data={"start.sh": START_SCRIPT, "liveness.sh": LIVENESS_SCRIPT, "prestop.sh": PRESTOP_SCRIPT},
            opts=child(self, depends_on=depends_on),
        )
        return [template, scripts]

    @staticmethod
    def _container(config: ProxySqlConfig, mirror: str, secret_names: Sequence[str]) -> k8s.core.v1.ContainerArgs:
        """The ProxySQL container: probes, drain on preStop, non-root and read-only, one mount per Secret."""
        tcp = k8s.core.v1.TCPSocketActionArgs(port="mysql")
        return k8s.core.v1.ContainerArgs(
            name="proxysql",
            image=releases.PROXYSQL.ref(mirror),
            command=["/bin/sh", "/etc/proxysql/scripts/start.sh"],
            ports=[
                k8s.core.v1.ContainerPortArgs(name="mysql", container_port=PROXYSQL_PORT),
                k8s.core.v1.ContainerPortArgs(name="metrics", container_port=METRICS_PORT),
            ],
            startup_probe=k8s.core.v1.ProbeArgs(tcp_socket=tcp, period_seconds=2, failure_threshold=30),
            readiness_probe=k8s.core.v1.ProbeArgs(tcp_socket=tcp, period_seconds=5, failure_threshold=2),
            liveness_probe=k8s.core.v1.ProbeArgs(
                exec_=k8s.core.v1.ExecActionArgs(command=["/bin/sh", "/etc/proxysql/scripts/liveness.sh"]),
                period_seconds=10, failure_threshold=3, timeout_seconds=5,
            ),
            resources=config.resources.as_k8s(),
            lifecycle=k8s.core.v1.LifecycleArgs(
                pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                    exec_=k8s.core.v1.ExecActionArgs(command=["/bin/sh", "/etc/proxysql/scripts/prestop.sh"]),
                ),
            ),
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False,
                read_only_root_filesystem=True,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            ),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="template", mount_path="/etc/proxysql/template", read_only=True),
                k8s.core.v1.VolumeMountArgs(name="scripts", mount_path="/etc/proxysql/scripts", read_only=True),
                k8s.core.v1.VolumeMountArgs(name="run", mount_path=RUN_DIR),
                k8s.core.v1.VolumeMountArgs(name="data", mount_path="/var/lib/proxysql"),
                *[
                    k8s.core.v1.VolumeMountArgs(name=f"secret-{s}", mount_path=f"{SECRETS_DIR}/{s}", read_only=True)
                    for s in secret_names
                ],
            ],
        )

    @staticmethod
    def _pod_spec(
        container: k8s.core.v1.ContainerArgs, secret_names: Sequence[str], pull_secret: str,
        zones: Sequence[str], topology_key: str,
    ) -> k8s.core.v1.PodSpecArgs:
        """One pod per node, spread over the zones when there are two or more; the volumes it mounts."""
        spread = []
        if len(zones) >= 2:
            spread = [{
                "maxSkew": 1, "topologyKey": topology_key, "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": APP},
            }]
        return k8s.core.v1.PodSpecArgs(
            automount_service_account_token=False,
            termination_grace_period_seconds=TERMINATION_GRACE_SECONDS,
            image_pull_secrets=[k8s.core.v1.LocalObjectReferenceArgs(name=pull_secret)],
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True, run_as_user=RUN_AS, run_as_group=RUN_AS,
                # Secret files belong to root; fsGroup makes them group RUN_AS, which the
                # container (not root) needs to read the passwords at start.
                fs_group=RUN_AS,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            affinity=k8s.core.v1.AffinityArgs(
                pod_anti_affinity=k8s.core.v1.PodAntiAffinityArgs(
                    required_during_scheduling_ignored_during_execution=[
                        k8s.core.v1.PodAffinityTermArgs(
                            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=APP),
                            topology_key="kubernetes.io/hostname",
                        )
                    ]
                )
            ),
            topology_spread_constraints=spread or None,
            containers=[container],
            volumes=[
                k8s.core.v1.VolumeArgs(
                    name="template",
                    config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name="proxysql-config"),
                ),
                k8s.core.v1.VolumeArgs(
                    name="scripts",
                    config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name="proxysql-scripts", default_mode=0o555),
                ),
                k8s.core.v1.VolumeArgs(
                    name="run", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(medium="Memory", size_limit="16Mi"),
                ),
                k8s.core.v1.VolumeArgs(name="data", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="1Gi")),
                *[
                    k8s.core.v1.VolumeArgs(
                        name=f"secret-{s}",
                        secret=k8s.core.v1.SecretVolumeSourceArgs(
                            secret_name=s, default_mode=0o440,
                            items=[k8s.core.v1.KeyToPathArgs(key="password", path="password")],
                        ),
                    )
                    for s in secret_names
                ],
            ],
        )

    def _deployment(
        self, config: ProxySqlConfig, namespace: str, pod_spec: k8s.core.v1.PodSpecArgs,
        rotation: pulumi.Input[str] | None, depends_on: Sequence[pulumi.Resource],
    ) -> k8s.apps.v1.Deployment:
        """Rolled one pod at a time, never below the replica count; a changed configuration, or a rotated
        password, changes the template's annotations and so rolls the pods."""
        checksum = hashlib.sha256((self.cnf + START_SCRIPT + LIVENESS_SCRIPT + PRESTOP_SCRIPT).encode()).hexdigest()
        return k8s.apps.v1.Deployment(
            "proxysql",
            metadata=meta("proxysql", namespace, component="database", extra_labels=APP),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=config.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=APP),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=labels("database", APP),
                        # A changed configuration, or a rotated password, rolls the pods.
                        annotations={
                            "kfplatform.io/config-sha256": checksum,
                            **({ROTATION_ANNOTATION: rotation} if rotation is not None else {}),
                        },
                    ),
                    spec=pod_spec,
                ),
            ),
            opts=child(self, depends_on=depends_on),
        )

    def _service(self, namespace: str, depends_on: Sequence[pulumi.Resource]) -> k8s.core.v1.Service:
        """The endpoint KFP, ML Metadata and Katib connect to, and the metrics port Prometheus scrapes."""
        return k8s.core.v1.Service(
            PROXYSQL_SERVICE,
            metadata=meta(PROXYSQL_SERVICE, namespace, component="database", extra_labels=APP),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=APP,
                ports=[
                    k8s.core.v1.ServicePortArgs(name="mysql", port=PROXYSQL_PORT, target_port="mysql"),
                    k8s.core.v1.ServicePortArgs(name="metrics", port=METRICS_PORT, target_port="metrics"),
                ],
            ),
            opts=child(self, depends_on=depends_on),
        )

    def _disruption_budget(self, namespace: str, depends_on: Sequence[pulumi.Resource]) -> None:
        # Only with >= 2 replicas: a PDB over one pod blocks every drain (kubeflow/kubeflow#5103).
        k8s.policy.v1.PodDisruptionBudget(
            "proxysql-pdb",
            metadata=meta("proxysql", namespace, component="database", extra_labels=APP),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=APP),
            ),
            opts=child(self, depends_on=depends_on),
        )
