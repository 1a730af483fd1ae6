"""The package `rcshim` (python/rcshim) on the real engine: each scenario is
a real python3 program (bare, or under `rcshim run` when the runner is),
with the real sqlite3 module and real files; the parent checks what it
left.  PY_RCSHIM_MODE says which: the result's automatic_tracking must
say the same."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import unittest

MODE = os.environ.get("PY_RCSHIM_MODE", "bare")
SCRATCH = os.environ.get("PY_RCSHIM_SCRATCH") or tempfile.mkdtemp()
TMP = os.environ.get("TMPDIR", "/tmp")
PKG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")


def scenario(test, code, timeout=60):
    """Runs @code in a fresh interpreter, in a directory of its own (not a
    temp root); returns (proc, dir, the JSON lines it printed)."""
    d = tempfile.mkdtemp(prefix=test.id().rsplit(".", 1)[-1] + ".", dir=SCRATCH)
    path = os.path.join(d, "prog.py")
    with open(path, "w") as f:
        f.write(code)
    env = dict(os.environ, PYTHONPATH=os.path.abspath(PKG), OUT=d)
    p = subprocess.run([sys.executable, path], cwd=d, env=env, capture_output=True,
                       text=True, timeout=timeout)
    out = [json.loads(l[5:]) for l in p.stdout.splitlines() if l.startswith("JSON ")]
    return p, d, out


HEADER = """
import json, os, sqlite3, sys, tempfile
from rcshim import get_resource_cleaner, CleanupPriority, resource_cleanup_context, emergency_cleanup
OUT = os.environ["OUT"]
def emit(x):
    print("JSON " + json.dumps(x), flush=True)
"""


def prog(code):
    return HEADER + textwrap.dedent(code)


def kinds(r):
    return {k: v["cleaned"] for k, v in r["kinds"].items() if v["cleaned"]}


class Readme(unittest.TestCase):
    """The original cleaner's README examples, only the import changed."""

    def test_priorities_one_by_one(self):
        p, d, out = scenario(self, prog("""
            cleaner = get_resource_cleaner()
            temp_dir = tempfile.mkdtemp()
            cleaner.register_temp_dir(temp_dir)
            file_handle = open(os.path.join(OUT, "log.txt"), "w")
            file_handle.write("first line\\n")          # still in the buffer
            cleaner.register_file_handle("log_file", file_handle)
            cleaner.register_gpu_buffer("model_buffer", {"tensor": bytearray(1 << 20)})
            db_conn = sqlite3.connect(os.path.join(OUT, "app.db"))
            db_conn.execute("create table t (x)")
            db_conn.executemany("insert into t values (?)", [(i,) for i in range(100)])
            db_conn.commit()
            cleaner.register_db_connection("main_db", db_conn)
            def custom_resource_cleaner(context):
                return {"cleaned_items": 1, "details": "custom at " + context["priority"].name}
            cleaner.register_cleaner(custom_resource_cleaner, CleanupPriority.MEDIUM)
            for prio in CleanupPriority:
                result = cleaner.clean(prio)
                print(f"cleaned {result['cleaned_items']} items")
                emit(dict(result, temp_left=os.path.exists(temp_dir), file_closed=file_handle.closed))
        """))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        low, medium, high, critical = out
        for r in out:
            self.assertEqual(r["status"], "success", r)
            self.assertEqual(r["automatic_tracking"], MODE == "run")
            self.assertEqual(r["errors"], [])
        self.assertEqual(low["cleaned_items"], 1)
        self.assertEqual(kinds(low), {"temp": 1})
        self.assertFalse(low["temp_left"])
        self.assertFalse(low["file_closed"])
        # MEDIUM: the file, the connection, and the custom cleaner's item.
        self.assertEqual(kinds(medium), {"fd": 1, "sqlite": 1, "custom": 1})
        self.assertEqual(medium["cleaned_items"], 3)
        self.assertTrue(medium["file_closed"])
        self.assertIn("custom_resource_cleaner: custom at MEDIUM", medium["details"])
        self.assertEqual(kinds(high), {"gpu": 1, "custom": 1})
        self.assertEqual(kinds(critical), {"custom": 1})
        with open(os.path.join(d, "log.txt")) as f:
            self.assertEqual(f.read(), "first line\n")
        c = sqlite3.connect(os.path.join(d, "app.db"))
        self.assertEqual(c.execute("select count(*) from t").fetchone()[0], 100)
        c.close()
        self.assertEqual([n for n in os.listdir(d) if n.startswith("app.db-")], [])

    def test_high_at_once_and_context_and_emergency(self):
        p, d, out = scenario(self, prog("""
            cleaner = get_resource_cleaner()
            cleaner.register_temp_dir(tempfile.mkdtemp())
            cleaner.register_file_handle("log_file", open(os.path.join(OUT, "a.txt"), "w"))
            cleaner.register_gpu_buffer("model_buffer", {"tensor": bytearray(10)})
            cleaner.register_db_connection("main_db", sqlite3.connect(os.path.join(OUT, "a.db")))
            emit(cleaner.clean(CleanupPriority.HIGH))

            conn = sqlite3.connect(os.path.join(OUT, "b.db"))
            conn.execute("create table t (x)"); conn.commit()
            cleaner.register_gpu_buffer("key1", {"tensor": bytearray(10)})
            with resource_cleanup_context("video_processing") as context:
                temp_dir = tempfile.mkdtemp()
                fh = open(os.path.join(OUT, "b.txt"), "w")
                fh.write("frame data")
                context["temp_dir"] = temp_dir; context["open_files"] = {"log": fh}
                context["buffer_keys"] = ["key1"]; context["db_conn"] = conn
                conn.execute("insert into t values (1)")
            emit(dict(context["cleanup_result"], temp_left=os.path.exists(temp_dir)))
            cleanup_result = emergency_cleanup(); print(cleanup_result["status"])
            emit(cleanup_result)
        """))
        self.assertEqual(p.returncode, 0, p.stderr)
        high, ctx, em = out
        self.assertEqual(kinds(high), {"temp": 1, "fd": 1, "sqlite": 1, "gpu": 1})
        self.assertEqual(high["cleaned_items"], 4)
        self.assertEqual(kinds(ctx), {"temp": 1, "fd": 1, "sqlite": 1, "gpu": 1})
        self.assertFalse(ctx["temp_left"])
        self.assertEqual(ctx["status"], "success")
        self.assertEqual(em["status"], "success")
        self.assertIn("\nsuccess\n", "\n" + p.stdout)
        with open(os.path.join(d, "b.txt")) as f:
            self.assertEqual(f.read(), "frame data")
        c = sqlite3.connect(os.path.join(d, "b.db"))
        # A block that ends normally commits.
        self.assertEqual(c.execute("select count(*) from t").fetchone()[0], 1)
        c.close()
        self.assertEqual([n for n in os.listdir(TMP) if not n.startswith("rcshim")], [])


