"""A memoized job that hangs while a marker file exists: a holder to SIGKILL mid-call."""

SLOW_MODULE = """
import os, time
import memokey

MARKS = {marks!r}

@memokey.memoize(lease_seconds=60)
def slow(x):
    open(os.path.join(MARKS, f"ran-{{os.getpid()}}"), "w").close()
    while os.path.exists(os.path.join(MARKS, "hang")):
        time.sleep(0.05)
    return x * 2
"""
