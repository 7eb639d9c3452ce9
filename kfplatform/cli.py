"""`python -m kfplatform COMMAND`: the offline tools around the Pulumi program."""
from __future__ import annotations

import argparse
import pathlib
import sys

from .config.errors import ConfigError

PROJECT_DIR = pathlib.Path(__file__).resolve().parent.parent


def _render(args: argparse.Namespace) -> int:
    from .render.output import summary, write_render
    from .render.run import render_stack

    result = render_stack(args.project, args.stack)
    out = args.out or args.project / "build" / args.stack
    written = write_render(result, out)
    print(summary(result))
    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0


def _capacity(args: argparse.Namespace) -> int:
    """Print the GPU capacity plan; exit 2 if the stack's configuration (plan included) is invalid.

    The table is printed even when the plan fails, so the reviewer sees by how much.
    """
    from .config.loader import load_platform_config, load_tenants, stack_values, validate_stack
    from .gpu.capacity import plan
    from .gpu.report import text_report
    from .render.run import read_stack_config

    raw, _ = read_stack_config(args.project, args.stack)
    values = stack_values(raw)
    stack, issues = validate_stack(values, f"Pulumi.{args.stack}.yaml")
    tenants, tenant_issues = load_tenants(args.project / "tenants", args.project, values.get("environment"))
    if stack is None or tenant_issues:
        raise ConfigError(issues + tenant_issues)
    print(text_report(plan(stack.gpu, [t.config for t in tenants]).to_json(), args.stack), end="")
    load_platform_config(args.stack, raw, args.project)  # every cross-check; raises ConfigError
    return 0


def _diff(args: argparse.Namespace) -> int:
    """Compare two renders; exit 0 no change, 1 changes, 2 not renders (kfplatform/render/diff.py)."""
    from .render.diff import main as diff_main

    return diff_main(args.old, args.new, args.markdown)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kfplatform", description=__doc__)
    parser.add_argument("--project", type=pathlib.Path, default=PROJECT_DIR, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="run the program offline under mocks; write manifests and resources")
    render.add_argument("--stack", required=True, help="stack name: reads Pulumi.STACK.yaml")
    render.add_argument("--out", type=pathlib.Path, help="output folder (default build/STACK)")
    render.set_defaults(run=_render)
    capacity = commands.add_parser("capacity", help="print the GPU capacity plan: supply, quotas, headroom, Katib sweeps")
    capacity.add_argument("--stack", required=True, help="stack name: reads Pulumi.STACK.yaml")
    capacity.set_defaults(run=_capacity)
    diff = commands.add_parser("diff", help="compare two renders: added/removed/changed resources, dangerous ones first")
    diff.add_argument("old", type=pathlib.Path, metavar="OLD_DIR", help="a render folder (render --out OLD_DIR)")
    diff.add_argument("new", type=pathlib.Path, metavar="NEW_DIR", help="the render folder to compare with it")
    diff.add_argument("--markdown", type=pathlib.Path, help="where the markdown report goes (default NEW_DIR/diff.md)")
    diff.set_defaults(run=_diff)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
