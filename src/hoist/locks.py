"""Advisory file locks (``flock(2)``) that serialise hoist's writers on one machine."""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import PublishError


@contextlib.contextmanager
def file_lock(path: Path, timeout: float = 300.0) -> Iterator[None]:
    """Hold an exclusive ``flock`` on *path* (created if needed), waiting at
    most *timeout* seconds.

    :raises PublishError: the lock was not acquired in time.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PublishError(
                        f"{path} is locked by another process after waiting {timeout:.0f} s",
                        "wait for the other release to finish, then run again",
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
