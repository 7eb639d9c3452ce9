"""Synthetic traffic as Prometheus input series, and a runner for `promtool test rules`."""
from __future__ import annotations

import pathlib
import subprocess
from dataclasses import dataclass

import yaml

from tests.tools import require_tool

# A subset of Knative's queue-proxy latency buckets (ms; pkg/queue/request_metric.go, v1.16.2).
BUCKETS = (50, 100, 150, 200, 300, 500, 1000)


@dataclass(frozen=True)
class Minutes:
    """`minutes` of traffic: `rps` requests per second, all answered in `latency_ms`, a share
    `errors` of them with a 5xx."""

    minutes: int
    rps: float = 10
    latency_ms: float = 40
    errors: float = 0.0


def _values(points: list[float]) -> str:
    return " ".join(f"{p:.6g}" for p in points)


def queue_proxy_series(namespace: str, ksvc: str, traffic: list[Minutes]) -> list[dict]:
    """revision_request_latencies_bucket and revision_request_count, one sample a minute (from 0)."""
    labels = f'namespace="{namespace}",service_name="{ksvc}"'
    buckets = {le: [0.0] for le in (*BUCKETS, "+Inf")}
    ok, bad = [0.0], [0.0]
    for segment in traffic:
        for _ in range(segment.minutes):
            n = segment.rps * 60
            for le, points in buckets.items():
                points.append(points[-1] + (n if le == "+Inf" or segment.latency_ms <= le else 0))
            ok.append(ok[-1] + n * (1 - segment.errors))
            bad.append(bad[-1] + n * segment.errors)
    series = [
        {"series": f'revision_request_latencies_bucket{{{labels},le="{le}"}}', "values": _values(points)}
        for le, points in buckets.items()
    ]
    series.append({"series": f'revision_request_count{{{labels},response_code_class="2xx"}}', "values": _values(ok)})
    if any(b > 0 for b in bad):
        series.append({"series": f'revision_request_count{{{labels},response_code_class="5xx"}}', "values": _values(bad)})
    return series


def autoscaler_pods_series(namespace: str, ksvc: str, pattern: list[int], minutes: int) -> list[dict]:
    """autoscaler_actual_pods of one revision, `pattern` (pods per minute) repeated."""
    points = [pattern[i % len(pattern)] for i in range(minutes + 1)]
    labels = f'namespace="knative-serving",namespace_name="{namespace}",service_name="{ksvc}",revision_name="{ksvc}-00001"'
    return [{"series": f"autoscaler_actual_pods{{{labels}}}", "values": _values(points)}]


def run_promtool_tests(tmp_path: pathlib.Path, groups: list[dict], tests: list[dict]) -> str:
    promtool = require_tool("promtool")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(
        {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}, sort_keys=False, width=10_000
    ))
    result = subprocess.run(
        [promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
