"""ProxySQL: the generated proxysql.cnf, read back by an independent libconfig parser, and its Deployment."""
import re
import subprocess

import libconf
import pytest

from kfplatform.data import proxysql
from kfplatform.data.galera import galera_hosts

DB_NS = "kubeflow-db"
SECRET_REF = re.compile(r"^@@secret:([a-z0-9-]+)/([a-z0-9_.-]+)@@$")


def cnf(result) -> dict:
    return libconf.loads(result.find("ConfigMap", "proxysql-config", DB_NS)["data"]["proxysql.cnf"])


def deployment(result) -> dict:
    return result.find("Deployment", "proxysql", DB_NS)


@pytest.mark.parametrize("stack, nodes", [("prod", 3), ("sandbox", 1)])
def test_hostgroups_point_at_every_galera_node(stack, request, nodes):
    result = request.getfixturevalue(stack)
    config = cnf(result)
    addresses = [s["address"] for s in config["mysql_servers"]]
    assert addresses == galera_hosts(DB_NS, nodes)
    assert len(set(addresses)) == nodes
    (galera,) = config["mysql_galera_hostgroups"]
    assert galera["max_writers"] == 1
    groups = {galera[k] for k in ("writer_hostgroup", "backup_writer_hostgroup", "reader_hostgroup", "offline_hostgroup")}
    assert len(groups) == 4  # four distinct hostgroups
    # Every node starts as a writer candidate; ProxySQL keeps one writer and moves the rest.
    assert {s["hostgroup"] for s in config["mysql_servers"]} == {galera["writer_hostgroup"]}
    assert all(s["port"] == 3306 and s["use_ssl"] == 1 for s in config["mysql_servers"])


def test_every_consumer_account_is_routed_to_the_writer(prod):
    config = cnf(prod)
    writer = config["mysql_galera_hostgroups"][0]["writer_hostgroup"]
    users = {u["username"]: u for u in config["mysql_users"]}
    # The platform's consumers, and the Model Registry of each team that has one (team-nlp).
    assert set(users) == {"kfp", "mlmd", "katib", "model-registry-team-nlp"}
    assert all(u["default_hostgroup"] == writer and u["transaction_persistent"] == 1 for u in users.values())
    assert "mysql_query_rules" not in config  # no read/write split: consumers read their own writes


def test_clients_are_offered_mysql_native_password(each_stack):
    # KFP's driver authenticates to ProxySQL (the only endpoint), so ProxySQL's frontend plugin is the one that counts.
    assert cnf(each_stack)["mysql_variables"]["default_authentication_plugin"] == "mysql_native_password"


def test_no_credential_is_inlined_only_referenced(each_stack):
    config = cnf(each_stack)
    fields = [
        config["mysql_variables"]["monitor_password"],
        config["admin_variables"]["admin_credentials"].split(":", 1)[1],
        *[u["password"] for u in config["mysql_users"]],
    ]
    refs = [SECRET_REF.match(value) for value in fields]
    assert all(refs), fields
    assert config["mysql_variables"]["monitor_username"] == "proxysql-monitor"
    assert refs[0].group(1) == "proxysql-monitor"
    # Each referenced Secret is mounted where the start script looks for it.
    pod = deployment(each_stack)["spec"]["template"]["spec"]
    mounted = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert {ref.group(1) for ref in refs} == mounted
    mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert {f"{proxysql.SECRETS_DIR}/{name}" for name in mounted} <= mounts
    # And each is an ESO-made Secret in the same namespace.
    for name in mounted:
        each_stack.find("ExternalSecret", name, DB_NS)


def test_deployment_is_ha_in_prod_with_anti_affinity_pdb_and_health_checks(prod):
    spec = deployment(prod)["spec"]
    assert spec["replicas"] >= 2
    pod = spec["template"]["spec"]
    (term,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    (container,) = pod["containers"]
    assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(container)
    assert container["readinessProbe"]["tcpSocket"]["port"] == "mysql"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    pdb = prod.find("PodDisruptionBudget", "proxysql", DB_NS)["spec"]
    assert pdb["maxUnavailable"] == 1 and pdb["selector"]["matchLabels"] == spec["selector"]["matchLabels"]


def test_the_container_user_can_read_every_file_it_mounts(each_stack):
    """Secret and ConfigMap files belong to root: a non-root container reads them through the mode's
    "other" bits, or as the pod's fsGroup (the kubelet gives that group read on the volume)."""
    pod = deployment(each_stack)["spec"]["template"]["spec"]
    user = pod["securityContext"]["runAsUser"]
    assert user != 0
    fs_group = pod["securityContext"].get("fsGroup")
    for volume in pod["volumes"]:
        source = volume.get("secret") or volume.get("configMap")
        if source is None:
            continue
        modes = [int(item.get("mode", source.get("defaultMode", 0o644))) for item in source.get("items") or [{}]]
        for mode in modes:
            assert mode & 0o004 or (fs_group is not None and mode & 0o040), (volume["name"], oct(mode), fs_group)


def test_sandbox_single_replica_has_no_pdb(sandbox):
    assert deployment(sandbox)["spec"]["replicas"] == 1
    with pytest.raises(KeyError):
        sandbox.find("PodDisruptionBudget", "proxysql", DB_NS)


def test_service_is_the_contracted_database_endpoint(each_stack):
    service = each_stack.find("Service", "proxysql", DB_NS)["spec"]
    mysql = next(p for p in service["ports"] if p["name"] == "mysql")
    assert mysql["port"] == 6033
    assert service["selector"] == deployment(each_stack)["spec"]["selector"]["matchLabels"]
    assert each_stack.exports["databaseEndpoint"] == "proxysql.kubeflow-db.svc.cluster.local:6033"


def _run_start_script(tmp_path, secrets: dict[str, str], template: str) -> subprocess.CompletedProcess:
    """The real start script, with its paths pointed into tmp_path and `proxysql` replaced by `cat`."""
    (tmp_path / "template").mkdir()
    (tmp_path / "template" / "proxysql.cnf").write_text(template)
    for name, value in secrets.items():
        (tmp_path / "secrets" / name).mkdir(parents=True)
        (tmp_path / "secrets" / name / "password").write_text(value)
    (tmp_path / "run").mkdir()
    script = (
        proxysql.START_SCRIPT.replace(proxysql.SECRETS_DIR, str(tmp_path / "secrets"))
        .replace(proxysql.RUN_DIR, str(tmp_path / "run"))
        .replace("/etc/proxysql/template", str(tmp_path / "template"))
        .replace('exec proxysql -f --initial -c "$out" -D /var/lib/proxysql', 'exec cat "$out"')
    )
    return subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, timeout=10)


