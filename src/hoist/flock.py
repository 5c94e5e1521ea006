"""Advisory file locks (``flock(2)``) that serialise hoist's writers on one machine."""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import PublishError


@contextlib.contextmanager
def file_lock(path: Path, timeout: float = 300.0, on_wait: Callable[[Path], None] | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on *path* (created if needed), waiting at
    most *timeout* seconds.

    :param on_wait: called once with *path* when the lock is held by another
        process and this one starts to wait (so a user, or a test, sees it waits).
    :raises PublishError: the lock was not acquired in time.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        waiting = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting and on_wait is not None:
                    on_wait(path)
                waiting = True
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
