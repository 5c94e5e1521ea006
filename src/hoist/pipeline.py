"""The release pipeline: the ordered list of steps, and the loop that runs it.

The order is the design (DESIGN.md, "The pipeline"): everything that can fail
without touching a target runs before the push, and the push, the only
transaction among the targets, claims the version before anything is
published.
"""

from __future__ import annotations

import errno
import shutil

from packaging.version import Version

from .aptly import Aptly
from .context import Context, ReleasePlan
from .errors import BuildError, HoistError, NothingToDo, PushRejectedError
from .manifest import Manifest
from .planning import check_in_sync, make_plan, remote_state
from .preflight import check_project, check_repository, check_tools
from .runner import DISK_FULL_HINT
from .status import release_states, version_of
from .steps import Step
from .steps.build import Build
from .steps.confirm import Confirm
from .steps.deb import Deb
from .steps.publish_apt import PublishApt
from .steps.publish_index import PublishIndex
from .steps.push import Push
from .steps.tag import Tag
from .steps.verify import Verify
from .steps.wheelhouse import Wheelhouse

STEPS: list[Step] = [
    Tag(),           # the changelog entry and the release commit and tag, locally: nothing leaves the machine
    Build(),         # sdist and wheel from a clean export of the tag, so the version is the tag's
    Wheelhouse(),    # every dependency, hash-checked, before the build: the .deb build needs no network
    Deb(),           # the .deb from the same export, installing the wheel just built
    Verify(),        # twine check, lintian, versions: the last chance to stop with nothing published
    Push(),          # git push --atomic claims the version; a loser has published nothing
    PublishIndex(),  # the index refuses re-uploads, so it is read first and only missing files go up
    PublishApt(),    # then the apt repository, whose publish switch moves servers to the new version
    Confirm(),       # read every target back; release.json says what is published, not what was meant
]


def prepare(ctx: Context, *, fetch: bool) -> ReleasePlan:
    """Run the preflight checks and plan the release (no side effect but a fetch).

    :raises HoistError: whatever the checks find.
    """
    check_project(ctx.config)
    check_tools(ctx.runner, needs_apt=ctx.targets.apt is not None or ctx.targets.local is not None)
    check_repository(ctx.git, ctx.config)
    if ctx.targets.local is not None and fetch:
        ctx.targets.local.ensure()
    remote = remote_state(ctx)
    check_in_sync(ctx.git, ctx.config, remote, ctx.targets.git.remote, fetch=fetch)
    return make_plan(ctx.git, ctx.config, remote)


def recorded(ctx: Context, plan: ReleasePlan) -> bool:
    """Whether this clone has nothing left to record of *plan*'s release.

    True when ``dist/release.json`` records the release as held by every
    target, or when ``dist/`` holds no artifact of that version (the release
    was made elsewhere).  False when a run here built the artifacts but
    stopped before writing the manifest: that run is finished.
    """
    try:
        manifest = Manifest.read(ctx.dist / "release.json")
    except (OSError, ValueError, TypeError):
        manifest = None
    if manifest is not None and manifest.version == str(plan.version):
        return manifest.commit == plan.base and all(
            state.get("state") in ("published", "not configured") for state in manifest.targets.values()
        )
    built = ctx.dist.glob("*") if ctx.dist.is_dir() else ()
    return not any(version_of(path.name) == Version(str(plan.version)) for path in built)


def check_signing(ctx: Context, plan: ReleasePlan) -> None:
    """Fail before anything changes when the apt repository's key cannot sign.

    :raises PreflightError: the key is missing or the passphrase is wrong.
    """
    target = ctx.apt_target()
    if target is not None:
        Aptly(ctx.runner, target, plan.distribution, plan.component, ctx.secrets.gpg_passphrase).check_signing()


