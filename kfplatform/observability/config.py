"""Observability configuration: the stack's `observability` section and a tenant's `serving` and
`alerting` sections (docs/observability.md).

Defaults of the metric names are what the runtimes pinned by kubeflow/manifests v1.11.0 emit
(KServe v0.15.2 in Serverless mode on Knative Serving v1.16.2); see docs/observability.md for
the file and tag each one was read from.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from ..config.base import DnsSubdomain, LabelKey, LabelValue, Model, is_prod
from ..config.urls import HttpsUrl

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Prometheus' duration grammar (prometheus/common v0.70.1 model/time.go `ParseDuration`, the parser
# of rule `for:`, `--storage.tsdb.retention.time` and the operator's CRDs): each unit at most once,
# from the largest to the smallest (`1h30m`, never `30m1h` or `1h1h`), or the bare `0`; the total
# must fit a time.Duration (int64 nanoseconds, about 292 years): "duration out of range" otherwise.
DURATION = re.compile(
    r"(?:(?P<y>[0-9]+)y)?(?:(?P<w>[0-9]+)w)?(?:(?P<d>[0-9]+)d)?(?:(?P<h>[0-9]+)h)?"
    r"(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?(?:(?P<ms>[0-9]+)ms)?"
)
DURATION_UNIT_MS = {"y": 365 * 86400_000, "w": 7 * 86400_000, "d": 86400_000, "h": 3600_000, "m": 60_000, "s": 1000, "ms": 1}
MAX_DURATION_NS = 2**63 - 1
# A label matcher the platform inserts into PromQL: `label="value"`, `label=~"regex"`, `label!="v"`.
MATCHER = re.compile(r'(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)(?P<op>=|!=|=~|!~)"(?P<value>[^"\\{}\n\r]*)"')


def _metric(value: str) -> str:
    if not METRIC_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a Prometheus metric name")
    return value


def _label(value: str) -> str:
    if not LABEL_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a Prometheus label name")
    return value


def duration_ms(value: str) -> int:
    """A Prometheus duration in milliseconds; ValueError in the words of what is wrong."""
    match = DURATION.fullmatch(value) if value != "0" else None
    if value != "0" and (match is None or not value):
        raise ValueError(
            f"{value!r} is not a Prometheus duration: units y, w, d, h, m, s, ms, each at most once and "
            "from the largest to the smallest (e.g. 30s, 10m, 1h30m, 15d)"
        )
    total = sum(int(n) * DURATION_UNIT_MS[unit] for unit, n in match.groupdict().items() if n) if match else 0
    if total * 1_000_000 > MAX_DURATION_NS:
        raise ValueError(f"{value!r} is out of range (Prometheus durations stop at about 292 years)")
    return total


def _duration(value: str) -> str:
    duration_ms(value)
    return value


def _positive_duration(value: str) -> str:
    if duration_ms(value) == 0:
        raise ValueError(f"{value!r}: give a duration above zero")
    return value


MetricName = Annotated[str, AfterValidator(_metric)]
LabelName = Annotated[str, AfterValidator(_label)]
Duration = Annotated[str, AfterValidator(_duration)]
PositiveDuration = Annotated[str, AfterValidator(_positive_duration)]


# --- tenant: `serving` ------------------------------------------------------------------------

class SloTargets(Model):
    """Team-wide SLO targets (`serving.sloDefaults`); each InferenceService may override any."""

    latency_p50_ms: float = Field(default=50, gt=0, le=600_000)
    latency_p95_ms: float = Field(default=200, gt=0, le=600_000)
    latency_p99_ms: float = Field(default=500, gt=0, le=600_000)
    # Percent of requests answered with a 5xx; the error budget over the SLO window.
    error_rate_percent: float = Field(default=0.1, gt=0, lt=100 / 14.4)
    cold_starts_per_hour: int = Field(default=10, ge=0, le=3600)

    @model_validator(mode="after")
    def _ordered(self) -> "SloTargets":
        if (problem := latency_order_problem(self)) is not None:
            raise ValueError(problem)
        return self


def latency_order_problem(targets: "SloTargets") -> str | None:
    if targets.latency_p50_ms <= targets.latency_p95_ms <= targets.latency_p99_ms:
        return None
    return (
        f"latency targets must grow with the percentile: latencyP50Ms {targets.latency_p50_ms:g} <= "
        f"latencyP95Ms {targets.latency_p95_ms:g} <= latencyP99Ms {targets.latency_p99_ms:g}"
    )


class SloOverrides(Model):
    """Per-InferenceService overrides of `sloDefaults` (only the keys given)."""

    latency_p50_ms: float | None = Field(default=None, gt=0, le=600_000)
    latency_p95_ms: float | None = Field(default=None, gt=0, le=600_000)
    latency_p99_ms: float | None = Field(default=None, gt=0, le=600_000)
    error_rate_percent: float | None = Field(default=None, gt=0, lt=100 / 14.4)
    cold_starts_per_hour: int | None = Field(default=None, ge=0, le=3600)


class InferenceServiceSlo(Model):
    # The InferenceService's metadata.name in the team namespace. A DNS label: it is written into
    # PromQL label matchers, so nothing else may reach them.
    name: str = Field(pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$", max_length=45)
    scale_to_zero: bool = False
    slo: SloOverrides = SloOverrides()


class ServingConfig(Model):
    """`serving` in a tenant file: the team's InferenceServices and their SLOs."""

    slo_defaults: SloTargets = SloTargets()
    # At most MAX_INFERENCE_SERVICES: a team's rules are one PrometheusRule (about 11 KB per service
    # at the longest names), which must stay under etcd's default request limit (--max-request-bytes,
    # 1.5 MiB) or the API server refuses it halfway through `pulumi up`.
    inference_services: list[InferenceServiceSlo] = Field(default=[], max_length=100)

    @model_validator(mode="after")
    def _services(self) -> "ServingConfig":
        names = [s.name for s in self.inference_services]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"inferenceServices: {', '.join(twice)} listed twice")
        for index, service in enumerate(self.inference_services):
            if (problem := latency_order_problem(self.targets(service))) is not None:
                raise ValueError(f"inferenceServices[{index}] ({service.name}): {problem}")
        return self

    def targets(self, service: InferenceServiceSlo) -> SloTargets:
        """The service's effective targets: the defaults with its overrides applied (each value
        was checked by its own field; the order of the latencies is checked above)."""
        overrides = service.slo.model_dump(exclude_none=True)
        return SloTargets.model_construct(**{**self.slo_defaults.model_dump(), **overrides})


