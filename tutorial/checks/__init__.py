"""Exercise checks: one module per lesson (`lesson00`, …), each check registered in REGISTRY.

In a notebook:  `from tutorial.checks import lesson00 as checks` then `await checks.fetch_both(fetch_both, site)`.
"""

from .core import REGISTRY, ExerciseFailed, exercise, fail, hint
from .learner import call_async, call_sync, reject_coroutines, require_async, require_sync

__all__ = [
    "REGISTRY",
    "ExerciseFailed",
    "call_async",
    "call_sync",
    "exercise",
    "fail",
    "hint",
    "reject_coroutines",
    "require_async",
    "require_sync",
]
