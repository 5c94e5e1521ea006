"""Reading a PyPI-compatible index: the files a project has, with their sha256.

The simple repository API is read as JSON (PEP 691) when the index offers it,
else as HTML (PEP 503), with the sha256 taken from each link's URL fragment.
An index that is a plain directory (a local index, or ``pip --find-links``)
is read from disk.

An index that needs a login to read is read as pip reads it: with the
credentials in its URL, else those given (``HOIST_PYPI_*`` for the upload
host), else, after a 401, those of the machine's ``~/.netrc`` (netrc(5)) or
keyring for its host.
"""

from __future__ import annotations

import base64
import json
import netrc
import os
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from ..errors import PublishError
from ..manifest import sha256_file
from ..redaction import userinfo, without_userinfo

PEP691_JSON = "application/vnd.pypi.simple.v1+json"

#: Attempts at one read of the index, and the first back-off in seconds.
READ_ATTEMPTS = 4
BACKOFF = 0.5


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _parse_html(base_url: str, text: str) -> dict[str, str]:
    parser = _Links()
    parser.feed(text)
    files: dict[str, str] = {}
    for href in parser.hrefs:
        url, fragment = urldefrag(urljoin(base_url, href))
        algo, _, digest = fragment.partition("=")
        files[Path(urlparse(url).path).name] = digest if algo == "sha256" else ""
    return files


def _parse_json(text: str) -> dict[str, str]:
    data = json.loads(text)
    return {f["filename"]: f.get("hashes", {}).get("sha256", "") for f in data.get("files", [])}


def machine_credentials(url: str) -> tuple[str, str] | None:
    """The credentials this machine keeps for *url*'s host, as pip finds them:
    ``$NETRC`` or ``~/.netrc`` (netrc(5)), then the keyring (by URL, then by host)."""
    host = urlsplit(url).hostname or ""
    try:
        found = netrc.netrc(os.environ.get("NETRC")).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        found = None
    if found and found[2] is not None:
        return found[0], found[2]
    try:
        import keyring  # twine's dependency; its backend may be missing on a server

        for service in (url, host):
            credential = keyring.get_credential(service, None)
            if credential is not None and credential.password:
                return credential.username, credential.password
    except Exception:  # noqa: BLE001  (no usable backend is no credential)
        return None
    return None


def _request(url: str, credentials: tuple[str, str] | None) -> urllib.request.Request:
    request = urllib.request.Request(url, headers={"Accept": f"{PEP691_JSON}, text/html;q=0.1"})
    if credentials is not None:
        token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        request.add_unredirected_header("Authorization", f"Basic {token}")  # never sent on to another host
    return request


def project_files(index_url: str, project: str, credentials: tuple[str, str] | None = None) -> dict[str, str]:
    """Files the index holds for *project*, as ``{filename: sha256}``.

    :param index_url: the simple index URL (``.../simple/``), which may carry
        credentials, or a directory path.
    :param credentials: (username, password) to read it with, when its URL has none.
    :returns: an empty dict when the index does not know the project.  A sha256
        is ``""`` when the index does not publish one.
    :raises PublishError: the index refuses to be read (401 with no
        credentials that it accepts, 403), or cannot be read after retrying
        transient failures (5xx, connection errors, timeouts) with
        exponential back-off.  Messages never show credentials.
    """
    if "://" not in index_url or index_url.startswith("file://"):
        directory = Path(urlparse(index_url).path if index_url.startswith("file://") else index_url)
        if not directory.is_dir():
            return {}
        name = canonicalize_name(project)
        return {
            p.name: sha256_file(p)
            for p in sorted(directory.rglob("*"))
            if p.is_file() and _same_project(p.name, name)
        }
    login = userinfo(index_url) or credentials
    base = without_userinfo(index_url)
    url = urljoin(base.rstrip("/") + "/", canonicalize_name(project) + "/")
    delay = BACKOFF
    asked_machine = False
    attempt = 0
    while attempt < READ_ATTEMPTS:
        attempt += 1
        try:
            with urllib.request.urlopen(_request(url, login), timeout=30) as response:
                body = response.read().decode("utf-8", "replace")
                if response.headers.get_content_type() == PEP691_JSON:
                    return _parse_json(body)
                return _parse_html(response.geturl(), body)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return {}
            if exc.code == 401 and not asked_machine:
                asked_machine = True
                found = machine_credentials(base)
                if found is not None and found != login:
                    login, attempt = found, attempt - 1
                    continue
            if exc.code == 401 or (exc.code == 403 and login):
                raise PublishError(
                    f"the index at {url} needs a login to read, and "
                    + (f"refused the credentials given ({exc.code} {exc.reason})" if login
                       else "no credentials were found for it"),
                    "set HOIST_PYPI_USERNAME and HOIST_PYPI_PASSWORD (the index's host must be the upload "
                    "URL's), or put them in the index URL, ~/.netrc or the keyring, as for pip",
                ) from None
            if exc.code < 500 or attempt == READ_ATTEMPTS:
                raise PublishError(
                    f"the index answered {exc.code} {exc.reason} for {url}",
                    "check tool.hoist.pypi.index_url and the index's credentials",
                ) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if attempt == READ_ATTEMPTS:
                raise PublishError(f"cannot read the index at {url}: {exc}", "check that the index is up and reachable") from None
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


def _same_project(filename: str, canonical: str) -> bool:
    """Whether an sdist or wheel *filename* belongs to the project *canonical*."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[0] == canonical
        return parse_sdist_filename(filename)[0] == canonical
    except (InvalidSdistFilename, InvalidWheelFilename):
        return False