def describe(ctx: Context, plan: ReleasePlan) -> list[tuple[str, list[str]]]:
    """Every step's plan, as (step name, lines)."""
    out = []
    for step in STEPS:
        reason = step.skip(ctx, plan)
        out.append((step.name, [f"skipped: {reason}"] if reason else step.describe(ctx, plan)))
    return out


def _undo_local_release(ctx: Context, plan: ReleasePlan) -> None:
    """Drop the local release commit and tag of a run that lost the push."""
    if plan.resume:
        return
    ctx.git("tag", "-d", plan.tag, mutates=True, check=False)
    ctx.git("reset", "--quiet", "--hard", plan.base, mutates=True)


def _disk_full(exc: OSError) -> HoistError | None:
    """The error to report for an OSError of hoist's own, if it is a full disk (ENOSPC)."""
    if exc.errno != errno.ENOSPC:
        return None
    return BuildError(f"out of disk space writing {exc.filename or 'a file'}", DISK_FULL_HINT)


def run_steps(ctx: Context, plan: ReleasePlan) -> None:
    """Run every step in order.

    A step that fails before the push has changed nothing outside this
    clone: the local release commit and tag are undone, so that the next run,
    after the fix, plans afresh instead of resuming the failed tag.
    """
    claimed = False
    for step in STEPS:
        reason = step.skip(ctx, plan)
        if reason:
            ctx.ui.skip(step.name, reason)
        else:
            try:
                with ctx.ui.step(step.name):
                    step.run(ctx, plan)
            except (HoistError, OSError) as exc:
                error = exc if isinstance(exc, HoistError) else _disk_full(exc)
                if error is None:
                    raise
                if not claimed and not plan.resume and not isinstance(error, PushRejectedError):
                    _undo_local_release(ctx, plan)
                    error.hint = (error.hint + "; " if error.hint else "") + (
                        f"nothing left this machine: the local release commit and tag {plan.tag} were undone")
                if error is exc:
                    raise
                raise error from exc
        claimed = claimed or isinstance(step, Push)


def release(ctx: Context, confirm=None) -> ReleasePlan | None:
    """Release HEAD: plan, then run every step; on a lost push, undo and retry.

    :param confirm: called with the plan before anything changes; returning
        False stops the release (a maintainer answering "no").
    :returns: the plan that was released, or None when *confirm* said no.
    :raises NothingToDo: HEAD is released already and every target holds it.
    :raises PushRejectedError: the push lost ``push_retries`` times.
    """
    attempts = max(1, ctx.config.push_retries)
    for attempt in range(1, attempts + 1):
        plan = prepare(ctx, fetch=True)
        if plan.resume:
            states = release_states(ctx, str(plan.version), plan.tag, plan.base)
            # Without the manifest (a run stopped before Confirm) the release goes
            # on: the artifacts rebuild byte-identical, every upload is skipped,
            # and Confirm writes dist/release.json.
            if all(s.state == "published" for s in states) and recorded(ctx, plan):
                raise NothingToDo(f"{plan.tag} is released and every target holds it", "`hoist status` shows each target")
            if plan.tag not in ctx.git.local_tags():
                ctx.git("fetch", "--quiet", ctx.targets.git.remote, f"refs/tags/{plan.tag}:refs/tags/{plan.tag}", mutates=True)
        check_signing(ctx, plan)
        if confirm is not None and attempt == 1 and not confirm(plan):
            return None
        try:
            run_steps(ctx, plan)
            return plan
        except PushRejectedError as exc:
            _undo_local_release(ctx, plan)
            if attempt == attempts:
                raise PushRejectedError(
                    f"{exc.message} ({attempts} attempts)",
                    "another release keeps winning the race: run again later",
                ) from None
            ctx.ui.line(f"push rejected ({exc.message}); fetching and planning again")
            ctx.git("fetch", "--quiet", "--tags", ctx.targets.git.remote, check=False)
        finally:
            if ctx.build_dir is not None:
                shutil.rmtree(ctx.build_dir, ignore_errors=True)
                ctx.build_dir = None
    raise AssertionError("unreachable")
