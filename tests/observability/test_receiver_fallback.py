"""A team whose receiver Secret is missing still gets its alerts to someone (issue 11: "missing
receiver secrets degrade to the platform receiver with a warning, never to silence").

prometheus-operator v0.93.0 rejects a whole AlertmanagerConfig when a referenced Secret key is
missing (pkg/alertmanager/operator.go `checkReceivers`, pkg/assets/store.go `GetSecretKey`), so
routing.py makes delivery visible to Alertmanager: the team's object carries an inhibit rule that
mutes Prometheus' copies of the team's alerts, and the platform route delivers the copies. Proved
three ways: the rendered rules under `promtool test rules` (the copies fire with the original's
labels), the routing model of test_rendered.py extended with rejection and inhibition, and a real
Alertmanager fed the configuration the operator would generate.
"""
from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request

import pytest
import yaml

from kfplatform.observability import routing
from tests.observability.promtool_harness import Minutes, queue_proxy_series, run_promtool_tests
from tests.observability.test_rendered import _matches, deliveries, objects
from tests.tools import require_tool

TEAM = NS = "team-nlp"
ISVC = "sentiment-classifier"


@pytest.fixture(scope="module")
def team_groups(prod):
    return prod.find("PrometheusRule", f"kfplatform-tenant-{TEAM}", "monitoring")["spec"]["groups"]


def _rule(groups, alert: str, slo: str | None = None) -> dict:
    (found,) = [r for g in groups for r in g["rules"] if r.get("alert") == alert and (slo is None or r["labels"]["slo"] == slo)]
    return found


# --- Prometheus: the heartbeat and the copies, from the rendered rules ---------------------------

def test_copies_of_a_teams_firing_alerts_keep_their_labels(team_groups, tmp_path):
    # 300 ms answers breach P50 (ticket) and P95 (page) of sentiment-classifier (test_slo_promtool).
    slow = queue_proxy_series(NS, f"{ISVC}-predictor", [Minutes(40, latency_ms=300)])
    copy = _rule(team_groups, routing.REROUTED_ALERT)
    live = _rule(team_groups, routing.ROUTE_LIVE_ALERT)

    def copied(slo: str, severity: str) -> dict:
        labels = {"alert": "InferenceLatencyHigh", "severity": severity, "slo": slo, "name": ISVC,
                  "team": TEAM, "namespace": NS, routing.FALLBACK_LABEL: routing.FALLBACK_VALUE}
        summary = (f"InferenceLatencyHigh ({slo} of {ISVC}) of team {TEAM}: the team's receiver is not configured "
                   "(its AlertmanagerConfig is rejected), so the platform on-call gets it")
        return {"exp_labels": labels, "exp_annotations": {"summary": summary, "runbook_url": copy["annotations"]["runbook_url"]}}

    tests = [{"interval": "1m", "input_series": slow, "alert_rule_test": [
        # Pending originals are not copied; firing ones are, a page stays a page.
        {"eval_time": "8m", "alertname": routing.REROUTED_ALERT, "exp_alerts": []},
        {"eval_time": "20m", "alertname": routing.REROUTED_ALERT,
         "exp_alerts": [copied("latency_p50", "ticket"), copied("latency_p95", "page")]},
        {"eval_time": "20m", "alertname": routing.ROUTE_LIVE_ALERT,
         "exp_alerts": [{"exp_labels": live["labels"], "exp_annotations": live["annotations"]}]},
    ]}, {"interval": "1m", "input_series": queue_proxy_series(NS, f"{ISVC}-predictor", [Minutes(40)]), "alert_rule_test": [
        {"eval_time": "30m", "alertname": routing.REROUTED_ALERT, "exp_alerts": []},  # healthy: nothing to copy
    ]}]
    run_promtool_tests(tmp_path, team_groups, tests)


