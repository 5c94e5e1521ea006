"""Build the sdist, then the wheel from the sdist, from a clean export of the tag.

pypa/build's :class:`~build.ProjectBuilder` builds the wheel from the
unpacked sdist, which proves the sdist is complete, as ``python -m build``
does; the backend runs in a virtualenv that holds ``[build-system] requires``
and is kept between releases (:class:`hoist.backend.BackendEnv`, the one the
plan's tag check uses), instead of two isolated ones made and filled anew
for every release.  The export is a fresh clone checked out at the tag, so
nothing in the working tree (untracked files, local edits) can reach an
artifact, and the version plugin sees exactly the tag.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from ..backend import BackendEnv, build_distributions, version_overrides
from ..context import Context, ReleasePlan
from ..errors import BuildError
from ..manifest import Artifact
from ..products import BuildBackend, Export, Products
from ..pyproject import read_pyproject
from ..reproducible import normalize_sdist


def check_built(filename: str, project: str, version: str, tracked: list[str] = ()) -> None:
    """The artifact *filename* is *project* at *version* (PEP 625 / PEP 427 names).

    :param tracked: the files git tracks at the tag, for the hint.
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
        overrides = version_overrides(list(tracked))
        raise BuildError(
            f"built {filename} has version {built}, but the release is {version}",
            (f"committed in the repository, {', '.join(overrides)} may set the version: remove it from git "
             "(the backend writes it at build time), or " if overrides else "")
            + "check the version plugin's settings (tool.hoist.tag_prefix must match its tag pattern); "
            "the version must come from the git tag alone",
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


@dataclass(frozen=True)
class BuildPlan:
    """Export *tag* into a clean directory, then build there with the backend.

    :ivar source_date_epoch: the tag's commit time, given to the build and to
        every file of the export (seconds since the epoch).
    :ivar backend: ``[build-system] build-backend`` (PEP 517).
    :ivar environment: the virtualenv the backend runs in (made if missing).
    :ivar sdist: the sdist's file name (PEP 625); the wheel's follows from it.
    """

    tag: str
    source_date_epoch: int
    backend: str
    environment: str
    sdist: str
    normalise_sdist: bool = True


class Build:
    name = "build sdist and wheel"

    def plan(self, ctx: Context, release: ReleasePlan) -> BuildPlan:
        pyproject = read_pyproject(ctx.root)
        return BuildPlan(
            tag=release.tag,
            source_date_epoch=int(release.moment.timestamp()),
            backend=pyproject.get("build-system", {}).get("build-backend", "setuptools.build_meta:__legacy__"),
            environment=str(BackendEnv.of(ctx.runner, pyproject).path),
            sdist=f"{canonicalize_name(ctx.config.name).replace('-', '_')}-{release.version}.tar.gz",
        )

    def run(self, ctx: Context, release: ReleasePlan, plan: BuildPlan, made: Products) -> Products:
        assert ctx.work is not None, "a release runs in a work directory"
        source = ctx.work / "src"
        ctx.git("clone", "--quiet", "--no-checkout", str(ctx.git.root), str(source))
        ctx.runner.run(
            ["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", f"refs/tags/{plan.tag}"],
            cwd=source,
        )
        epoch = ctx.git.commit_time(plan.tag)
        if epoch != plan.source_date_epoch:
            raise BuildError(f"{plan.tag} is dated {epoch}, not {plan.source_date_epoch} as planned",
                             "the tag changed since planning: run again")
        out = ctx.work / "python"
        set_mtimes(source, epoch)
        project = source / ctx.subdir
        sdist, wheel, pins = build_distributions(ctx.runner, project, out, epoch)
        ctx.dist.mkdir(parents=True, exist_ok=True)
        if plan.normalise_sdist:
            normalize_sdist(sdist, epoch)
        built = [Export(project, epoch), BuildBackend(pins)]
        tree = plan.tag if ctx.subdir == "." else f"{plan.tag}:{ctx.subdir}"  # paths relative to the project
        tracked = ctx.git.out("ls-tree", "-r", "--name-only", tree).splitlines()
        for kind, path in (("sdist", sdist), ("wheel", wheel)):
            check_built(path.name, ctx.config.name, str(release.version), tracked)
            target = ctx.dist / path.name
            shutil.copyfile(path, target)
            built.append(Artifact.of(kind, target))
        return made.add(*built)
