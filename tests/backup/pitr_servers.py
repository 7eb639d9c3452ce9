"""Real servers for the point-in-time recovery tests: a MariaDB Galera node (Debian's 10.11 with
galera-4, wsrep on, a one-node cluster `gcomm://`) configured with the platform's binlog settings
(kfplatform/data/galera.py binlog_settings), on 127.0.0.1 and free ports, in a tmp dir; and the
archiver / restore scripts run with a fake `mc` (tests/backup/fake_mc.py) first on PATH."""
from __future__ import annotations

import atexit
import functools
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pymysql

from kfplatform.backup import pitr
from kfplatform.data.galera import binlog_settings
from tests.backup.fakes import free_port
from tests.tools import INSTALL, _missing, require_tool

GALERA_LIBRARY = pathlib.Path("/usr/lib/galera/libgalera_smm.so")


def require_galera() -> None:
    require_tool("mariadbd")
    require_tool("mariadb-install-db")
    require_tool("mariadb-binlog")
    require_tool("mariadb-dump")
    require_tool("mariadb-backup")  # the state-transfer script a join runs (prod's data.galera.sst)
    if not GALERA_LIBRARY.exists():
        _missing(str(GALERA_LIBRARY), INSTALL["galera-4"])


@functools.lru_cache(maxsize=1)
def template_datadir() -> pathlib.Path:
    """A fresh data directory (system tables, root without password), made once per test process
    and copied for each node: mariadb-install-db takes seconds on a busy machine, a copy does not."""
    base = pathlib.Path(tempfile.mkdtemp(prefix="galera-template-"))
    atexit.register(shutil.rmtree, base, True)
    subprocess.run(
        [require_tool("mariadb-install-db"), "--no-defaults", f"--datadir={base / 'data'}", "--user=root", "--skip-test-db",
         "--auth-root-authentication-method=normal"],
        check=True, capture_output=True, timeout=60,
    )
    return base / "data"


