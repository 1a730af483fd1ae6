"""ctypes binding of librcshim.so (include/rcshim.h).

The library is the one already in the process (preloaded by `rcshim run` or
LD_PRELOAD: automatic tracking is on), else loaded here from
$RCSHIM_LIB, the install's libdir, or the linker's search path
(automatic tracking is then off: only what is registered is known).
Every call goes through ctypes.CDLL, which lets go of the GIL around it:
the engine may call back into Python (a cleaner) from the same thread or
from its own, and that callback takes the GIL again.
"""
import ctypes
import ctypes.util
import os

KIND_NAMES = ("temp", "fd", "sqlite", "gpu", "heap", "custom")
KIND_TEMP, KIND_FD, KIND_SQLITE, KIND_GPU, KIND_HEAP, KIND_CUSTOM = range(6)
STATUS_NAMES = ("ok", "partial", "busy", "invalid", "disabled")
CLEANER_RUNTIME = 1


class KindResult(ctypes.Structure):
    _fields_ = [("cleaned", ctypes.c_uint64), ("failed", ctypes.c_uint64),
                ("skipped", ctypes.c_uint64), ("bytes", ctypes.c_uint64)]


class Result(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("cleaned", ctypes.c_uint64),
                ("failed", ctypes.c_uint64), ("skipped", ctypes.c_uint64),
                ("bytes", ctypes.c_uint64), ("kind", KindResult * len(KIND_NAMES))]

    def as_dict(self):
        return {
            "status": STATUS_NAMES[self.status] if 0 <= self.status < 5 else "unknown",
            "cleaned": self.cleaned, "failed": self.failed,
            "skipped": self.skipped, "bytes": self.bytes,
            "kinds": {name: {"cleaned": k.cleaned, "failed": k.failed,
                             "skipped": k.skipped, "bytes": k.bytes}
                      for name, k in zip(KIND_NAMES, self.kind)},
        }


CLEANER_FN = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_void_p)


def _candidates():
    env = os.environ.get("RCSHIM_LIB")
    if env:
        yield env
    try:
        from . import _install  # written by `meson install`
        yield os.path.join(_install.LIBDIR, "librcshim.so.0")
    except ImportError:
        pass
    found = ctypes.util.find_library("rcshim")
    if found:
        yield found


def _declare(lib):
    u64, c_int, c_char_p = ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p
    res_p = ctypes.POINTER(Result)
    sigs = {
        "rcshim_version": (c_char_p, []),
        "rcshim_clean": (c_int, [c_int, res_p]),
        "rcshim_emergency_cleanup": (c_int, [res_p]),
        "rcshim_scope_begin": (ctypes.c_uint32, [c_char_p]),
        "rcshim_scope_end": (c_int, [ctypes.c_uint32, c_int, res_p]),
        "rcshim_register_temp_dir": (u64, [c_char_p, c_char_p]),
        "rcshim_register_cleaner_flags": (u64, [CLEANER_FN, ctypes.c_void_p, c_int,
                                                c_char_p, ctypes.c_uint]),
        "rcshim_unregister": (c_int, [u64]),
        "rcshim_runtime_owns": (ctypes.c_uint, [ctypes.c_uint]),
        "rcshim_runtime_close": (None, []),
        "rcshim_set_interval": (c_int, [ctypes.c_double, c_int]),
        "rcshim_set_pressure": (c_int, [c_char_p]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)  # AttributeError: an older library
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def load():
    """Returns (lib, preloaded, error): lib None when none could be used."""
    try:
        here = ctypes.CDLL(None, use_errno=True)
        here.rcshim_version  # present: preloaded, or linked into the program
        return _declare(here), True, None
    except (AttributeError, OSError):
        pass
    errors = []
    for path in _candidates():
        try:
            return _declare(ctypes.CDLL(path, use_errno=True)), False, None
        except (OSError, AttributeError) as e:
            errors.append("%s: %s" % (path, e))
    return None, False, "; ".join(errors) or "librcshim.so not found"
