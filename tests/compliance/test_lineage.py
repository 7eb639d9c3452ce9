"""The lineage query against a real MariaDB server loaded with ML Metadata's schema (v1.14.0, what
KFP 2.15 runs) and lineage written the way KFP 2.15's driver and launcher write it."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from kfplatform.compliance.lineage import INPUT, OUTPUT, TRAINING_DATA_QUERY
from tests.tools import require_tool

SCHEMA = Path(__file__).with_name("mlmd_schema_v10.sql")
MODEL_IMAGE = "oci://registry.ml.example.com/mirror/models/demand-forecast:2026.11@sha256:" + "4f" * 32


class MariaDB:
    """A throw-away server: its own data dir, a unix socket only (no TCP port), killed at the end."""

    def __init__(self):
        mariadbd = require_tool("mariadbd")
        install = shutil.which("mariadb-install-db") or require_tool("mysql_install_db")
        self.client = shutil.which("mariadb") or shutil.which("mysql")
        if self.client is None:
            pytest.fail("the mariadb client is missing (apt-get install mariadb-server ships it)")
        self.dir = Path(tempfile.mkdtemp(prefix="mlmd-"))
        self.socket = str(self.dir / "sock")
        user = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run(
            [install, "--no-defaults", f"--datadir={self.dir / 'data'}", "--auth-root-authentication-method=normal",
             "--skip-test-db", *user],
            check=True, capture_output=True, timeout=120,
        )
        self.server = subprocess.Popen(
            [mariadbd, "--no-defaults", f"--datadir={self.dir / 'data'}", f"--socket={self.socket}", "--skip-networking",
             f"--pid-file={self.dir / 'pid'}", "--skip-grant-tables", "--innodb-buffer-pool-size=32M", *user],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "server.log", "w"),
        )
        deadline = time.monotonic() + 60
        while subprocess.run([self.client, "--no-defaults", f"--socket={self.socket}", "-e", "SELECT 1"],
                             capture_output=True).returncode != 0:
            if self.server.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"mariadbd did not start: {(self.dir / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)

    def sql(self, statements: str, database: str = "metadb") -> list[list[str]]:
        done = subprocess.run(
            [self.client, "--no-defaults", f"--socket={self.socket}", "--batch", "--skip-column-names", database],
            input=statements, capture_output=True, text=True, timeout=60,
        )
        if done.returncode != 0:
            raise AssertionError(done.stderr)
        return [line.split("\t") for line in done.stdout.splitlines()]

    def stop(self) -> None:
        self.server.terminate()
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def q(value) -> str:
    return "NULL" if value is None else "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


class KfpWriter:
    """Writes MLMD rows as KFP 2.15 does through metadata-grpc (client.go): types by name, a
    system.Pipeline context and a system.PipelineRun context (its child) per run, executions
    associated with both, artifacts attributed to them, INPUT/OUTPUT events with the name as path."""

    def __init__(self, db: MariaDB):
        self.db, self.ids, self.statements = db, {"Type": 0, "Artifact": 0, "Execution": 0, "Context": 0, "Event": 0}, []
        self.types: dict[str, int] = {}
        self.now = 1764547200000

    def _id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def type_(self, name: str, kind: int) -> int:  # type_kind: 0 execution, 1 artifact, 2 context
        if name not in self.types:
            self.types[name] = self._id("Type")
            self.statements.append(f"INSERT INTO Type(id, name, type_kind) VALUES({self.types[name]}, {q(name)}, {kind});")
        return self.types[name]

    def context(self, type_name: str, name: str, parent: int | None = None) -> int:
        cid = self._id("Context")
        self.statements.append(
            f"INSERT INTO Context(id, type_id, name, create_time_since_epoch, last_update_time_since_epoch) "
            f"VALUES({cid}, {self.type_(type_name, 2)}, {q(name)}, {self.now}, {self.now});")
        if parent:
            self.statements.append(f"INSERT INTO ParentContext(context_id, parent_context_id) VALUES({cid}, {parent});")
        return cid

    def artifact(self, type_name: str, uri: str, display_name: str, contexts: list[int]) -> int:
        aid = self._id("Artifact")
        self.statements.append(
            f"INSERT INTO Artifact(id, type_id, uri, state, create_time_since_epoch, last_update_time_since_epoch) "
            f"VALUES({aid}, {self.type_(type_name, 1)}, {q(uri)}, 2, {self.now}, {self.now});")  # state LIVE
        self.statements.append(
            f"INSERT INTO ArtifactProperty(artifact_id, name, is_custom_property, string_value) VALUES({aid}, 'display_name', 1, {q(display_name)});")
        for c in contexts:
            self.statements.append(f"INSERT INTO Attribution(context_id, artifact_id) VALUES({c}, {aid});")
        return aid

    def execution(self, task: str, contexts: list[int], inputs: dict[str, int], outputs: dict[str, int],
                  type_name: str = "system.ContainerExecution") -> int:
        eid = self._id("Execution")
        self.statements.append(
            f"INSERT INTO Execution(id, type_id, last_known_state, create_time_since_epoch, last_update_time_since_epoch) "
            f"VALUES({eid}, {self.type_(type_name, 0)}, 3, {self.now}, {self.now});")  # COMPLETE
        for key, value in (("task_name", task), ("display_name", task), ("namespace", "team-forecasting")):
            self.statements.append(
                f"INSERT INTO ExecutionProperty(execution_id, name, is_custom_property, string_value) VALUES({eid}, {q(key)}, 1, {q(value)});")
        for c in contexts:
            self.statements.append(f"INSERT INTO Association(context_id, execution_id) VALUES({c}, {eid});")
        for kind, artifacts in ((INPUT, inputs), (OUTPUT, outputs)):
            for name, aid in artifacts.items():
                ev = self._id("Event")
                self.statements.append(
                    f"INSERT INTO Event(id, artifact_id, execution_id, type, milliseconds_since_epoch) VALUES({ev}, {aid}, {eid}, {kind}, {self.now});")
                self.statements.append(
                    f"INSERT INTO EventPath(event_id, is_index_step, step_key) VALUES({ev}, 0, {q(name)});")
        self.now += 60000
        return eid

    def flush(self) -> None:
        self.db.sql("\n".join(self.statements))
        self.statements = []


@pytest.fixture(scope="module")
def mlmd():
    db = MariaDB()
    try:
        db.sql("CREATE DATABASE metadb;", database="")
        db.sql(SCHEMA.read_text())
        yield db
    finally:
        db.stop()


@pytest.fixture(scope="module")
def lineage(mlmd):
    w = KfpWriter(mlmd)
    pipeline = w.context("system.Pipeline", "demand-forecast-training")
    run = w.context("system.PipelineRun", "run-7d1c", parent=pipeline)
    ctx = [pipeline, run]
    # Import the raw sales extract (an importer: no inputs), preprocess it, join the calendar, train, package.
    raw = w.artifact("system.Dataset", "s3://mlpipeline/datasets/sales/2026-11-30/part-0.parquet", "sales-2026-11-30", ctx)
    w.execution("importer", ctx, {}, {"artifact": raw}, type_name="system.ImporterExecution")
    calendar = w.artifact("system.Dataset", "s3://mlpipeline/datasets/calendar/v3.csv", "calendar-v3", ctx)
    w.execution("importer-2", ctx, {}, {"artifact": calendar}, type_name="system.ImporterExecution")
    features = w.artifact("system.Dataset", "minio://mlpipeline/v2/artifacts/team-forecasting/run-7d1c/preprocess/features", "features", ctx)
    w.execution("preprocess", ctx, {"sales": raw, "calendar": calendar}, {"features": features})
    metrics = w.artifact("system.Metrics", "minio://mlpipeline/v2/artifacts/team-forecasting/run-7d1c/train/metrics", "metrics", ctx)
    trained = w.artifact("system.Model", "minio://mlpipeline/v2/artifacts/team-forecasting/run-7d1c/train/model", "model", ctx)
    w.execution("train", ctx, {"train_data": features}, {"model": trained, "metrics": metrics})
    served = w.artifact("system.Model", MODEL_IMAGE, "model-image", ctx)
    w.execution("package-and-sign", ctx, {"model": trained}, {"image": served})
    # Another run, another team's model and data: must never appear in the answer.
    other_run = w.context("system.PipelineRun", "run-99aa", parent=w.context("system.Pipeline", "churn"))
    other_data = w.artifact("system.Dataset", "s3://mlpipeline/datasets/churn/v1.parquet", "churn-v1", [other_run])
    other_model = w.artifact("system.Model", "minio://mlpipeline/v2/artifacts/team-nlp/run-99aa/train/model", "model", [other_run])
    w.execution("train", [other_run], {"train_data": other_data}, {"model": other_model})
    w.flush()
    return mlmd


def training_data(db: MariaDB, model_uri: str) -> list[list[str]]:
    return db.sql(f"SET @model_uri = {q(model_uri)};\n{TRAINING_DATA_QUERY};")


def test_the_schema_is_ml_metadata_v10(mlmd):
    assert mlmd.sql("SELECT schema_version FROM MLMDEnv;") == [["10"]]
    tables = {row[0] for row in mlmd.sql("SHOW TABLES;")}
    assert tables == {"Type", "ParentType", "TypeProperty", "Artifact", "ArtifactProperty", "Execution",
                      "ExecutionProperty", "Context", "ContextProperty", "ParentContext", "Event", "EventPath",
                      "Association", "Attribution", "MLMDEnv"}


def test_one_query_names_the_data_a_served_model_was_trained_on(lineage):
    rows = training_data(lineage, MODEL_IMAGE)
    by_uri = {r[1]: r for r in rows}
    assert set(by_uri) == {
        "minio://mlpipeline/v2/artifacts/team-forecasting/run-7d1c/preprocess/features",
        "s3://mlpipeline/datasets/sales/2026-11-30/part-0.parquet",
        "s3://mlpipeline/datasets/calendar/v3.csv",
    }
    features = by_uri["minio://mlpipeline/v2/artifacts/team-forecasting/run-7d1c/preprocess/features"]
    assert features[2:] == ["features", "train_data", "train", "run-7d1c", "1"]
    sales = by_uri["s3://mlpipeline/datasets/sales/2026-11-30/part-0.parquet"]
    assert sales[2:] == ["sales-2026-11-30", "sales", "preprocess", "run-7d1c", "2"]


def test_the_trained_model_itself_and_unknown_models(lineage):
    rows = training_data(lineage, "minio://mlpipeline/v2/artifacts/team-forecasting/run-7d1c/train/model")
    assert [r[1] for r in rows if r[6] == "0"] == ["minio://mlpipeline/v2/artifacts/team-forecasting/run-7d1c/preprocess/features"]
    assert training_data(lineage, "oci://registry.ml.example.com/mirror/models/unknown@sha256:" + "0" * 64) == []
    # Metrics (not a Dataset) are not training data; the other run's data never leaks in.
    assert all("churn" not in r[1] and "metrics" not in r[1] for r in training_data(lineage, MODEL_IMAGE))
