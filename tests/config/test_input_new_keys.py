"""The input review of the keys the areas added (stack `backup`, `compliance`, `observability`;
tenant `serving`, `alerting`, `compliance`, `backup`, `modelRegistry`): each bad value is refused
naming its file and key, before anything is registered, and its valid neighbour loads.

Each row is a class of input (docs/architecture.md "What tenant and stack input is refused"), not
a list of known bad strings: the grammar of where the value lands, a relation that makes no sense,
or a value that would reach another team or silence the platform.
"""
from __future__ import annotations

import copy

import pytest

from kfplatform.backup.config import cron_interval_seconds
from kfplatform.config.urls import registry_problem, url_problem
from kfplatform.observability.config import duration_ms
from tests.config.helpers import errors, load, stack_config, tenant

P = "kubeflow-platform:"


def _deep_set(node: dict, path: str, value) -> None:
    """Set `a.b.c` (or `a.b[0].c`) in `node`; a None value deletes the key."""
    parts = path.replace("[", ".[").split(".")
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
    last = parts[-1]
    if last.startswith("["):
        node[int(last[1:-1])] = value
    elif value is None:
        node.pop(last, None)
    else:
        node[last] = value


def stack_with(stack: str, section: str, path: str, value, **more) -> dict:
    config = stack_config(stack)
    _deep_set(config.setdefault(P + section, {}), path, value)
    for other_path, other in more.items():
        _deep_set(config[P + section], other_path.replace("__", "."), other)
    return config


def tenant_with(name: str, path: str, value) -> dict[str, dict]:
    body = copy.deepcopy(tenant(name))
    _deep_set(body, path, value)
    return {name: body}


# --- tenant files ----------------------------------------------------------------------------

TENANT_CASES = [
    # (tenant, key, bad value, the key path the error names, words in the message, valid neighbour)
    # PromQL injection through the InferenceService name (it lands in label matchers), and names
    # KServe refuses: a DNS-1035 label, so no quotes, braces, upper case or newline get through.
    ("team-nlp", "serving.inferenceServices[0].name", 'x"} or vector(1) #', "serving.inferenceServices[0].name",
     "should match pattern", "x-1"),
    ("team-nlp", "serving.inferenceServices[0].name", "Sentiment-Classifier", "serving.inferenceServices[0].name",
     "should match pattern", "sentiment-classifier"),
    ("team-nlp", "serving.inferenceServices[0].name", "sentiment-classifier\n", "serving.inferenceServices[0].name",
     "should match pattern", "sentiment-classifier-2"),
    ("team-nlp", "serving.inferenceServices[0].name", "a" * 46, "serving.inferenceServices[0].name",
     "at most 45", "a" * 45),
    ("team-nlp", "serving.inferenceServices[0].name", "", "serving.inferenceServices[0].name", "should match pattern", "a"),
    # Yes/no keys take a YAML boolean only: pydantic's lax mode read "no" as False, 1 as True.
    ("team-nlp", "serving.inferenceServices[0].scaleToZero", "no", "serving.inferenceServices[0].scaleToZero",
     "valid boolean", False),
    ("team-nlp", "serving.inferenceServices[0].scaleToZero", 1, "serving.inferenceServices[0].scaleToZero",
     "valid boolean", True),
    ("team-vision", "backup.notebookVolumes", "yes", "backup.notebookVolumes", "valid boolean", True),
    ("team-vision", "modelRegistry", "false", "modelRegistry", "valid boolean", False),
    # Strings where a YAML boolean was written.
    ("team-nlp", "alerting.receiver", True, "alerting.receiver", "YAML boolean", "webhook"),
    ("team-vision", "compliance", False, "compliance", "YAML boolean", "regulated"),
    # Huge or non-finite numbers are messages, never an overflow in a PromQL threshold.
    ("team-nlp", "serving.sloDefaults.latencyP99Ms", float("inf"), "serving.sloDefaults.latencyP99Ms",
     "less than or equal to 600000", 600000),
    ("team-nlp", "serving.sloDefaults.coldStartsPerHour", 10**30, "serving.sloDefaults.coldStartsPerHour",
     "less than or equal to 3600", 3600),
    ("team-nlp", "serving.inferenceServices[0].slo.errorRatePercent", float("nan"),
     "serving.inferenceServices[0].slo.errorRatePercent", "Input should be", 0.5),
]


