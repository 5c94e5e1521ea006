"""hoist-hello: a tiny HTTP service used as hoist's example application."""

from __future__ import annotations

__all__ = ["__version__"]


def _find_version() -> str:
    """Return the version written by setuptools-scm, or the installed metadata."""
    try:
        from hoist_hello._version import version
    except ImportError:  # running from a checkout that was never built
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        try:
            return dist_version("hoist-hello")
        except PackageNotFoundError:
            return "0+unknown"
    return version


__version__: str = _find_version()
