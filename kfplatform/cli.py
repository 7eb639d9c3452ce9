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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kfplatform", description=__doc__)
    parser.add_argument("--project", type=pathlib.Path, default=PROJECT_DIR, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="run the program offline under mocks; write manifests and resources")
    render.add_argument("--stack", required=True, help="stack name: reads Pulumi.STACK.yaml")
    render.add_argument("--out", type=pathlib.Path, help="output folder (default build/STACK)")
    render.set_defaults(run=_render)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
