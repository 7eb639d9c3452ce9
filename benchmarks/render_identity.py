"""Is the render byte-for-byte what it was? Render a git revision and the working tree, compare files.

    .venv/bin/python benchmarks/render_identity.py                  # against HEAD, both stacks
    .venv/bin/python benchmarks/render_identity.py --against main --stack prod

Each side is rendered by its own code (`git archive REV` into a temporary folder, then
`python -m kfplatform render` there with this virtualenv), so a change meant to keep the output
(a faster emitter, a refactor) is proven to keep it. Exit 0 when every file is identical, 1 when
one differs (its name and the first differing line are printed), 2 when a render fails.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import pathlib
import subprocess
import sys
import tarfile
import tempfile

PROJECT = pathlib.Path(__file__).resolve().parent.parent


def render(source: pathlib.Path, stack: str, out: pathlib.Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kfplatform", "render", "--stack", stack, "--out", str(out)],
        cwd=source, capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        print(f"render of {stack} in {source} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        raise SystemExit(2)


def export(revision: str, dest: pathlib.Path) -> pathlib.Path:
    archive = subprocess.run(["git", "archive", revision], cwd=PROJECT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def compare(old: pathlib.Path, new: pathlib.Path) -> list[str]:
    problems = []
    # Every file, folders included (the render writes e.g. rules/<file> per component).
    names = sorted(
        {str(p.relative_to(old)) for p in old.rglob("*") if p.is_file()}
        | {str(p.relative_to(new)) for p in new.rglob("*") if p.is_file()}
    )
    for name in names:
        a, b = old / name, new / name
        if not a.exists() or not b.exists():
            problems.append(f"{name}: only in {'new' if b.exists() else 'old'}")
            continue
        # The summary names the folder it was rendered into: the only difference a render may have.
        old_bytes, new_bytes = (f.read_bytes().replace(str(d).encode(), b"<out>") for f, d in ((a, old), (b, new)))
        if old_bytes == new_bytes:
            print(f"  identical  {name}  sha256 {hashlib.sha256(old_bytes).hexdigest()[:16]}")
            continue
        old_lines, new_lines = old_bytes.decode().splitlines(), new_bytes.decode().splitlines()
        line = next((i for i, (x, y) in enumerate(zip(old_lines, new_lines)) if x != y), min(len(old_lines), len(new_lines)))
        problems.append(f"{name}: differs from line {line + 1}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="git revision to compare with (default HEAD)")
    parser.add_argument("--stack", default="prod,sandbox", help="comma-separated stacks (default prod,sandbox)")
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory(prefix="kfidentity-") as tmp:
        base = export(args.against, pathlib.Path(tmp) / "base")
        for stack in args.stack.split(","):
            old, new = pathlib.Path(tmp) / f"old-{stack}", pathlib.Path(tmp) / f"new-{stack}"
            render(base, stack, old)
            render(PROJECT, stack, new)
            print(f"{stack}: {args.against} vs working tree")
            for problem in compare(old, new):
                failed = True
                print(f"  DIFFERS    {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