@pytest.mark.parametrize("team,key,bad,at,words,good", TENANT_CASES,
                         ids=[f"{c[1]}={c[2]!r}"[:60] for c in TENANT_CASES])
def test_a_bad_tenant_value_names_the_file_and_key_and_its_neighbour_loads(tmp_path, team, key, bad, at, words, good):
    found = errors(tmp_path / "bad", tenants=tenant_with(team, key, bad))
    assert len(found) == 1 and found[0].startswith(f"tenants/{team}.yaml: {at}: ") and words in found[0], found
    assert load(tmp_path / "good", tenants=tenant_with(team, key, good))


def test_a_teams_rules_stay_one_object_the_api_server_accepts(tmp_path):
    # 100 services with the longest names make a PrometheusRule under etcd's 1.5 MiB request limit;
    # 101 are refused at the key.
    import json

    from kfplatform.observability.config import ServingConfig, ServingMetrics, SloPolicy
    from kfplatform.observability.slo import budget_group, slo_group

    many = [{"name": f"s{i}-".ljust(45, "x"), "scaleToZero": True} for i in range(101)]
    found = errors(tmp_path / "bad", tenants=tenant_with("team-nlp", "serving.inferenceServices", many))
    assert len(found) == 1 and found[0].startswith("tenants/team-nlp.yaml: serving.inferenceServices: ") \
        and "at most 100 items" in found[0], found
    assert load(tmp_path / "good", tenants=tenant_with("team-nlp", "serving.inferenceServices", many[:100]))
    serving = ServingConfig.model_validate({"inferenceServices": many[:100]})
    team = "team-" + "a" * 58
    groups = [slo_group(team, team, serving, ServingMetrics(), SloPolicy(), "https://git.ml.example.com/" + "x" * 100),
              budget_group(team, team, serving)]
    assert len(json.dumps({"spec": {"groups": groups}})) < 1.5 * 2**20 - 64 * 2**10  # headroom for metadata


def test_an_empty_list_of_inference_services_is_no_rules_not_an_error(tmp_path):
    config = load(tmp_path, tenants=tenant_with("team-nlp", "serving.inferenceServices", []))
    assert next(t.config for t in config.tenants if t.config.name == "team-nlp").serving.inference_services == []


def test_a_team_named_platform_cannot_silence_the_platform_alerts(tmp_path):
    # Every platform alert carries team="platform", and the platform's route drops the alerts of each
    # team with a receiver: a team `platform` with a receiver would silence the platform on-call (and
    # share the platform's own audit prefix, indices and auditor role).
    body = copy.deepcopy(tenant("team-nlp"))
    body.update(name="platform", alerting={"receiver": "webhook"}, modelRegistry=False)
    body.pop("katib")  # no GPUs: the capacity plan is not what this is about
    body["quota"] = {k: v for k, v in body["quota"].items() if "nvidia.com" not in k}
    found = errors(tmp_path / "bad", tenants={"platform": body})
    assert any(f.startswith("tenants/platform.yaml: name: 'platform' is taken: the platform's own team name") for f in found), found
    neighbour = {**body, "name": "platform-ml"}
    config = load(tmp_path / "good", tenants={"platform-ml": neighbour})
    assert "platform-ml" in {t.config.name for t in config.tenants}