# --- tenant: `alerting` -----------------------------------------------------------------------

ReceiverType = Literal["pagerduty", "webhook"]
# The Vault property each receiver type reads at `tenants/<team>/alerting`.
RECEIVER_PROPERTY = {"pagerduty": "routing_key", "webhook": "url"}


class TenantAlerting(Model):
    """`alerting` in a tenant file: where the team's alerts go.

    `receiver` names the kind of receiver whose secret the team wrote at
    `<kvMount>/tenants/<team>/alerting` (`routing_key` for PagerDuty Events v2, `url` for a chat
    webhook). Without it, the team's alerts go to the platform on-call (and every render warns).
    """

    receiver: ReceiverType | None = None


# --- stack: `observability` -------------------------------------------------------------------

class ServingMetrics(Model):
    """Where the inference SLIs are read. Defaults: Knative Serving v1.16.2's queue-proxy (every
    request to a Serverless InferenceService passes it, whatever the model server) and its
    autoscaler (pods per revision)."""

    request_count: MetricName = "revision_request_count"
    # Histogram base name (`_bucket` is appended) and its unit.
    request_latency: MetricName = "revision_request_latencies"
    latency_unit: Literal["ms", "s"] = "ms"
    # The label carrying the Knative Service name; an InferenceService NAME runs as `NAME-predictor`.
    service_label: LabelName = "service_name"
    service_suffix: str = Field(default="-predictor", pattern=r"^[-a-z0-9]*$", max_length=17)
    # Which requests spend the error budget.
    error_matcher: str = 'response_code_class="5xx"'
    # Pods of a revision (a change from 0 is a cold start), and the label naming its namespace
    # (the autoscaler runs in knative-serving, so the scrape's own `namespace` label is not it).
    pods: MetricName = "autoscaler_actual_pods"
    pods_namespace_label: LabelName = "namespace_name"


    @field_validator("error_matcher")
    @classmethod
    def _matcher(cls, value: str) -> str:
        match = MATCHER.fullmatch(value)
        if not match:
            raise ValueError(f"{value!r} is not one label matcher (e.g. response_code_class=\"5xx\")")
        if match["op"] in ("=~", "!~"):
            # Prometheus compiles it with Go's regexp (RE2 syntax, anchored). Python's engine refuses
            # what both refuse (unbalanced brackets and groups, dangling repeats); what only Perl-style
            # engines accept is refused here by name: lookaround and other `(?...)` groups but flags
            # and `(?:`, possessive repeats, and backreferences (promtool: "invalid or unsupported
            # Perl syntax").
            pattern = match["value"]
            perl = re.search(r"\(\?(?![imsU-]*[:)])|[*+?}]\+|\\[1-9]", pattern)
            if perl:
                raise ValueError(
                    f"{value!r}: {perl.group(0)!r} is Perl syntax Prometheus's RE2 does not support "
                    "(no lookaround, possessive repeats or backreferences)"
                )
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"{value!r}: the regular expression does not compile ({e})") from None
        return value


