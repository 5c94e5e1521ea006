"""``hoist.targets.simple.project_files``: real HTTP on 127.0.0.1, and a directory index on disk."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hoist.errors import ConfigError, PublishError
from hoist.targets import pypi as pypi_target
from hoist.targets import simple as index
from hoist.targets.simple import PEP691_JSON, READ_ATTEMPTS, project_files

SHA_A = "a" * 64
SHA_B = "b" * 64


@dataclass(frozen=True)
class Reply:
    """One HTTP answer of the fake index."""

    status: int = 200
    body: str = ""
    content_type: str = "text/html; charset=utf-8"


#: A route answers a request given its Accept header.
Route = Callable[[str], Reply]


@dataclass
class Index:
    """A tiny index: routes by path, and every request seen as (path, Accept)."""

    url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)

    def serve(self, path: str, *replies: Reply) -> None:
        """Answer *path* with *replies* in turn, repeating the last one."""
        queue = list(replies)

        def route(accept: str) -> Reply:
            return queue.pop(0) if len(queue) > 1 else queue[0]

        self.routes[path] = route


def _handler(state: Index) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            accept = self.headers.get("Accept", "")
            state.requests.append((self.path, accept))
            state.authorizations.append(self.headers.get("Authorization"))
            route = state.routes.get(self.path)
            reply = route(accept) if route else Reply(404, "not found", "text/plain")
            body = reply.body.encode("utf-8")
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler


@pytest.fixture
def pypi() -> Iterator[Index]:
    """An index served on a free port of 127.0.0.1 for the test, then stopped."""
    state = Index()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries wait 10 ms instead of half a second."""
    monkeypatch.setattr(index, "BACKOFF", 0.01)


def json_page(files: list[dict[str, object]]) -> Reply:
    page = {"meta": {"api-version": "1.1"}, "name": "my-app", "files": files}
    return Reply(200, json.dumps(page), PEP691_JSON)


HTML_PAGE = Reply(
    200,
    """<!DOCTYPE html>
<html><body>
<a href="../../packages/my_app-26.11.0.tar.gz#sha256=%s">my_app-26.11.0.tar.gz</a><br>
<a href="/packages/my_app-26.11.0-py3-none-any.whl#sha256=%s" data-requires-python="&gt;=3.11">wheel</a>
<a href="https://files.example.org/p/my_app-26.10.0.tar.gz#md5=0123456789abcdef0123456789abcdef">md5 only</a>
<a href="my_app-26.9.0.tar.gz">no hash</a>
</body></html>
"""
    % (SHA_A, SHA_B),
)

HTML_FILES = {
    "my_app-26.11.0.tar.gz": SHA_A,
    "my_app-26.11.0-py3-none-any.whl": SHA_B,
    "my_app-26.10.0.tar.gz": "",
    "my_app-26.9.0.tar.gz": "",
}


# ------------------------------------------------------------------------- HTTP


def test_pep691_json(pypi: Index) -> None:
    """An index that speaks JSON (PEP 691) is read as JSON when asked for it; no sha256 reads as ""."""

    def negotiate(accept: str) -> Reply:
        if PEP691_JSON in accept:
            return json_page(
                [
                    {"filename": "my_app-26.11.0.tar.gz", "url": "x", "hashes": {"sha256": SHA_A}},
                    {"filename": "my_app-26.11.0-py3-none-any.whl", "url": "y", "hashes": {"sha256": SHA_B}},
                    {"filename": "my_app-26.10.0.tar.gz", "url": "z", "hashes": {"md5": "0" * 32}},
                    {"filename": "my_app-26.9.0.tar.gz", "url": "w", "hashes": {}},
                ]
            )
        return Reply(200, "<html><body>HTML was served</body></html>")

    pypi.routes["/simple/my-app/"] = negotiate
    assert project_files(pypi.url, "my-app") == {
        "my_app-26.11.0.tar.gz": SHA_A,
        "my_app-26.11.0-py3-none-any.whl": SHA_B,
        "my_app-26.10.0.tar.gz": "",
        "my_app-26.9.0.tar.gz": "",
    }
    assert len(pypi.requests) == 1


