"""The team's account on a real MariaDB (Debian's 10.11): GRANTs as mariadb-operator v26.6.0 issues
them (`GRANT <privileges> ON `<database>`.* TO ...`, pkg/sql/sql.go), with the names this program
derives. Why the names never hold `_`: it is a wildcard in a GRANT's database name, back-quoted or not.
"""
from __future__ import annotations

import pathlib
import socket
import subprocess
import time

import pytest

from kfplatform.data.galera import APP_PRIVILEGES
from kfplatform.modelregistry.config import MAX_TEAM_NAME, database_account
from tests.tools import require_tool

PASSWORD = "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0dF"  # alphanumeric, as the plane generates them


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    server = require_tool("mariadbd")
    install = require_tool("mysql_install_db")
    # The client comes with the server (mariadb-server depends on mariadb-client-core).
    client = str(pathlib.Path(install).with_name("mariadb"))
    base = tmp_path_factory.mktemp("mariadb")
    data, sock, port = base / "data", base / "mysqld.sock", free_port()
    subprocess.run([install, "--no-defaults", f"--datadir={data}", "--user=root", "--skip-test-db",
                    "--auth-root-authentication-method=socket"], check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen([server, "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
                             "--bind-address=127.0.0.1", "--user=root", "--skip-log-bin", f"--pid-file={base / 'pid'}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run([client, f"--socket={sock}", "-uroot", "-e", "SELECT 1"], capture_output=True).returncode:
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("MariaDB did not start")
            time.sleep(0.3)

        def sql(statement: str, user: str = "root", database: str | None = None) -> subprocess.CompletedProcess:
            args = [client, f"--socket={sock}", "-uroot"] if user == "root" else \
                [client, "-h127.0.0.1", f"-P{port}", f"-u{user}", f"-p{PASSWORD}"]
            return subprocess.run([*args, *([database] if database else []), "-N", "-e", statement],
                                  capture_output=True, text=True, timeout=30)

        yield sql
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def grant(sql, user: str, database: str) -> None:
    # What mariadb-operator runs for our User and Grant objects (host "%").
    for statement in (
        f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
        f"CREATE USER '{user}'@'%' IDENTIFIED BY '{PASSWORD}'",
        f"GRANT {','.join(APP_PRIVILEGES)} ON `{database}`.* TO '{user}'@'%'",
    ):
        result = sql(statement)
        assert result.returncode == 0, (statement, result.stderr)


def test_the_teams_account_reaches_its_database_and_not_another_teams(mariadb):
    team_a, team_b = database_account("team-a"), database_account("team-b")
    for account in (team_a, team_b):
        grant(mariadb, account.user, account.databases[0])
    create = "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1); SELECT COUNT(*) FROM t"
    mine = mariadb(create, team_a.user, team_a.databases[0])
    assert mine.returncode == 0 and mine.stdout.strip() == "1", mine.stderr
    theirs = mariadb("CREATE TABLE t (id INT PRIMARY KEY)", team_a.user, team_b.databases[0])
    assert theirs.returncode != 0 and "denied" in theirs.stderr
    assert mariadb("CREATE DATABASE `model-registry-team-c`", team_a.user).returncode != 0


def test_the_longest_team_name_allowed_fits_mariadbs_names(mariadb):
    account = database_account("t" * MAX_TEAM_NAME)
    grant(mariadb, account.user, account.databases[0])
    assert mariadb("SELECT DATABASE()", account.user, account.databases[0]).stdout.strip() == account.databases[0]


def test_an_underscore_in_a_granted_database_name_is_a_wildcard(mariadb):
    """The trap the names avoid: a grant on `mr_team_a` also opens `mrxteamza` to its user."""
    grant(mariadb, "mr-underscore", "mr_team_a")
    assert mariadb("CREATE DATABASE `mrxteamxa`").returncode == 0
    other = mariadb("CREATE TABLE stolen (id INT PRIMARY KEY)", "mr-underscore", "mrxteamxa")
    assert other.returncode == 0, other.stderr
