"""hoist's caches: where they live, and answers kept as JSON.

Everything here can be removed at any time: it is made again, more slowly.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def cache_home() -> Path:
    """hoist's cache directory, ``$XDG_CACHE_HOME/hoist`` (XDG Base Directory Specification)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hoist"


def kept(path: Path, answer: Callable[[], T]) -> T:
    """*answer()*, kept as JSON at *path*: read from there when it is there,
    else computed and written there whole (a new file renamed into place), so
    that concurrent runs and threads never read half of one; a cache that cannot be
    written is left unwritten."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))["answer"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    value = answer()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
        partial.write_text(json.dumps({"answer": value}), encoding="utf-8")
        os.replace(partial, path)
    return value