def test_why_platform_is_reserved_the_platform_route_drops_teams_with_a_receiver():
    # The hazard the reservation closes: the platform's route drops alerts whose `team` is a team
    # with a receiver, and every platform alert carries team="platform".
    import re

    from kfplatform.alerts import PLATFORM_TEAM
    from kfplatform.observability.routing import platform_spec

    dropped = [r for r in platform_spec("pagerduty", [PLATFORM_TEAM])["route"]["routes"] if r["receiver"] == "none"]
    assert any(m["name"] == "team" and re.fullmatch(m["value"], PLATFORM_TEAM) for r in dropped for m in r["matchers"])


# --- compliance: a team cannot downgrade itself ------------------------------------------------

def _regulated(stack: str = "prod", exceptions: list[str] | None = None) -> dict:
    config = stack_with(stack, "compliance", "defaultLevel", "regulated")
    if exceptions is not None:
        config[P + "compliance"]["standardExceptions"] = exceptions
    return config


def test_with_a_regulated_default_a_team_cannot_write_itself_standard(tmp_path):
    found = errors(tmp_path / "bad", _regulated(), tenants=tenant_with("team-vision", "compliance", "standard"))
    assert found == [
        "tenants/team-vision.yaml: compliance: standard, but Pulumi.prod.yaml makes every team regulated "
        "(kubeflow-platform:compliance.defaultLevel); a team cannot downgrade itself: remove the key, or the "
        "platform lists team-vision in kubeflow-platform:compliance.standardExceptions"
    ]
    # Neighbours: the key removed (regulated like everyone), `regulated` said explicitly, or the
    # platform's own exception in the stack file.
    config = load(tmp_path / "unset", _regulated(), tenants=tenant_with("team-vision", "compliance", None))
    assert all(config.stack.compliance.level_of(t.config.compliance).value == "regulated" for t in config.tenants)
    assert load(tmp_path / "explicit", _regulated(), tenants=tenant_with("team-vision", "compliance", "regulated"))
    config = load(tmp_path / "excepted", _regulated(exceptions=["team-vision"]),
                  tenants=tenant_with("team-vision", "compliance", "standard"))
    vision = next(t.config for t in config.tenants if t.config.name == "team-vision")
    assert config.stack.compliance.level_of(vision.compliance).value == "standard"


@pytest.mark.parametrize("exceptions,default,words", [
    (["team-gone"], "regulated", "team-gone: not a team of tenants/"),
    (["team-vision", "team-vision"], "regulated", "team-vision listed twice"),
    (["Team-Vision"], "regulated", "is not a DNS label"),
    (["team-vision"], "standard", "only read when defaultLevel is regulated"),
])
def test_standard_exceptions_are_the_platforms_and_name_real_teams(tmp_path, exceptions, default, words):
    config = stack_with("prod", "compliance", "defaultLevel", default, standardExceptions=exceptions)
    found = errors(tmp_path, config)
    assert len(found) == 1 and found[0].startswith(f"Pulumi.prod.yaml: {P}compliance") and words in found[0], found


# --- stack files -------------------------------------------------------------------------------

INSTALL = {"prometheusReplicas": 2, "alertmanagerReplicas": 3, "retention": "30d", "storageSize": "500Gi"}

