"""The original cleaner's API over librcshim.so (docs/python.md)."""
import atexit
import contextlib
import ctypes
import enum
import os
import shutil
import sys
import threading

from . import _engine as E


class CleanupPriority(enum.IntEnum):
    LOW = 0       # temp dirs
    MEDIUM = 1    # + files and database connections
    HIGH = 2      # + GPU buffers (torch.cuda.empty_cache())
    CRITICAL = 3  # everything


_lib, _preloaded, _load_error = E.load()
_tls = threading.local()

# Python callables behind the engine's cleaners, by key: the engine holds
# the key (its ctx), never a Python object.
_callbacks = {}
_callbacks_lock = threading.Lock()
_next_key = [0]
_closed = [False]


def _acc():
    """This thread's tally of what Python released during the current call."""
    acc = getattr(_tls, "acc", None)
    if acc is None:  # the engine's thread (timer, pressure, live signal)
        acc = {"kinds": {}, "details": [], "errors": [], "mode": "live"}
    return acc


def _count(acc, kind, what, n=1):
    k = acc["kinds"].setdefault(kind, {"cleaned": 0, "failed": 0, "skipped": 0})
    k[what] += n


@E.CLEANER_FN
def _trampoline(key):
    # Called by the engine, on this thread or its own, never after
    # rcshim_runtime_close() (atexit) nor at the process's end.
    try:
        entry = _callbacks.get(key)
        if entry is None:
            return 0
        fn, prio, name, internal = entry
        acc = _acc()
        if internal:
            return fn(acc)
        out = fn({"priority": prio, "name": name, "mode": acc["mode"]})
        if isinstance(out, dict):
            if out.get("details"):
                acc["details"].append("%s: %s" % (name, out["details"]))
            return max(0, int(out.get("cleaned_items", 0)))
        return max(0, int(out or 0))
    except BaseException as e:  # counted as failed; the others still run
        try:
            _acc()["errors"].append("%s: %r" % (entry[2] if entry else key, e))
        except BaseException:
            pass
        return -1


def _register_callback(fn, prio, name, internal=False):
    with _callbacks_lock:
        _next_key[0] += 1
        key = _next_key[0]
        _callbacks[key] = (fn, prio, name, internal)
    cid = 0
    if _lib is not None:
        cid = _lib.rcshim_register_cleaner_flags(_trampoline, key, int(prio),
                                                 name.encode(errors="replace"),
                                                 E.CLEANER_RUNTIME)
    return key, cid


def _close_quietly(obj, rollback=False):
    """Releases a file or connection through Python; True if it was open."""
    if hasattr(obj, "commit") and hasattr(obj, "rollback"):  # sqlite3.Connection
        try:
            if rollback:
                obj.rollback()
            else:
                obj.commit()
        finally:
            obj.close()
        return True
    if getattr(obj, "closed", False):
        return False
    try:
        if hasattr(obj, "flush"):
            obj.flush()
    finally:
        obj.close()
    return True


def _empty_gpu_caches():
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available() and torch.cuda.is_initialized():
                torch.cuda.synchronize()
                torch.cuda.empty_cache()
        except Exception:
            pass
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        try:
            cupy.get_default_memory_pool().free_all_blocks()
        except Exception:
            pass


def _release_buffer(buf):
    # Drop the references the cleaner was given; the framework frees.
    if isinstance(buf, dict):
        buf.clear()
    elif isinstance(buf, list):
        del buf[:]


def _result(priority, engine, acc, extra_details=()):
    kinds = {n: {"cleaned": 0, "failed": 0, "skipped": 0, "bytes": 0} for n in E.KIND_NAMES}
    status = "disabled" if engine is None else engine["status"]
    if engine is not None:
        for n in E.KIND_NAMES:
            kinds[n].update(engine["kinds"][n])
    # What Python released through the engine's internal cleaners was
    # counted as "custom": moved to its own kind.
    for n, k in acc["kinds"].items():
        for what in ("cleaned", "failed", "skipped"):
            kinds[n][what] += k[what]
            if acc.get("via_engine") and what == "cleaned":
                kinds["custom"][what] -= k[what]
    failed = sum(k["failed"] for k in kinds.values())
    if status in ("ok", "disabled", "partial"):
        status = "partial" if failed else "success"
    details = list(extra_details) + acc["details"]
    if _lib is None:
        details.append("engine unavailable (%s): temp dirs checked and removed by Python"
                       % _load_error)
    elif not _preloaded:
        details.append("automatic tracking is off (librcshim.so not preloaded: "
                       "run under `rcshim run`)")
    return {
        "status": status,
        "priority": CleanupPriority(priority).name,
        "cleaned_items": sum(k["cleaned"] for k in kinds.values()),
        "failed_items": failed,
        "skipped_items": sum(k["skipped"] for k in kinds.values()),
        "bytes_freed": sum(k["bytes"] for k in kinds.values()),
        "kinds": kinds,
        "details": details,
        "errors": list(acc["errors"]),
        "automatic_tracking": _preloaded,
        "engine": _lib is not None,
    }