def test_pep503_html(pypi: Index) -> None:
    """An HTML-only index (PEP 503) gives each file's sha256 from its link's #sha256= fragment."""
    pypi.serve("/simple/my-app/", HTML_PAGE)
    assert project_files(pypi.url, "my-app") == HTML_FILES


@pytest.mark.parametrize(
    ("url_suffix", "project"),
    [
        pytest.param("/simple/", "my-app", id="trailing-slash"),
        pytest.param("/simple", "my-app", id="no-trailing-slash"),
        pytest.param("/simple/", "My_App", id="project-name-normalised"),
        pytest.param("/simple/", "my.app", id="dots-normalised"),
    ],
)
def test_project_page_url(pypi: Index, url_suffix: str, project: str) -> None:
    """The project page read is ``<index>/<normalised name>/`` (PEP 503), asking for JSON first."""
    pypi.serve("/simple/my-app/", HTML_PAGE)
    base = pypi.url.removesuffix("/simple/")
    assert project_files(base + url_suffix, project) == HTML_FILES
    [(path, accept)] = pypi.requests
    assert path == "/simple/my-app/"
    assert accept.startswith(PEP691_JSON)
    assert "text/html" in accept


def test_unknown_project_is_empty(pypi: Index) -> None:
    """A project the index does not know (404) has no files; it is not retried."""
    assert project_files(pypi.url, "my-app") == {}
    assert [path for path, _ in pypi.requests] == ["/simple/my-app/"]


def test_transient_5xx_retried(pypi: Index) -> None:
    """Two 503 answers, then 200: the read is retried and succeeds."""
    pypi.serve("/simple/my-app/", Reply(503, "busy"), Reply(503, "busy"), HTML_PAGE)
    assert project_files(pypi.url, "my-app") == HTML_FILES
    assert len(pypi.requests) == 3


def test_persistent_5xx_gives_up(pypi: Index) -> None:
    """An index that keeps answering 502 fails the publish after READ_ATTEMPTS reads, naming the URL."""
    pypi.serve("/simple/my-app/", Reply(502, "bad gateway"))
    with pytest.raises(PublishError) as info:
        project_files(pypi.url, "my-app")
    assert info.value.message == f"the index answered 502 Bad Gateway for {pypi.url}my-app/"
    assert info.value.exit_code == 6
    assert len(pypi.requests) == READ_ATTEMPTS


@pytest.mark.parametrize(("status", "reason"), [(403, "Forbidden")])
def test_client_error_not_retried(pypi: Index, status: int, reason: str) -> None:
    """A 403 fails at once, with a hint to check the index URL and credentials."""
    pypi.serve("/simple/my-app/", Reply(status, "no"), HTML_PAGE)
    with pytest.raises(PublishError) as info:
        project_files(pypi.url, "my-app")
    assert info.value.message == f"the index answered {status} {reason} for {pypi.url}my-app/"
    assert info.value.hint == "check tool.hoist.pypi.index_url and the index's credentials"
    assert info.value.exit_code == 6
    assert len(pypi.requests) == 1


def test_unreachable_index() -> None:
    """Nothing listening on the port: retried, then a PublishError saying the index cannot be read."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/simple/"
    with pytest.raises(PublishError) as info:
        project_files(url, "my-app")
    assert info.value.message.startswith(f"cannot read the index at {url}my-app/: ")
    assert info.value.hint == "check that the index is up and reachable"


# -------------------------------------------------------------------- directory


@pytest.fixture
def local_index(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A directory holding two projects' files (one in a sub-directory), and the expected result for my-app."""
    files = {
        "my_app-26.11.0.tar.gz": b"sdist 26.11.0",
        "my_app-26.11.0-py3-none-any.whl": b"wheel 26.11.0",
        "my-app/my_app-26.11.1.tar.gz": b"sdist 26.11.1",
        "other_app-1.0.tar.gz": b"other sdist",
        "other_app-1.0-py3-none-any.whl": b"other wheel",
        "my_app_extra-1.0.tar.gz": b"a project whose name starts like ours",
        "my_app-26.11.0.tar.gz.asc": b"signature",
        "README.txt": b"not a distribution",
    }
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    expected = {
        Path(name).name: hashlib.sha256(files[name]).hexdigest()
        for name in ("my_app-26.11.0.tar.gz", "my_app-26.11.0-py3-none-any.whl", "my-app/my_app-26.11.1.tar.gz")
    }
    return tmp_path, expected


