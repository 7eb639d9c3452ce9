"""Real tools the tests run: skip locally with the install command, fail under CI=true.

CI (`.ci/run`) installs every tool named here, so a missing one there is a broken pipeline, never a
silently skipped check.
"""
from __future__ import annotations

import os
import pathlib
import shutil

import pytest

PROJECT_DIR = pathlib.Path(__file__).resolve().parent.parent
# How each tool gets onto a machine; `.ci/run` does exactly this.
INSTALL = {
    "promtool": "apt-get install prometheus",
    "mariadbd": "apt-get install mariadb-server",
    "mysql_install_db": "apt-get install mariadb-server",
    "mariadb-install-db": "apt-get install mariadb-server",
    # mariadb-server depends on mariadb-client (mariadb-binlog, mariadb-dump) and galera-4
    # (/usr/lib/galera/libgalera_smm.so, `apt-cache depends mariadb-server` on Debian 12).
    "mariadb-binlog": "apt-get install mariadb-server",
    "mariadb-dump": "apt-get install mariadb-server",
    "galera-4": "apt-get install --no-install-recommends mariadb-server galera-4",
    # The state-transfer tool a Galera join runs with wsrep_sst_method=mariabackup (prod's).
    "mariadb-backup": "apt-get install --no-install-recommends mariadb-backup",
    "dot": "apt-get install graphviz",
    "amtool": "apt-get install prometheus-alertmanager",
    "prometheus-alertmanager": "apt-get install prometheus-alertmanager",
    "kfp-python": "python3 -m venv .venv-kfp && .venv-kfp/bin/pip install -r requirements-kfp.txt",
}


def _missing(what: str, hint: str) -> None:
    reason = f"{what} not found; install it with: {hint}"
    if os.environ.get("CI"):
        pytest.fail(reason + " (.ci/run installs it: under CI a missing tool is a failure)")
    pytest.skip(reason)


def require_tool(name: str) -> str:
    """The path of Debian tool `name` (see INSTALL), or skip/fail the calling test."""
    path = shutil.which(name) or next(
        (str(p) for d in ("/usr/sbin", "/usr/bin") if (p := pathlib.Path(d) / name).exists()), None
    )
    if path is None:
        _missing(name, INSTALL[name])
    return path


def require_kfp_python() -> str:
    """The interpreter of `.venv-kfp` (the KFP SDK at the pinned version), or skip/fail."""
    python = PROJECT_DIR / ".venv-kfp" / "bin" / "python"
    if not python.exists():
        _missing("the KFP SDK virtualenv .venv-kfp", INSTALL["kfp-python"])
    return str(python)