def test_only_teams_with_a_receiver_get_copies(prod):
    """Without a receiver the originals already go to the platform: a copy would page twice."""
    for tenant in prod.exports["tenantNamespaces"]:
        groups = prod.find("PrometheusRule", f"kfplatform-tenant-{tenant}", "monitoring")["spec"]["groups"]
        has_copies = any(r.get("alert") == routing.REROUTED_ALERT for g in groups for r in g["rules"])
        assert has_copies == (prod.exports["alertReceivers"][tenant] == "team"), tenant


# --- Alertmanager: routing with rejection and inhibition (the model of test_rendered.py) ---------

def inhibit_rules(configs: list[dict], alertmanager_ns: str = "monitoring") -> list[tuple[list, list, list]]:
    """(source, target, equal) of every accepted object; outside Alertmanager's namespace the
    operator adds the object's namespace to both sides (namespaceEnforcer.processInhibitRule)."""
    out = []
    for config in configs:
        ns = config["metadata"]["namespace"]
        extra = [] if ns == alertmanager_ns else [{"name": "namespace", "value": ns, "matchType": "="}]
        for rule in config["spec"].get("inhibitRules", []):
            out.append(([*rule["sourceMatch"], *extra], [*rule["targetMatch"], *extra], rule.get("equal", [])))
    return out


def notified(configs: list[dict], firing: list[dict]) -> dict[str, set[str]]:
    """receiver -> alertnames it is notified of, given every firing alert (inhibition applied)."""
    rules = inhibit_rules(configs)
    out: dict[str, set[str]] = {}
    for alert in firing:
        muted = any(
            _matches(target, alert) and any(
                other is not alert and _matches(source, other) and all(other.get(l, "") == alert.get(l, "") for l in equal)
                for other in firing
            )
            for source, target, equal in rules
        )
        if not muted:
            for receiver in deliveries(configs, alert):
                out.setdefault(receiver, set()).add(alert["alertname"])
    return out


def _firing(prod) -> list[dict]:
    """A page of team-nlp, as Prometheus fires it with the rendered rules: the original, its copy,
    the heartbeat."""
    groups = prod.find("PrometheusRule", f"kfplatform-tenant-{TEAM}", "monitoring")["spec"]["groups"]
    original = {"alertname": "InferenceLatencyHigh", **_rule(groups, "InferenceLatencyHigh", "latency_p95")["labels"]}
    copy = {**{k: v for k, v in original.items() if k != "alertname"}, "alert": original["alertname"],
            **_rule(groups, routing.REROUTED_ALERT)["labels"], "alertname": routing.REROUTED_ALERT}
    live = {"alertname": routing.ROUTE_LIVE_ALERT, **_rule(groups, routing.ROUTE_LIVE_ALERT)["labels"]}
    return [original, copy, live]


def test_accepted_team_route_gets_the_page_and_the_platform_nothing(prod):
    configs = objects(prod, "AlertmanagerConfig")
    assert notified(configs, _firing(prod)) == {f"{TEAM}:team": {"InferenceLatencyHigh"}}


def test_rejected_team_route_degrades_to_the_platform_not_to_silence(prod):
    """The operator drops team-nlp's object (Secret alert-receiver missing): the copy reaches the
    platform on-call. Before the fallback, this alert reached nobody."""
    configs = [c for c in objects(prod, "AlertmanagerConfig") if c["metadata"]["namespace"] != TEAM]
    got = notified(configs, _firing(prod))
    assert got == {"monitoring:platform-oncall": {routing.REROUTED_ALERT}}


def test_a_missing_heartbeat_duplicates_rather_than_silences(prod):
    configs = objects(prod, "AlertmanagerConfig")
    firing = [a for a in _firing(prod) if a["alertname"] != routing.ROUTE_LIVE_ALERT]
    assert notified(configs, firing) == {f"{TEAM}:team": {"InferenceLatencyHigh"}, "monitoring:platform-oncall": {routing.REROUTED_ALERT}}


