"""A stand-in for MinIO's `mc` (RELEASE.2025-08-13T08-35-41Z) over a local directory, for the binlog
archiver and restore scripts: `alias set`, `ls`, `cp` (either direction), `rm`, with the global
flags they pass. Alias `backups` is `$FAKE_MC_ROOT`. Objects appear atomically (written aside,
then renamed), as an S3 PUT does. `ls` prints what cmd/ls.go contentMessage.String() prints:
`[<time>] <size> STANDARD <key>`. While the file $FAKE_MC_ROOT/.down exists every call fails (an
unreachable store).
"""
from __future__ import annotations

import os
import pathlib
import shutil
import sys
import time

GLOBAL_FLAGS = {"--no-color", "--quiet", "-q"}


def local(path: str) -> pathlib.Path | None:
    alias, _, rest = path.partition("/")
    if alias != "backups":
        return None
    return pathlib.Path(os.environ["FAKE_MC_ROOT"]) / rest


def main(argv: list[str]) -> int:
    args = [a for a in argv if a not in GLOBAL_FLAGS]
    if (pathlib.Path(os.environ["FAKE_MC_ROOT"]) / ".down").exists():
        print("mc: <ERROR> Unable to connect", file=sys.stderr)
        return 1
    command, rest = args[0], args[1:]
    if command == "alias" and rest[:1] == ["set"]:
        return 0
    if command == "ls":
        directory = local(rest[0])
        if directory is None:
            return 1
        if directory.is_dir():
            for entry in sorted(directory.iterdir()):
                if entry.is_file() and not entry.name.startswith(".tmp-"):
                    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(entry.stat().st_mtime))
                    print(f"[{stamp}] {entry.stat().st_size:>6}B STANDARD {entry.name}")
        return 0
    if command == "cp":
        source, target = rest
        src = local(source) or pathlib.Path(source)
        dst = local(target) or pathlib.Path(target)
        if not src.is_file():
            print(f"mc: <ERROR> {source} not found", file=sys.stderr)
            return 1
        dst.parent.mkdir(parents=True, exist_ok=True)
        aside = dst.with_name(f".tmp-{dst.name}")
        shutil.copyfile(src, aside)
        aside.rename(dst)
        return 0
    if command == "rm" and "--older-than" in rest:
        # rm --recursive --force --older-than <N>h|<N>s PREFIX/: by modification time, as mc does.
        limit = rest[rest.index("--older-than") + 1]
        seconds = int(limit[:-1]) * {"h": 3600, "s": 1}[limit[-1]]
        directory = local(rest[-1])
        for entry in directory.iterdir() if directory and directory.is_dir() else ():
            if entry.is_file() and entry.stat().st_mtime < time.time() - seconds:
                entry.unlink()
        return 0
    if command == "rm":
        target = local(rest[0])
        if target is None or not target.is_file():
            return 1
        target.unlink()
        return 0
    print(f"fake mc: unsupported {argv}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