@pytest.mark.parametrize("project", ["my-app", "My_App", "my.app"])
def test_directory_index(local_index: tuple[Path, dict[str, str]], project: str) -> None:
    """A directory index gives only the asked project's sdists and wheels, with their real sha256."""
    directory, expected = local_index
    assert project_files(str(directory), project) == expected


def test_directory_index_as_file_url(local_index: tuple[Path, dict[str, str]]) -> None:
    """``file://`` URLs are read as the directory they name."""
    directory, expected = local_index
    assert project_files(directory.as_uri(), "my-app") == expected


def test_directory_index_other_project(local_index: tuple[Path, dict[str, str]]) -> None:
    """The other project sees only its own files."""
    directory, _ = local_index
    found = project_files(str(directory), "other-app")
    assert sorted(found) == ["other_app-1.0-py3-none-any.whl", "other_app-1.0.tar.gz"]


def test_missing_directory_is_empty(tmp_path: Path) -> None:
    """A local index that does not exist yet holds nothing."""
    assert project_files(str(tmp_path / "absent"), "my-app") == {}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def no_netrc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """``$NETRC`` names a file of the test's own (not there yet)."""
    path = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(path))
    return path


def test_a_login_to_read_and_none_found(pypi: Index, no_netrc: Path) -> None:
    """401 with no credentials anywhere: one clear error, naming what to set."""
    pypi.serve("/simple/my-app/", Reply(401, "login"))
    with pytest.raises(PublishError) as info:
        project_files(pypi.url, "my-app")
    assert info.value.message == f"the index at {pypi.url}my-app/ needs a login to read, and no credentials were found for it"
    assert "HOIST_PYPI_USERNAME" in info.value.hint and "~/.netrc" in info.value.hint
    assert pypi.authorizations == [None]


def test_credentials_in_the_url(pypi: Index, no_netrc: Path) -> None:
    """As pip does: the URL's userinfo is sent as basic auth, and never shown."""
    pypi.serve("/simple/my-app/", json_page([{"filename": "my_app-1.0.tar.gz", "url": "my_app-1.0.tar.gz", "hashes": {"sha256": SHA_A}}]))
    url = pypi.url.replace("http://", "http://reader:s3cr%40t@")
    assert project_files(url, "my-app") == {"my_app-1.0.tar.gz": SHA_A}
    assert pypi.authorizations == [basic("reader", "s3cr@t")]
    pypi.serve("/simple/my-app/", Reply(403, "no"))
    with pytest.raises(PublishError) as info:
        project_files(url, "my-app")
    assert "s3cr" not in info.value.message and "reader" not in info.value.message


def test_given_credentials_then_netrc_after_a_401(pypi: Index, no_netrc: Path) -> None:
    """Given credentials are sent at once; after a 401, the machine's netrc is tried, as pip does."""
    pypi.serve("/simple/my-app/", Reply(401, "login"), json_page([]))
    no_netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-pass\n")
    assert project_files(pypi.url, "my-app", ("given", "wrong")) == {}
    assert pypi.authorizations == [basic("given", "wrong"), basic("netrc-user", "netrc-pass")]


# -- the upload's back-off (hoist.targets.pypi) ------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [(None, 1.0), ("", 1.0), ("0", 0.0), ("0.1", 0.1), (" 2 ", 2.0)])
def test_upload_backoff(monkeypatch: pytest.MonkeyPatch, value: str | None, seconds: float) -> None:
    if value is None:
        monkeypatch.delenv(pypi_target.BACKOFF_VAR, raising=False)
    else:
        monkeypatch.setenv(pypi_target.BACKOFF_VAR, value)
    assert pypi_target.first_backoff() == seconds


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_upload_backoff_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(pypi_target.BACKOFF_VAR, value)
    with pytest.raises(ConfigError, match="HOIST_PYPI_UPLOAD_BACKOFF=.* is not a number of seconds"):
        pypi_target.first_backoff()
