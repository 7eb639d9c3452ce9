"""KFP 2.15.0's own tables, as GORM's MySQL dialect creates them from the models at kubeflow/pipelines
tag 2.15.0 (commit 8fe8d7bdd88f027bde080f619762a0b3294796db):
- backend/src/apiserver/model/run.go: `Run` (TableName `run_details`) with the embedded
  `PipelineSpec` (pipeline_spec.go), `RuntimeConfig` (runtime_config.go) and `RunDetails`, and its
  four composite indexes; `RunMetric` (`run_metrics`, FK to run_details.UUID, ON DELETE CASCADE).
- backend/src/apiserver/model/experiment.go: `Experiment` (`experiments`, unique (Name, Namespace)).
Column types: a Go `string` without `type:` is `longtext`; `LargeText` is `LONGTEXT` on MySQL
(common.go); `int64` is `bigint`; `float64` is `double`.
"""

DDL = [
    """CREATE TABLE experiments (
        UUID varchar(191) NOT NULL,
        Name varchar(128) NOT NULL,
        Description longtext NOT NULL,
        CreatedAtInSec bigint NOT NULL,
        LastRunCreatedAtInSec bigint NOT NULL,
        Namespace varchar(63) NOT NULL,
        StorageState longtext NOT NULL,
        PRIMARY KEY (UUID),
        UNIQUE KEY idx_name_namespace (Name, Namespace)
    )""",
    """CREATE TABLE run_details (
        UUID varchar(191) NOT NULL,
        DisplayName longtext NOT NULL,
        Name longtext NOT NULL,
        Description longtext NOT NULL,
        Namespace varchar(63) NOT NULL,
        ExperimentUUID varchar(64) NOT NULL,
        JobUUID longtext DEFAULT NULL,
        StorageState longtext NOT NULL,
        ServiceAccount longtext NOT NULL,
        PipelineId longtext NOT NULL,
        PipelineVersionId longtext DEFAULT NULL,
        PipelineName longtext NOT NULL,
        PipelineSpecManifest longtext,
        WorkflowSpecManifest longtext,
        Parameters longtext,
        RuntimeParameters longtext,
        PipelineRoot longtext,
        CreatedAtInSec bigint NOT NULL,
        ScheduledAtInSec bigint DEFAULT 0,
        FinishedAtInSec bigint DEFAULT 0,
        Conditions varchar(125) NOT NULL,
        State longtext DEFAULT NULL,
        StateHistory longtext DEFAULT NULL,
        PipelineRuntimeManifest longtext NOT NULL,
        WorkflowRuntimeManifest longtext NOT NULL,
        PipelineContextId bigint DEFAULT 0,
        PipelineRunContextId bigint DEFAULT 0,
        PRIMARY KEY (UUID),
        KEY experimentuuid_createatinsec (ExperimentUUID, CreatedAtInSec),
        KEY namespace_createatinsec (Namespace, CreatedAtInSec),
        KEY experimentuuid_conditions_finishedatinsec (ExperimentUUID, Conditions, FinishedAtInSec),
        KEY namespace_conditions_finishedatinsec (Namespace, Conditions, FinishedAtInSec)
    )""",
    """CREATE TABLE run_metrics (
        RunUUID varchar(191) NOT NULL,
        NodeID varchar(191) NOT NULL,
        Name varchar(191) NOT NULL,
        NumberValue double,
        Format longtext,
        Payload longtext NOT NULL,
        PRIMARY KEY (RunUUID, NodeID, Name),
        CONSTRAINT run_metrics_RunUUID_run_details_UUID_foreign FOREIGN KEY (RunUUID)
            REFERENCES run_details (UUID) ON DELETE CASCADE ON UPDATE CASCADE
    )""",
]


def insert_run(cursor, uuid: str, namespace: str, experiment: str, created: int, state: str = "SUCCEEDED") -> None:
    cursor.execute(
        "INSERT INTO run_details (UUID, DisplayName, Name, Description, Namespace, ExperimentUUID, StorageState,"
        " ServiceAccount, PipelineId, PipelineName, CreatedAtInSec, ScheduledAtInSec, FinishedAtInSec, Conditions,"
        " State, PipelineRuntimeManifest, WorkflowRuntimeManifest)"
        " VALUES (%s, %s, %s, '', %s, %s, 'AVAILABLE', 'default-editor', '', '', %s, %s, %s, %s, %s, '', '')",
        (uuid, f"train-{uuid[:8]}", f"run-{uuid[:8]}", namespace, experiment, created, created, created + 600,
         state.capitalize(), state),
    )