class GaleraNode:
    """One Galera node with the platform's binlog settings; `stop()`/`start()` keep its data.

    `join`: the node joins that node's cluster instead of starting one (see two_node_cluster)."""

    def __init__(self, base: pathlib.Path, name: str, join: "GaleraNode | None" = None):
        self.dir = base / name
        self.dir.mkdir()
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        data = self.dir / "data"
        shutil.copytree(template_datadir(), data)
        self.gcomm_port = free_port()
        lines = [
            "[mariadb]", f"datadir={data}", f"socket={self.dir / 'sock'}", f"port={self.port}", "bind-address=127.0.0.1",
            f"pid-file={self.dir / 'pid'}", "innodb_buffer_pool_size=16M", "innodb_log_file_size=8M",
            "innodb_autoinc_lock_mode=2", "wsrep_on=ON", f"wsrep_provider={GALERA_LIBRARY}",
            f"wsrep_cluster_address=gcomm://{f'127.0.0.1:{join.gcomm_port}' if join else ''}", "wsrep_node_address=127.0.0.1",
            f'wsrep_provider_options="base_port={self.gcomm_port};gcache.size=16M"',
            # prod's state transfer (data.galera.sst); a join here is an IST, which runs its script too.
            "wsrep_sst_method=mariabackup", "wsrep_sst_auth=root:", f"wsrep_sst_receive_address=127.0.0.1:{free_port()}",
            *binlog_settings(),
        ]
        if os.geteuid() == 0:
            lines.append("user=root")
        (self.dir / "my.cnf").write_text("\n".join(lines) + "\n")

    def start(self) -> "GaleraNode":
        self.log = open(self.dir / "mariadbd.log", "a")
        self.process = subprocess.Popen(
            [require_tool("mariadbd"), f"--defaults-file={self.dir / 'my.cnf'}"], stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {(self.dir / 'mariadbd.log').read_text()[-3000:]}")
            try:
                with self.connect() as c, c.cursor() as cur:
                    cur.execute("SHOW STATUS LIKE 'wsrep_ready'")
                    if cur.fetchone()[1] == "ON":
                        return self
            except pymysql.err.OperationalError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Galera node was not ready within 30s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if getattr(self, "log", None):
            self.log.close()

    def connect(self, database: str | None = None, user: str = "root", password: str = "") -> pymysql.Connection:
        return pymysql.connect(host="127.0.0.1", port=self.port, user=user, password=password, database=database,
                               autocommit=True, connect_timeout=2)

    def sql(self, *statements: str, database: str | None = None) -> list:
        with self.connect(database) as c, c.cursor() as cur:
            rows = []
            for statement in statements:
                cur.execute(statement)
                rows = list(cur.fetchall())
            return rows

    def domain_seq(self) -> int:
        """The cluster domain's newest sequence number (its GTID as the archiver reads it)."""
        pos = self.sql("SELECT @@GLOBAL.gtid_binlog_pos")[0][0]
        return max((int(g.split("-")[2]) for g in pos.split(",") if g.startswith(f"{pitr.GTID_DOMAIN}-")), default=0)


def two_node_cluster(base: pathlib.Path) -> tuple[GaleraNode, GaleraNode]:
    """Two Galera nodes on loopback, both started. The second starts from a copy of the first's
    data directory and joins by IST (a full SST takes ~15 s here): the state a node has after
    its own SST, without the wait."""
    first = GaleraNode(base, "a").start()
    first.stop()
    second = GaleraNode(base, "b", join=first)
    shutil.rmtree(second.dir / "data")
    shutil.copytree(first.dir / "data", second.dir / "data")
    grastate = second.dir / "data" / "grastate.dat"
    grastate.write_text(grastate.read_text().replace("safe_to_bootstrap: 1", "safe_to_bootstrap: 0"))
    first.start()
    second.start()
    return first, second


def fake_mc_path(base: pathlib.Path) -> dict:
    """Environment with a fake `mc` first on PATH, over `base/bucket-root`."""
    bin_dir = base / "bin"
    bin_dir.mkdir(exist_ok=True)
    mc = bin_dir / "mc"
    mc.write_text(f"#!{sys.executable}\nimport runpy, sys\nsys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})\n"
                  "import fake_mc\nsys.exit(fake_mc.main(sys.argv[1:]))\n")
    mc.chmod(0o755)
    # The archiver runs in the mariadb image (Ubuntu): its awk is mawk, not this machine's gawk.
    mawk = pathlib.Path("/usr/bin/mawk")
    if mawk.exists() and not (bin_dir / "awk").exists():
        (bin_dir / "awk").symlink_to(mawk)
    root = base / "bucket-root"
    root.mkdir(exist_ok=True)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_MC_ROOT": str(root)}


class Archiver:
    """binlog-archive.sh as the platform ships it, with the platform's environment (pitr.py)."""

    def __init__(self, base: pathlib.Path, hosts: list[int], password: str, interval: float = 0.2):
        self.base = base
        self.env = {
            **os.environ, **fake_mc_path(base), **pitr.archiver_environment(
                hosts=" ".join(f"127.0.0.1:{p}" for p in hosts), archive=f"backups/kfp-backups/{pitr.BINLOG_PREFIX}",
                interval_seconds=interval, retention_hours=720,
            ),
            "PASSWORD_FILE": str(base / "password"), "WORK": "", "RETRY_SECONDS": "0.2",
        }
        (base / "password").write_text(password)
        self.runs = 0
        self.process: subprocess.Popen | None = None

    @property
    def archive_dir(self) -> pathlib.Path:
        return pathlib.Path(self.env["FAKE_MC_ROOT"]) / "kfp-backups" / pitr.BINLOG_PREFIX

    def start(self) -> "Archiver":
        self.runs += 1
        work = self.base / f"work-{self.runs}"  # a new pod: its emptyDir starts empty
        self.env["WORK"] = str(work)
        self.log = open(self.base / f"archiver-{self.runs}.log", "w")
        self.process = subprocess.Popen(["bash", str(pitr.ARCHIVE_SCRIPT)], env=self.env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill(self) -> None:
        """The pod dies: no final upload, local files lost."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.log.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.log.close()

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.base.glob("archiver-*.log")))

    def wait_streaming(self, timeout: float = 10) -> None:
        """Until the current pod's session has started (it logs `session ...: streaming from`)."""
        deadline = time.monotonic() + timeout
        while (self.base / f"archiver-{self.runs}.log").read_text().count("streaming from") == 0:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"the archiver did not connect:\n{self.logs()[-3000:]}")
            time.sleep(0.05)

    def wait_healthy(self, timeout: float = 5) -> None:
        marker = self.base / f"work-{self.runs}" / "healthy"
        deadline = time.monotonic() + timeout
        while not marker.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"no caught-up round within {timeout}s:\n{self.logs()[-3000:]}")
            time.sleep(0.05)

    def archived_seq(self) -> int:
        names = [p.name for p in self.archive_dir.glob("*") if not p.name.startswith(".")] if self.archive_dir.exists() else []
        return max((int(n.split(".")[0].split("-")[1]) for n in names), default=0)

    def wait_for(self, seq: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.archived_seq() < seq:
            if time.monotonic() > deadline:
                raise AssertionError(f"archive stopped at {self.archived_seq()}, expected {seq}:\n{self.logs()[-3000:]}")
            if self.process.poll() is not None:
                raise AssertionError(f"the archiver exited:\n{self.logs()[-3000:]}")
            time.sleep(0.05)


def archived_gtids(directory: pathlib.Path) -> list[int]:
    """Every GTID sequence number of the cluster domain in the archive's segments, in replay order
    (by first sequence number, as the restore orders them); each segment must be a readable binlog
    file whose transactions are the ones its name says."""
    seqs: list[int] = []
    for path in sorted((p for p in directory.iterdir() if not p.name.startswith(".")),
                       key=lambda p: tuple(int(x) for x in p.name.split(".")[0].split("-"))):
        first, last = (int(x) for x in path.name.split(".")[0].split("-"))
        out = subprocess.run([require_tool("mariadb-binlog"), "--base64-output=decode-rows", str(path)],
                             capture_output=True, text=True, timeout=20)
        assert out.returncode == 0 and "ERROR" not in out.stderr, f"{path.name} is not a complete binlog file: {out.stderr}"
        got = [int(w.split("-")[2]) for line in out.stdout.splitlines() if "end_log_pos" in line
               for w in line.split() if w.startswith(f"{pitr.GTID_DOMAIN}-")]
        assert got and got[0] == first and got[-1] == last, (path.name, got)
        seqs += got
    return seqs


def kill_tree(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


__all__ = ["GaleraNode", "Archiver", "archived_gtids", "require_galera", "fake_mc_path", "kill_tree", "shutil"]
