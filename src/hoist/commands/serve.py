"""``hoist serve``: the local targets over HTTP, so that a server can try a release.

Local targets live on the build machine (``file://``), which no server can
read.  For a trial, ``hoist serve --bind ADDRESS:PORT`` serves, read-only:

``/apt/``
    the signed apt repository (``deb [signed-by=...] http://ADDRESS:PORT/apt/ <suite> main``);
``/<package>-archive-keyring.gpg``
    its public key;
``/index/``
    the index's files, as a page of links that ``pip install --find-links`` reads.

It is Python's ``http.server``, one thread per request, until interrupted:
for a trial, not for production (put the directories behind a web server).
"""

from __future__ import annotations

import functools
import http.server
import os
import posixpath
import socket
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from ..errors import PreflightError
from ..targets.apt.source import keyring_name

#: What ``hoist serve`` serves of the local targets' directory, by the first path segment.
SERVED = ("apt", "index")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files of the local targets' directory: ``apt/``, ``index/`` and the keyring only."""

    keyring = ""

    def send_head(self):  # noqa: ANN201 - http.server's own signature
        # The path as translate_path reads it: "/apt/../gnupg/" is gnupg/, which holds the secret key.
        path = posixpath.normpath(urllib.parse.unquote(self.path.split("?", 1)[0].split("#", 1)[0]))
        first = path.lstrip("/").split("/", 1)[0]
        if first not in SERVED and first != self.keyring:
            self.send_error(404, "not served")
            return None
        return super().send_head()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        self.server.log(f"{self.address_string()} {format % args}")  # type: ignore[attr-defined]


def parse_bind(bind: str) -> tuple[str, int]:
    """``ADDRESS:PORT`` (``[::1]:8080`` for IPv6) as (address, port).

    :raises PreflightError: not of that form.
    """
    address, _, port = bind.rpartition(":")
    if not address or not port.isdigit() or int(port) > 65535:
        raise PreflightError(f"--bind {bind!r} is not ADDRESS:PORT", "e.g. --bind 192.0.2.10:8080, or 127.0.0.1:0 "
                                                                     "for any free port")
    return address.strip("[]"), int(port)


def serve(root: Path, package: str, bind: str, announce: Callable[[str], None],
          log: Callable[[str], None]) -> None:
    """Serve *root* (the local targets of *package*) on *bind* until interrupted.

    :param announce: called once with the base URL, when the server listens.
    :param log: called with one line per request.
    :raises PreflightError: nothing has been released to the local targets
        yet, *bind* is malformed, or the address cannot be bound.
    """
    if not (root / "apt" / "dists").is_dir():
        raise PreflightError(f"the local targets of {package} hold no release yet ({root})",
                             "hoist release first: it creates and fills them")
    address, port = parse_bind(bind)
    handler = functools.partial(type("Handler", (_Handler,), {"keyring": keyring_name(package)}),
                                directory=os.fspath(root))
    server_class = type("Server", (http.server.ThreadingHTTPServer,), {"log": staticmethod(log)})
    if ":" in address:
        server_class.address_family = socket.AF_INET6
    try:
        server = server_class((address, port), handler)
    except OSError as exc:
        raise PreflightError(f"cannot listen on {bind}: {exc.strerror}",
                             "choose an address of this machine and a free port") from None
    with server:
        host, port = server.server_address[:2]
        announce(f"http://{'[' + host + ']' if ':' in host else host}:{port}/")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
