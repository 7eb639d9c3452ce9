"""SLO rules built from configuration: the metric names and units the stack configures are the
ones queried (a runtime other than the queue-proxy), checked by the real rule engine."""
from __future__ import annotations

from kfplatform.observability.config import ServingConfig, ServingMetrics, SloPolicy
from kfplatform.observability.slo import slo_group
from tests.observability.promtool_harness import run_promtool_tests

BASE = "https://git.example.com/platform/-/blob/main"


def serving(**service) -> ServingConfig:
    return ServingConfig.model_validate({"inferenceServices": [{"name": "ranker", **service}]})


def test_no_inference_services_no_slo_group():
    assert slo_group("team-a", "team-a", ServingConfig(), ServingMetrics(), SloPolicy(), BASE) is None


def test_cold_start_rules_only_for_scale_to_zero_services():
    always_on = slo_group("team-a", "team-a", serving(), ServingMetrics(), SloPolicy(), BASE)
    assert not [r for r in always_on["rules"] if "cold" in r.get("record", "") + r.get("alert", "")]
    to_zero = slo_group("team-a", "team-a", serving(scaleToZero=True), ServingMetrics(), SloPolicy(), BASE)
    assert [r["alert"] for r in to_zero["rules"] if r.get("alert") == "InferenceColdStartsHigh"] == ["InferenceColdStartsHigh"]


def test_a_model_server_histogram_in_seconds_is_compared_in_milliseconds(tmp_path):
    """KServe's Python server (v0.15.2 python/kserve/kserve/metrics.py) as the latency source."""
    metrics = ServingMetrics.model_validate({
        "requestLatency": "request_predict_seconds", "latencyUnit": "s", "serviceLabel": "model_name", "serviceSuffix": "",
    })
    group = slo_group("team-a", "team-a", serving(slo={"latencyP95Ms": 150}), metrics, SloPolicy(), BASE)
    assert "request_predict_seconds_bucket{namespace=\"team-a\",model_name=\"ranker\"}" in group["rules"][1]["expr"]
    labels = 'namespace="team-a",model_name="ranker"'
    # All answers in (0.2 s, 0.3 s]: P95 = 295 ms > 150 ms.
    buckets = {"0.1": "0x30", "0.2": "0x30", "0.3": "0+600x30", "+Inf": "0+600x30"}
    series = [{"series": f'request_predict_seconds_bucket{{{labels},le="{le}"}}', "values": v} for le, v in buckets.items()]
    p95 = next(r for r in group["rules"] if r.get("alert") and r["labels"]["slo"] == "latency_p95")
    tests = [{"interval": "1m", "input_series": series, "alert_rule_test": [{
        "eval_time": "20m", "alertname": "InferenceLatencyHigh",
        "exp_alerts": [
            {"exp_labels": {"namespace": "team-a", "team": "team-a", "name": "ranker", **r["labels"]},
             "exp_annotations": {**r["annotations"], "summary": r["annotations"]["summary"].replace("{{ $value | humanize }}", v)}}
            for r, v in ((next(x for x in group["rules"] if x.get("alert") and x["labels"]["slo"] == "latency_p50"), "250"), (p95, "295"))
        ],
    }]}]
    run_promtool_tests(tmp_path, [group], tests)
