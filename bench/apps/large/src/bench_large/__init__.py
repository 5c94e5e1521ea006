"""Reference application for hoist's .deb build benchmark."""

try:
    from ._version import __version__
except ImportError:  # not built yet
    __version__ = "0"
