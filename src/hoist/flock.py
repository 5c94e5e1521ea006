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


@contextlib.contextmanager
def shared_until_last(path: Path, last: Callable[[], None]) -> Iterator[None]:
    """Hold a shared ``flock`` on *path* (created if needed) and, on leaving,
    call *last* only when no other process holds it any longer.

    Any number of processes share the lock; each one, when it is done, asks for
    the lock exclusively without waiting, which it gets only as the last holder.
    A process that starts meanwhile waits for its shared lock until *last* has
    run.  Used so that the last of several concurrent gpg sessions in one GnuPG
    home stops its gpg-agent, and none stops it under another's feet.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another session is still open: it is the one to call *last*
            else:
                last()
            fcntl.flock(handle, fcntl.LOCK_UN)