STACK_CASES = [
    # (stack, section, key, bad, the key path the error names (under the section), words, valid neighbour)
    # Days a bucket keeps previous versions: whole days, at least one (0 would be "never expire" to
    # nobody), not a duration string, not a boolean; `null` keeps them forever.
    ("prod", "data", "objectStore.noncurrentVersionDays.backups", 0, "objectStore.noncurrentVersionDays.backups",
     "greater than or equal to 1", 7),
    ("prod", "data", "objectStore.noncurrentVersionDays.backups", "14d", "objectStore.noncurrentVersionDays.backups",
     "valid integer", 30),
    ("sandbox", "data", "objectStore.noncurrentVersionDays.artifacts", True, "objectStore.noncurrentVersionDays.artifacts",
     "YAML boolean", 365),
    # Prometheus durations: each unit once, largest first; in range (prometheus/common ParseDuration).
    ("prod", "observability", "slo.latencyFor", "30m1h", "slo.latencyFor", "not a Prometheus duration", "1h30m"),
    ("prod", "observability", "slo.coldStartsFor", "5m5m", "slo.coldStartsFor", "not a Prometheus duration", "10m"),
    ("prod", "observability", "drift.for", "300y", "drift.for", "out of range", "1y"),
    ("prod", "observability", "drift.for", "30m\n", "drift.for", "not a Prometheus duration", "0"),
    # URLs: no credentials, newline, query or wrong scheme; selector labels are labels.
    ("prod", "observability", "runbookBaseUrl", "https://bot:s3cret@git.ml.example.com/ml", "runbookBaseUrl",
     "no user name or password", "https://git.ml.example.com/ml"),
    ("prod", "observability", "runbookBaseUrl", "https://git.ml.example.com/ml?ref=main", "runbookBaseUrl",
     "no query or fragment", "https://git.ml.example.com/ml/-/blob/main"),
    ("prod", "observability", "selectorLabels", {"release": "kube prometheus"}, "selectorLabels.release",
     "label value", {"release": "kube-prometheus"}),
    ("prod", "observability", "selectorLabels", {}, "selectorLabels", "at least 1 item", {"prometheus": "platform"}),
    ("prod", "observability", "servingMetrics.errorMatcher", 'code=~"5[0-9"', "servingMetrics.errorMatcher",
     "does not compile", 'code=~"5[0-9][0-9]"'),
    # Perl syntax Python compiles and Prometheus (Go RE2) refuses: every tenant's SLO rule would be unloadable.
    ("prod", "observability", "servingMetrics.errorMatcher", 'response_code_class=~"(?=5)xx"',
     "servingMetrics.errorMatcher", "Perl syntax", 'response_code_class=~"(?i)5xx"'),
    ("prod", "observability", "servingMetrics.errorMatcher", 'response_code_class=~"(?<!4)xx"',
     "servingMetrics.errorMatcher", "Perl syntax", 'response_code_class=~"(?:5|4)xx"'),
    ("prod", "observability", "servingMetrics.errorMatcher", 'response_code_class=~"5x*+"',
     "servingMetrics.errorMatcher", "Perl syntax", 'response_code_class=~"5x*"'),
    # Install mode: huge replicas, zero retention or size, a storage class that is no object name.
    ("prod", "observability", "install.prometheusReplicas", 10**12, "install.prometheusReplicas",
     "less than or equal to 10", 3),
    ("prod", "observability", "install.retention", "0s", "install.retention", "above zero", "1d"),
    ("prod", "observability", "install.storageSize", "0Gi", "install.storageSize", "should match pattern", "1Gi"),
    ("prod", "observability", "install.storageClass", "Fast SSD", "install.storageClass", "DNS subdomain", "fast-ssd"),
    # Compliance: OpenSearch reads backend roles as patterns: '*', '?' would grant other teams' groups.
    ("prod", "compliance", "logIndex.auditorGroup", "{tenant}*", "logIndex.auditorGroup",
     "not an IdP group name", "{tenant}-auditors"),
    ("prod", "compliance", "logIndex.auditorGroup", "audit?rs-{tenant}", "logIndex.auditorGroup",
     "not an IdP group name", "auditors-{tenant}"),
    ("prod", "compliance", "logIndex.auditorGroup", "/{tenant}.+/", "logIndex.auditorGroup",
     "not an IdP group name", "ml/{tenant}/auditors"),
    ("prod", "compliance", "logIndex.endpoint", "https://opensearch.ml.example.com:9200\n", "logIndex.endpoint",
     "newline", "https://opensearch.ml.example.com:9200"),
    ("prod", "compliance", "logIndex.endpoint", "https://admin:admin@opensearch.ml.example.com", "logIndex.endpoint",
     "no user name or password", "https://opensearch.ml.example.com"),
    ("prod", "compliance", "logIndex.endpoint", "https://opensearch.ml.example.com:92000", "logIndex.endpoint",
     "not 1..65535", "https://opensearch.ml.example.com:9200"),
    ("prod", "compliance", "argocdNotifications.webhookUrl", "https://", "argocdNotifications.webhookUrl",
     "not a URL", "https://audit-trail.example.com/argocd"),
    ("prod", "compliance", "policyController.chartRepository", "sigstore.github.io/helm-charts",
     "policyController.chartRepository", "not a URL", "oci://ghcr.io/sigstore/helm-charts"),
    ("prod", "compliance", "signing.registry", "**", "signing.registry", "not a registry prefix",
     "registry.ml.example.com/mirror/signed"),
    ("prod", "compliance", "signing.registry", "registry.other.example.com/signed", "signing.registry",
     "or a path under it", "registry.ml.example.com/mirror"),
    ("prod", "compliance", "audit.logPath", "/var/log/*.log", "audit.logPath", "under /var/log/",
     "/var/log/kube-apiserver/audit.log"),
    ("prod", "compliance", "audit.logPath", "/var/log/k8s.d/audit", "audit.logPath", "under /var/log/",
     "/var/log/k8s/audit.log"),
    ("prod", "compliance", "audit.controlPlaneLabel", "node role", "audit.controlPlaneLabel", "label key",
     "node-role.kubernetes.io/master"),
    # Backups: cron as Velero reads it (robfig/cron), a schedule that runs, retention that outlives it.
    ("prod", "backup", "schedules.platform.cron", "0 1 31 2 *", "schedules.platform.cron", "never runs", "0 1 * * *"),
    ("prod", "backup", "schedules.platform.cron", "99 1 * * *", "schedules.platform.cron", "outside 0-59", "59 1 * * *"),
    ("prod", "backup", "schedules.platform.cron", "*/0 * * * *", "schedules.platform.cron", "at least 1", "*/1 * * * *"),
    ("prod", "backup", "schedules.tenants.cron", "*/ 1 * * *", "schedules.tenants.cron", "not N, N-M", "*/5 1 * * *"),
    ("prod", "backup", "schedules.tenants.cron", "0 5-1 * * *", "schedules.tenants.cron", "runs backwards", "0 1-5 * * *"),
    ("prod", "backup", "schedules.tenants.cron", "0 1 * * 7", "schedules.tenants.cron", "outside 0-6", "0 1 * * 0"),
    ("prod", "backup", "galera.logical.cron", "15 * * * *\n", "galera.logical.cron", "not N, N-M", "15 * * * *"),
    ("prod", "backup", "schedules.platform", {"cron": "0 1 * * 0", "ttl": "168h", "offsite": True}, "schedules.platform",
     "does not outlive", {"cron": "0 1 * * 0", "ttl": "169h", "offsite": True}),
    # (the neighbour stays within galera.pointInTimeRecovery.retention, which must outlive it: config.py)
    ("prod", "backup", "galera.physical.maxRetention", "9999999h", "galera.physical.maxRetention", "out of range",
     "720h"),
    ("prod", "backup", "schedules.tenants.ttl", "0h", "schedules.tenants.ttl", "at least 24h", "48h"),
    ("prod", "backup", "offsite.endpoint", "https://s3.dr.example.com:99999", "offsite.endpoint", "not 1..65535",
     "https://s3.dr.example.com:9000"),
    ("prod", "backup", "offsite.bucket", "10.0.0.1", "offsite.bucket", "not an IP address", "10-0-0-1"),
    ("prod", "backup", "offsite.bucket", "ml-prod.-backups", "offsite.bucket", "S3 bucket name", "ml-prod.backups"),
    ("prod", "backup", "offsite.region", "EU Central 1", "offsite.region", "DNS label", "eu-central-1"),
    ("sandbox", "backup", "restore.endpoint", "minio-admin.ml.example.com:99999", "restore.endpoint", "host:port",
     "minio-admin.ml.example.com:65535"),
    ("sandbox", "backup", "restore.endpoint", "minio-admin..example.com:443", "restore.endpoint", "host:port",
     "minio-admin.example.com:443"),
    ("sandbox", "backup", "restore.pointInTime", 0, "restore.pointInTime", "quoted ISO 8601", "2026-11-30T22:00:00Z"),
    ("sandbox", "backup", "restore.namespaces", ["team-nlp", "team-nlp"], "restore.namespaces", "listed twice",
     ["team-nlp", "team-vision"]),
]


