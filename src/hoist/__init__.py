"""hoist: release Python applications to a PyPI index, an apt repository and git."""

from __future__ import annotations

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0+unknown"
