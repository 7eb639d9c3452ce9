"""Data-tier configuration: each class of bad input is refused at its key path, before anything is declared."""
import pytest

from kfplatform.config.errors import ConfigError

from .helpers import data_section, issues_for, load_with_data

POOLS = "kubeflow-platform:data.objectStore.pools"


def paths(issues) -> dict[str, str]:
    return {issue.path: issue.message for issue in issues}


def test_committed_stacks_are_valid():
    assert load_with_data("prod", data_section("prod")).stack.data.galera.replicas == 3
    assert load_with_data("sandbox", data_section("sandbox")).stack.data.galera.replicas == 1


@pytest.mark.parametrize("stack", ["prod", "sandbox"])
def test_an_even_galera_cluster_is_refused_everywhere(stack):
    found = paths(issues_for(stack, lambda d: d["galera"].update(replicas=4)))
    assert "quorum" in found["kubeflow-platform:data.galera.replicas"]


def test_prod_needs_three_galera_nodes_while_sandbox_may_run_one():
    found = paths(issues_for("prod", lambda d: d["galera"].update(replicas=1)))
    assert "at least 3 Galera nodes" in found["kubeflow-platform:data.galera.replicas"]
    data = data_section("sandbox")
    data["galera"]["replicas"] = 1
    load_with_data("sandbox", data)


def test_prod_needs_two_proxysql_replicas():
    found = paths(issues_for("prod", lambda d: d["proxysql"].update(replicas=1)))
    assert "at least 2 replicas" in found["kubeflow-platform:data.proxysql.replicas"]


def test_parity_above_half_an_erasure_set_is_refused():
    # The sandbox's 1 server x 4 volumes: one erasure set of 4 drives, so EC:2 at most.
    found = paths(issues_for("sandbox", lambda d: d["objectStore"].update(parity=3)))
    message = found["kubeflow-platform:data.objectStore"]
    assert "EC:3 exceeds half" in message and "at most EC:2" in message


def test_parity_is_checked_against_every_pool():
    def add_small_pool(data):
        data["objectStore"]["pools"].append({"name": "pool-1", "servers": 4, "volumesPerServer": 1, "volumeSize": "1Ti"})

    found = paths(issues_for("prod", add_small_pool))
    assert "pool 'pool-1'" in found["kubeflow-platform:data.objectStore"]  # EC:4 > 4 drives / 2


def test_fewer_than_four_drives_is_refused():
    def tiny(data):
        data["objectStore"]["pools"][0].update(servers=1, volumesPerServer=2)
        data["objectStore"]["parity"] = 1

    found = paths(issues_for("sandbox", tiny))
    assert "1 x 2 = 2" in found[f"{POOLS}[0]"] and "at least 4 drives" in found[f"{POOLS}[0]"]


def test_prod_pools_need_four_servers():
    def three(data):
        data["objectStore"]["pools"][0].update(servers=3, volumesPerServer=4)
        data["objectStore"]["parity"] = 4

    found = paths(issues_for("prod", three))
    assert "at least 4 servers" in found[f"{POOLS}[0]"]


def test_prod_parity_must_survive_losing_a_server():
    # 4 x 4: 16 drives in one set, 4 per server: EC:2 keeps reads but loses write quorum with a server down.
    def four_by_four_at_ec2(data):
        data["objectStore"]["pools"][0].update(servers=4, volumesPerServer=4)
        data["objectStore"]["parity"] = 2

    found = paths(issues_for("prod", four_by_four_at_ec2))
    assert "stops accepting writes when one server is down" in found["kubeflow-platform:data.objectStore"]


def test_prod_object_store_must_survive_losing_a_zone():
    # 4 servers over 3 zones: 2 (8 of 16 drives) in one zone; EC:4 tolerates one server.
    found = paths(issues_for("prod", lambda d: d["objectStore"]["pools"][0].update(servers=4, volumesPerServer=4)))
    message = found["kubeflow-platform:data.objectStore.pools[0]"]
    assert "puts up to 2 of its 4 servers in one of the 3 zones" in message and "losing that zone stops" in message
    # The committed 6 x 2 at EC:4 keeps writing with a whole zone (2 servers) down.
    from kfplatform.data.erasure import servers_in_largest_zone, servers_tolerated

    assert servers_in_largest_zone(6, 3) == 2 <= servers_tolerated(6, 2, 4)


def test_prod_access_keys_rotate_within_180_days():
    found = paths(issues_for("prod", lambda d: d["objectStore"].update(accessKeyMaxAgeDays=200)))
    assert "every 180 days" in found["kubeflow-platform:data.objectStore.accessKeyMaxAgeDays"]
    data = data_section("sandbox")
    data["objectStore"]["accessKeyMaxAgeDays"] = 200
    assert load_with_data("sandbox", data).stack.data.object_store.access_key_max_age_days == 200


def test_prod_volumes_must_be_retained():
    found = paths(issues_for("prod", lambda d: d["storageClass"].update(reclaimPolicy="Delete")))
    assert "Retain" in found["kubeflow-platform:data.storageClass.reclaimPolicy"]


