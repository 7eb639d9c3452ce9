"""The capacity plan for people: a text table (`python -m kfplatform capacity`) and markdown
(`capacity.md` in a render, for the merge request). Both read the plan's data form
(`CapacityPlan.to_json()`, the `gpuCapacity` stack output), so they show exactly what was checked.
"""
from __future__ import annotations

from typing import Sequence


def _use(line: dict) -> str:
    if not line["allowed"]:
        return "-"
    return f"{100 * line['demand'] / line['allowed']:.0f}%"


def _top(line: dict, n: int = 3) -> str:
    quotas = line["quotas"]
    text = ", ".join(f"{q['tenant']} {q['quota']}" for q in quotas[:n])
    if len(quotas) > n:
        text += f", +{len(quotas) - n} more"
    return text or "-"


def _status(line: dict) -> str:
    return {"ok": "ok", "oversubscribed": "OVER", "unsupplied": "NO POOL"}[line["status"]]


def _pool_rows(plan: dict) -> list[list[str]]:
    return [
        [p["pool"], p["model"], p["layout"], p["mode"], str(p["nodes"]), str(p["gpusPerNode"]), p["resource"],
         str(p["perGpu"]), str(p["supply"]), f"{p['overcommit']:g}", str(p["allowed"])]
        for p in plan["pools"]
    ]


POOL_HEAD = ["pool", "model", "layout", "mode", "nodes", "GPUs/node", "slice type", "per GPU", "supply",
             "overcommit", "allowed"]
SLICE_HEAD = ["slice type", "pools", "supply", "allowed", "quotas", "headroom", "use", "status", "largest quotas"]
SWEEP_HEAD = ["tenant", "slice type", "parallel trials", "per trial", "needs", "quota", "fits"]
NUMERIC = {"nodes", "GPUs/node", "per GPU", "supply", "overcommit", "allowed", "quotas", "headroom", "use",
           "parallel trials", "per trial", "needs", "quota"}


def _slice_rows(plan: dict) -> list[list[str]]:
    return [
        [s["resource"], ", ".join(s["pools"]) or "-", str(s["supply"]), str(s["allowed"]), str(s["demand"]),
         str(s["headroom"]), _use(s), _status(s), _top(s)]
        for s in plan["sliceTypes"]
    ]


def _sweep_rows(plan: dict) -> list[list[str]]:
    return [
        [k["tenant"], k["resource"], str(k["maxParallelTrials"]), str(k["perTrial"]), str(k["need"]),
         str(k["quota"]), "yes" if k["fits"] else "NO"]
        for k in plan["katibSweeps"]
    ]


def _text_table(head: Sequence[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(head, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if h in NUMERIC else c.ljust(w) for h, c, w in zip(head, cells, widths)
        ).rstrip()

    return [line([h.upper() for h in head])] + [line(r) for r in rows]


def _md_table(head: Sequence[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" if h in NUMERIC else "---" for h in head) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return out


def _summary(plan: dict, stack: str) -> str:
    enforced = "enforced: oversubscription fails validation" if plan["capacityCheck"] == "enforce" else (
        "report only: nothing fails on oversubscription in this stack"
    )
    return f"GPU capacity plan, stack {stack}: mig.strategy {plan['migStrategy']}, capacity check {enforced}"


def text_report(plan: dict, stack: str) -> str:
    lines = [_summary(plan, stack), "", "Supply by pool"]
    lines += _text_table(POOL_HEAD, _pool_rows(plan))
    lines += ["", "Slice types: supply x overcommit (allowed) against the sum of tenant quotas"]
    lines += _text_table(SLICE_HEAD, _slice_rows(plan))
    lines += ["", "Katib sweeps: parallel trials x devices per trial against the tenant's own quota"]
    lines += _text_table(SWEEP_HEAD, _sweep_rows(plan)) if plan["katibSweeps"] else ["  (no tenant declares katib:)"]
    lines += [""] + (["Problems:"] + [f"  - {p}" for p in plan["problems"]] if plan["problems"] else ["Problems: none"])
    return "\n".join(lines) + "\n"


def markdown_report(plan: dict, stack: str) -> str:
    lines = [f"# {_summary(plan, stack)}", "", "## Supply by pool", ""]
    lines += _md_table(POOL_HEAD, _pool_rows(plan))
    lines += ["", "## Slice types", "", "Allowed = supply x the pool's overcommit; quotas = sum of tenant quotas.", ""]
    lines += _md_table(SLICE_HEAD, _slice_rows(plan))
    lines += ["", "## Katib sweeps", "", "Parallel trials x devices per trial, against the tenant's own quota.", ""]
    lines += _md_table(SWEEP_HEAD, _sweep_rows(plan)) if plan["katibSweeps"] else ["No tenant declares `katib:`."]
    lines += ["", "## Problems", ""] + ([f"- {p}" for p in plan["problems"]] if plan["problems"] else ["None."])
    return "\n".join(lines) + "\n"
