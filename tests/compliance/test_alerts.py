"""The compliance alerts through the real Prometheus rule engine (`promtool test rules`), and each
runbook_url on a heading of docs/runbook.md."""
from __future__ import annotations

import subprocess

import yaml

from kfplatform.alerts import anchor
from kfplatform.compliance.alerts import RUNBOOK_HEADINGS
from tests.conftest import PROJECT_DIR
from tests.tools import require_tool

AUDIT = 'vector_component_received_events_total{namespace="kfplatform-audit",component_id="k8s_audit"}'
ERRORS = 'vector_component_errors_total{namespace="logging",component_id="payloads_index_team_nlp",component_kind="sink"}'
SOURCE_ERRORS = 'vector_component_errors_total{namespace="logging",component_id="payloads",component_kind="source"}'
UNMATCHED = 'vector_component_received_events_total{namespace="logging",component_id="payloads_unmatched_platform"}'


def labels(name: str, severity: str, slo: str, **extra) -> dict:
    return {"severity": severity, "slo": slo, "team": "platform", "name": name, **extra}


def test_the_alerts_fire_when_the_trail_stops_and_only_then(prod, tmp_path):
    promtool = require_tool("promtool")
    rule = prod.find("PrometheusRule", "kfplatform-compliance", "monitoring")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    by_name = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}

    def fired(alert: str, **extra) -> dict:
        r = by_name[alert]
        return {"exp_labels": {**r["labels"], **extra}, "exp_annotations": {
            "summary": r["annotations"]["summary"].replace("{{ $labels.component_id }}", extra.get("component_id", ""))
            .replace("{{ $labels.namespace }}", extra.get("namespace", "")),
            "runbook_url": r["annotations"]["runbook_url"]}}

    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {   # audit events flow, then stop at 30m: fires 15m (rate window) + 15m (for) later
                "interval": "1m",
                "input_series": [{"series": AUDIT, "values": "0+10x30 300x60"}],
                "alert_rule_test": [
                    {"eval_time": "29m", "alertname": "ComplianceAuditTrailStalled", "exp_alerts": []},
                    {"eval_time": "75m", "alertname": "ComplianceAuditTrailStalled",
                     "exp_alerts": [fired("ComplianceAuditTrailStalled")]},
                ],
            },
            {   # no shipper at all (no series): fires too
                "interval": "1m",
                "input_series": [{"series": 'up{job="other"}', "values": "1x40"}],
                "alert_rule_test": [{"eval_time": "20m", "alertname": "ComplianceAuditTrailStalled",
                                     "exp_alerts": [fired("ComplianceAuditTrailStalled")]}],
            },
            {   # a sink failing pages with its name; a source error does not
                "interval": "1m",
                "input_series": [{"series": ERRORS, "values": "0+1x60"}, {"series": SOURCE_ERRORS, "values": "0+1x60"},
                                 {"series": AUDIT, "values": "0+10x60"}],
                "alert_rule_test": [{"eval_time": "40m", "alertname": "ComplianceTrailDeliveryFailing",
                                     "exp_alerts": [fired("ComplianceTrailDeliveryFailing", namespace="logging",
                                                          component_id="payloads_index_team_nlp")]}],
            },
            {
                "interval": "1m",
                "input_series": [{"series": UNMATCHED, "values": "0+1x90"}, {"series": AUDIT, "values": "0+10x90"}],
                "alert_rule_test": [
                    {"eval_time": "20m", "alertname": "CompliancePayloadsUnmatched", "exp_alerts": []},
                    {"eval_time": "70m", "alertname": "CompliancePayloadsUnmatched",
                     "exp_alerts": [fired("CompliancePayloadsUnmatched")]},
                ],
            },
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    done = subprocess.run([promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    for name, r in by_name.items():
        assert set(r["labels"]) >= {"severity", "slo", "team", "name"}, name


def test_every_runbook_url_lands_on_a_heading(prod):
    headings = {anchor(line[3:]) for line in (PROJECT_DIR / "docs/runbook.md").read_text().splitlines() if line.startswith("## ")}
    rule = prod.find("PrometheusRule", "kfplatform-compliance", "monitoring")
    urls = [r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert urls and all(u.split("#", 1)[1] in headings for u in urls), urls
    assert {anchor(h) for h in RUNBOOK_HEADINGS} <= headings
