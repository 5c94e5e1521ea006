"""Upload the sdist and wheel to the PyPI index with twine.

The index is read first (PEP 691/503): a file already there with the same
sha256 is skipped, one with another sha256 is a conflict, never an overwrite.
(twine's ``--skip-existing`` works only with PyPI itself.)
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from .. import index
from ..context import Context, ReleasePlan
from ..errors import ConflictError
from ..local import serve_index
from ..manifest import sha256_file


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
            todo = missing_files(target.index_url, ctx.config.name, files)
            if not todo:
                ctx.ui.line("    the index has both files already (same sha256)")
                return
            if local:
                with serve_index(local.index_dir, local.root / "pypiserver.log") as url:
                    self._upload(ctx, url + "/", todo, ("hoist", "local"))
            else:
                self._upload(ctx, target.upload_url, todo, (ctx.secrets.pypi_username or "__token__", ctx.secrets.pypi_password or ""))

    @staticmethod
    def _upload(ctx: Context, url: str, files: list[Path], credentials: tuple[str, str]) -> None:
        username, password = credentials
        ctx.runner.run(
            [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
             "--repository-url", url, *map(str, files)],
            env={"TWINE_USERNAME": username, "TWINE_PASSWORD": password},
            mutates=True,
        )
