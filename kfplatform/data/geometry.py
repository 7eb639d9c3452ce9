"""The MinIO pool geometry lock: `data-geometry.<stack>.json`, committed beside the stack file.

A pool's `servers` and `volumesPerServer` are immutable: MinIO places every object by the pool's
erasure layout, and the Tenant CRD refuses the change (`self == oldSelf`) only when the API server
sees the update, halfway through a `pulumi up`. The lock records the geometry of every pool that
exists (or is about to be created); config validation compares the stack against it and refuses,
before anything is registered, to change or drop a recorded pool, or to create an unrecorded one.

Recording is a deliberate, reviewable step of its own:

    python -m kfplatform.data.geometry --stack prod            # show config vs lock
    python -m kfplatform.data.geometry --stack prod --record   # add new pools to the lock

`--record` only ever adds pools; it never rewrites a recorded one. Growing the object store means
adding a pool (a new name); see docs/data-tier.md for that and for decommissioning.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Iterable

from ..config.errors import ConfigError, ConfigIssue
from ..config.platform_config import KEY_PREFIX, PlatformConfig

LOCK_VERSION = 1


def lock_path(project_dir: pathlib.Path, stack: str) -> pathlib.Path:
    return project_dir / f"data-geometry.{stack}.json"


def configured_pools(config: PlatformConfig) -> dict[str, dict[str, int]]:
    return {
        pool.name: {"servers": pool.servers, "volumesPerServer": pool.volumes_per_server}
        for pool in config.stack.data.object_store.pools
    }


def read_lock(path: pathlib.Path) -> dict[str, dict[str, int]]:
    """Recorded pools by name; {} when the file does not exist. ValueError if it is malformed."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        pools = data["objectStore"]["pools"]
        return {
            name: {"servers": int(g["servers"]), "volumesPerServer": int(g["volumesPerServer"])}
            for name, g in pools.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"not a geometry lock ({type(e).__name__}: {e})") from None


def write_lock(path: pathlib.Path, pools: dict[str, dict[str, int]]) -> None:
    data = {
        "version": LOCK_VERSION,
        "comment": "MinIO pool geometry recorded for this stack. servers/volumesPerServer never change; "
        "see docs/data-tier.md. Edit only with `python -m kfplatform.data.geometry --record`.",
        "objectStore": {"pools": {name: pools[name] for name in sorted(pools)}},
    }
    path.write_text(json.dumps(data, indent=2) + "\n")


def _command(stack: str) -> str:
    return f"python -m kfplatform.data.geometry --stack {stack} --record"


def geometry_issues(config: PlatformConfig) -> Iterable[ConfigIssue]:
    """Refuse a changed, dropped or unrecorded MinIO pool (see the module docstring)."""
    if config.project_dir is None:
        return
    path = lock_path(config.project_dir, config.stack_name)
    try:
        recorded = read_lock(path)
    except ValueError as e:
        yield ConfigIssue(path.name, "objectStore.pools", str(e))
        return
    pools_key = f"{KEY_PREFIX}data.objectStore.pools"
    configured = configured_pools(config)
    for index, (name, geometry) in enumerate(configured.items()):
        if name not in recorded:
            yield ConfigIssue(
                config.stack_file, f"{pools_key}[{index}]",
                f"pool {name!r} ({geometry['servers']} servers x {geometry['volumesPerServer']} volumes) is not in "
                f"{path.name}; its geometry can never change once created, so record it deliberately: "
                f"`{_command(config.stack_name)}`, and commit the lock with this change",
            )
            continue
        for key in ("servers", "volumesPerServer"):
            if geometry[key] != recorded[name][key]:
                yield ConfigIssue(
                    config.stack_file, f"{pools_key}[{index}].{key}",
                    f"pool {name!r} was created with {key}={recorded[name][key]} ({path.name}); MinIO cannot "
                    f"change a pool's geometry, so {geometry[key]} is refused. To grow, add a new pool with its "
                    "own name; to shrink, decommission the pool first (docs/data-tier.md)",
                )
    for name in sorted(set(recorded) - set(configured)):
        yield ConfigIssue(
            config.stack_file, pools_key,
            f"pool {name!r} is recorded in {path.name} but missing here; removing it would drop its data. "
            "Decommission it first (docs/data-tier.md), then remove it from the lock in the same change",
        )


def record(config: PlatformConfig) -> list[str]:
    """Add the configured pools that are not yet recorded; never rewrite a recorded one. Returns the added names."""
    assert config.project_dir is not None
    path = lock_path(config.project_dir, config.stack_name)
    recorded = read_lock(path)
    added = {name: g for name, g in configured_pools(config).items() if name not in recorded}
    if added or not path.exists():
        write_lock(path, {**recorded, **added})
    return sorted(added)


def main(argv: list[str] | None = None) -> int:
    from ..config.loader import stack_values, validate_stack
    from ..render.run import read_stack_config

    parser = argparse.ArgumentParser(prog="python -m kfplatform.data.geometry", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--project", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parents[2])
    parser.add_argument("--record", action="store_true", help="add new pools to the lock (never changes recorded ones)")
    args = parser.parse_args(argv)
    try:
        raw, _ = read_stack_config(args.project, args.stack)
        stack_file = f"Pulumi.{args.stack}.yaml"
        stack, issues = validate_stack(stack_values(raw), stack_file)
        if issues:
            raise ConfigError(issues)
        config = PlatformConfig(args.stack, stack_file, stack, (), project_dir=args.project)
        if args.record:
            # Only additions: a changed or dropped pool is still refused (and left unrecorded).
            refused = [i for i in geometry_issues(config) if "is not in data-geometry" not in i.message]
            if refused:
                raise ConfigError(refused)
            added = record(config)
            print(f"recorded {', '.join(added)} in {lock_path(args.project, args.stack).name}" if added else "nothing new to record")
            return 0
        issues = list(geometry_issues(config))
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
    for name, geometry in configured_pools(config).items():
        print(f"{name}: {geometry['servers']} servers x {geometry['volumesPerServer']} volumes per server")
    for issue in issues:
        print(f"  - {issue}", file=sys.stderr)
    return 2 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
