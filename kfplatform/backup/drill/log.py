"""The drill log in the repository: `drills/drill-log.json` (every drill, machine-readable) and
`drills/drill-log.md` (the same, for people), each drill compared with the one before."""
from __future__ import annotations

import json
import pathlib

JSON_LOG = "drill-log.json"
MD_LOG = "drill-log.md"
MD_HEADER = (
    "# Restore drill log\n\nAppended by `python -m kfplatform drill` (docs/restore-drill.md). One section per drill; "
    "deltas compare each step with the previous drill (negative = faster).\n"
)


def previous(log_dir: pathlib.Path) -> dict | None:
    path = log_dir / JSON_LOG
    if not path.exists():
        return None
    drills = json.loads(path.read_text()).get("drills", [])
    return drills[-1] if drills else None


def deltas(record: dict, before: dict | None) -> dict[str, float | None]:
    """Seconds per step (and `rto`) minus the previous drill's; None where it has no such step."""
    if before is None:
        return {}
    old = {s["name"]: s["seconds"] for s in before.get("steps", [])}
    out = {s["name"]: (round(s["seconds"] - old[s["name"]], 1) if s["name"] in old else None) for s in record["steps"]}
    if record.get("rtoSeconds") is not None and before.get("rtoSeconds") is not None:
        out["rto"] = round(record["rtoSeconds"] - before["rtoSeconds"], 1)
    return out


def _fmt_delta(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.0f}s"


def markdown(record: dict, delta: dict) -> str:
    verdict = "PASS" if record["passed"] else "FAIL"
    rto = f"{record['rtoSeconds'] / 60:.1f} min" if record.get("rtoSeconds") is not None else "not met"
    lines = [
        f"\n## {record['startedAt']}: backup `{record['backup']}`: {verdict}\n",
        f"- stack `{record['stack']}`, cluster `{record['cluster']}`, point in time `{record.get('pointInTime') or 'newest'}`"
        + (f", volumes backup `{record['volumesBackup']}`" if record.get("volumesBackup") else ""),
        f"- RTO {rto}" + (f" ({_fmt_delta(delta['rto'])} vs previous drill)" if "rto" in delta else ""),
        "",
        "| step | seconds | vs previous | result |",
        "|---|---|---|---|",
    ]
    for step in record["steps"]:
        lines.append(
            f"| {step['name']} | {step['seconds']:.0f} | {_fmt_delta(delta.get(step['name'])) if delta else 'first drill'} "
            f"| {'ok' if step['ok'] else 'FAILED'}: {step['detail']} |"
        )
    lines += ["", "| criterion | result | detail |", "|---|---|---|"]
    for c in record["criteria"]:
        lines.append(f"| {c['name']} | {'pass' if c['passed'] else 'FAIL'} | {c['detail']} |")
    return "\n".join(lines) + "\n"


def append(log_dir: pathlib.Path, record: dict) -> dict:
    """Append `record` to both logs; return the per-step deltas against the previous drill."""
    log_dir.mkdir(parents=True, exist_ok=True)
    before = previous(log_dir)
    delta = deltas(record, before)
    path = log_dir / JSON_LOG
    data = json.loads(path.read_text()) if path.exists() else {"drills": []}
    data["drills"].append({**record, "deltaSeconds": delta})
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    md = log_dir / MD_LOG
    md.write_text((md.read_text() if md.exists() else MD_HEADER) + markdown(record, delta))
    return delta
