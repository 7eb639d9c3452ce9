"""Rotation happens on a plain `pulumi up`: the program derives the rotation period from the clock.

`time.Rotating` only notices its due date on a refresh, which `pulumi up` does not do. These tests
move the program's clock (`kfplatform.secrets.rotation.clock`) and compare what is rendered: within
a period every input stays byte for byte the same (no churn on each `up`); across a boundary the
period start changes in the Rotating's `triggers` (the provider recreates it) and in the random
values' keepers (they are replaced), and so the rotation marker on the ExternalSecrets and on the
pod templates of the consumers changes too.
"""
from __future__ import annotations

import datetime as dt

import pytest

from kfplatform.secrets import rotation
from kfplatform.secrets.plane import ROTATION_ANNOTATION
from kfplatform.secrets.rotation import ROTATION_ANCHOR, epoch, epoch_start

from .test_plane import build

UTC = dt.timezone.utc
PASSWORD = "random:index/randomPassword:RandomPassword"
ROTATING = "time:index/rotating:Rotating"


@pytest.mark.parametrize(
    "now, days, expected",
    [
        (ROTATION_ANCHOR, 30, 0),
        (ROTATION_ANCHOR + dt.timedelta(days=30) - dt.timedelta(seconds=1), 30, 0),
        (ROTATION_ANCHOR + dt.timedelta(days=30), 30, 1),
        (ROTATION_ANCHOR + dt.timedelta(days=95), 90, 1),
        (ROTATION_ANCHOR + dt.timedelta(days=180), 90, 2),
        (ROTATION_ANCHOR - dt.timedelta(seconds=1), 7, -1),  # a clock before the anchor still counts
        (dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=5))), 1, 59),  # offsets count in UTC
    ],
)
def test_the_period_index_follows_the_clock(now, days, expected):
    assert epoch(days, now) == expected
    start = dt.datetime.strptime(epoch_start(days, expected), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert start <= now < start + dt.timedelta(days=days)


@pytest.mark.parametrize("days, now", [(0, ROTATION_ANCHOR), (-3, ROTATION_ANCHOR), (30, dt.datetime(2026, 5, 1))])
def test_a_bad_period_or_a_naive_clock_is_refused(days, now):
    with pytest.raises(ValueError):
        epoch(days, now)


def _plane_at(monkeypatch, when: dt.datetime):
    monkeypatch.setattr(rotation, "clock", lambda: when)

    def use(plane):
        plane.generated("platform/test/rotated", ["password"])  # rotationDays 30
        plane.generated("platform/test/static", ["password"], rotate=False)
        plane.deliver("kubeflow", "rotated", "platform/test/rotated", {"password": "password"})
        plane.deliver("kubeflow", "static", "platform/test/static", {"password": "password"})

    return {r.urn: r.inputs for r in build(use).resources}


def test_within_a_period_nothing_changes_and_across_a_boundary_the_rotated_path_does(monkeypatch):
    start = ROTATION_ANCHOR + dt.timedelta(days=300)  # the start of period 10 (30-day periods)
    first = _plane_at(monkeypatch, start + dt.timedelta(hours=1))
    same = _plane_at(monkeypatch, start + dt.timedelta(days=30) - dt.timedelta(seconds=1))
    assert first == same  # no churn: every input of every resource identical

    after = _plane_at(monkeypatch, start + dt.timedelta(days=30))
    changed = {urn.rsplit("::", 1)[1] for urn in first if first[urn] != after[urn]}
    assert changed == {"platform-test-rotated-rotation", "platform-test-rotated-password", "kubeflow-rotated"}

    def by_name(inputs, name):
        (found,) = [v for urn, v in inputs.items() if urn.endswith("::" + name)]
        return found

    rot_before, rot_after = by_name(first, "platform-test-rotated-rotation"), by_name(after, "platform-test-rotated-rotation")
    assert rot_before["triggers"] == {"rotationPeriodStart": "2026-10-28T00:00:00Z"}
    assert rot_after["triggers"] == {"rotationPeriodStart": "2026-11-27T00:00:00Z"}
    keepers = by_name(first, "platform-test-rotated-password")["keepers"], by_name(after, "platform-test-rotated-password")["keepers"]
    assert keepers[0]["period"] != keepers[1]["period"] and keepers[0]["rotation"] == keepers[1]["rotation"]
    marker = [by_name(x, "kubeflow-rotated")["metadata"]["annotations"][ROTATION_ANNOTATION] for x in (first, after)]
    assert marker[0] != marker[1] and marker[1].startswith("platform/test/rotated=2026-11-27T00:00:00Z/")


def test_the_whole_render_rotates_every_rotated_path_across_a_boundary_and_nothing_else(prod, monkeypatch):
    """Render prod again with the clock past the next boundary of every rotation period."""
    from kfplatform.render.run import render_stack
    from tests.conftest import PROJECT_DIR

    periods = {r.inputs["rotationDays"] for r in prod.by_type(ROTATING)}
    assert periods  # something rotates
    later = rotation.clock() + dt.timedelta(days=max(periods))
    monkeypatch.setattr(rotation, "clock", lambda: later)
    moved = render_stack(PROJECT_DIR, "prod")

    before = {r.urn: r for r in prod.resources}
    after = {r.urn: r for r in moved.resources}
    assert before.keys() == after.keys()
    for r in prod.by_type(ROTATING):
        assert r.inputs["triggers"] != after[r.urn].inputs["triggers"], r.name
    for r in prod.by_type(PASSWORD):
        if r.inputs.get("keepers"):
            assert r.inputs["keepers"]["period"] != after[r.urn].inputs["keepers"]["period"], r.name
        else:  # never rotated (MariaDB root, MinIO root, oauth2-proxy): untouched
            assert r.inputs == after[r.urn].inputs, r.name
    # The marker reaches what reads a rotated credential: ExternalSecrets and pod templates.
    changed = {before[u].name for u in before if before[u].inputs != after[u].inputs}
    carriers = {before[u].name for u in before if ROTATION_ANNOTATION in str(before[u].inputs)}
    assert carriers and carriers <= changed
    # And nothing else moved: every change is a rotation, a marker carrier, or the Application
    # whose kustomize patches carry the marker to upstream Deployments.
    assert changed <= carriers | {r.name for r in prod.by_type(ROTATING)} | {r.name for r in prod.by_type(PASSWORD)}
