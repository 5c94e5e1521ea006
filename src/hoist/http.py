"""One HTTP client for every target that hoist reads or writes over HTTP.

requests, with urllib3's :class:`~urllib3.util.Retry` as the one retry
policy (:func:`policy`): a connection refused or reset, and a web server
that answers 502, 503 or 504 (busy, or letting writers in one at a time, as
``packaging/nginx-apt.conf`` does), are asked again with an exponential
back-off; each caller says only how patient it is.
``file://`` URLs and plain paths are read from disk, so that a repository or
index on this machine is read by the same functions.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from .errors import PublishError
from .redaction import without_userinfo

#: Seconds a request may wait to connect, then between two bytes of the answer.
CONNECT_TIMEOUT, READ_TIMEOUT = 10.0, 300.0

#: Answers of a web server that is busy, or in front of a server that is down.
BUSY = (502, 503, 504)

#: The longest pause between two tries, in seconds.
BACKOFF_MAX = 2.0


class _Told(Retry):
    """urllib3's ``Retry`` that says, at the first pause and every tenth, what it waits for and how long it may."""

    tell: Callable[[str], None] | None = None

    def new(self, **kw: Any) -> _Told:
        made = super().new(**kw)
        made.tell = self.tell
        return made

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> _Told:
        after = super().increment(method, url, response, error, _pool, _stacktrace)
        if self.tell is not None and (len(after.history) == 1 or len(after.history) % 10 == 0):  # not every pause
            what = f"HTTP {response.status}" if response is not None else type(error).__name__ if error else "no answer"
            where = f"{_pool.scheme}://{_pool.host}:{_pool.port}" if _pool is not None else "the server"
            left = max(after.status or 0, after.connect or 0) * BACKOFF_MAX
            self.tell(f"    {where} answered {what} to {method} {without_userinfo(url or '')}: asking again "
                      f"(for {left:.0f} s more at most)")
        return after


def policy(attempts: int, backoff: float = 0.1, tell: Callable[[str], None] | None = None) -> Retry:
    """The retry policy (urllib3's ``Retry``): a connection refused or reset,
    and a busy answer (502, 503, 504), tried again, *attempts* tries in all,
    the pause doubling from *backoff* seconds up to :data:`BACKOFF_MAX`,
    ``Retry-After`` honoured (RFC 9110 §10.2.3); any other answer is the
    caller's to read.  Every method is retried: a busy proxy refuses a
    request whole, and aptly's writes are repaired by reading back.

    :param attempts: 1 or more; how patient a caller is (an index read: a
        few seconds; a write through a gate that lets writers in one at a
        time: minutes).
    :param tell: called with a line before each pause (what failed, how long
        it may still wait), so that a long wait is never silent.
    """
    made = _Told(total=None, connect=min(attempts - 1, 3), read=min(attempts - 1, 2), status=attempts - 1, other=0,
                 backoff_factor=backoff / 2, backoff_max=BACKOFF_MAX, status_forcelist=BUSY, allowed_methods=None,
                 raise_on_status=False, respect_retry_after_header=True)
    made.tell = tell
    return made


#: Tries of a request for which a busy server is worth waiting about five minutes.
PATIENT = 160


def session(auth: tuple[str, str] | None = None, verify: str | bool = True, *, trust_env: bool = True,
            retry: Retry | None = None) -> requests.Session:
    """A requests session with the retry policy.

    :param auth: a login for basic authentication (RFC 7617), or None.
    :param verify: a CA bundle's path, or True for the system's.
    :param trust_env: whether proxies and ``~/.netrc`` of the environment apply.
    :param retry: the policy's patience (default: :func:`policy` of 4 tries).
    """
    made = requests.Session()
    adapter = HTTPAdapter(max_retries=retry or policy(4))
    made.mount("http://", adapter)
    made.mount("https://", adapter)
    made.auth = auth
    made.verify = verify
    made.trust_env = trust_env
    return made


#: The session of reads that need no login of their own (published apt repositories).
_READER: requests.Session | None = None


def _reader() -> requests.Session:
    global _READER
    if _READER is None:
        _READER = session()
    return _READER


def local_path(url: str) -> Path | None:
    """The file a ``file://`` URL or a plain path names, or None for another scheme."""
    if "://" not in url:
        return Path(url)
    parts = urlsplit(url)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None


@contextlib.contextmanager
def _blocks(url: str, what: str) -> Iterator[Iterator[bytes] | None]:
    """The file at *url* (``http(s)://``, ``file://`` or a path) as 1 MiB
    blocks, or None when there is none (404, or no such file): the one
    reader under :func:`fetch` and :func:`sha256`.

    :raises PublishError: as :func:`fetch`.
    """
    path = local_path(url)
    if path is not None:
        try:
            handle = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            yield None
            return
        except OSError as exc:
            raise PublishError(f"cannot read {path}: {exc.strerror}", f"check {what}") from None
        with handle:
            yield iter(lambda: handle.read(1 << 20), b"")
        return
    shown = without_userinfo(url)
    try:
        with _reader().get(url, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), stream=True) as response:
            if response.status_code == 404:
                yield None
                return
            if not response.ok:
                raise PublishError(f"cannot read {shown}: {status_line(response)}", f"check {what}")
            yield response.iter_content(1 << 20)
    except requests.RequestException as exc:
        raise PublishError(f"cannot read {shown}: {type(exc).__name__}", f"check {what} and that its server runs") from None


def fetch(url: str, *, what: str = "the file") -> bytes | None:
    """The bytes at *url* (``http(s)://``, ``file://`` or a path), or None
    when there is none (404, or no such file).

    :param what: the setting the URL comes from, for the hint (``tool.hoist.apt.url``).
    :raises PublishError: the server cannot be reached, or answers with an
        error other than 404 (the message quotes its status line, not its page).
    """
    with _blocks(url, what) as blocks:
        return None if blocks is None else b"".join(blocks)


def sha256(url: str, *, what: str = "the file") -> str | None:
    """The sha256 (hex) of the file at *url* (``http(s)://``, ``file://`` or a
    path), read in blocks, or None when there is none (404, or no such file).

    :raises PublishError: as :func:`fetch`.
    """
    with _blocks(url, what) as blocks:
        if blocks is None:
            return None
        digest = hashlib.sha256()
        for block in blocks:
            digest.update(block)
        return digest.hexdigest()


def status_line(response: requests.Response) -> str:
    """``HTTP <code> <reason>`` of *response*: what an error quotes, never the body's HTML."""
    return f"HTTP {response.status_code} {response.reason or ''}".strip()
