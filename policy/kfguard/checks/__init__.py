"""Pure checks over resources as the policy engine sends them, one module per concern.

Every check reads props through `kfguard.walk` (Mapping/Sequence, per-field unknown handling), so
the same code is right on the engine's `_DictProxy`/`_ListProxy` during `pulumi preview` and on
plain dicts. A check returns `Finding`s (what is wrong, how to fix it); kfguard/pack.py wraps them
as policies.
"""
from .availability import *  # noqa: F401,F403
from .common import *  # noqa: F401,F403
from .compliance import *  # noqa: F401,F403
from .credentials import *  # noqa: F401,F403
from .images import *  # noqa: F401,F403
from .lifecycle import *  # noqa: F401,F403
from .network import *  # noqa: F401,F403
from .pipeline import *  # noqa: F401,F403
from .tenancy import *  # noqa: F401,F403
from .workloads import *  # noqa: F401,F403
