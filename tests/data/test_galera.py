"""The Galera cluster and its consumers' schemas and accounts, as rendered from the committed stacks."""
from kfplatform.data.endpoints import data_endpoints
from kfplatform.data.galera import APP_PRIVILEGES, my_cnf
from kfplatform.images import is_digest_pinned

from .helpers import data_section, load_with_data, resource

DB_NS = "kubeflow-db"
GALERA = "kubernetes:k8s.mariadb.com/v1alpha1:MariaDB"


def test_prod_galera_is_three_nodes_spread_over_nodes_and_zones(prod):
    spec = prod.find("MariaDB", "galera", DB_NS)["spec"]
    assert spec["galera"]["enabled"] is True
    assert spec["replicas"] == 3
    assert spec["affinity"] == {"antiAffinityEnabled": True}
    (spread,) = spec["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone" and spread["whenUnsatisfiable"] == "DoNotSchedule"
    assert spread["labelSelector"]["matchLabels"].items() <= spec["podMetadata"]["labels"].items()
    assert spec["podDisruptionBudget"] == {"maxUnavailable": 1}  # 2 of 3 keep quorum
    assert spec["metrics"]["enabled"] is True


def test_storage_uses_the_retained_class_and_configured_size(prod, sandbox):
    for result, size in ((prod, "200Gi"), (sandbox, "20Gi")):
        storage = result.find("MariaDB", "galera", DB_NS)["spec"]["storage"]
        assert storage["size"] == size
        assert storage["pvcRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
        storage_class = result.find("StorageClass", storage["storageClassName"])
        assert storage_class["volumeBindingMode"] == "WaitForFirstConsumer"
    assert prod.find("StorageClass", "kfp-data-retain")["reclaimPolicy"] == "Retain"


def test_sandbox_runs_one_node_without_a_pdb_that_would_block_drains(sandbox):
    spec = sandbox.find("MariaDB", "galera", DB_NS)["spec"]
    assert spec["replicas"] == 1 and spec["galera"]["enabled"] is True
    assert "podDisruptionBudget" not in spec
    assert "topologySpreadConstraints" not in spec  # one zone configured


def test_primary_keys_are_not_enforced_because_mlmd_eventpath_has_none(each_stack):
    cnf = each_stack.find("MariaDB", "galera", DB_NS)["spec"]["myCnf"]
    settings = [line.strip() for line in cnf.splitlines() if line.strip() and not line.startswith("#")]
    assert "innodb_force_primary_key=OFF" in settings
    assert not any("REQUIRED_PRIMARY_KEY" in s.upper() for s in settings)
    assert not any(s.startswith("wsrep_mode") for s in settings)


def test_nothing_in_the_render_enforces_primary_keys(each_stack):
    """Not in myCnf, nor anywhere else a setting could reach MariaDB (provider options, Helm values, patches)."""
    import json
    import re

    text = json.dumps([r.inputs for r in each_stack.resources if r.custom]).upper()
    assert "REQUIRED_PRIMARY_KEY" not in text
    assert "SQL_REQUIRE_PRIMARY_KEY" not in text
    assert re.findall(r"INNODB[_-]FORCE[_-]PRIMARY[_-]KEY\s*=\s*(\w+)", text) == ["OFF"]


def test_my_cnf_sizes_the_buffer_pool_from_the_memory_limit():
    config = load_with_data("prod", data_section("prod")).stack.data
    assert "innodb_buffer_pool_size=8192M" in my_cnf(config)  # half of 16Gi


def test_every_image_is_digest_pinned(each_stack):
    spec = each_stack.find("MariaDB", "galera", DB_NS)["spec"]
    refs = [spec["image"], spec["galera"]["agent"]["image"], spec["galera"]["initContainer"]["image"], spec["metrics"]["exporter"]["image"]]
    assert all(is_digest_pinned(ref) and ref.startswith("registry.ml.example.com/mirror/") for ref in refs), refs


def test_each_consumer_has_its_databases_and_a_least_privilege_user(prod):
    endpoints = data_endpoints(load_with_data("prod", data_section("prod")).stack)
    grants = [o for o in prod.kubernetes_objects() if o["kind"] == "Grant"]
    for account in endpoints.accounts.values():
        user = prod.find("User", account.user, DB_NS)["spec"]
        assert user["passwordSecretKeyRef"] == {"name": account.secret_name, "key": "password"}
        # IDENTIFIED BY a password: mysql_native_password, which KFP needs; no other plugin.
        assert "passwordPlugin" not in user and "passwordHashSecretKeyRef" not in user
        mine = [g["spec"] for g in grants if g["spec"]["username"] == account.user]
        assert sorted(g["database"] for g in mine) == sorted(account.databases)
        for grant in mine:
            assert grant["privileges"] == list(APP_PRIVILEGES) and grant["grantOption"] is False
            assert grant["table"] == "*" and grant["database"] != "*"
        for database in account.databases:
            db = prod.find("Database", database, DB_NS)["spec"]
            assert db["cleanupPolicy"] == "Skip"  # deleting the object never drops the schema
    assert not {"ALL", "ALL PRIVILEGES", "SUPER", "GRANT OPTION", "FILE", "PROCESS"} & set(APP_PRIVILEGES)


def test_passwords_come_from_vault_through_eso_never_literals(prod):
    endpoints = data_endpoints(load_with_data("prod", data_section("prod")).stack)
    for account in endpoints.accounts.values():
        here = prod.find("ExternalSecret", account.secret_name, DB_NS)["spec"]
        assert here["data"] == [{"secretKey": "password", "remoteRef": {"key": account.vault_path, "property": "password"}}]
        # The operator re-reads a rotated password only from a watched Secret.
        assert here["target"]["template"]["metadata"]["labels"] == {"k8s.mariadb.com/watch": ""}
        consumer = prod.find("ExternalSecret", account.secret_name, "kubeflow")["spec"]
        assert consumer["target"]["template"]["data"] == {"username": account.user, "password": "{{ .password }}"}
    for secret in ("mariadb-root", "mariadb-metrics", "proxysql-monitor"):
        prod.find("ExternalSecret", secret, DB_NS)
    spec = prod.find("MariaDB", "galera", DB_NS)["spec"]
    assert spec["rootPasswordSecretKeyRef"]["name"] == "mariadb-root"
    assert spec["metrics"]["passwordSecretKeyRef"]["name"] == "mariadb-metrics"


def test_crs_wait_for_the_operator_and_the_cluster(prod):
    crds = resource(prod, "kubernetes:helm.sh/v3:Release", "mariadb-operator-crds")
    operator = resource(prod, "kubernetes:helm.sh/v3:Release", "mariadb-operator")
    assert crds.urn in operator.dependencies
    galera = resource(prod, GALERA, "galera")
    assert operator.urn in galera.dependencies
    assert galera.inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    for r in prod.resources:
        if r.type.startswith("kubernetes:k8s.mariadb.com/") and r.type != GALERA:
            assert operator.urn in r.dependencies and galera.urn in r.dependencies, r.name


def test_the_operators_servicemonitor_carries_the_label_prometheus_selects_by(each_stack):
    """The Galera alerts read the mysqld exporter through mariadb-operator's ServiceMonitor: it must
    carry the `release` label of observability.selectorLabels, or a kube-prometheus-stack Prometheus
    never scrapes it and GaleraClusterSizeLow/GaleraNodeNotSynced can never fire."""
    import yaml

    from tests.conftest import PROJECT_DIR

    config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{each_stack.stack}.yaml").read_text())["config"]
    from kfplatform.observability.config import ObservabilityConfig

    default = ObservabilityConfig.model_fields["selector_labels"].default
    release = config["kubeflow-platform:observability"].get("selectorLabels", default)["release"]
    spec = each_stack.find("MariaDB", "galera", DB_NS)["spec"]
    assert spec["metrics"]["serviceMonitor"] == {"prometheusRelease": release}
