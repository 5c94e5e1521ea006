"""``bench-warehouse``: print the versions, or serve the WSGI app on loopback."""

import sys
from importlib.metadata import version

from . import __version__


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        from wsgiref.simple_server import make_server

        from .app import application

        port = int(args[1]) if len(args) > 1 else 8080
        make_server("127.0.0.1", port, application).serve_forever()
        return 0
    print(f"bench-warehouse {__version__}")
    print(", ".join(f"{name} {version(name)}" for name in ("pyramid", "sqlalchemy", "cryptography", "lxml",
                                                             "psycopg", "celery")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
