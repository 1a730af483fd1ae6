"""rcshim for Python: the original resource cleaner's API on top of
librcshim.so (docs/python.md).

    from rcshim import get_resource_cleaner, CleanupPriority, \\
        resource_cleanup_context, emergency_cleanup
"""
from ._cleaner import (CleanupPriority, ResourceCleaner, emergency_cleanup,
                       get_resource_cleaner, resource_cleanup_context)
from . import _cleaner as _c

__all__ = ["CleanupPriority", "ResourceCleaner", "emergency_cleanup",
           "get_resource_cleaner", "resource_cleanup_context",
           "automatic_tracking", "engine_available", "engine_version"]


def automatic_tracking():
    """True when librcshim.so was preloaded (`rcshim run`): temp dirs, fds
    and connections the program makes are tracked without registration."""
    return _c._preloaded


def engine_available():
    return _c._lib is not None


def engine_version():
    return _c._lib.rcshim_version().decode() if _c._lib is not None else None
