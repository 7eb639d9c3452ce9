"""The drill's probe pipeline: one step that must run to success against the restored platform.

Compiled with the KFP SDK the install pins (requirements-kfp.txt, KFP 2.15 as shipped by
kubeflow/manifests v1.11.0) into probe_pipeline.yaml, which is committed and submitted by the
drill. A container component, so the step needs no pip install at run time: only the mirror's
digest-pinned Python image (Pulumi.*.yaml kubeflow.pipelines.baseImage).
Recompile: .venv-kfp/bin/python kfplatform/backup/drill/probe_pipeline.py
"""
import pathlib

from kfp import compiler, dsl

IMAGE = (
    "registry.ml.example.com/mirror/library/python:3.12-slim-bookworm"
    "@sha256:782412e85d0f0984994c290652577d4018aff08145c85b262bb63dc0c7522254"
)


@dsl.container_component
def probe():
    return dsl.ContainerSpec(image=IMAGE, command=["python3", "-c"], args=["print('restore drill probe: ok')"])


@dsl.pipeline(name="restore-drill-probe", description="One step that must succeed on a restored platform")
def restore_drill_probe():
    # No cache: a step served from the (restored) cache would "succeed" without running.
    probe().set_caching_options(False)


if __name__ == "__main__":
    compiler.Compiler().compile(restore_drill_probe, str(pathlib.Path(__file__).with_name("probe_pipeline.yaml")))
