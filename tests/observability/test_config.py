"""Observability configuration: bad values fail before anything is registered, naming the file and
the key; their valid neighbours load. The other mode of prod (install) renders and validates."""
from __future__ import annotations

import copy
import pytest
import yaml

from kfplatform.config import ConfigError, load_platform_config
from tests.config.helpers import project_copy, stack_config, tenant
from tests.conftest import SHARED_DIR

OBS = "kubeflow-platform:observability"
NLP = "tenants/team-nlp.yaml"


def load(tmp_path, config=None, tenants=None, stack="prod"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    project = project_copy(tmp_path, stack, config, tenants)
    raw = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())["config"]
    return load_platform_config(stack, raw, project)


def issues(tmp_path, config=None, tenants=None, stack="prod") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, config, tenants, stack)
    return [str(i) for i in caught.value.issues]


def nlp_with(change) -> dict:
    body = tenant("team-nlp")
    change(body)
    return {"team-nlp": body}


def _set(path: str, value):
    """A change setting a dotted path (`serving.sloDefaults.latencyP95Ms`, `[0]` for list items)."""
    def change(body):
        node = body
        parts = path.replace("[", ".[").split(".")
        for part in parts[:-1]:
            node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
        last = parts[-1]
        if last.startswith("["):
            node[int(last[1:-1])] = value
        else:
            node[last] = value
    return change


TENANT_BAD = [
    ("serving.sloDefaults.latencyP95Ms", 0, "serving.sloDefaults.latencyP95Ms: Input should be greater than 0"),
    ("serving.sloDefaults.errorRatePercent", 10, "serving.sloDefaults.errorRatePercent: Input should be less than 6.94"),
    ("serving.sloDefaults.latencyP50Ms", 300, "serving.sloDefaults: latency targets must grow with the percentile"),
    ("serving.sloDefaults.coldStartsPerHour", -1, "serving.sloDefaults.coldStartsPerHour: Input should be greater than or equal to 0"),
    ("serving.inferenceServices[0].name", 'x"} or vector(1)', "serving.inferenceServices[0].name: String should match pattern"),
    ("serving.inferenceServices[0].slo.latencyP99Ms", 100,
     "serving: inferenceServices[0] (sentiment-classifier): latency targets must grow with the percentile"),
    ("serving.inferenceServices[0].slo.coldStarts", 5, "serving.inferenceServices[0].slo.coldStarts: unknown key"),
    ("serving.inferenceServices[0].scaleToZero", "sometimes", "serving.inferenceServices[0].scaleToZero: Input should be a valid boolean"),
    ("alerting.receiver", "slack", "alerting.receiver: Input should be 'pagerduty' or 'webhook'"),
]


@pytest.mark.parametrize("path,value,message", TENANT_BAD, ids=[c[0] for c in TENANT_BAD])
def test_bad_tenant_values_name_file_and_key(tmp_path, path, value, message):
    found = issues(tmp_path, tenants=nlp_with(_set(path, value)))
    assert len(found) == 1 and found[0].startswith(f"{NLP}: {message}"), found


def test_an_inference_service_listed_twice(tmp_path):
    def twice(body):
        body["serving"]["inferenceServices"].append(copy.deepcopy(body["serving"]["inferenceServices"][0]))
    assert issues(tmp_path, tenants=nlp_with(twice)) == [
        f"{NLP}: serving: inferenceServices: sentiment-classifier listed twice"
    ]


TENANT_GOOD = [
    ("serving.sloDefaults.latencyP95Ms", 0.5, None),  # with p50 below it
    ("serving.sloDefaults.errorRatePercent", 6.9, None),
    ("serving.inferenceServices[0].slo.latencyP99Ms", 150, None),  # equal to the P95 override
    ("serving.inferenceServices[0].name", "a", None),
    ("alerting.receiver", "webhook", None),
]


@pytest.mark.parametrize("path,value,_", TENANT_GOOD, ids=[c[0] for c in TENANT_GOOD])
def test_valid_neighbours_load(tmp_path, path, value, _):
    def change(body):
        if path == "serving.sloDefaults.latencyP95Ms":
            body["serving"]["sloDefaults"]["latencyP50Ms"] = 0.25
        _set(path, value)(body)
    config = load(tmp_path, tenants=nlp_with(change))
    nlp = next(t.config for t in config.tenants if t.config.name == "team-nlp")
    assert nlp.serving.inference_services


def stack_with(change, stack="prod") -> dict:
    config = stack_config(stack)
    change(config[OBS])
    return config


STACK_BAD = [
    ("mode", "both", "mode: Input should be 'existing' or 'install'"),
    ("runbookBaseUrl", "http://git.example.com/x", "runbookBaseUrl: 'http://git.example.com/x': the scheme must be https"),
    ("servingMetrics", {"requestCount": "rate(x[5m])"}, "servingMetrics.requestCount: 'rate(x[5m])' is not a Prometheus metric name"),
    ("servingMetrics", {"errorMatcher": 'code="5xx"} or vector(1) #'}, "servingMetrics.errorMatcher: "),
    ("servingMetrics", {"serviceLabel": "service-name"}, "servingMetrics.serviceLabel: 'service-name' is not a Prometheus label name"),
    ("slo", {"latencyFor": "10 minutes"}, "slo.latencyFor: '10 minutes' is not a Prometheus duration"),
    ("drift", {"threshold": 2}, "drift.threshold: Input should be less than or equal to 1"),
    ("platformReceiver", {"type": "email"}, "platformReceiver.type: Input should be 'pagerduty' or 'webhook'"),
    ("selectorLabels", {"bad key!": "x"}, "selectorLabels.bad key!.[key]: 'bad key!' is not a Kubernetes label key"),
]


