"""Typed configuration: the stack (`Pulumi.<stack>.yaml`) and the tenants (`tenants/*.yaml`)."""
from .errors import ConfigError, ConfigIssue
from .loader import PlatformConfig, TenantFile, cross_check, load_from_pulumi, load_platform_config
from .stack import StackConfig
from .tenant import TenantConfig

__all__ = [
    "ConfigError", "ConfigIssue", "PlatformConfig", "StackConfig", "TenantConfig", "TenantFile",
    "cross_check", "load_from_pulumi", "load_platform_config",
]

# Each area's cross-checks register on import; they import the loader, so they load last.
from ..gpu import checks as _gpu_checks  # noqa: E402,F401
from ..kubeflow import checks as _kubeflow_checks  # noqa: E402,F401
from ..data import checks as _data_checks  # noqa: E402,F401
from ..data import geometry as _data_geometry  # noqa: E402,F401
