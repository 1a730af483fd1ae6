"""Runs the package's tests with unittest and ends with a line in Check's
form, which scripts/test.sh counts with the C suites':
    NN%: Checks: N, Failures: F, Errors: E
(tests skipped inside a module are not counted as checks, and are named)."""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
names = sys.argv[1:] or sorted(f[:-3] for f in os.listdir(here)
                               if f.startswith("test_") and f.endswith(".py"))
suite = unittest.defaultTestLoader.loadTestsFromNames(names)
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
run = result.testsRun - len(result.skipped)
bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
pct = 100 * (run - bad) // run if run else 0
for test, why in result.skipped:
    print("skipped: %s: %s" % (test.id(), why))
print("%d%%: Checks: %d, Failures: %d, Errors: %d" %
      (pct, run, len(result.failures) + len(result.unexpectedSuccesses), len(result.errors)))
sys.exit(0 if run and result.wasSuccessful() else 1)