@pytest.mark.parametrize("stack,section,key,bad,at,words,good", STACK_CASES,
                         ids=[f"{c[1]}.{c[2]}={c[3]!r}"[:70] for c in STACK_CASES])
def test_a_bad_stack_value_names_the_file_and_key_and_its_neighbour_loads(tmp_path, stack, section, key, bad, at, words, good):
    def config(value):
        if key.startswith("install."):  # install mode, with one of its settings changed
            built = stack_with(stack, section, "install", {**INSTALL, key.split(".", 1)[1]: value})
            built[P + section]["mode"] = "install"
            return built
        return stack_with(stack, section, key, value)

    found = errors(tmp_path / "bad", config(bad), stack=stack)
    prefix = f"Pulumi.{stack}.yaml: {P}{section}.{at}: "
    assert len(found) == 1 and found[0].startswith(prefix) and words in found[0], found
    assert load(tmp_path / "good", config(good), stack=stack)


# --- the grammars on their own -------------------------------------------------------------------

@pytest.mark.parametrize("text,ms", [("0", 0), ("0s", 0), ("90s", 90_000), ("1h30m", 5_400_000), ("1y1w1d1h1m1s1ms", 32_230_861_001)])
def test_prometheus_durations_read_like_prometheus(text, ms):
    assert duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "1", "1m1h", "1h1h", "1.5h", "1H", " 1h", "1h ", "293y", "-1h"])
