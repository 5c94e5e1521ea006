"""Reading a PyPI-compatible index: the files a project has, with their sha256.

The simple repository API is read by pypi-simple, as JSON (PEP 691) when the
index offers it, else as HTML (PEP 503), with the sha256 taken from each
link's URL fragment, through hoist's one HTTP client (:mod:`hoist.http`).
An index that is a plain directory (a local index, or ``pip --find-links``)
is read from disk.

An index that needs a login to read is read as pip reads it: with the
credentials in its URL, else those given (``HOIST_PYPI_*`` for the upload
host), else, after a 401, those of the machine's ``~/.netrc`` (netrc(5)) or
keyring for its host.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from urllib.parse import urljoin, urlparse, urlsplit

import requests
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from .. import http
from ..errors import PublishError
from ..manifest import sha256_file
from ..redaction import userinfo, without_userinfo

#: PEP 691's JSON form of a project page.
PEP691_JSON = "application/vnd.pypi.simple.v1+json"

#: What a read asks for: PEP 691's JSON first, then PEP 503's HTML (as pip does).
ACCEPT = f"{PEP691_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"

#: Reads of the index, at most, while it answers 5xx or cannot be reached;
#: the first pause between them, in seconds (doubling).
READ_ATTEMPTS = 4
BACKOFF = 0.5


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
        import keyring  # imported when asked: its backends are slow to load

        for service in (url, host):
            credential = keyring.get_credential(service, None)
            if credential is not None and credential.password:
                return credential.username, credential.password
    except Exception:  # noqa: BLE001  (no usable backend is no credential)
        return None
    return None


def _read(url: str, login: tuple[str, str] | None) -> requests.Response:
    """One read of *url* with the retry policy of :mod:`hoist.http` (the
    login is never sent on to another host: requests drops it on a redirect
    that leaves the host)."""
    # No netrc of requests' own: the machine's credentials are asked for after a 401, in pip's order.
    with http.session(login, trust_env=False, retry=http.policy(READ_ATTEMPTS, BACKOFF)) as session:
        return session.get(url, headers={"Accept": ACCEPT}, timeout=(http.CONNECT_TIMEOUT, 30))


def project_files(index_url: str, project: str, credentials: tuple[str, str] | None = None) -> dict[str, str]:
    """Files the index holds for *project*, as ``{filename: sha256}``.

    The project page is read as JSON (PEP 691) when the index offers it, else
    as HTML (PEP 503), by pypi-simple.

    :param index_url: the simple index URL (``.../simple/``), which may carry
        credentials, or a directory path.
    :param credentials: (username, password) to read it with, when its URL has none.
    :returns: an empty dict when the index does not know the project.  A sha256
        is ``""`` when the index does not publish one.
    :raises PublishError: the index refuses to be read (401 with no
        credentials that it accepts, 403), cannot be read after
        :data:`READ_ATTEMPTS` tries of transient failures (5xx, connection
        errors, timeouts), or answers with a page that is not a project
        page.  Messages never show credentials.
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
    try:
        response = _read(url, login)
        if response.status_code == 401:
            found = machine_credentials(base)
            if found is not None and found != login:
                login = found
                response = _read(url, login)
    except requests.RequestException as exc:
        raise PublishError(f"cannot read the index at {url}: {type(exc).__name__}",
                           "check that the index is up and reachable") from None
    if response.status_code == 404:
        return {}
    if response.status_code == 401 or (response.status_code == 403 and login):
        raise PublishError(
            f"the index at {url} needs a login to read, and "
            + (f"refused the credentials given ({response.status_code} {response.reason})" if login
               else "no credentials were found for it"),
            "set HOIST_PYPI_USERNAME and HOIST_PYPI_PASSWORD (the index's host must be the upload "
            "URL's), or put them in the index URL, ~/.netrc or the keyring, as for pip",
        )
    if not response.ok:
        raise PublishError(f"the index answered {response.status_code} {response.reason} for {url}",
                           "check tool.hoist.pypi.index_url and the index's credentials")
    # Imported here: it loads pydantic (0.2 s), which no decision without the index needs.
    from pypi_simple import ProjectPage, UnsupportedContentTypeError, UnsupportedRepoVersionError

    try:
        page = ProjectPage.from_response(response, canonicalize_name(project))
    except (UnsupportedContentTypeError, UnsupportedRepoVersionError, ValueError) as exc:
        raise PublishError(f"the index's page {url} is not a project page (PEP 503/691): {str(exc)[:200]}",
                           "check tool.hoist.pypi.index_url: it names the index's /simple/ page") from None
    as_json = response.headers.get("Content-Type", "").split(";")[0].strip() == PEP691_JSON
    # A file's name: PEP 691's "filename"; in HTML, the URL's last segment, as pip takes it.
    return {(package.filename if as_json else Path(urlparse(package.url).path).name): package.digests.get("sha256", "")
            for package in page.packages}


def _same_project(filename: str, canonical: str) -> bool:
    """Whether an sdist or wheel *filename* belongs to the project *canonical*."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[0] == canonical
        return parse_sdist_filename(filename)[0] == canonical
    except (InvalidSdistFilename, InvalidWheelFilename):
        return False
