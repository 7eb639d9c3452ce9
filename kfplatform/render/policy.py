"""The policy pack over a recorded render, through pulumi-policy's analyzer (policy/kfguard/engine.py).

The pack lives in `policy/` (its own virtualenv under the Pulumi CLI); the offline tools import
it from there, so `render`, `policy` and the tests run the very code `pulumi preview` runs.
"""
from __future__ import annotations

import json
import pathlib
import sys

POLICY_DIR = pathlib.Path(__file__).resolve().parent.parent.parent / "policy"


class PolicyInputError(ValueError):
    pass


def engine():
    if str(POLICY_DIR) not in sys.path:
        sys.path.insert(0, str(POLICY_DIR))
    from kfguard import engine as kfguard_engine

    return kfguard_engine


def run_policy(resources: pathlib.Path, config: pathlib.Path | None = None):
    """(report, printable text) for a resources.json; PolicyInputError on unreadable input."""
    eng = engine()
    try:
        report, stack, config_file = eng.evaluate_file(resources, config)
    except (OSError, json.JSONDecodeError) as e:
        raise PolicyInputError(f"{resources}: cannot read the render's resources: {e}") from None
    except (KeyError, TypeError, AttributeError) as e:
        raise PolicyInputError(f"{resources}: not a render's resources.json ({e!r})") from None
    except eng.PolicyConfigError as e:
        raise PolicyInputError(str(e)) from None
    return report, eng.format_report(report, stack, config_file)
