"""Upload the sdist and wheel to the PyPI index with twine.

The index is read first (PEP 691/503): a file already there with the same
sha256 is skipped, one with another sha256 is a conflict, never an overwrite.
(twine's ``--skip-existing`` works only with PyPI itself.)
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from pathlib import Path

from .. import index
from ..context import Context, ReleasePlan
from ..errors import ConflictError, PublishError
from ..local import serve_index
from ..manifest import sha256_file

#: Upload attempts after transient failures, and the first back-off in seconds
#: (doubled after each attempt).
UPLOAD_ATTEMPTS = 5
BACKOFF = 1.0

#: What a failed upload says and what the user should do, by HTTP status.
ADVICE = {
    401: "the index refused the credentials: set HOIST_PYPI_USERNAME and HOIST_PYPI_PASSWORD "
         "(for an API token, the username is __token__)",
    403: "the credentials may not upload this project: check the account's rights on the index",
    413: "the file is larger than the index accepts: ask the index's administrators to raise the limit",
}

_TRANSIENT = re.compile(
    r"Connection (aborted|reset|refused)|RemoteDisconnected|timed out|Max retries exceeded|"
    r"BrokenPipe|IncompleteRead|ChunkedEncodingError|ProtocolError",
    re.IGNORECASE,
)


def classify(output: str) -> tuple[int | None, bool]:
    """(HTTP status or None, transient?) of a failed ``twine upload``'s output."""
    match = re.search(r"HTTPError: (\d{3})", output)
    status = int(match.group(1)) if match else None
    transient = (status is not None and status >= 500) or (status is None and bool(_TRANSIENT.search(output)))
    return status, transient


def missing_files(index_url: str, project: str, files: list[Path]) -> list[Path]:
    """The *files* the index does not hold yet.

    :raises ConflictError: the index holds a file of the same name with
        another sha256 (both hashes are named).
    """
    present = index.project_files(index_url, project)
    missing = []
    for path in files:
        theirs = present.get(path.name)
        if theirs is None:
            missing.append(path)
            continue
        ours = sha256_file(path)
        if theirs and theirs != ours:
            raise ConflictError(
                f"the index already has {path.name} with sha256 {theirs}, but this build's is {ours}",
                "a published file is never overwritten: release a new version",
            )
    return missing


class PublishIndex:
    name = "publish to the PyPI index"

    def describe(self, ctx: Context, plan: ReleasePlan) -> list[str]:
        where = ctx.targets.local.index_dir if ctx.targets.local else (ctx.targets.pypi.upload_url if ctx.targets.pypi else "")
        return [f"twine upload of the sdist and wheel to {where}, skipping files already there with the same sha256"]

    def skip(self, ctx: Context, plan: ReleasePlan) -> str | None:
        return None if ctx.targets.pypi else "no index configured in [tool.hoist.pypi]"

    def run(self, ctx: Context, plan: ReleasePlan) -> None:
        target = ctx.targets.pypi
        assert target is not None
        files = [ctx.artifacts["sdist"], ctx.artifacts["wheel"]]
        local = ctx.targets.local
        lock = local.lock("index") if local else contextlib.nullcontext()
        with lock:
            if local:
                with serve_index(local.index_dir, local.root / "pypiserver.log") as url:
                    self._upload(ctx, target.index_url, url + "/", files, ("hoist", "local"))
            else:
                credentials = (ctx.secrets.pypi_username or "__token__", ctx.secrets.pypi_password or "")
                self._upload(ctx, target.index_url, target.upload_url, files, credentials)

    @staticmethod
    def _upload(ctx: Context, index_url: str, url: str, files: list[Path], credentials: tuple[str, str]) -> None:
        """Upload what the index lacks; after a transient failure, read the index
        again and retry with exponential back-off.

        :raises PublishError: a 4xx answer (with advice), or transient failures
            past :data:`UPLOAD_ATTEMPTS`.
        """
        username, password = credentials
        ctx.upload_url = url
        delay = BACKOFF
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            todo = missing_files(index_url, ctx.config.name, files)
            if not todo:
                if attempt == 1:
                    ctx.ui.line("    the index has both files already (same sha256)")
                return
            result = ctx.runner.run(
                [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
                 "--repository-url", url, *map(str, todo)],
                env={"TWINE_USERNAME": username, "TWINE_PASSWORD": password},
                mutates=True,
                check=False,
            )
            if result.ok:
                continue  # read back on the next turn
            output = result.stdout + result.stderr
            status, transient = classify(output)
            if status in (400, 409) and "exist" in output.lower():
                continue  # another run uploaded it meanwhile: the next read compares hashes
            if "RedirectDetected" in output or (status is not None and 300 <= status < 400):
                raise PublishError(f"the upload URL {url} redirects", "set tool.hoist.pypi.upload_url to the URL it redirects to")
            if not transient:
                reason = output.strip().splitlines()[-1] if output.strip() else f"exit status {result.returncode}"
                raise PublishError(f"the index refused the upload: {reason}", ADVICE.get(status or 0, "read the index's answer above"))
            if attempt == UPLOAD_ATTEMPTS:
                break
            ctx.ui.line(f"    upload failed ({'HTTP ' + str(status) if status else 'connection error'}); retrying in {delay:.0f} s")
            time.sleep(delay)
            delay *= 2
        if not missing_files(index_url, ctx.config.name, files):
            return
        raise PublishError(
            f"the upload to {url} kept failing after {UPLOAD_ATTEMPTS} attempts",
            "the index is down or unreachable: run hoist release again later; it uploads only what is missing",
        )
