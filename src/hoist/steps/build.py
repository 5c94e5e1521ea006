"""Build the sdist, then the wheel from the sdist, from a clean export of the tag.

``python -m build`` (pypa/build) builds the wheel from the unpacked sdist, which
proves the sdist is complete.  The export is a fresh clone checked out at the
tag, so nothing in the working tree (untracked files, local edits) can reach
an artifact, and the version plugin sees exactly the tag.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from ..context import Context, ReleasePlan
from ..errors import BuildError
from ..reproducible import normalize_sdist


def check_built(filename: str, project: str, version: str) -> None:
    """The artifact *filename* is *project* at *version* (PEP 625 / PEP 427 names).

    :raises BuildError: it names another project or version.
    """
    try:
        if filename.endswith(".whl"):
            name, built, _, _ = parse_wheel_filename(filename)
        else:
            name, built = parse_sdist_filename(filename)
    except (InvalidSdistFilename, InvalidWheelFilename) as exc:
        raise BuildError(f"unexpected artifact name {filename}: {exc}") from None
    if name != canonicalize_name(project) or built != Version(version):
        raise BuildError(
            f"built {filename} has version {built}, but the release is {version}",
            "the version must come from the git tag alone: check the version plugin's settings "
            "(tool.hoist.tag_prefix must match its tag pattern) and that no file overrides it",
        )


def set_mtimes(tree: Path, epoch: int) -> None:
    """Give every file of the export *tree* (but .git) the commit's time.

    A checkout's files carry the time of the checkout; dpkg-deb clamps only
    times later than ``SOURCE_DATE_EPOCH``, so a checkout made before the
    commit's date (a clock behind, or a commit dated a second ahead) would
    otherwise give another .deb.
    """
    for path in tree.rglob("*"):
        if ".git" not in path.relative_to(tree).parts[:1]:
            os.utime(path, (epoch, epoch), follow_symlinks=False)


class Build:
    name = "build sdist and wheel"

    def describe(self, ctx: Context, plan: ReleasePlan) -> list[str]:
        return [
            f"export {plan.tag} into a clean directory; SOURCE_DATE_EPOCH from the commit",
            f"python -m build: sdist, then the wheel from the sdist, version {plan.version}",
            "the sdist normalised (sorted members, clamped mtimes, fixed gzip header): byte-reproducible",
        ]

    def skip(self, ctx: Context, plan: ReleasePlan) -> str | None:
        return None

    def run(self, ctx: Context, plan: ReleasePlan) -> None:
        ctx.build_dir = Path(tempfile.mkdtemp(prefix=f"hoist-{ctx.config.package}-"))
        ctx.git("clone", "--quiet", "--no-checkout", str(ctx.root), str(ctx.source))
        ctx.runner.run(
            ["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", f"refs/tags/{plan.tag}"],
            cwd=ctx.source,
        )
        out = ctx.build_dir / "python"
        epoch = str(ctx.git.commit_time(plan.tag))
        set_mtimes(ctx.source, int(epoch))
        ctx.runner.run(
            [sys.executable, "-m", "build", "--outdir", str(out), str(ctx.source)],
            env={"SOURCE_DATE_EPOCH": epoch},
            stream=True,
        )
        sdists = sorted(out.glob("*.tar.gz"))
        wheels = sorted(out.glob("*.whl"))
        if len(sdists) != 1 or len(wheels) != 1:
            raise BuildError(f"expected one sdist and one wheel in {out}, found {[p.name for p in out.iterdir()]}")
        ctx.dist.mkdir(exist_ok=True)
        normalize_sdist(sdists[0], int(epoch))
        for kind, built in (("sdist", sdists[0]), ("wheel", wheels[0])):
            check_built(built.name, ctx.config.name, str(plan.version))
            target = ctx.dist / built.name
            shutil.copyfile(built, target)
            ctx.artifacts[kind] = target
