"""Command line entry point: ``hoist-hello [--version] {serve,check}``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from gunicorn.app.base import BaseApplication

from hoist_hello import __version__

DEFAULT_BIND = "127.0.0.1:8080"


class _Server(BaseApplication):  # type: ignore[misc]  # gunicorn is untyped
    """Run a WSGI callable under gunicorn without a config file."""

    def __init__(self, wsgi: Callable[..., Any], options: dict[str, Any]) -> None:
        self._wsgi = wsgi
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        """Copy our options into gunicorn's settings, skipping unknown ones."""
        for key, value in self._options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Callable[..., Any]:
        """Return the WSGI application served by the workers."""
        return self._wsgi


def _serve(args: argparse.Namespace) -> int:
    """Serve the application with gunicorn until interrupted."""
    from hoist_hello.app import app

    options = {
        "bind": args.bind,
        "workers": args.workers,
        "accesslog": "-",
        "proc_name": "hoist-hello",
        # Recent gunicorn opens a control socket under $HOME by default; a
        # DynamicUser service has no writable home, and we do not need it.
        "control_socket_disable": True,
    }
    _Server(app, options).run()
    return 0


def _check(args: argparse.Namespace) -> int:
    """Import the application and answer /healthz in-process."""
    from hoist_hello.app import app

    response = app.test_client().get("/healthz")
    if response.status_code != 200:
        print(f"FAIL: /healthz returned {response.status_code}")
        return 1
    print(f"OK hoist-hello {__version__}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for the ``hoist-hello`` command."""
    parser = argparse.ArgumentParser(prog="hoist-hello", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP service under gunicorn")
    serve.add_argument(
        "--bind", default=DEFAULT_BIND, help=f"HOST:PORT (default {DEFAULT_BIND})"
    )
    serve.add_argument("--workers", type=int, default=2, help="worker processes")
    serve.set_defaults(func=_serve)

    check = sub.add_parser("check", help="import the app and self-test /healthz")
    check.set_defaults(func=_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; return its exit status."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    raise SystemExit(main())
