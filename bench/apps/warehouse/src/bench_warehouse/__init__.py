"""Warehouse-scale reference application for hoist's benchmark."""

try:
    from ._version import __version__
except ImportError:  # not built yet
    __version__ = "0"
