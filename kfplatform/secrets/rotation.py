"""Rotation that happens on a plain `pulumi up`: an epoch the program derives from the clock.

`time.Rotating` (pulumiverse-time, the Terraform time provider) notices that its
`rotationRfc3339` has passed only in Read, i.e. on a refresh; `pulumi up` does not refresh unless
run with `--refresh` (or `options: refresh: always`), so keyed on it alone nothing ever rotates.

So the program computes, at every run, which rotation period the clock is in:

    epoch = floor((now - ROTATION_ANCHOR) / period)

and gives the period's start to the path's `Rotating` as a `triggers` entry (Terraform time
provider: a changed trigger recreates the resource, with a new base timestamp) and to the random
values as a keeper. While the epoch is the same, the inputs are the same and nothing changes (no
churn on each `up`); on the first `up` after a boundary, the keepers change (the values are
replaced), the Rotating is replaced, the marker (`<period start>/<rotationRfc3339>`) changes, and
with it the Vault write, the ExternalSecrets' annotation and the consumers' pod templates: the
same chain as before (plane.py). All paths with the same period rotate in the
same `up`. A refresh may still replace a Rotating in between (when its own due date passes
first); that is one extra rotation, never a missed one.
"""
from __future__ import annotations

import datetime as dt

# Periods are counted from here (UTC). Changing it moves every boundary: never change it casually.
ROTATION_ANCHOR = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def clock() -> dt.datetime:
    """Now, in UTC. Tests replace this to move the clock across a boundary."""
    return dt.datetime.now(dt.timezone.utc)


def epoch(period_days: int, now: dt.datetime | None = None) -> int:
    """The index of the rotation period `now` falls in (periods of `period_days`, from the anchor)."""
    if period_days < 1:
        raise ValueError(f"a rotation period is at least one day, not {period_days}")
    now = now if now is not None else clock()
    if now.tzinfo is None:
        raise ValueError("the rotation clock must be timezone-aware")
    return (now - ROTATION_ANCHOR) // dt.timedelta(days=period_days)


def epoch_start(period_days: int, index: int) -> str:
    """When period `index` began, RFC 3339 (what the trigger shows a reviewer of `pulumi preview`)."""
    start = ROTATION_ANCHOR + index * dt.timedelta(days=period_days)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


ROTATION_PERIOD_KEY = "rotationPeriodStart"


def triggers(period_days: int, now: dt.datetime | None = None) -> dict[str, str]:
    """The Rotating's `triggers`: the current period's start; it changes exactly at a boundary."""
    return {ROTATION_PERIOD_KEY: epoch_start(period_days, epoch(period_days, now))}