class Rules(unittest.TestCase):
    def test_exception_in_block_no_double_close(self):
        """Files, a database and a temp dir in a block, then an exception:
        the emergency cleanup runs, everything goes through Python, and no
        fd number is closed twice (a file opened after keeps its data)."""
        p, d, out = scenario(self, prog("""
            conn = sqlite3.connect(os.path.join(OUT, "c.db"))
            conn.execute("create table t (x)"); conn.execute("insert into t values (1)"); conn.commit()
            context = None
            try:
                with resource_cleanup_context("job") as context:
                    a = open(os.path.join(OUT, "a.txt"), "w"); a.write("A" * 1000)
                    context["open_files"] = [a]
                    context["db_conn"] = conn
                    conn.execute("insert into t values (2)")      # not committed
                    context["temp_dir"] = tempfile.mkdtemp()
                    stray_dir = tempfile.mkdtemp()                 # not in the context
                    extra = open(os.path.join(OUT, "extra.txt"), "w")  # not in the context
                    extra.write("extra")
                    extra_fd = extra.fileno()
                    raise ValueError("boom")
            except ValueError:
                pass
            b = open(os.path.join(OUT, "b.txt"), "w")
            b_fd = b.fileno()
            b.write("B" * 5000); b.flush()
            del extra                   # closes its own fd, once
            b.write("C" * 5000)
            b.close()
            emit({"cleanup": context["cleanup_result"], "emergency": context["emergency_result"],
                  "temp_left": os.path.exists(context["temp_dir"]),
                  "stray_left": os.path.exists(stray_dir),
                  "a_closed": a.closed, "extra_fd": extra_fd, "b_fd": b_fd})
        """))
        self.assertEqual(p.returncode, 0, p.stderr)
        r = out[0]
        self.assertNotEqual(r["extra_fd"], r["b_fd"])
        with open(os.path.join(d, "b.txt")) as f:
            self.assertEqual(f.read(), "B" * 5000 + "C" * 5000)
        with open(os.path.join(d, "extra.txt")) as f:
            self.assertEqual(f.read(), "extra")
        with open(os.path.join(d, "a.txt")) as f:
            self.assertEqual(f.read(), "A" * 1000)
        self.assertTrue(r["a_closed"])
        self.assertFalse(r["temp_left"])
        # Made in the block: tracked only under the shim.
        self.assertEqual(r["stray_left"], MODE != "run")
        self.assertEqual(r["cleanup"]["priority"], "CRITICAL")
        self.assertEqual(r["emergency"]["status"], "success")
        if MODE == "run":
            # The extra file was the block's but Python's: left, said so.
            self.assertGreaterEqual(r["cleanup"]["kinds"]["fd"]["skipped"], 1)
        c = sqlite3.connect(os.path.join(d, "c.db"))
        self.assertEqual(c.execute("select x from t").fetchall(), [(1,)])  # rolled back
        c.close()

    def test_raising_cleaner_counted_failed_others_run(self):
        p, d, out = scenario(self, prog("""
            cleaner = get_resource_cleaner()
            def bad(context): raise RuntimeError("no")
            def good(context): return 2
            cleaner.register_cleaner(good, CleanupPriority.LOW)
            cleaner.register_cleaner(bad, CleanupPriority.LOW)
            emit(cleaner.clean(CleanupPriority.LOW))
        """))
        self.assertEqual(p.returncode, 0, p.stderr)
        r = out[0]
        self.assertEqual(r["status"], "partial")
        self.assertEqual(r["kinds"]["custom"]["cleaned"], 2)
        self.assertEqual(r["kinds"]["custom"]["failed"], 1)
        self.assertIn("RuntimeError", r["errors"][0])

    def test_temp_dir_checks(self):
        p, d, out = scenario(self, prog("""
            cleaner = get_resource_cleaner()
            keep = os.path.join(OUT, "keep"); os.mkdir(keep)
            open(os.path.join(keep, "f"), "w").close()
            emit([cleaner.register_temp_dir("/"), cleaner.register_temp_dir(os.path.join(OUT, "nope")),
                  cleaner.register_temp_dir(os.path.join(keep, "f"))])
        """))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(out[0], [False, False, False])
        self.assertTrue(os.path.exists(os.path.join(d, "keep", "f")))

    def test_threads_have_their_own_scopes(self):
        p, d, out = scenario(self, prog("""
            import threading
            res = {}
            def work(i):
                with resource_cleanup_context("t%d" % i) as context:
                    context["temp_dir"] = tempfile.mkdtemp()
                    fh = open(os.path.join(OUT, "t%d.txt" % i), "w"); fh.write(str(i) * 100)
                    context["open_files"] = [fh]
                res[i] = (context["cleanup_result"]["cleaned_items"], os.path.exists(context["temp_dir"]))
            ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
            [t.start() for t in ts]; [t.join() for t in ts]
            emit(res)
        """))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(out[0], {str(i): [2, False] for i in range(8)})
        for i in range(8):
            with open(os.path.join(d, "t%d.txt" % i)) as f:
                self.assertEqual(f.read(), str(i) * 100)


