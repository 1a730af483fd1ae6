"""Checks the GPU part of an rcshim JSON report (rcshim_report()).

Usage: check-report.py REPORT.json FUNCTION SIZE...

The report must list exactly the GPU allocations of the given sizes (count,
bytes and each item), and every group's allocation stack must start in
FUNCTION (the call site in the program, the shim's own frames skipped).
Prints "ok", or what differs."""
import json
import sys


def main():
    path, function, sizes = sys.argv[1], sys.argv[2], sorted(int(s) for s in sys.argv[3:])
    with open(path) as f:
        report = json.load(f)
    gpu = [k for k in report["kinds"] if k["kind"] == "gpu"]
    if len(gpu) != 1:
        return "no gpu kind in the report"
    gpu = gpu[0]
    if gpu.get("present") is not True:
        return "gpu kind not present (%r) though a driver was loaded" % gpu.get("present")
    stacks = {s["id"]: s["frames"] for s in report.get("stacks", [])}
    got = sorted(i["size"] for g in gpu["groups"] for i in g["items"])
    if got != sizes:
        return "sizes %s, expected %s" % (got, sizes)
    if gpu["count"] != len(sizes) or gpu["bytes"] != sum(sizes):
        return "count %d bytes %d, expected %d and %d" % (
            gpu["count"], gpu["bytes"], len(sizes), sum(sizes))
    for g in gpu["groups"]:
        frames = stacks.get(g["stack"], [])
        if not frames or frames[0].get("function") != function:
            return "stack %s starts at %s, expected %s" % (
                g["stack"], frames[0] if frames else None, function)
    return "ok"


if __name__ == "__main__":
    print(main())