def test_another_namespace_cannot_mute_a_teams_copies(prod):
    """A heartbeat from another namespace (a forged alert, another team) does not mute team-nlp's
    copies when team-nlp's object is rejected: the operator confines the inhibit rule."""
    configs = [c for c in objects(prod, "AlertmanagerConfig") if c["metadata"]["namespace"] != TEAM]
    configs.append({"metadata": {"namespace": "team-vision"}, "spec": routing.team_spec("team-vision", "webhook")})
    firing = [*_firing(prod), {"alertname": routing.ROUTE_LIVE_ALERT, "team": "team-vision", "namespace": "team-vision"}]
    firing = [a for a in firing if not (a["alertname"] == routing.ROUTE_LIVE_ALERT and a["namespace"] == TEAM)]
    assert routing.REROUTED_ALERT in notified(configs, firing).get("monitoring:platform-oncall", set())


# --- a real Alertmanager with the configuration the operator would generate ----------------------

def _am_matcher(m: dict) -> str:
    return f'{m["name"]}{m.get("matchType", "=")}{json.dumps(m["value"])}'


def _am_route(route: dict, *, top_ns: str | None, alertmanager_ns: str) -> dict:
    out: dict = {"receiver": f"{top_ns}/{route['receiver']}" if top_ns else route["receiver"]}
    matchers = [_am_matcher(m) for m in route.get("matchers", [])]
    out["matchers"] = matchers
    # Timers are left to the root's (1s) so the test need not wait 30s; who is notified does not
    # depend on them.
    for key, am_key in (("groupBy", "group_by"), ("continue", "continue")):
        if key in route:
            out[am_key] = route[key]
    out["routes"] = [_am_route(r, top_ns=top_ns, alertmanager_ns=alertmanager_ns) for r in route.get("routes", [])]
    return out


