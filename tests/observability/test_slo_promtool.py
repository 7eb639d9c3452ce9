"""The rendered SLO rules of team-nlp, run by the real Prometheus rule engine (`promtool test
rules`) against synthetic queue-proxy and autoscaler series: each alert fires on a breach longer
than its `for:`, stays silent on a healthy series and a short spike, the burn-rate alerts fire at
the burns they are built for (and not below), and every alert carries its routing labels."""
from __future__ import annotations

import pytest

from tests.observability.promtool_harness import Minutes, autoscaler_pods_series, queue_proxy_series, run_promtool_tests

TEAM = NS = "team-nlp"
ISVC = "sentiment-classifier"
KSVC = f"{ISVC}-predictor"
ROUTING = {"namespace": NS, "team": TEAM, "name": ISVC}


@pytest.fixture(scope="module")
def groups(prod):
    return prod.find("PrometheusRule", f"kfplatform-tenant-{TEAM}", "monitoring")["spec"]["groups"]


def rule(groups, alert: str, slo: str) -> dict:
    found = [r for g in groups for r in g["rules"] if r.get("alert") == alert and r["labels"]["slo"] == slo]
    assert len(found) == 1, (alert, slo)
    return found[0]


def expected(groups, alert: str, slo: str, value: str) -> dict:
    """The alert as it fires: the rule's labels plus the series' routing labels; its annotations
    with `$value` rendered as `value`."""
    r = rule(groups, alert, slo)
    summary = r["annotations"]["summary"].replace("{{ $value | humanize }}", value).replace("{{ $value }}", value)
    return {
        "exp_labels": {**ROUTING, **r["labels"]},
        "exp_annotations": {"summary": summary, "runbook_url": r["annotations"]["runbook_url"]},
    }


def alert_test(alert: str, eval_time: str, exp: list[dict]) -> dict:
    return {"eval_time": eval_time, "alertname": alert, "exp_alerts": exp}


def test_the_declared_targets_are_the_thresholds(groups):
    """team-nlp's file: defaults 50/200/500 ms, 0.1%, 10 cold starts/h; P95 overridden to 150 ms."""
    assert rule(groups, "InferenceLatencyHigh", "latency_p50")["expr"].endswith("> 50")
    assert rule(groups, "InferenceLatencyHigh", "latency_p95")["expr"].endswith("> 150")
    assert rule(groups, "InferenceLatencyHigh", "latency_p99")["expr"].endswith("> 500")
    assert rule(groups, "InferenceErrorBudgetFastBurn", "error_rate")["expr"].count("> 0.0144") == 2
    assert rule(groups, "InferenceErrorBudgetSlowBurn", "error_rate")["expr"].count("> 0.006") == 2
    assert rule(groups, "InferenceColdStartsHigh", "cold_starts")["expr"].endswith("> 10")
    assert rule(groups, "InferenceLatencyHigh", "latency_p95")["for"] == "10m"


def test_latency_alerts_fire_after_for_and_not_on_healthy_or_spiky_traffic(groups, tmp_path):
    # 300 ms answers: P50 250 ms (> 50) and P95 295 ms (> 150) breach; P99 299 ms (< 500) does not.
    slow = queue_proxy_series(NS, KSVC, [Minutes(40, latency_ms=300)])
    healthy = queue_proxy_series(NS, KSVC, [Minutes(40, latency_ms=40)])
    # A 2-minute spike of 1 s answers in healthy traffic: P95 is above target for less than `for:`.
    spiky = queue_proxy_series(NS, KSVC, [Minutes(15), Minutes(2, latency_ms=1000), Minutes(23)])
    p50 = expected(groups, "InferenceLatencyHigh", "latency_p50", "250")
    p95 = expected(groups, "InferenceLatencyHigh", "latency_p95", "295")
    tests = [
        {"interval": "1m", "input_series": slow, "alert_rule_test": [
            alert_test("InferenceLatencyHigh", "8m", []),  # pending, not yet 10 minutes
            alert_test("InferenceLatencyHigh", "20m", [p50, p95]),
        ]},
        {"interval": "1m", "input_series": healthy, "alert_rule_test": [alert_test("InferenceLatencyHigh", "30m", [])]},
        {"interval": "1m", "input_series": spiky, "alert_rule_test": [
            alert_test("InferenceLatencyHigh", t, []) for t in ("18m", "22m", "26m", "30m", "38m")
        ]},
    ]
    run_promtool_tests(tmp_path, groups, tests)