def test_proxysql_connections_must_fit_the_writer():
    found = paths(issues_for("prod", lambda d: d["proxysql"].update(maxBackendConnections=600)))
    assert "exceeds galera.maxConnections 1500" in found["kubeflow-platform:data"]


@pytest.mark.parametrize(
    "change, path, words",
    [
        (lambda d: d["objectStore"]["buckets"].update(audit="mlpipeline"), "objectStore.buckets", "must differ"),
        (lambda d: d["objectStore"]["buckets"].update(backups="Backups_2"), "objectStore.buckets.backups", "S3 bucket name"),
        (lambda d: d["objectStore"].update(adminEndpoint="https://minio:443"), "objectStore.adminEndpoint", "without scheme"),
        (lambda d: d["galera"].update(replicaCount=3), "galera.replicaCount", "unknown key"),
        (lambda d: d["objectStore"]["pools"].append(dict(d["objectStore"]["pools"][0])), "objectStore.pools", "unique"),
    ],
)
def test_malformed_values_name_their_key(change, path, words):
    found = paths(issues_for("prod", change))
    assert words in found[f"kubeflow-platform:data.{path}"]


def test_every_problem_is_reported_at_once():
    def many(data):
        data["galera"]["replicas"] = 2
        data["proxysql"]["replicas"] = 1
        data["objectStore"]["accessKeyMaxAgeDays"] = 365

    found = paths(issues_for("prod", many))
    assert {
        "kubeflow-platform:data.galera.replicas",
        "kubeflow-platform:data.proxysql.replicas",
        "kubeflow-platform:data.objectStore.accessKeyMaxAgeDays",
    } <= set(found)


def test_the_render_exits_2_naming_file_and_key(tmp_path, capsys):
    from kfplatform import cli

    project = tmp_path / "project"
    project.mkdir()
    import shutil

    from .helpers import PROJECT_DIR

    for name in ("__main__.py", "Pulumi.yaml", "Pulumi.prod.yaml", "data-geometry.prod.json"):
        shutil.copy(PROJECT_DIR / name, project / name)
    shutil.copytree(PROJECT_DIR / "tenants", project / "tenants")
    stack_file = project / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace("      replicas: 3\n      storageSize", "      replicas: 2\n      storageSize"))
    assert cli.main(["--project", str(project), "render", "--stack", "prod", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "Pulumi.prod.yaml: kubeflow-platform:data.galera.replicas:" in err


def test_a_stack_without_a_data_section_is_refused():
    from kfplatform.config.loader import load_platform_config

    from .helpers import PROJECT_DIR, stack_raw

    raw = stack_raw("prod")
    del raw["kubeflow-platform:data"]
    with pytest.raises(ConfigError, match="kubeflow-platform:data: Field required"):
        load_platform_config("prod", raw, PROJECT_DIR)


def test_access_keys_rotate_every_90_days_unless_configured():
    for stack in ("prod", "sandbox"):
        data = data_section(stack)
        data["objectStore"].pop("accessKeyMaxAgeDays", None)
        assert load_with_data(stack, data).stack.data.object_store.access_key_max_age_days == 90


GRACE = "kubeflow-platform:data.objectStore.previousKeyGraceHours"


@pytest.mark.parametrize("stack, value, message", [
    ("prod", -1, "greater than or equal to 0"),
    ("prod", 24 * 30 + 1, "less than or equal to 720"),
    ("prod", "two days", "valid integer"),
    ("prod", 1.5, "valid integer"),
    ("prod", True, "a YAML boolean"),
])
def test_a_bad_previous_key_grace_is_refused_at_its_key(stack, value, message):
    issues = issues_for(stack, lambda d: d["objectStore"].update(previousKeyGraceHours=value))
    found = paths(issues)
    assert message in found[GRACE], found
    assert all(i.file == f"Pulumi.{stack}.yaml" for i in issues)


def test_a_grace_as_long_as_the_keys_maximum_age_is_refused():
    # The sandbox's keys live 30 days = 720 hours: their previous key may not outlive them.
    issues = issues_for("sandbox", lambda d: d["objectStore"].update(previousKeyGraceHours=720))
    message = paths(issues)["kubeflow-platform:data.objectStore"]
    assert "previousKeyGraceHours (720) must be shorter than accessKeyMaxAgeDays (30 days = 720 hours)" in message


@pytest.mark.parametrize("stack, value", [("prod", 0), ("prod", 48), ("prod", 720), ("sandbox", 0), ("sandbox", 719)])
def test_valid_previous_key_graces_load(stack, value):
    data = data_section(stack)
    data["objectStore"]["previousKeyGraceHours"] = value
    assert load_with_data(stack, data).stack.data.object_store.key_grace_hours == value


@pytest.mark.parametrize("max_age_days, grace", [(90, 48), (4, 48), (3, 36), (1, 12)])
def test_the_previous_key_grace_defaults_to_48_hours_or_half_the_keys_age(max_age_days, grace):
    data = data_section("sandbox")
    data["objectStore"]["accessKeyMaxAgeDays"] = max_age_days
    data["objectStore"].pop("previousKeyGraceHours", None)
    assert load_with_data("sandbox", data).stack.data.object_store.key_grace_hours == grace
