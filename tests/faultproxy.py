"""Test helper: an HTTP proxy on 127.0.0.1 that breaks requests on purpose.

It sits between hoist (twine's uploads, hoist's reads of the simple pages) and
a real pypiserver, forwards every request, and applies *faults* from a queue
the test fills:

``"503"`` / ``"401"`` / ``"403"`` / ``"500"``
    answer that status without forwarding (the request body is read first, as
    a real front end would);
``"403_quoting_credentials"``
    answer 403 with a reason phrase that quotes the request's basic-auth
    credentials, as some index front ends do ("Forbidden for user:password");
``"reset_mid_body"``
    read about half the request body, then reset the connection (RST): the
    upload dies in the middle, the index never sees it;
``"drop_after_upstream"``
    forward the whole request, let the index store the file, then reset the
    connection instead of relaying the answer: the client believes the upload
    failed although it succeeded;
``"hook_after_upstream"``
    forward the request, then call ``proxy.hook(entry)`` (e.g. to SIGKILL the
    uploader) before relaying the answer.

Each fault matches a method, a path prefix and optionally the suffix of the
uploaded file's name, and is used ``count`` times, in the order added.  Every request is logged (method, path, uploaded file
name, what happened), so a test can count what reached the index.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import re
import socket
import struct
import threading
from dataclasses import dataclass, field

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade", "content-length"}
_FILENAME = re.compile(rb'name="content"; filename="([^"]+)"')
_STATUS_TEXT = {401: "Unauthorized", 403: "Forbidden", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class Fault:
    action: str
    method: str = "POST"
    path_prefix: str = "/"
    count: int = 1
    file_suffix: str | None = None  # matches only uploads of a file whose name ends so


@dataclass
class Entry:
    method: str
    path: str
    filename: str | None
    action: str  # "forwarded", or the fault applied
    status: int | None = None


@dataclass
class FaultProxy:
    """A fault-injecting HTTP proxy for one upstream on 127.0.0.1."""

    upstream_port: int
    faults: list[Fault] = field(default_factory=list)
    log: list[Entry] = field(default_factory=list)
    port: int = 0
    hook: object = None  # called with the Entry by "hook_after_upstream"

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

            do_POST = do_PUT = do_HEAD = do_DELETE = do_GET

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="faultproxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def add(self, action: str, *, method: str = "POST", path_prefix: str = "/", count: int = 1,
            file_suffix: str | None = None) -> None:
        with self._lock:
            self.faults.append(Fault(action, method, path_prefix, count, file_suffix))

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def mark(self) -> int:
        """The current length of the log, to look at what one run did (``log[mark:]``)."""
        with self._lock:
            return len(self.log)

    def uploads(self, since: int = 0) -> list[Entry]:
        with self._lock:
            return [e for e in self.log[since:] if e.method == "POST"]

    def applied(self, since: int = 0) -> list[Entry]:
        """Log entries where a fault was applied."""
        with self._lock:
            return [e for e in self.log[since:] if e.action != "forwarded"]

    def _take(self, method: str, path: str, filename: str | None = None) -> str | None:
        """The next fault for this request: those without a file suffix before the
        body is read (filename None), those with one after."""
        with self._lock:
            for fault in self.faults:
                if (fault.file_suffix is None) != (filename is None):
                    continue
                if filename is not None and not filename.endswith(fault.file_suffix or ""):
                    continue
                if fault.count > 0 and fault.method == method and path.startswith(fault.path_prefix):
                    fault.count -= 1
                    return fault.action
        return None

    def _record(self, entry: Entry) -> None:
        with self._lock:
            self.log.append(entry)

    # -- one request -------------------------------------------------------

    def _handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        method, path = handler.command, handler.path
        action = self._take(method, path)
        length = int(handler.headers.get("Content-Length") or 0)
        chunked = "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower()
        if action == "reset_mid_body":
            partial = handler.rfile.read(max(1, length // 2)) if length else b""
            match = _FILENAME.search(partial)
            self._record(Entry(method, path, match.group(1).decode() if match else None, action))
            _reset(handler)
            return
        body = _read_chunked(handler.rfile) if chunked else (handler.rfile.read(length) if length else b"")
        match = _FILENAME.search(body)
        filename = match.group(1).decode() if match else None
        if action is None and filename is not None:
            action = self._take(method, path, filename)
        if action == "403_quoting_credentials":
            header = handler.headers.get("Authorization", "")
            quoted = base64.b64decode(header.removeprefix("Basic ")).decode(errors="replace") if header else "nobody"
            self._record(Entry(method, path, filename, action, 403))
            _answer(handler, 403, f"Forbidden for {quoted}", f"Forbidden for {quoted}\n")
            return
        if action is not None and action.isdigit():
            status = int(action)
            self._record(Entry(method, path, filename, action, status))
            _answer(handler, status, _STATUS_TEXT.get(status), f"{status} {_STATUS_TEXT.get(status, 'Error')} (fault injected)\n")
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=120)
        try:
            upstream.request(method, path, body=body if (body or method in ("POST", "PUT")) else None, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
        except OSError:
            self._record(Entry(method, path, filename, "upstream-error"))
            _reset(handler)
            return
        finally:
            upstream.close()
        if action == "drop_after_upstream":
            self._record(Entry(method, path, filename, action, response.status))
            _reset(handler)
            return
        entry = Entry(method, path, filename, action or "forwarded", response.status)
        self._record(entry)
        if action == "hook_after_upstream" and callable(self.hook):
            self.hook(entry)
        try:
            self._relay(handler, method, response, payload)
        except OSError:
            pass  # the client went away

    @staticmethod
    def _relay(handler, method: str, response, payload: bytes) -> None:
        handler.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP:
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        if method != "HEAD":
            handler.wfile.write(payload)


def _answer(handler: http.server.BaseHTTPRequestHandler, status: int, reason: str | None, text: str) -> None:
    """Answer *status* with *reason* and a plain-text body, and close the connection."""
    body = text.encode()
    handler.send_response(status, reason)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)


def _reset(handler: http.server.BaseHTTPRequestHandler) -> None:
    """Close the client connection with a TCP reset, answering nothing."""
    sock = handler.connection
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass
    handler.close_connection = True

    class _Sink:
        def write(self, data: bytes) -> int:
            return len(data)

        def flush(self) -> None:
            pass

        def close(self) -> None:
            pass

    handler.wfile = _Sink()  # finish() flushes it: nothing to send


def _read_chunked(rfile) -> bytes:
    out = bytearray()
    while True:
        size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return bytes(out)
        out += rfile.read(size)
        rfile.readline()