@pytest.mark.parametrize("key,value,message", STACK_BAD, ids=[c[0] + "-" + str(i) for i, c in enumerate(STACK_BAD)])
def test_bad_stack_values_name_file_and_key(tmp_path, key, value, message):
    found = issues(tmp_path, stack_with(lambda o: o.update({key: value})))
    assert len(found) == 1 and found[0].startswith(f"Pulumi.prod.yaml: {OBS}.{message}"), found


INSTALL = {"prometheusReplicas": 2, "alertmanagerReplicas": 3, "retention": "30d", "storageSize": "500Gi",
           "remoteWrite": {"url": "https://thanos-receive.example.com/api/v1/receive"}}


def test_install_mode_needs_its_settings_and_existing_mode_refuses_them(tmp_path):
    assert issues(tmp_path / "a", stack_with(lambda o: o.update(mode="install"))) == [
        f"Pulumi.prod.yaml: {OBS}: mode install: give `install` (replicas, retention, storage)"
    ]
    assert issues(tmp_path / "b", stack_with(lambda o: o.update(install=INSTALL))) == [
        f"Pulumi.prod.yaml: {OBS}: mode existing: `install` is only read in mode install; remove it"
    ]


@pytest.mark.parametrize("key,value,message", [
    ("prometheusReplicas", 1, "prod runs at least 2 Prometheus replicas"),
    ("alertmanagerReplicas", 2, "prod runs at least 3 Alertmanager replicas"),
    ("remoteWrite", {"url": "http://thanos:19291"}, "the scheme must be https"),
    ("retentionSize", "90G", "String should match pattern"),
])
def test_prod_install_floors(tmp_path, key, value, message):
    found = issues(tmp_path, stack_with(lambda o: o.update(mode="install", install={**INSTALL, key: value})))
    assert len(found) == 1 and found[0].startswith(f"Pulumi.prod.yaml: {OBS}.install.") and message in found[0], found


def test_sandbox_may_run_single_replicas(tmp_path):
    config = load(tmp_path, stack="sandbox")
    assert config.stack.observability.install.prometheus_replicas == 1


def test_the_observability_section_is_required(tmp_path):
    config = stack_config()
    del config[OBS]
    assert issues(tmp_path, config) == [f"Pulumi.prod.yaml: {OBS}: Field required"]


def test_prod_in_install_mode_renders_and_validates(tmp_path, monkeypatch):
    """The mode prod does not use, on a copy of prod: it renders, and the objects observability
    declares are valid against the CRDs (the whole install-mode render is validated with the
    sandbox, which uses it)."""
    import importlib.util

    from kfplatform.render.run import kubernetes_object, render_stack

    import pulumi

    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(str(message)))
    project = project_copy(tmp_path, "prod", stack_with(lambda o: o.update(mode="install", install=INSTALL)))
    result = render_stack(project, "prod")
    # Teams without a receiver: their alerts go to the platform on-call, and every run says so.
    assert [w.split(":")[0] for w in warnings if "alerting.receiver is not set" in w] == [
        "tenants/team-forecasting.yaml", "tenants/team-vision.yaml",
    ]
    assert any("monitoring image quay.io/prometheus/prometheus" in w and "placeholder digest" in w for w in warnings)
    ours = [o for r in result.under("kfplatform:observability:Observability") if (o := kubernetes_object(r))]
    assert {o["kind"] for o in ours} >= {"PrometheusRule", "PodMonitor", "AlertmanagerConfig", "ConfigMap"}
    validator = SHARED_DIR / "tools" / "validate_manifests.py"
    if not validator.exists():
        pytest.skip("../shared/tools/validate_manifests.py not present")
    spec = importlib.util.spec_from_file_location("validate_manifests", validator)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counts = {"cel_rules_skipped": 0, "cel_rules_evaluated": 0}
    crds = module.CrdCatalog(SHARED_DIR / "crds", counts)
    problems = [(o["kind"], o["metadata"]["name"], errs) for o in ours
                if (errs := module.validate_doc(o, crds, module.CelRules(counts), "1.31.0"))]
    assert problems == []
    releases = {r.inputs["chart"]: r for r in result.by_type("kubernetes:helm.sh/v3:Release")}
    assert releases["kube-prometheus-stack"].protect and releases["loki"].protect
    values = {chart: r.inputs["values"] for chart, r in releases.items()}
    spec_ = values["kube-prometheus-stack"]["prometheus"]["prometheusSpec"]
    assert spec_["replicas"] == 2 and spec_["remoteWrite"] == [{"url": INSTALL["remoteWrite"]["url"]}]
    assert values["kube-prometheus-stack"]["alertmanager"]["alertmanagerSpec"]["replicas"] == 3
