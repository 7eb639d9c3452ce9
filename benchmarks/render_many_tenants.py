"""Benchmark: render the prod stack with N generated tenants (default 36), report wall time.

    .venv/bin/python benchmarks/render_many_tenants.py [N]

A benchmark, not a test: it measures; the issue's goal is "30 tenants in a few seconds".
"""
from __future__ import annotations

import pathlib
import shutil
import sys
import tempfile
import time

import yaml

PROJECT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))


def main(count: int) -> None:
    from kfplatform.render.run import render_stack

    with tempfile.TemporaryDirectory() as tmp:
        project = pathlib.Path(tmp)
        for name in ("__main__.py", "Pulumi.yaml", "Pulumi.prod.yaml", "data-geometry.prod.json"):
            shutil.copy(PROJECT / name, project / name)
        shutil.copytree(PROJECT / "tenants", project / "tenants")
        template = yaml.safe_load((PROJECT / "tenants" / "team-forecasting.yaml").read_text())
        for index in range(count - len(list((project / "tenants").glob("*.yaml")))):
            tenant = dict(template, name=f"team-bench-{index:02d}", owner=f"owner{index}@example.com")
            tenant["groups"] = [{"group": f"bench-{index}-engineers", "role": "edit"}]
            (project / "tenants" / f"team-bench-{index:02d}.yaml").write_text(yaml.safe_dump(tenant))
        start = time.perf_counter()
        result = render_stack(project, "prod")
        elapsed = time.perf_counter() - start
    tenants = len(result.exports["tenantNamespaces"])
    print(f"prod, {tenants} tenants: {len(result.resources)} resources, "
          f"{len(result.kubernetes_objects())} objects, render {elapsed:.2f} s (imports excluded)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 36)