CALLBACK_PROG = HEADER + """
import ctypes, signal, time
cleaner = get_resource_cleaner()
calls = [0]
def custom_resource_cleaner(context):
    # Written before it is counted: the main thread ends the program
    # (crash, SIGTERM) as soon as the count reaches 3.
    with open(os.path.join(OUT, "calls"), "a") as f: f.write("x")
    calls[0] += 1
    return {"cleaned_items": 1, "details": "ok"}
cleaner.register_cleaner(custom_resource_cleaner, CleanupPriority.LOW)
assert cleaner.start_periodic_cleanup(0.02, CleanupPriority.LOW)
deadline = time.time() + 10
while calls[0] < 3 and time.time() < deadline:
    time.sleep(0.01)
print("calls", calls[0], flush=True)
how = sys.argv[1] if len(sys.argv) > 1 else "%s"
if how == "sigterm":
    os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)
elif how == "crash":
    ctypes.string_at(0)
"""


class Callbacks(unittest.TestCase):
    """A cleaner registered from Python, called by the engine's timer thread;
    the program exits, is SIGTERMed, crashes: never a crash in the
    interpreter."""

    def run_how(self, how, want_rc):
        p, d, out = scenario(self, CALLBACK_PROG % how)
        self.assertEqual(p.returncode, want_rc, p.stdout + p.stderr)
        self.assertNotIn("Fatal Python error", p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        with open(os.path.join(d, "calls")) as f:
            self.assertGreaterEqual(len(f.read()), 3)

    def test_exit(self):
        self.run_how("exit", 0)

    def test_sigterm(self):
        self.run_how("sigterm", -signal.SIGTERM)

    def test_crash(self):
        self.run_how("crash", -signal.SIGSEGV)

    def test_periodic_stops_and_monitoring(self):
        p, d, out = scenario(self, prog("""
            import time
            cleaner = get_resource_cleaner()
            n = [0]
            cleaner.register_cleaner(lambda c: n.__setitem__(0, n[0] + 1) or 1, CleanupPriority.LOW)
            cleaner.start_periodic_cleanup(0.02)
            time.sleep(0.5)
            cleaner.stop_periodic_cleanup(); time.sleep(0.2)
            a = n[0]; time.sleep(0.3)
            emit({"ran": a, "after_stop": n[0] - a,
                  "bad": cleaner.start_monitoring("nonsense"), "on": cleaner.start_monitoring("on"),
                  "off": cleaner.stop_monitoring()})
        """))
        self.assertEqual(p.returncode, 0, p.stderr)
        r = out[0]
        self.assertGreaterEqual(r["ran"], 3)
        self.assertEqual(r["after_stop"], 0)
        self.assertEqual((r["bad"], r["on"], r["off"]), (False, True, True))


if __name__ == "__main__":
    unittest.main()