def test_start_script_fills_references_from_mounted_secrets(tmp_path, prod):
    template = prod.find("ConfigMap", "proxysql-config", DB_NS)["data"]["proxysql.cnf"]
    names = set(re.findall(r"@@secret:([a-z0-9-]+)/password@@", template))
    values = {name: f"pw{i}Abc" for i, name in enumerate(sorted(names))}
    done = _run_start_script(tmp_path, values, template)
    assert done.returncode == 0, done.stderr
    rendered = libconf.loads(done.stdout)
    assert "@@secret" not in done.stdout
    assert rendered["mysql_variables"]["monitor_password"] == values["proxysql-monitor"]
    assert {u["username"]: u["password"] for u in rendered["mysql_users"]}["kfp"] == values["kfp-db-credentials"]
    # The fingerprint the liveness check compares against was written.
    assert (tmp_path / "run" / "credentials.md5").read_text().strip()


def test_start_script_refuses_an_unresolved_reference(tmp_path):
    done = _run_start_script(tmp_path, {"a": "x1"}, 'p="@@secret:a/password@@"\nq="@@secret:b/password@@"\n')
    assert done.returncode != 0 and "@@secret:b/password@@" in done.stderr


def test_start_script_refuses_values_the_config_cannot_hold(tmp_path):
    done = _run_start_script(tmp_path, {"a": 'x"; admin_credentials="evil'}, 'p="@@secret:a/password@@"\n')
    assert done.returncode != 0 and "refusing a/password" in done.stderr


def test_render_cnf_refuses_multiline_strings():
    with pytest.raises(ValueError, match="single-line"):
        proxysql.render_cnf({"x": "a\nb"})


def test_liveness_fails_once_a_mounted_password_rotates(tmp_path):
    assert _run_start_script(tmp_path, {"a": "old1"}, 'p="@@secret:a/password@@"\n').returncode == 0
    liveness = proxysql.LIVENESS_SCRIPT.replace(proxysql.SECRETS_DIR, str(tmp_path / "secrets")).replace(
        proxysql.RUN_DIR, str(tmp_path / "run")
    )
    assert subprocess.run(["/bin/sh", "-c", liveness], timeout=10).returncode == 0
    (tmp_path / "secrets" / "a" / "password").write_text("new2")
    assert subprocess.run(["/bin/sh", "-c", liveness], timeout=10).returncode != 0


def test_a_rotated_password_rolls_the_pods_after_its_external_secret(each_stack):
    """ProxySQL reads every mounted password at start: the pod template carries the rotation marker
    of each mounted Secret's Vault paths (derived from the volumes), and the Deployment waits for
    those ExternalSecrets, so `pulumi up` rolls ProxySQL with the new values."""
    from kfplatform.secrets.plane import ROTATION_ANNOTATION
    from tests.secrets.rotation import expected_marker

    template = deployment(each_stack)["spec"]["template"]
    mounted = sorted(v["secret"]["secretName"] for v in template["spec"]["volumes"] if v.get("secret"))
    assert proxysql.ADMIN_SECRET in mounted and len(mounted) >= 5
    paths = [d["remoteRef"]["key"] for s in mounted for d in each_stack.find("ExternalSecret", s, DB_NS)["spec"]["data"]]
    assert template["metadata"]["annotations"][ROTATION_ANNOTATION] == expected_marker(each_stack, paths)
    assert "platform/database/proxysql-admin" in template["metadata"]["annotations"][ROTATION_ANNOTATION]
    (resource,) = [r for r in each_stack.by_type("kubernetes:apps/v1:Deployment") if r.name == "proxysql"]
    es_urns = {r.name: r.urn for r in each_stack.by_type("kubernetes:external-secrets.io/v1:ExternalSecret")}
    for secret in mounted:
        assert es_urns[f"{DB_NS}-{secret}"] in resource.dependencies, secret
