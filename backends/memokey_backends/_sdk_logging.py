"""Keep the cloud SDKs' own log records off a terminal that did not ask for them.

gcsfs logs a traceback for every request it gives up on, azure-core warns about every
odd response, and so on: with no logging configured, Python's last-resort handler
printed all of it to stderr (10,293 lines for one failed Azure upload). memokey reports
a failure once, as the exception it raises, and logs at most one line per retry on the
``memokey.store`` logger. A `logging.NullHandler` on each SDK's top logger stops the
last-resort printing and nothing else: records still propagate to any handler the user
configures (``logging.basicConfig(...)`` shows them as before).
"""

from __future__ import annotations

import logging

__all__ = ["SDK_LOGGERS", "quiet_sdk_loggers"]

SDK_LOGGERS = (
    "adlfs",
    "aiobotocore",
    "azure",
    "botocore",
    "fsspec",
    "gcsfs",
    "google",
    "s3fs",
    "urllib3",
)

_done = False


def quiet_sdk_loggers() -> None:
    """Give each SDK logger a `NullHandler` (once per process, idempotent)."""
    global _done
    if _done:
        return
    _done = True
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
