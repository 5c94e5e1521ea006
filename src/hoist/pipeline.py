"""The release pipeline: the ordered list of steps, and the loop that runs it.

The order is the design (DESIGN.md, "The pipeline"): everything that can fail
without touching a target runs before the push, and the push, the only
transaction among the targets, claims the version before anything is
published.
"""

from __future__ import annotations

import errno
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import decisions
from .context import Context, ReleasePlan
from .errors import BuildError, HoistError, NothingToDo, PushRejectedError
from .manifest import Manifest, version_of
from .planning import check_in_sync, complete_history, make_plan
from .preflight import (
    check_archive,
    check_identity,
    check_project,
    check_repository,
    check_tag_version,
    check_tools,
)
from .products import Products
from .runner import DISK_FULL_HINT
from .steps import Skip, Step
from .steps.build import Build
from .steps.checksums import Checksums
from .steps.confirm import Confirm
from .steps.deb import Deb
from .steps.publish import Publish
from .steps.source_release import SourceRelease
from .steps.tag import Tag
from .steps.verify import Verify
from .steps.wheelhouse import CollectWheelhouse
from .targets import PUBLISHED, Targets


def steps(targets: Targets) -> list[Step]:
    """The steps of a release to *targets*, in order."""
    return [
        Tag(),                 # the changelog entry and the release commit and tag, locally: nothing leaves the machine
        Build(),               # sdist and wheel from a clean export of the tag, so the version is the tag's
        CollectWheelhouse(),   # every dependency, hash-checked, collected before the .deb build, which then needs no network
        Deb(),                 # the .deb from the same export, installing the wheel just built
        SourceRelease(),       # the sdist, debian/ and every wheel in one file: a rebuild needs no network
        Verify(),              # twine check, lintian, versions, the targets' files: the last stop with nothing published
        Checksums(),           # SHA256SUMS of the artifacts, signed with the apt repository's key
        # The git remote first: its atomic push claims the version, and a run
        # that loses it has published nothing.  Then every other target, each
        # of which publishes only what it lacks (the apt switch moves servers).
        *(Publish(target) for target in targets.all),
        Confirm(),             # read every target back; release.json says what is published, not what was meant
    ]


def prepare(ctx: Context, *, fetch: bool, tag_check: bool = True, archive_check: bool = True) -> ReleasePlan:
    """Run the preflight checks and plan the release (no side effect but a fetch).

    :param tag_check: ask the build backend for the planned tag's version
        here (:func:`hoist.preflight.check_tag_version`); a release does it
        while the targets are checked instead.
    :param archive_check: look the package's name and links up in Debian's
        archive here (:func:`hoist.preflight.check_archive`); a release
        does it while the backend answers for the tag.
    :raises HoistError: whatever the checks find.
    """
    check_project(ctx.config)
    check_tools(ctx.runner)
    if archive_check:
        check_archive(ctx.config, ctx.runner)
    check_repository(ctx.git, ctx.config)
    check_identity(ctx.git)
    origin = ctx.targets.git
    remote = origin.refs()
    check_in_sync(ctx.git, ctx.config, remote, origin, fetch=fetch)
    plan = make_plan(ctx.git, ctx.config, remote)
    if not plan.resume and complete_history(ctx.git, ctx.config, remote, origin, fetch=fetch):
        plan = make_plan(ctx.git, ctx.config, remote)
    if not plan.resume and tag_check:
        check_tag_version(ctx.config, ctx.runner, plan.tag, str(plan.version))
    return plan


def describe(ctx: Context, release: ReleasePlan) -> list[tuple[str, Any]]:
    """Every step's plan, as (step name, the frozen value its run carries out, or a :class:`Skip`)."""
    return [(step.name, step.plan(ctx, release)) for step in steps(ctx.targets)]


def finished_here(ctx: Context, release: ReleasePlan) -> bool:
    """Whether this clone has nothing left to record of *release* (see :func:`hoist.decisions.finished_here`)."""
    try:
        manifest = Manifest.read(ctx.dist / "release.json")
        recorded = (manifest.version, manifest.commit, manifest.complete())
    except (OSError, ValueError):
        recorded = None
    built = [str(v) for p in (ctx.dist.iterdir() if ctx.dist.is_dir() else ()) if (v := version_of(p.name))]
    return decisions.finished_here(str(release.version), release.base, manifest=recorded, built_versions=built)