class DriftConfig(Model):
    """Tier 3: the drift-metrics contract a team's exporter follows (docs/observability.md)."""

    score_metric: MetricName = "kfplatform_model_drift_score"
    threshold: float = Field(default=0.3, gt=0, le=1)
    for_: Duration = Field(default="30m", alias="for")



class SloPolicy(Model):
    """How SLO alerts behave, platform-wide."""

    latency_for: Duration = "10m"
    cold_starts_for: Duration = "5m"
    # The error budget is over 30 days (the SRE workbook's window): the burn-rate thresholds in
    # slo.py (14.4x over 1h/5m, 6x over 6h/30m) are derived for it, so it is not a setting.



class Receiver(Model):
    """The platform on-call's receiver; its secret is at `<kvMount>/platform/observability/alerting`."""

    type: ReceiverType = "pagerduty"


class ThanosRemoteWrite(Model):
    url: HttpsUrl


class InstallConfig(Model):
    """`install` mode: kube-prometheus-stack and Loki, pinned (kfplatform/observability/stack.py)."""

    # Bounded: a huge number is an error here, not an int32 overflow the API server refuses mid-update.
    prometheus_replicas: int = Field(default=2, ge=1, le=10)
    alertmanager_replicas: int = Field(default=3, ge=1, le=9)
    retention: PositiveDuration = "15d"
    # Sizes above zero (a leading zero is refused: `0Gi` is no volume, `0GiB` no retention).
    retention_size: str = Field(default="90GiB", pattern=r"^[1-9][0-9]{0,8}(B|KB|MB|GB|TB|PB|EB|KiB|MiB|GiB|TiB|PiB|EiB)$")
    storage_size: str = Field(default="100Gi", pattern=r"^[1-9][0-9]{0,8}(Mi|Gi|Ti)$")
    # A StorageClass name (a DNS subdomain): it lands in the PVC templates' storageClassName.
    storage_class: DnsSubdomain | None = None
    alertmanager_storage_size: str = Field(default="5Gi", pattern=r"^[1-9][0-9]{0,8}(Mi|Gi|Ti)$")
    loki_storage_size: str = Field(default="100Gi", pattern=r"^[1-9][0-9]{0,8}(Mi|Gi|Ti)$")
    remote_write: ThanosRemoteWrite | None = None


    @field_validator("prometheus_replicas")
    @classmethod
    def _prom_ha(cls, value: int, info: ValidationInfo) -> int:
        if value < 2 and is_prod(info):
            raise ValueError("prod runs at least 2 Prometheus replicas (one survives a node drain)")
        return value

    @field_validator("alertmanager_replicas")
    @classmethod
    def _am_ha(cls, value: int, info: ValidationInfo) -> int:
        if value < 3 and is_prod(info):
            raise ValueError("prod runs at least 3 Alertmanager replicas (a gossip cluster that keeps a majority)")
        return value


class ObservabilityConfig(Model):
    """`kubeflow-platform:observability`."""

    # existing: the cluster already runs the Prometheus operator (CRDs, Prometheus, Alertmanager);
    # install: the platform installs kube-prometheus-stack and Loki itself.
    mode: Literal["existing", "install"]
    # Where the repository's files are browsed; runbook_url = <this>/docs/runbook.md#<heading>.
    runbook_base_url: HttpsUrl
    # The label the platform's Prometheus selects PrometheusRules, monitors and AlertmanagerConfigs by.
    selector_labels: dict[LabelKey, LabelValue] = Field(default={"release": "kube-prometheus-stack"}, min_length=1)
    platform_receiver: Receiver = Receiver()
    serving_metrics: ServingMetrics = ServingMetrics()
    slo: SloPolicy = SloPolicy()
    drift: DriftConfig = DriftConfig()
    install: InstallConfig | None = None

    @model_validator(mode="after")
    def _mode(self) -> "ObservabilityConfig":
        if self.mode == "install" and self.install is None:
            raise ValueError("mode install: give `install` (replicas, retention, storage)")
        if self.mode == "existing" and self.install is not None:
            raise ValueError("mode existing: `install` is only read in mode install; remove it")
        return self
