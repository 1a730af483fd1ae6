# The Python workload of bench-real.sh and bench-insns.sh: 300 temp files,
# then a 100 000-row SQLite database in one transaction and an index.
import os, sqlite3, tempfile
with tempfile.TemporaryDirectory() as d:
    for i in range(300):
        with tempfile.NamedTemporaryFile("w+", dir=d, delete=False) as f:
            f.write("line %d\n" % i * 200)
            f.seek(0)
            f.read()
    db = sqlite3.connect(os.path.join(d, "work.db"))
    db.execute("CREATE TABLE t (k INTEGER, v TEXT)")
    # One transaction: 20 commits would make fsync (the disk) the
    # measure, not the program.
    for chunk in range(20):
        db.executemany("INSERT INTO t VALUES (?, ?)",
                       [(i, "v%d" % i) for i in range(chunk * 5000, (chunk + 1) * 5000)])
    db.commit()
    db.execute("CREATE INDEX ti ON t (v)")
    print(db.execute("SELECT count(*), max(v) FROM t").fetchone())
    db.close()
