"""Run the reference pipeline's steps as plain Python (each component's `python_func`), in order.

Invoked by test_local_run.py with the KFP SDK's interpreter (.venv-kfp): reads a JSON plan on
stdin (where the fake servers listen, the dataset version to read, a work directory), calls the
steps the way the pipeline wires them, and prints one JSON document of what each returned and
recorded. Expected failures (a tampered object, a bad signature, ...) are reported, not raised.
"""
import json
import os
import pathlib
import sys
import traceback

plan = json.load(sys.stdin)
sys.path.insert(0, plan["pipeline_dir"])
import sentiment_pipeline as p  # noqa: E402
from kfp import dsl  # noqa: E402

work = pathlib.Path(plan["work"])
os.environ.update(plan["env"])


def artifact(cls, name):
    path = work / name
    return cls(name=name, uri=str(path), metadata={})


def attempt(fn, **kwargs):
    try:
        return {"ok": fn(**kwargs)}
    except Exception as error:  # the test asserts on the message
        return {"error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc(limit=2)}


out: dict = {}
s3 = dict(s3_endpoint=plan["s3"], bucket=plan["bucket"], manifest_key=plan["manifest_key"])

dataset = artifact(dsl.Dataset, "dataset")
out["reference"] = p.resolve_dataset.python_func(**s3, manifest_version=plan["manifest_version"], dataset=dataset)
out["dataset_metadata"] = dataset.metadata
out["dataset_rows"] = sum(1 for _ in open(dataset.path))

for case, version in plan["bad_versions"].items():
    out[f"bad_{case}"] = attempt(p.resolve_dataset.python_func, **s3, manifest_version=version, dataset=artifact(dsl.Dataset, f"bad-{case}"))
os.environ["AWS_SECRET_ACCESS_KEY"] = "wrong"
out["bad_signature"] = attempt(p.resolve_dataset.python_func, **s3, manifest_version=plan["manifest_version"], dataset=artifact(dsl.Dataset, "bad-sig"))
os.environ["AWS_SECRET_ACCESS_KEY"] = plan["env"]["AWS_SECRET_ACCESS_KEY"]

model = artifact(dsl.Model, "model")
p.train_model.python_func(dataset=dataset, model=model)
out["model_metadata"] = model.metadata
out["model_files"] = sorted(os.listdir(model.path))

metrics, report = artifact(dsl.Metrics, "metrics"), artifact(dsl.ClassificationMetrics, "report")
evaluation = p.evaluate_model.python_func(dataset=dataset, model=model, min_accuracy=0.8, metrics=metrics, report=report)
out["evaluation"] = {"passed": evaluation.passed, "accuracy": evaluation.accuracy}
out["metrics"] = metrics.metadata
out["report"] = report.metadata
strict = p.evaluate_model.python_func(dataset=dataset, model=model, min_accuracy=1.01,
                                      metrics=artifact(dsl.Metrics, "m2"), report=artifact(dsl.ClassificationMetrics, "r2"))
out["strict_evaluation_passed"] = strict.passed

# The model, served the way KServe's sklearnserver would: joblib.load of the one *.joblib file.
import joblib  # noqa: E402

served = joblib.load(os.path.join(model.path, "model.joblib"))
out["served_predictions"] = list(served.predict(plan["probe_texts"]))

storage_uri = p.package_model.python_func(model=model, repository=plan["repository"], base_image=plan["base_image"])
out["storage_uri"] = storage_uri
out["bearer_storage_uri"] = p.package_model.python_func(model=model, repository=plan["bearer_repository"], base_image=plan["bearer_base_image"])
out["copied_storage_uri"] = p.package_model.python_func(model=model, repository=plan["repository_no_mount"], base_image=plan["base_image"])

registry = dict(registry_url=plan["model_registry"], model_name=p.MODEL_NAME, model=model, dataset=dataset,
                storage_uri=storage_uri, accuracy=evaluation.accuracy, namespace=p.NAMESPACE)
out["model_version"] = p.register_model.python_func(**registry, run_id=plan["run_id"], run_name="sentiment-v1")
out["second_run_version"] = p.register_model.python_func(**registry, run_id=plan["run_id2"], run_name="sentiment-v2")

proposal = dict(gitlab_url=plan["gitlab"], project=plan["project"], target_branch="main", storage_uri=storage_uri,
                model_version=out["model_version"], dataset_reference=out["reference"], run_id=plan["run_id"])
out["canary"] = p.propose_canary.python_func(**proposal, manifest_path=plan["serving_path"])
out["first_model"] = p.propose_canary.python_func(**{**proposal, "model_version": out["second_run_version"]},
                                                  manifest_path=plan["bootstrap_path"])
out["in_flight"] = p.propose_canary.python_func(**proposal, manifest_path=plan["in_flight_path"])
out["unpinned"] = attempt(p.propose_canary.python_func, **{**proposal, "storage_uri": "oci://registry/team-nlp/m:latest"},
                          manifest_path=plan["serving_path"])
print(json.dumps(out, default=str))
