"""Class 6, zones: each zone once (every spread check counts zones), each a node label value."""
from __future__ import annotations

import pytest

from tests.config.helpers import errors, load, stack_config

ZONES = "kubeflow-platform:cluster"


def _zones(zones, stack="prod") -> dict:
    config = stack_config(stack)
    config[ZONES]["zones"] = zones
    return config


@pytest.mark.parametrize("stack, zones, why", [
    ("prod", ["eu-west-1a", "eu-west-1a", "eu-west-1b"], "eu-west-1a listed more than once"),
    # Two entries but one zone: prod's "at least 2 zones" and the MinIO zone-loss check count distinct zones.
    ("prod", ["eu-west-1a", "eu-west-1a"], "listed more than once"),
    ("sandbox", ["eu-west-1a", "eu-west-1a"], "listed more than once"),
    ("prod", ["eu-west-1a", "", "eu-west-1b"], "cannot be empty"),
    ("prod", ["eu-west-1a", "eu-west-1b ", "eu-west-1c"], "label value"),
    ("prod", ["eu-west-1a", "eu/west", "eu-west-1c"], "label value"),
    ("prod", ["eu-west-1a", "eu-west-1b", True], "boolean"),
])
def test_zones_refused(tmp_path, stack, zones, why):
    issues = errors(tmp_path, _zones(zones, stack), stack=stack)
    assert any(i.startswith(f"Pulumi.{stack}.yaml: {ZONES}.zones") and why in i for i in issues), issues


@pytest.mark.parametrize("stack, zones", [
    ("prod", ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
    ("prod", ["eu-west-1c", "eu-west-1a", "eu-west-1b"]),
    ("sandbox", ["eu-west-1a"]),
    ("sandbox", []),
])
def test_distinct_zones_load(tmp_path, stack, zones):
    assert load(tmp_path, _zones(zones, stack), stack=stack).stack.cluster.zones == zones


def test_a_prod_stack_with_one_zone_listed_twice_is_not_multi_zone(tmp_path):
    """Before: ["a", "a"] passed `len(zones) >= 2` and the data tier spread over one zone as if two."""
    issues = errors(tmp_path, _zones(["eu-west-1a", "eu-west-1a"]))
    assert len(issues) == 1