class _TempDir:
    def __init__(self, path):
        self.path = os.path.abspath(path)
        st = os.lstat(self.path)
        self.ident = (st.st_dev, st.st_ino)

    def remove(self):
        """Without the engine: removed only while it is still the directory
        registered (no symlink followed: shutil.rmtree's fd-based walk)."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None
        if (st.st_dev, st.st_ino) != self.ident or self.path == "/":
            return "skipped"
        shutil.rmtree(self.path)
        return "cleaned"


class ResourceCleaner:
    """The process's cleaner (get_resource_cleaner())."""

    def __init__(self):
        self._lock = threading.RLock()
        self._temp_dirs = {}   # path -> engine id or _TempDir
        self._files = {}       # name -> file object
        self._dbs = {}         # name -> sqlite3.Connection (and its thread)
        self._gpu = {}         # name -> buffer
        self._cleaners = {}    # key -> engine id
        self._internal = []
        self._register_internal()
        if _lib is not None:
            _lib.rcshim_runtime_owns((1 << E.KIND_FD) | (1 << E.KIND_SQLITE) |
                                     (1 << E.KIND_GPU))

    # --- state ------------------------------------------------------------
    @property
    def automatic_tracking(self):
        return _preloaded

    @property
    def engine_available(self):
        return _lib is not None

    def _register_internal(self):
        # The Python objects are released by cleaners of the engine's, so
        # every trigger (timer, pressure, live signal, `rcshim clean PID`)
        # releases them through Python.
        self._internal = [
            _register_callback(self._release_files_dbs, CleanupPriority.MEDIUM,
                               "python: files and connections", True),
            _register_callback(self._release_gpu, CleanupPriority.HIGH,
                               "python: GPU buffers", True),
        ]

    # --- registration -----------------------------------------------------
    def register_temp_dir(self, path):
        path = os.fspath(path)
        with self._lock:
            if _lib is None:
                try:
                    self._temp_dirs[os.path.abspath(path)] = _TempDir(path)
                    return True
                except OSError:
                    return False
            rid = _lib.rcshim_register_temp_dir(os.fsencode(path), os.fsencode(path))
            if rid:
                self._temp_dirs[os.path.abspath(path)] = rid
            return bool(rid)

    def register_file_handle(self, name, file_handle):
        with self._lock:
            self._files[name] = file_handle
        return True

    def register_db_connection(self, name, db_conn):
        with self._lock:
            self._dbs[name] = (db_conn, threading.get_ident())
        return True

    def register_gpu_buffer(self, name, buffer):
        with self._lock:
            self._gpu[name] = buffer
        return True

    def register_cleaner(self, cleaner, priority=CleanupPriority.MEDIUM, name=None):
        priority = CleanupPriority(priority)
        name = name or getattr(cleaner, "__name__", "cleaner")
        key, cid = _register_callback(cleaner, priority, name)
        with self._lock:
            self._cleaners[key] = cid
        return key

    def unregister_cleaner(self, key):
        with self._lock:
            cid = self._cleaners.pop(key, None)
        with _callbacks_lock:
            _callbacks.pop(key, None)
        if cid and _lib is not None:
            _lib.rcshim_unregister(cid)
        return cid is not None

    # --- releasing through Python -------------------------------------------
    def _release_files_dbs(self, acc):
        rollback = acc["mode"] == "emergency"
        n = 0
        with self._lock:
            files = list(self._files.items())
            dbs = list(self._dbs.items())
        for name, fh in files:
            try:
                if _close_quietly(fh):
                    _count(acc, "fd", "cleaned")
                    n += 1
                with self._lock:
                    self._files.pop(name, None)
            except Exception as e:
                _count(acc, "fd", "failed")
                acc["errors"].append("file %s: %r" % (name, e))
        for name, (conn, tid) in dbs:
            if tid != threading.get_ident() and acc["mode"] != "emergency":
                # sqlite3 refuses another thread (check_same_thread): its
                # own thread's next clean() releases it.
                _count(acc, "sqlite", "skipped")
                continue
            try:
                _close_quietly(conn, rollback)
                _count(acc, "sqlite", "cleaned")
                n += 1
                with self._lock:
                    self._dbs.pop(name, None)
            except Exception as e:
                _count(acc, "sqlite", "failed")
                acc["errors"].append("db %s: %r" % (name, e))
        return n

    def _release_gpu(self, acc):
        with self._lock:
            bufs = list(self._gpu.items())
            self._gpu.clear()
        n = len(bufs)
        buf = None
        for name, buf in bufs:
            _release_buffer(buf)
            _count(acc, "gpu", "cleaned")
        del bufs, buf
        _empty_gpu_caches()
        return n

    def _python_only(self, priority, acc):
        """Without the engine: everything the engine would call, here."""
        if priority >= CleanupPriority.LOW:
            with self._lock:
                dirs = list(self._temp_dirs.items())
            for path, t in dirs:
                try:
                    what = t.remove()
                    if what:
                        _count(acc, "temp", what)
                except OSError as e:
                    _count(acc, "temp", "failed")
                    acc["errors"].append("temp %s: %r" % (path, e))
                with self._lock:
                    self._temp_dirs.pop(path, None)
        with _callbacks_lock:
            entries = [(k, v) for k, v in _callbacks.items() if v[1] <= priority]
        entries.sort(key=lambda kv: (kv[1][1], -kv[0]))
        for key, (fn, prio, name, internal) in entries:
            n = _trampoline(key)
            if internal:
                continue
            _count(acc, "custom", "failed" if n < 0 else "cleaned", 1 if n < 0 else n)

    def _run(self, priority, mode):
        acc = _tls.acc = {"kinds": {}, "details": [], "errors": [], "mode": mode,
                          "via_engine": _lib is not None}
        try:
            if _lib is None:
                self._python_only(priority, acc)
                return _result(priority, None, acc)
            res = E.Result()
            if mode == "emergency":
                _lib.rcshim_emergency_cleanup(ctypes.byref(res))
            else:
                _lib.rcshim_clean(int(priority), ctypes.byref(res))
            out = _result(priority, res.as_dict(), acc)
            if out["status"] == "busy":
                out["details"].append("another cleanup was running: nothing was done")
            return out
        finally:
            _tls.acc = None

    # --- cleanups -------------------------------------------------------------
    def clean(self, priority=CleanupPriority.MEDIUM):
        """A regular cleanup at @priority; the program goes on."""
        priority = CleanupPriority(priority)
        out = self._run(priority, "live")
        with self._lock:
            if priority >= CleanupPriority.LOW:
                # Released by the engine (registered temp dirs go at LOW).
                for p in [p for p in self._temp_dirs if not os.path.lexists(p)]:
                    del self._temp_dirs[p]
        return out

    def emergency_cleanup(self):
        out = self._run(CleanupPriority.CRITICAL, "emergency")
        with self._lock:
            self._temp_dirs = {p: t for p, t in self._temp_dirs.items()
                               if os.path.lexists(p)}
            if _lib is not None:
                # A final cleanup calls cleaners and forgets them.
                self._register_internal()
                for key in list(self._cleaners):
                    fn, prio, name, _ = _callbacks[key]
                    _callbacks.pop(key, None)
                    self._cleaners.pop(key)
        return out

    def cleanup_context(self, context, rollback=False):
        """Releases what a resource_cleanup_context block put in its dict."""
        acc = _acc()
        if isinstance(context.get("open_files"), dict):
            files = list(context["open_files"].values())
        else:
            files = list(context.get("open_files") or [])
        for fh in files:
            try:
                if _close_quietly(fh):
                    _count(acc, "fd", "cleaned")
            except Exception as e:
                _count(acc, "fd", "failed")
                acc["errors"].append("file: %r" % (e,))
        conns = context.get("db_conn")
        conns = conns if isinstance(conns, (list, tuple)) else ([conns] if conns else [])
        for c in conns:
            try:
                _close_quietly(c, rollback)
                _count(acc, "sqlite", "cleaned")
            except Exception as e:
                _count(acc, "sqlite", "failed")
                acc["errors"].append("db: %r" % (e,))
        keys = context.get("buffer_keys") or []
        with self._lock:
            bufs = [self._gpu.pop(k) for k in keys if k in self._gpu]
        for b in bufs:
            _release_buffer(b)
            _count(acc, "gpu", "cleaned")
        if bufs:
            del b
            bufs = None
            _empty_gpu_caches()
        tds = context.get("temp_dir")
        tds = tds if isinstance(tds, (list, tuple)) else ([tds] if tds else [])
        return [os.fspath(t) for t in tds]

    # --- periodic and load-driven -------------------------------------------
    def start_periodic_cleanup(self, interval_seconds, priority=CleanupPriority.LOW):
        if _lib is None:
            return False
        return _lib.rcshim_set_interval(float(interval_seconds), int(priority)) == 0

    def stop_periodic_cleanup(self):
        return _lib is not None and _lib.rcshim_set_interval(0.0, 0) == 0

    def start_monitoring(self, spec="on"):
        """Memory-pressure monitoring: the engine picks each run's priority
        from the load (RCSHIM_PRESSURE's syntax, docs/live.md)."""
        if _lib is None:
            return False
        return _lib.rcshim_set_pressure(spec.encode()) == 0

    def stop_monitoring(self):
        return _lib is not None and _lib.rcshim_set_pressure(None) == 0

    def get_status(self):
        with self._lock:
            return {"temp_dirs": len(self._temp_dirs), "file_handles": len(self._files),
                    "db_connections": len(self._dbs), "gpu_buffers": len(self._gpu),
                    "custom_cleaners": len(self._cleaners),
                    "automatic_tracking": _preloaded, "engine": _lib is not None}


