"""Class 1, quantities: apimachinery's grammar exactly, exact comparisons, the relations the API server enforces."""
from __future__ import annotations

from fractions import Fraction

import pytest

from kfplatform.config.quantity import MAX_QUANTITY, QuantityError, parse_quantity
from tests.config.helpers import errors, load, tenant, with_stack, with_tenant


# The grammar (k8s.io/apimachinery pkg/api/resource/quantity.go at v0.36.3), value exact.
@pytest.mark.parametrize("text, value", [
    ("4", 4), (4, 4), ("0", 0), ("500m", Fraction(1, 2)), ("16Gi", 16 * 2**30), ("1.5", Fraction(3, 2)),
    ("5.", 5), (".5", Fraction(1, 2)), ("+3", 3), ("1e3", 1000), ("1E3", 1000), ("1e+3", 1000),
    ("25e-1", Fraction(5, 2)), ("1k", 1000), ("1Ki", 1024), ("2n", Fraction(2, 10**9)), ("3u", Fraction(3, 10**6)),
    ("1E", 10**18), ("7Ei", 7 * 2**60), ("0.1n", Fraction(1, 10**9)),  # finer than 1n rounds up, as the API server does
    (str(MAX_QUANTITY), MAX_QUANTITY), (0.5, Fraction(1, 2)),
])
def test_grammar_accepts_with_the_exact_value(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", [
    "", " 4", "4 ", "4\n", "4Gi\n", "\t1", "4 Gi", "4GI", "4gi", "4K", "1ki", "1Mi5", "1e", "1e+", "1e1.5", "1.2.3",
    ".", "+", "-", "0x10", "1_000", "½", "١", "4Gi4", "inf", "nan", "Infinity", "1e99999999999999",
    "9" * 100, True, False, None, float("inf"), float("nan"), [4], {"a": 1},
])
def test_grammar_refuses(text):
    with pytest.raises(QuantityError):
        parse_quantity(text)


@pytest.mark.parametrize("text", ["9223372036854775808", "8Ei", "1e19", "10E", 10**30, "99999999999999999999999Ki"])
def test_numbers_above_2_63_are_an_error_not_an_overflow(text):
    with pytest.raises(QuantityError, match="larger than any Kubernetes quantity"):
        parse_quantity(text)


# Quota values: bad ones name the file and the quota key; their valid neighbours load.
@pytest.mark.parametrize("key, bad, good", [
    ("requests.cpu", " 96", "96"),
    ("requests.cpu", "96\n", 96),
    ("requests.cpu", True, "96"),
    ("requests.cpu", "-1", "96"),
    ("requests.memory", "384 Gi", "384Gi"),
    ("requests.memory", "1e400", "384e9"),
    ("requests.memory", 10**30, 384 * 2**30),
    ("pods", "1.5", "2"),
    ("pods", "500m", "1k"),
    ("requests.nvidia.com/gpu", "0.5", "1"),
    ("requests.nvidia.com/gpu", 10**40, 8),
    ("requests.nvidia.com/gpu", "-8", "8"),
    ("count/jobs.batch", "2.5", "25"),
])
def test_quota_values(tmp_path, key, bad, good):
    body = tenant()
    body["quota"][key] = bad
    issues = errors(tmp_path / "bad", tenants={"team-vision": body})
    assert len(issues) == 1 and issues[0].startswith(f"tenants/team-vision.yaml: quota: {key}: "), issues
    body["quota"][key] = good
    assert load(tmp_path / "good", tenants={"team-vision": body})


@pytest.mark.parametrize("requests_key, limits_key, low, high", [
    ("requests.cpu", "limits.cpu", "100", "192"),
    ("cpu", "limits.cpu", "193", "192"),
    ("requests.memory", "limits.memory", "513Gi", "512Gi"),
    ("requests.ephemeral-storage", "limits.ephemeral-storage", "2Ti", "1Ti"),
])
def test_quota_requests_never_above_limits(tmp_path, requests_key, limits_key, low, high):
    body = tenant()
    body["quota"][requests_key] = low if parse_quantity(low) > parse_quantity(high) else high
    body["quota"][limits_key] = high if parse_quantity(low) > parse_quantity(high) else low
    if parse_quantity(body["quota"][requests_key]) > parse_quantity(body["quota"][limits_key]):
        (issue,) = errors(tmp_path / "bad", tenants={"team-vision": body})
        assert issue.startswith("tenants/team-vision.yaml: quota: ") and f"{requests_key} " in issue and f"above {limits_key}" in issue
    # Equal, in different units, is fine.
    body["quota"][requests_key] = body["quota"][limits_key] = "512Gi" if "memory" in limits_key or "storage" in limits_key else "192"
    if "memory" in limits_key:
        body["quota"][requests_key] = "524288Mi"
    assert load(tmp_path / "good", tenants={"team-vision": body})


