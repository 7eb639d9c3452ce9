"""kubeflow-platform: a production Kubeflow platform as a Pulumi program.

The package is `kfplatform`, never `platform`: a top-level `platform` package would
shadow the standard library module that `import pulumi` needs.
"""

PROJECT = "kubeflow-platform"
