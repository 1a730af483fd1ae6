#!/usr/bin/env python3
"""An ordinary program that leaks: it knows nothing about rcshim.

It makes a scratch directory and a named temp file, opens a SQLite database
in WAL mode and commits rows to it, then is terminated by SIGTERM before it
can tidy up (as a job killed by a scheduler or a timeout would be).
"""
import os
import signal
import sqlite3
import sys
import tempfile

db_path = sys.argv[1]
work = tempfile.mkdtemp(prefix="demo-work-")
with open(os.path.join(work, "frame-0001.raw"), "wb") as f:
    f.write(os.urandom(64 * 1024))
scratch = tempfile.NamedTemporaryFile(prefix="demo-scratch-", delete=False)
scratch.write(b"partial results")
scratch.flush()

db = sqlite3.connect(db_path)
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE IF NOT EXISTS results (job INTEGER, value TEXT)")
db.executemany("INSERT INTO results VALUES (?, ?)", [(i, "v%d" % i) for i in range(1000)])
db.commit()

print("made", work, "and", scratch.name, "; 1000 rows committed to", db_path)
sys.stdout.flush()
os.kill(os.getpid(), signal.SIGTERM)
