"""A PyPI-compatible index: twine uploads, the simple API reads back.

The index is read first (PEP 691 JSON, else PEP 503 HTML; see
:mod:`hoist.targets.simple`): a file already there with the same sha256 is
skipped, one with another sha256 is a conflict, never an overwrite (twine's
``--skip-existing`` works only with PyPI itself).  Transient failures (5xx,
dropped connections) are retried with exponential back-off, reading the
index again before each attempt.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from packaging.version import Version

from ..errors import ConfigError, ConflictError, PreflightError, PublishError
from ..manifest import Artifact, sha256_file, version_of
from ..redaction import userinfo, without_userinfo
from . import simple
from .base import CONFLICT, MISSING, PUBLISHED, Env, ReleaseRef, Target, TargetState

#: twine logs each 5xx it tries again past; its tries are its own, hoist reports what is left.
logging.getLogger("twine").addHandler(logging.NullHandler())

#: Upload attempts after transient failures, and the first back-off in seconds
#: (doubled after each attempt; overridden by ``HOIST_PYPI_UPLOAD_BACKOFF``).
UPLOAD_ATTEMPTS = 5
BACKOFF = 1.0
BACKOFF_VAR = "HOIST_PYPI_UPLOAD_BACKOFF"

#: What a failed upload says and what the user should do, by HTTP status.
ADVICE = {
    401: "the index refused the credentials: set HOIST_PYPI_USERNAME and HOIST_PYPI_PASSWORD "
         "(for an API token, the username is __token__)",
    403: "the credentials may not upload this project: check the account's rights on the index",
    413: "the file is larger than the index accepts: ask the index's administrators to raise the limit",
}

def first_backoff() -> float:
    """The wait before the first retry of an upload, in seconds: ``HOIST_PYPI_UPLOAD_BACKOFF``, else :data:`BACKOFF`.

    :raises ConfigError: the variable is not a number of seconds (0 or more).
    """
    value = os.environ.get(BACKOFF_VAR, "").strip()
    if not value:
        return BACKOFF
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ConfigError(f"{BACKOFF_VAR}={value!r} is not a number of seconds",
                          f"set {BACKOFF_VAR} to the wait before the first retry, e.g. 1 (the default), or unset it")
    return seconds


def conflict_message(filename: str, theirs: str, ours: str) -> str:
    return f"the index already has {filename} with sha256 {theirs}, but this build's is {ours}"


@dataclass(frozen=True)
class UploadPlan:
    """``twine upload`` of *files* to *upload_url*, of those the index at *index_url* lacks."""

    upload_url: str
    index_url: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class PyPISettings:
    """``[tool.hoist.pypi]``: a PyPI-compatible index.

    :ivar upload_url: where twine uploads (the legacy upload API).
    :ivar index_url: the index's simple page (PEP 503/691) used to read it back.
    :ivar max_upload_mb: the largest file the index takes, in MiB (PyPI's
        default limit is 100 MiB a file; an index's administrators can raise it).
    """

    upload_url: str
    index_url: str
    max_upload_mb: int = 100

    def problems(self) -> list[str]:
        if self.max_upload_mb < 1:
            return [f"tool.hoist.pypi.max_upload_mb must be 1 or more (MiB), not {self.max_upload_mb}"]
        return []


class PyPIIndex(Target):
    """A PyPI-compatible index.

    :param upload_url: where twine uploads, as shown to people.
    :param index_url: the simple index (``.../simple/``) or a directory of files.
    :param credentials: twine's (username, password).
    :param endpoint: opens the upload URL for the time of an upload (a server
        started for it, a lock) and yields it; by default *upload_url* as it is.
    :param setup: see :meth:`Target.prepare`.
    :param read_credentials: what the index is read with, when its URL
        carries none (see :func:`hoist.targets.simple.project_files`).
    """

    name = "pypi"
    title = "publish to the PyPI index"
    kinds = ("sdist", "wheel")

    def __init__(
        self,
        upload_url: str,
        index_url: str,
        env: Env,
        credentials: tuple[str, str] = ("__token__", ""),
        endpoint: Callable[[], AbstractContextManager[str]] | None = None,
        setup: Callable[[], None] | None = None,
        read_credentials: tuple[str, str] | None = None,
        max_upload_mb: int = 100,
    ) -> None:
        self.upload_url = without_userinfo(upload_url)
        self.index_url = index_url
        self.env = env
        self.credentials = credentials
        self.read_credentials = read_credentials
        self.max_upload_mb = max_upload_mb
        self.endpoint = endpoint or (lambda: contextlib.nullcontext(upload_url))
        self.setup = setup

    @classmethod
    def from_settings(cls, settings: PyPISettings, env: Env) -> PyPIIndex:
        """The index of ``[tool.hoist.pypi]``.  twine uploads with
        ``HOIST_PYPI_*`` (or ``TWINE_*``), else the upload URL's userinfo; the
        index is read with the same credentials when it is on the upload host
        (as an index that needs a login to read usually is), else as pip would."""
        secrets = env.secrets
        given = (secrets.pypi_username or "__token__", secrets.pypi_password) if secrets.pypi_password else None
        upload = given or userinfo(settings.upload_url) or ("__token__", "")
        same_host = (urlsplit(without_userinfo(settings.upload_url)).netloc
                     == urlsplit(without_userinfo(settings.index_url)).netloc)
        return cls(settings.upload_url, settings.index_url, env, upload,
                   read_credentials=given if same_host else None, max_upload_mb=settings.max_upload_mb)

    def accepts(self, artifacts: Sequence[Artifact]) -> None:
        """Every sdist and wheel is within :attr:`max_upload_mb`.

        :raises PreflightError: one is larger; nothing is pushed or uploaded.
        """
        limit = self.max_upload_mb * 1024 * 1024
        for artifact in artifacts:
            if artifact.kind in self.kinds and artifact.size > limit:
                raise PreflightError(
                    f"{artifact.filename} is {artifact.size / 1024 / 1024:.1f} MiB, more than the index takes "
                    f"({self.max_upload_mb} MiB, tool.hoist.pypi.max_upload_mb)",
                    "leave large data out of the sdist (MANIFEST.in, or the backend's excludes), or raise "
                    "max_upload_mb once the index's administrators have raised its limit; nothing was pushed")

    def _held(self, version: str) -> dict[str, str]:
        """``{filename: sha256}`` of the project's files of *version* on the index."""
        held = simple.project_files(self.index_url, self.env.config.name, self.read_credentials)
        return {name: sha for name, sha in held.items() if version_of(name) == Version(version)}

    def plan(self, release: ReleaseRef) -> UploadPlan:
        name = self.env.config.name.replace("-", "_")
        return UploadPlan(self.upload_url or "pypiserver on 127.0.0.1, run for the upload", without_userinfo(self.index_url),
                          (f"{name}-{release.version}.tar.gz", f"{name}-{release.version}-*.whl"))

    def check(self, release: ReleaseRef) -> None:
        """The index can be read (with its credentials, if it needs a login),
        and the upload's back-off is valid.

        :raises PublishError: it cannot.
        :raises ConfigError: see :func:`first_backoff`.
        """
        first_backoff()
        simple.project_files(self.index_url, self.env.config.name, self.read_credentials)

    def state(self, release: ReleaseRef, artifacts: Sequence[Artifact] = ()) -> TargetState:
        held = self._held(release.version)
        ours = {a.filename: a.sha256 for a in artifacts if a.kind in self.kinds}
        facts = {"upload_url": self.upload_url or None, "index": without_userinfo(self.index_url), "files": held}
        for filename, sha in ours.items():
            if held.get(filename) and held[filename] != sha:
                return TargetState(self.name, CONFLICT, conflict_message(filename, held[filename], sha), facts)
        if ours:
            complete = all(name in held for name in ours)
        else:
            complete = any(n.endswith(".whl") for n in held) and any(not n.endswith(".whl") for n in held)
        return TargetState(self.name, PUBLISHED if complete else MISSING, ", ".join(sorted(held)) or "no files", facts)

    def missing(self, files: Sequence[Path]) -> list[Path]:
        """The *files* the index does not hold yet.

        :raises ConflictError: the index holds a file of the same name with
            another sha256 (both hashes are named).
        """
        present = simple.project_files(self.index_url, self.env.config.name, self.read_credentials)
        missing = []
        for path in files:
            theirs = present.get(path.name)
            if theirs is None:
                missing.append(path)
            elif theirs and theirs != (ours := sha256_file(path)):
                raise ConflictError(conflict_message(path.name, theirs, ours),
                                    "a published file is never overwritten: release a new version")
        return missing

    def publish(self, release: ReleaseRef, plan: UploadPlan, artifacts: Sequence[Artifact]) -> None:
        files = [a.path for a in artifacts if a.kind in self.kinds]
        with self.endpoint() as url:
            self._upload(url, files)

    def _upload(self, url: str, files: list[Path]) -> None:
        """Upload what the index lacks; after a transient failure (a 5xx that
        twine's own tries did not get past, or a connection error), read the
        index again and retry with exponential back-off.

        Each file goes up through twine's library (``twine.repository``), so
        that the index's answer is read from its status code, not from words
        in twine's output.

        :raises PublishError: a 4xx answer (with advice), a redirect, or
            transient failures past :data:`UPLOAD_ATTEMPTS`.
        """
        ui = self.env.ui
        delay = first_backoff()
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            todo = self.missing(files)
            if not todo:
                if attempt == 1:
                    ui.line("    the index has both files already (same sha256)")
                return
            failure = None
            for path in todo:
                failure = self._upload_file(url, path)
                if failure is not None:
                    break
            if failure is None:
                continue  # read back on the next turn
            if attempt == UPLOAD_ATTEMPTS:
                break
            ui.line(f"    upload failed ({failure}); retrying in {delay:g} s")
            time.sleep(delay)
            delay *= 2
        if not self.missing(files):
            return
        raise PublishError(
            f"the upload to {url} kept failing after {UPLOAD_ATTEMPTS} attempts",
            "the index is down or unreachable: run hoist release again later; it uploads only what is missing",
        )

    def _upload_file(self, url: str, path: Path) -> str | None:
        """Upload *path* once: None when the index took it (or holds it
        already: the next read compares its sha256), else what went wrong for
        a retry (``HTTP 503``, ``connection error``).

        :raises PublishError: the index refused it (4xx), or the URL redirects.
        """
        from twine.package import PackageFile  # imported here: twine's import is slow, and a plan never uploads
        from twine.repository import Repository

        runner = self.env.runner
        username, password = self.credentials
        self.env.ui.line(f"    + twine: upload {path.name} to {without_userinfo(url)}")
        repository = Repository(url, username, password, disable_progress_bar=True)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # twine prints "Uploading <file>"
                response = repository.upload(PackageFile.from_filename(str(path), None))
        except requests.RequestException:
            return "connection error"
        finally:
            repository.close()
        status = response.status_code
        if status == 200:
            return None
        if 300 <= status < 400:
            raise PublishError(f"the upload URL {url} redirects", "set tool.hoist.pypi.upload_url to the URL it redirects to")
        if status >= 500:
            return f"HTTP {status}"
        if status in (400, 409) and self.missing([path]) == []:
            return None  # another run uploaded it meanwhile (the same sha256, or missing() raised a conflict)
        raise PublishError(f"the index refused the upload: {status} {runner.redact(response.reason or '')}".strip(),
                           ADVICE.get(status, "read the index's answer above"))

    def usage(self, release: ReleaseRef) -> list[str]:
        index = without_userinfo(self.index_url)
        where = f"--find-links {index}" if "://" not in index else f"--index-url {index}"
        return [f"index: pip install {where} {self.env.config.name}=={release.version}"]