def _undo_local_release(ctx: Context, release: ReleasePlan) -> None:
    """Drop the local release commit and tag of a run that did not claim its version."""
    if release.resume:
        return
    ctx.git("tag", "-d", release.tag, mutates=True, check=False)
    ctx.git("reset", "--quiet", "--hard", release.base, mutates=True)


def _disk_full(exc: OSError) -> HoistError | None:
    """The error to report for an OSError of hoist's own, if it is a full disk (ENOSPC)."""
    if exc.errno != errno.ENOSPC:
        return None
    return BuildError(f"out of disk space writing {exc.filename or 'a file'}", DISK_FULL_HINT)


def run_steps(ctx: Context, release: ReleasePlan) -> Products:
    """Run every step in order; return what they made.

    A step that fails before the push has changed nothing outside this
    clone: the local release commit and tag are undone, so that the next run,
    after the fix, plans afresh instead of resuming the failed tag.
    """
    claimed = False
    made = Products()
    for step in steps(ctx.targets):
        plan = step.plan(ctx, release)
        if isinstance(plan, Skip):
            ctx.ui.skip(step.name, plan.reason)
            continue
        try:
            with ctx.ui.step(step.name):
                made = step.run(ctx, release, plan, made)
        except (HoistError, OSError) as exc:
            error = exc if isinstance(exc, HoistError) else _disk_full(exc)
            if error is None:
                raise
            if not claimed and not release.resume and not isinstance(error, PushRejectedError):
                _undo_local_release(ctx, release)
                error.hint = (error.hint + "; " if error.hint else "") + (
                    f"nothing left this machine: the local release commit and tag {release.tag} were undone")
            if error is exc:
                raise
            raise error from exc
        claimed = claimed or (isinstance(step, Publish) and step.target.claims)
    return made


def release(ctx: Context, confirm: Callable[[ReleasePlan], bool] | None = None) -> tuple[ReleasePlan, Products] | None:
    """Release HEAD: plan, check the targets, then run every step; on a lost push, undo and retry.

    :param confirm: called with the plan before anything changes; returning
        False stops the release (a maintainer answering "no").
    :returns: the plan that was released and what its steps made, or None
        when *confirm* said no.
    :raises NothingToDo: HEAD is released already and every target holds it.
    :raises PushRejectedError: the push lost ``push_retries`` times.
    """
    attempts = max(1, ctx.config.push_retries)
    origin = ctx.targets.git
    for attempt in range(1, attempts + 1):
        plan = prepare(ctx, fetch=True, tag_check=False, archive_check=False)
        for note in plan.notes:
            ctx.ui.line(f"note: {note}", style="yellow")
        if plan.resume:
            states = [t.state(plan.ref(plan.base)) for t in ctx.targets.all]
            # Without the manifest (a run stopped before Confirm) the release goes
            # on: the artifacts rebuild byte-identical, every upload is skipped,
            # and Confirm writes dist/release.json.
            if all(s.state == PUBLISHED for s in states) and finished_here(ctx, plan):
                raise NothingToDo(f"{plan.tag} is released and every target holds it", "`hoist status` shows each target")
            if plan.tag not in ctx.git.local_tags():
                origin.fetch(f"refs/tags/{plan.tag}:refs/tags/{plan.tag}")
        # The backend's answer for the planned tag (a process of its own)
        # while Debian's archive is looked up (apt-cache, apt-file), each
        # seconds when not kept from an earlier run, and then the targets are
        # checked: a clash with Debian's is refused before a target is made.
        with ThreadPoolExecutor(1) as pool:
            tag_version = None if plan.resume else pool.submit(
                check_tag_version, ctx.config, ctx.runner, plan.tag, str(plan.version))
            check_archive(ctx.config, ctx.runner)
            for target in ctx.targets.all:
                target.prepare()
                target.check(plan.ref(None))
            if tag_version is not None:
                tag_version.result()
        if confirm is not None and attempt == 1 and not confirm(plan):
            return None
        work = Path(tempfile.mkdtemp(prefix=f"hoist-{ctx.config.package}-"))
        try:
            return plan, run_steps(replace(ctx, work=work), plan)
        except PushRejectedError as exc:
            _undo_local_release(ctx, plan)
            if attempt == attempts:
                raise PushRejectedError(
                    f"{exc.message} ({attempts} attempts)",
                    "another release keeps winning the race: run again later",
                ) from None
            ctx.ui.line(f"push rejected ({exc.message}); fetching and planning again")
            origin.fetch()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    raise AssertionError("unreachable")
