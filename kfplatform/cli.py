"""`python -m kfplatform COMMAND`: the offline tools around the Pulumi program."""
from __future__ import annotations

import argparse
import os
import pathlib
import sys

from .config.errors import ConfigError

PROJECT_DIR = pathlib.Path(__file__).resolve().parent.parent


def _render(args: argparse.Namespace) -> int:
    from .render.output import write_render_with_gate
    from .render.policy import PolicyInputError
    from .render.run import render_stack

    result = render_stack(args.project, args.stack)
    out = args.out or args.project / "build" / args.stack
    try:
        text, written = write_render_with_gate(result, out)
    except PolicyInputError as e:  # an invalid policy/config/<stack>.json: the files are written
        print(str(e), file=sys.stderr)
        return 2
    print(text)
    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0


def _policy(args: argparse.Namespace) -> int:
    """Run the CrossGuard pack over a render's resources.json, as `pulumi preview --policy-pack` would.

    Exit 1 on any mandatory violation, 0 otherwise (advisory violations are printed, not fatal);
    2 when the file or the pack config cannot be read.
    """
    from .render.policy import PolicyInputError, run_policy

    try:
        report, text = run_policy(args.resources, args.config)
    except PolicyInputError as e:
        print(str(e), file=sys.stderr)
        return 2
    print(text)
    return 1 if report.mandatory else 0


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


def _drill(args: argparse.Namespace) -> int:
    """The restore drill against the live sandbox; exit 0 all criteria pass, 1 one failed, 2 refused."""
    from .backup.drill.clients import DrillRefused
    from .backup.drill.run import (
        DrillOptions, argument_problems, db_password_from_env, parse_point_in_time, report, run_drill,
    )

    try:
        problems = argument_problems(args.backup, args.tolerance_hours, args.db_port, args.kfp_namespace)
        if problems:
            raise DrillRefused("; ".join(problems))
        point = parse_point_in_time(args.point_in_time) if args.point_in_time else None
        opts = DrillOptions(
            project=args.project, stack=args.stack, backup=args.backup, point_in_time=point,
            kubeconfig=args.kubeconfig, context=args.context, kfp_url=args.kfp_url, kfp_user=args.kfp_user,
            kfp_namespace=args.kfp_namespace, db_host=args.db_host, db_port=args.db_port, db_user=args.db_user,
            db_password=db_password_from_env(), dashboard_url=args.dashboard_url,
            tolerance_s=int(args.tolerance_hours * 3600), log_dir=args.log_dir,
        )
        import pymysql

        record, delta = run_drill(opts, pymysql.connect)
    except (DrillRefused, ValueError) as e:
        print(f"drill refused: {e}", file=sys.stderr)
        return 2
    print(report(record, delta))
    return 0 if record["passed"] else 1


def _drill_backups(args: argparse.Namespace) -> int:
    """Prod's newest complete backup run, as the sandbox sees it; `export` lines for the CI job."""
    from .backup.drill.clients import DrillRefused
    from .backup.drill.run import newest_backups

    try:
        run = newest_backups(args.project, args.stack, endpoint_url=args.endpoint_url)
    except DrillRefused as e:
        print(f"drill-backups refused: {e}", file=sys.stderr)
        return 2
    for note in run.notes:
        print(f"note: {note}", file=sys.stderr)
    print(run.shell(), end="")
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
    drill = commands.add_parser("drill", help="the restore drill on the live sandbox: criteria, RTO, drill log")
    drill.add_argument("--stack", required=True, help="the sandbox stack (never prod)")
    drill.add_argument("--backup", required=True, help="the Velero backup the stack restores (backup.restore.backup)")
    drill.add_argument("--point-in-time", help="the database restore point (backup.restore.pointInTime), ISO 8601 with zone")
    drill.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", str(pathlib.Path.home() / ".kube" / "config")))
    drill.add_argument("--context", help="kubeconfig context (default: current-context)")
    drill.add_argument("--kfp-url", default="http://127.0.0.1:8888", help="KFP API (kubectl -n kubeflow port-forward svc/ml-pipeline 8888)")
    drill.add_argument("--kfp-user", help="user sent as kubeflow-userid (a member of --kfp-namespace)")
    drill.add_argument("--kfp-namespace", required=True, help="a restored team namespace to run the probe pipeline in")
    drill.add_argument("--db-host", default="127.0.0.1", help="ProxySQL (kubectl -n kubeflow-db port-forward svc/proxysql 6033)")
    drill.add_argument("--db-port", type=int, default=6033)
    drill.add_argument("--db-user", default="kfp", help="password from DRILL_DB_PASSWORD")
    drill.add_argument("--dashboard-url", help="default: https://<cluster.domain>/")
    drill.add_argument("--tolerance-hours", type=float, default=26.0, help="recent = newer than the restore point minus this")
    drill.add_argument("--log-dir", type=pathlib.Path, help="default: drills/")
    drill.set_defaults(run=_drill)
    newest = commands.add_parser(
        "drill-backups", help="prod's newest complete tenants (and volumes) backup, listed in prod's bucket read-only: export lines")
    newest.add_argument("--stack", required=True, help="the sandbox stack (never prod)")
    newest.add_argument("--endpoint-url", help="prod's object store as this machine reaches it "
                        "(default https://<backup.restore.endpoint>); keys: VAULT_TOKEN, or DRILL_READER_ACCESS_KEY/_SECRET_KEY")
    newest.set_defaults(run=_drill_backups)
    policy = commands.add_parser(
        "policy", help="run the policy pack over a render's resources.json; exit 1 on a mandatory violation")
    policy.add_argument("resources", type=pathlib.Path, help="build/STACK/resources.json from `render`")
    policy.add_argument("--config", type=pathlib.Path,
                        help="pack config (default policy/config/STACK.json, the file pulumi preview is given)")
    policy.set_defaults(run=_policy)
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
