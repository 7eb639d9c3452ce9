"""Lineage in ML Metadata: the one SQL query that answers "what data was this model trained on".

KFP 2.15 records every task as an MLMD execution of type `system.ContainerExecution` (importers:
`system.ImporterExecution`), associated with the run's context of type `system.PipelineRun` (named
by the run id) and the pipeline's `system.Pipeline` context; the artifacts it reads are `INPUT`
events (3) and those it writes `OUTPUT` events (4), each with the input/output name as the event
path's key (kubeflow/pipelines 2.15.0 backend/src/v2/metadata/client.go: CreateExecution,
PublishExecution, eventPath; event types from google/ml-metadata v1.14.0
ml_metadata/proto/metadata_store.proto `Event.Type`). Artifact types are the schema titles,
`system.Dataset`, `system.Model`, ...

The query walks back from the model: the executions that OUTPUT it, their INPUT artifacts, the
executions that OUTPUT those, and so on (a recursive CTE, MariaDB >= 10.2), and returns every
`system.Dataset` read on the way, with the task that read it, the input name, the run and the
depth (0: read by the step that wrote the model). The model is named by its artifact URI: for a
served model that is the InferenceService's `storageUri` (`oci://...@sha256:...`), when the
packaging step records the image it pushed as its output Model's URI (docs/compliance.md).
"""
from __future__ import annotations

INPUT, OUTPUT = 3, 4  # ml_metadata Event.Type
MAX_DEPTH = 32

# `@model_uri`: set it first (`SET @model_uri = 'oci://...@sha256:...';`), or bind it as a parameter.
TRAINING_DATA_QUERY = f"""
WITH RECURSIVE producers (execution_id, depth) AS (
    SELECT made.execution_id, 0
    FROM Artifact AS model
    JOIN Type AS model_type ON model_type.id = model.type_id AND model_type.name = 'system.Model'
    JOIN Event AS made ON made.artifact_id = model.id AND made.type = {OUTPUT}
    WHERE model.uri = @model_uri
  UNION
    SELECT upstream.execution_id, producers.depth + 1
    FROM producers
    JOIN Event AS used ON used.execution_id = producers.execution_id AND used.type = {INPUT}
    JOIN Event AS upstream ON upstream.artifact_id = used.artifact_id AND upstream.type = {OUTPUT}
    WHERE producers.depth < {MAX_DEPTH}
)
SELECT DISTINCT
    dataset.id AS dataset_id,
    dataset.uri AS dataset_uri,
    dataset_name.string_value AS dataset_name,
    path.step_key AS input_name,
    task_name.string_value AS task,
    run.name AS pipeline_run,
    producers.depth AS depth
FROM producers
JOIN Event AS used ON used.execution_id = producers.execution_id AND used.type = {INPUT}
JOIN Artifact AS dataset ON dataset.id = used.artifact_id
JOIN Type AS dataset_type ON dataset_type.id = dataset.type_id AND dataset_type.name = 'system.Dataset'
LEFT JOIN EventPath AS path ON path.event_id = used.id AND path.is_index_step = 0
LEFT JOIN ArtifactProperty AS dataset_name
    ON dataset_name.artifact_id = dataset.id AND dataset_name.name = 'display_name' AND dataset_name.is_custom_property = 1
LEFT JOIN ExecutionProperty AS task_name
    ON task_name.execution_id = producers.execution_id AND task_name.name = 'task_name' AND task_name.is_custom_property = 1
LEFT JOIN Association AS in_run ON in_run.execution_id = producers.execution_id
LEFT JOIN Context AS run ON run.id = in_run.context_id
    AND run.type_id = (SELECT id FROM Type WHERE name = 'system.PipelineRun' AND type_kind = 2)
WHERE run.id IS NOT NULL OR in_run.id IS NULL
ORDER BY depth, dataset_uri
""".strip()