@pytest.mark.parametrize("limits, why", [
    ({"default": {"cpu": "4"}, "max": {"cpu": "2"}}, "default.cpu 4 is above max.cpu 2"),
    ({"defaultRequest": {"memory": "2Gi"}, "default": {"memory": "1Gi"}, "max": {"memory": "4Gi"}},
     "defaultRequest.memory 2Gi is above default.memory 1Gi"),
    # No default: the API server makes it max, so defaultRequest above max is refused too.
    ({"defaultRequest": {"cpu": "3"}, "default": {}, "max": {"cpu": "2"}}, "defaultRequest.cpu 3 is above default.cpu 2"),
    ({"min": {"cpu": "500m"}, "defaultRequest": {"cpu": "250m"}}, "min.cpu 500m is above defaultRequest.cpu 250m"),
    ({"min": {"memory": "8Gi"}, "defaultRequest": {}, "default": {}, "max": {"memory": "4Gi"}}, "min.memory 8Gi is above"),
])
def test_container_limits_are_ordered_min_default_request_default_max(tmp_path, limits, why):
    body = tenant("team-forecasting")
    body["containerLimits"] = limits
    (issue,) = errors(tmp_path, tenants={"team-forecasting": body})
    assert issue.startswith("tenants/team-forecasting.yaml: containerLimits: ") and why in issue, issue


def test_container_limits_valid_neighbours_load_and_render_min(tmp_path):
    body = tenant("team-forecasting")
    body["containerLimits"] = {"min": {"cpu": "250m"}, "defaultRequest": {"cpu": "250m"}, "default": {"cpu": "2"}, "max": {"cpu": "2"}}
    config = load(tmp_path, tenants={"team-forecasting": body})
    limits = next(t for t in config.tenants if t.config.name == "team-forecasting").config.container_limits
    assert limits.effective()["min"] == {"cpu": "250m"}


def test_stack_container_limits_are_ordered_too(tmp_path):
    config = with_stack(tenancy={"containerLimits": {"defaultRequest": {"cpu": "2"}, "default": {"cpu": "1"}, "max": {"cpu": "32"}}})
    (issue,) = errors(tmp_path, config)
    assert issue.startswith("Pulumi.prod.yaml: kubeflow-platform:tenancy.containerLimits: defaultRequest.cpu 2 is above default.cpu 1")


def test_a_container_max_above_the_namespace_quota_is_refused(tmp_path):
    own = tenant("team-forecasting")
    own["containerLimits"]["max"]["memory"] = "200Gi"  # requests.memory is 192Gi
    (issue,) = errors(tmp_path / "own", tenants={"team-forecasting": own})
    assert issue.startswith("tenants/team-forecasting.yaml: containerLimits.max.memory: ")
    assert "requests.memory 192Gi" in issue
    own["containerLimits"]["max"]["memory"] = "192Gi"
    assert load(tmp_path / "own-ok", tenants={"team-forecasting": own})


def test_the_stack_default_ceiling_is_checked_against_each_tenants_quota(tmp_path):
    small = tenant("team-nlp")  # no containerLimits: the stack's max (cpu 32) applies
    small["quota"]["requests.cpu"] = "16"
    (issue,) = errors(tmp_path / "bad", tenants={"team-nlp": small})
    assert issue.startswith("tenants/team-nlp.yaml: quota.requests.cpu: ") and "tenancy.containerLimits" in issue
    small["quota"]["requests.cpu"] = "32"
    assert load(tmp_path / "good", tenants={"team-nlp": small})


@pytest.mark.parametrize("path, bad, good", [
    (("data", "galera", "storageSize"), "0", "1Gi"),
    (("data", "galera", "storageSize"), "-200Gi", "200Gi"),
    (("data", "galera", "storageSize"), True, "200Gi"),
    (("data", "galera", "resources", "requests", "memory"), "16 Gi", "16Gi"),
    (("data", "galera", "resources", "requests", "cpu"), "-2", "2"),
    (("data", "galera", "resources", "requests", "memory"), "17Gi", "16384Mi"),  # limit is 16Gi
    (("data", "objectStore", "pools", 0, "volumeSize"), "2Ti\n", "2Ti"),
    (("data", "objectStore", "pools", 0, "volumeSize"), "1e30", "2Ti"),
    (("kubeflow", "controlPlane", "mlPipeline", "cpuRequest"), "-250m", "250m"),
    (("kubeflow", "controlPlane", "mlPipeline", "memoryRequest"), "512MB", "512M"),
])
def test_every_quantity_field_of_the_stack(tmp_path, path, bad, good):
    def at(value):
        config = with_stack()
        node = config[f"kubeflow-platform:{path[0]}"]
        for part in path[1:-1]:
            node = node[part]
        node[path[-1]] = value
        return config

    issues = errors(tmp_path / "bad", at(bad))
    assert len(issues) == 1 and issues[0].startswith(f"Pulumi.prod.yaml: kubeflow-platform:{path[0]}."), issues
    assert load(tmp_path / "good", at(good))


@pytest.mark.parametrize("bad", [True, False, 0, -1, 2.5])
def test_gpu_counts_per_katib_trial_are_whole_device_counts(tmp_path, bad):
    body = tenant("team-nlp")
    body["katib"]["resourcesPerTrial"] = {"nvidia.com/gpu": bad}
    issues = errors(tmp_path, tenants={"team-nlp": body})
    assert issues and all(i.startswith("tenants/team-nlp.yaml: katib") for i in issues), issues


@pytest.mark.parametrize("value, ok", [("4", True), (4, True), ("1k", True), ("0", True), ("1.5", False), ("500m", False),
                                       ("-1", False), (True, False)])
def test_count_quantities_are_whole_and_non_negative(value, ok):
    from kfplatform.config.quantity import count_quantity

    if ok:
        assert count_quantity(value) == str(value)
    else:
        with pytest.raises(QuantityError):
            count_quantity(value)