def test_burn_rate_alerts_fire_at_their_burn(groups, tmp_path):
    """Budget 0.1%: fast burn pages above 14.4x (1.44%), slow burn tickets above 6x (0.6%)."""
    fast = expected(groups, "InferenceErrorBudgetFastBurn", "error_rate", "")
    slow = expected(groups, "InferenceErrorBudgetSlowBurn", "error_rate", "")

    def case(errors: float, minutes: int, at: str, want_fast: list, want_slow: list) -> dict:
        return {
            "interval": "1m",
            "input_series": queue_proxy_series(NS, KSVC, [Minutes(minutes, errors=errors)]),
            "alert_rule_test": [
                alert_test("InferenceErrorBudgetFastBurn", at, want_fast),
                alert_test("InferenceErrorBudgetSlowBurn", at, want_slow),
            ],
        }

    tests = [
        case(0.02, 30, "10m", [fast], []),  # 20x: fast pages within minutes; slow still pending (for 15m)
        case(0.02, 40, "30m", [fast], [slow]),
        case(0.01, 90, "60m", [], [slow]),  # 10x: a ticket, no page
        case(0.005, 90, "60m", [], []),  # 5x: below both
        case(0.0005, 90, "60m", [], []),  # healthy: half the budget rate
        case(0.0, 90, "60m", [], []),  # no 5xx series at all
    ]
    run_promtool_tests(tmp_path, groups, tests)


def test_a_short_error_spike_spends_little_budget_and_alerts_nobody(groups, tmp_path):
    """After 6 hours of clean traffic, one minute of 50% errors (300 failed requests, about 1% of
    a 30-day budget at 10 requests/s): the short windows cross their thresholds, the long ones
    (1h: 0.8%, 6h: 0.14%) do not, so neither burn-rate alert fires."""
    spike = queue_proxy_series(NS, KSVC, [Minutes(360), Minutes(1, errors=0.5), Minutes(30)])
    tests = [{"interval": "1m", "input_series": spike, "alert_rule_test": [
        alert_test(alert, t, [])
        for alert in ("InferenceErrorBudgetFastBurn", "InferenceErrorBudgetSlowBurn")
        for t in ("362m", "366m", "370m", "380m", "390m")
    ]}]
    run_promtool_tests(tmp_path, groups, tests)


def test_cold_start_alert_counts_scale_ups_from_zero(groups, tmp_path):
    often = autoscaler_pods_series(NS, KSVC, [1, 1, 0, 0, 0], 100)  # 12 cold starts an hour
    rarely = autoscaler_pods_series(NS, KSVC, [1, 1, 0, 0, 0, 0, 0, 0, 0, 0], 100)  # 6 an hour
    always_up = autoscaler_pods_series(NS, KSVC, [2, 3, 1], 100)  # scaling, never from zero
    cold = expected(groups, "InferenceColdStartsHigh", "cold_starts", "12")
    tests = [
        {"interval": "1m", "input_series": often, "alert_rule_test": [
            alert_test("InferenceColdStartsHigh", "30m", []),  # fewer than 11 in the first half hour
            # Off a transition minute: promtool 2.42 (Prometheus 2) closes a range on the left,
            # Prometheus 3 does not; a cold start exactly 1h ago counts in one and not the other.
            alert_test("InferenceColdStartsHigh", "92m", [cold]),
        ]},
        {"interval": "1m", "input_series": rarely, "alert_rule_test": [alert_test("InferenceColdStartsHigh", "90m", [])]},
        {"interval": "1m", "input_series": always_up, "alert_rule_test": [alert_test("InferenceColdStartsHigh", "90m", [])]},
    ]
    run_promtool_tests(tmp_path, groups, tests)


def test_the_budget_window_ratio_averages_the_recorded_ratio(groups, tmp_path):
    """2% errors for 30 of 60 minutes: the budget ratio over the hour so far is about 1% (1.1%:
    the 5m windows straddling minute 30 still see the errors for a few minutes)."""
    traffic = queue_proxy_series(NS, KSVC, [Minutes(30, errors=0.02), Minutes(30)])
    assert next(g for g in groups if g["name"] == f"kfplatform-slo-budget-{TEAM}")["interval"] == "5m"
    tests = [{"interval": "1m", "input_series": traffic, "promql_expr_test": [{
        "expr": f'round(kfplatform:inference_error_ratio:rate30d{{namespace="{NS}",name="{ISVC}"}}, 0.001)',
        "eval_time": "60m",
        "exp_samples": [{"labels": f'{{namespace="{NS}",team="{TEAM}",name="{ISVC}"}}', "value": 0.011}],
    }]}]
    run_promtool_tests(tmp_path, groups, tests)