def merged_config(configs: list[dict], webhook: str, alertmanager_ns: str = "monitoring") -> dict:
    """Alertmanager's configuration as prometheus-operator v0.93.0 builds it (pkg/alertmanager/
    amcfg.go AddAlertmanagerConfigs): objects sorted by namespace/name, receivers renamed
    `<ns>/<name>/<receiver>`, top-level routes with `continue: true` and (outside Alertmanager's
    namespace) a namespace matcher, placed before the main configuration's routes; the main root
    receiver `null` (kube-prometheus-stack's default). Every receiver with a config posts to
    `webhook?receiver=<its name>` here, so the test sees who was notified."""
    receivers = [{"name": "null"}]
    routes, inhibits = [], []
    for config in sorted(configs, key=lambda c: (c["metadata"]["namespace"], c["metadata"].get("name", ""))):
        ns, name = config["metadata"]["namespace"], config["metadata"].get("name", "x")
        prefix = f"{ns}/{name}"
        enforce = [] if ns == alertmanager_ns else [f'namespace="{ns}"']
        for r in config["spec"]["receivers"]:
            rec: dict = {"name": f"{prefix}/{r['name']}"}
            if len(r) > 1:
                rec["webhook_configs"] = [{"url": f"{webhook}?receiver={prefix}/{r['name']}", "send_resolved": False}]
            receivers.append(rec)
        route = _am_route(config["spec"]["route"], top_ns=prefix, alertmanager_ns=alertmanager_ns)
        route["matchers"] = [*route["matchers"], *enforce]
        route["continue"] = True
        routes.append(route)
        for rule in config["spec"].get("inhibitRules", []):
            inhibits.append({
                "source_matchers": [*map(_am_matcher, rule["sourceMatch"]), *enforce],
                "target_matchers": [*map(_am_matcher, rule["targetMatch"]), *enforce],
                "equal": rule.get("equal", []),
            })
    return {
        "route": {"receiver": "null", "group_by": ["alertname"], "group_wait": "1s", "group_interval": "1s", "routes": routes},
        "receivers": receivers,
        "inhibit_rules": inhibits,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _routes_test(amtool: str, config_file, labels: dict) -> set[str]:
    args = [f"{k}={v}" for k, v in labels.items()]
    result = subprocess.run([amtool, "config", "routes", "test", f"--config.file={config_file}", *args],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    return {r for r in result.stdout.strip().split(",") if r}


@pytest.mark.parametrize("team_object", ["accepted", "rejected"])
def test_amtool_routes_the_generated_configuration(prod, tmp_path, team_object):
    """`amtool config routes test` (Alertmanager's own router) on the merged configuration."""
    amtool = require_tool("amtool")
    configs = [c for c in objects(prod, "AlertmanagerConfig") if team_object == "accepted" or c["metadata"]["namespace"] != TEAM]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(merged_config(configs, "http://127.0.0.1:9/hook")))
    check = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    original, copy, live = _firing(prod)
    team_receiver = f"{TEAM}/{routing.TEAM_CONFIG}/team"
    platform = f"monitoring/{routing.PLATFORM_CONFIG}/platform-oncall"
    none = f"monitoring/{routing.PLATFORM_CONFIG}/none"
    if team_object == "accepted":
        assert _routes_test(amtool, path, original) == {team_receiver, none}
        assert _routes_test(amtool, path, copy) == {f"{TEAM}/{routing.TEAM_CONFIG}/none", platform}  # muted by inhibition
    else:
        assert _routes_test(amtool, path, original) == {none}
        assert _routes_test(amtool, path, copy) == {platform}
    assert platform not in _routes_test(amtool, path, live)


def test_real_alertmanager_mutes_copies_only_while_the_team_object_is_accepted(prod, tmp_path):
    """Alertmanager 0.25 (Debian) with the merged configuration: post the three alerts, read which
    are suppressed (inhibition) and who was notified (a local webhook)."""
    require_tool("amtool")
    alertmanager = require_tool("prometheus-alertmanager")
    import http.server
    import threading

    calls: list[tuple[str, list[str]]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append((self.path.split("receiver=", 1)[1], sorted(a["labels"]["alertname"] for a in body["alerts"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        for team_object in ("accepted", "rejected"):
            calls.clear()
            configs = [c for c in objects(prod, "AlertmanagerConfig")
                       if team_object == "accepted" or c["metadata"]["namespace"] != TEAM]
            state = tmp_path / team_object
            state.mkdir()
            (state / "am.yml").write_text(yaml.safe_dump(merged_config(configs, f"http://127.0.0.1:{hook.server_port}/hook")))
            port = _free_port()
            proc = subprocess.Popen(
                [alertmanager, f"--config.file={state / 'am.yml'}", f"--storage.path={state}",
                 f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            try:
                api = f"http://127.0.0.1:{port}/api/v2"
                deadline = time.monotonic() + 20
                while True:
                    try:
                        urllib.request.urlopen(f"{api}/status", timeout=1)
                        break
                    except OSError:
                        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read().decode() if proc.poll() is not None else "timeout"
                        time.sleep(0.2)
                alerts = [{"labels": a} for a in _firing(prod)]
                req = urllib.request.Request(f"{api}/alerts", data=json.dumps(alerts).encode(),
                                             headers={"Content-Type": "application/json"}, method="POST")
                urllib.request.urlopen(req, timeout=5)
                deadline = time.monotonic() + 20
                want = ({f"{TEAM}/{routing.TEAM_CONFIG}/team": ["InferenceLatencyHigh"]} if team_object == "accepted"
                        else {f"monitoring/{routing.PLATFORM_CONFIG}/platform-oncall": [routing.REROUTED_ALERT]})
                while {r: a for r, a in calls} != want and time.monotonic() < deadline:
                    time.sleep(0.3)
                time.sleep(0.5)  # and nothing else arrives (group_interval 1s)
                status = {a["labels"]["alertname"]: a["status"]["state"]
                          for a in json.load(urllib.request.urlopen(f"{api}/alerts", timeout=5))}
                assert status[routing.REROUTED_ALERT] == ("suppressed" if team_object == "accepted" else "active"), status
                assert {r: a for r, a in calls} == want, (team_object, calls)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    finally:
        hook.shutdown()