_cleaner = None
_cleaner_lock = threading.Lock()


def get_resource_cleaner():
    global _cleaner
    with _cleaner_lock:
        if _cleaner is None:
            _cleaner = ResourceCleaner()
        return _cleaner


def emergency_cleanup():
    return get_resource_cleaner().emergency_cleanup()


@contextlib.contextmanager
def resource_cleanup_context(name="resource_context", priority=CleanupPriority.CRITICAL):
    """A C scope for the block: what the thread makes inside it (temp dirs
    under a temp root, cleaners registered) and what the context dict
    names is released at its end; on an exception, the emergency cleanup
    runs too, then the exception goes on."""
    cleaner = get_resource_cleaner()
    scope = _lib.rcshim_scope_begin(name.encode(errors="replace")) if _lib else 0
    context = {}
    failed = False
    try:
        yield context
    except BaseException:
        failed = True
        raise
    finally:
        prio = CleanupPriority.CRITICAL if failed else CleanupPriority(priority)
        acc = _tls.acc = {"kinds": {}, "details": [], "errors": [], "mode": "scope",
                          "via_engine": False}
        try:
            temp_dirs = cleaner.cleanup_context(context, rollback=failed)
            engine = None
            if _lib is not None:
                res = E.Result()
                for t in temp_dirs:
                    if os.path.isdir(t):
                        _lib.rcshim_register_temp_dir(os.fsencode(t), b"context temp_dir")
                if scope:
                    _lib.rcshim_scope_end(scope, int(prio), ctypes.byref(res))
                if scope:
                    engine = res.as_dict()
            else:
                for t in temp_dirs:
                    try:
                        what = _TempDir(t).remove()
                        if what:
                            _count(acc, "temp", what)
                    except OSError as e:
                        _count(acc, "temp", "failed")
                        acc["errors"].append("temp %s: %r" % (t, e))
            context["cleanup_result"] = _result(prio, engine, acc)
        finally:
            _tls.acc = None
        if failed:
            context["emergency_result"] = emergency_cleanup()


def _at_exit():
    # Before the interpreter finalizes: no engine thread calls into Python
    # from here on (those already in a cleaner finish first).
    _closed[0] = True
    if _lib is not None:
        try:
            _lib.rcshim_set_interval(0.0, 0)
            _lib.rcshim_set_pressure(None)
        finally:
            _lib.rcshim_runtime_close()


atexit.register(_at_exit)
