"""kubeflow-platform: `pulumi up` runs this; so does `python -m kfplatform render` (under mocks)."""
import pathlib

import pulumi

from kfplatform.config import load_from_pulumi
from kfplatform.platform import Platform
from kfplatform.providers import build_providers

config = load_from_pulumi(pathlib.Path(__file__).resolve().parent)  # raises before anything is declared
platform = Platform("kubeflow-platform", config, build_providers(config))

for key, value in platform.outputs.items():
    pulumi.export(key, value)