def test_prometheus_durations_refused(text):
    with pytest.raises(ValueError):
        duration_ms(text)


@pytest.mark.parametrize("cron,hours", [
    ("0 1 * * *", 24), ("0 1 * * 1-5", 72), ("0 0 13 * 5", 168), ("5/15 * * * *", 0.25), ("0 1 ? * 0", 168),
    ("0 0 29 2 *", 35064), ("0 0 1 */3 *", 24 * 92), ("0,30 */12 * * *", 11.5),
])
def test_the_longest_gap_is_exact_for_any_schedule(cron, hours):
    assert cron_interval_seconds(cron) == hours * 3600


@pytest.mark.parametrize("value", [
    "https://a.example.com\n", "https://a.example.com/\tx", "https://user@a.example.com", "https://a.example.com#x",
    "https://A.example.com", "https://a..example.com", "https://300.1.1.1", "https://[::g]", "ftp://a.example.com",
    "https://a.example.com:0", "https://",
])
def test_urls_refused(value):
    assert url_problem(value) is not None


@pytest.mark.parametrize("value", ["https://a.example.com", "https://a.example.com:8443/x/y-z_1.2", "https://10.0.0.1/",
                                   "https://[fd00::1]:9200"])
def test_urls_accepted(value):
    assert url_problem(value) is None


@pytest.mark.parametrize("value,ok", [
    ("registry.ml.example.com/mirror", True), ("registry:5000/a/b-c.d_e", True), ("registry.ml.example.com", True),
    ("registry.ml.example.com/", False), ("registry.ml.example.com/Mirror", False), ("*/mirror", False),
    ("registry.ml.example.com/**", False), ("registry.ml.example.com/mirror\n", False), ("", False),
])
def test_registry_prefixes(value, ok):
    assert (registry_problem(value) is None) is ok
