"""Planning a release: which version, from which commit, with which changes.

Reads the repository and the git remote, and changes nothing but, for a
release, a fetch (``hoist plan`` is this module plus printing).  What the
readings mean is decided by the pure functions of :mod:`hoist.decisions`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from . import changelog, decisions
from .config import Config
from .context import ReleasePlan
from .decisions import Sync
from .errors import NothingToDo, PreflightError
from .git import Git, ci_names_branch
from .targets.git import GitRemote, RemoteState
from .version import CalVer, calendar_version, next_version, versions_from_tags


def relation(git: Git, head: str, theirs: str | None) -> str:
    """How HEAD stands to the remote branch's head *theirs* (:mod:`hoist.decisions`)."""
    if theirs is None:
        return decisions.NO_BRANCH
    if theirs == head:
        return decisions.SAME
    if git.is_ancestor(theirs, head):
        return decisions.AHEAD
    if git.is_ancestor(head, theirs):
        return decisions.BEHIND
    return decisions.DIVERGED


def check_in_sync(git: Git, config: Config, remote: RemoteState, origin: GitRemote, *, fetch: bool) -> None:
    """HEAD is not behind the remote's branch.

    :param fetch: fetch the remote branch when its head is unknown locally
        (a release does; ``hoist plan`` does not).
    :raises NothingToDo: the remote is ahead only by the release commit of
        HEAD (another run released it), or, in a CI build, the branch has
        moved past HEAD (the newer commit's build releases it).
    :raises PreflightError: the remote branch has commits HEAD lacks (unless
        HEAD is a release whose tag is on the remote: that release is resumed).
    """
    head = git.head()
    theirs = remote.branch_head
    if theirs is not None and theirs != head and not git("cat-file", "-e", f"{theirs}^{{commit}}", check=False).ok:
        if not fetch:
            raise PreflightError(
                f"{config.branch!r} on the remote {origin.remote!r} is at {theirs[:12]}, which this clone has not fetched",
                f"git pull --rebase {origin.remote} {config.branch}, test, then run again (as hoist release would say "
                "once it has fetched)",
            )
        origin.fetch(f"refs/heads/{config.branch}")
    where = relation(git, head, theirs)
    released = versions_from_tags([t for t, sha in remote.tags.items() if sha == head], config.tag_prefix)
    one_release_ahead = (
        where == decisions.BEHIND
        and git.out("rev-list", "--count", f"{head}..{theirs}") == "1"
        and git.release_marker(theirs) is not None
    )
    outcome = decisions.sync(where, head_released_on_remote=bool(released),
                             only_a_release_commit_ahead=one_release_ahead, ci=ci_names_branch(git))
    if outcome is Sync.RELEASED_ELSEWHERE:
        assert theirs is not None
        tag = next((t for t, sha in remote.tags.items() if sha == theirs), git.release_marker(theirs))
        raise NothingToDo(
            f"HEAD {head[:12]} was released by another run as {tag}",
            "git pull, then `hoist status` shows its state (and `hoist release` completes it)",
        )
    if outcome is Sync.SUPERSEDED:
        assert theirs is not None
        # A CI build of a commit that the branch moved past while it ran:
        # the build of the newer commit releases this one's changes too.
        raise NothingToDo(
            f"{config.branch!r} on the remote is at {theirs[:12]}, which contains HEAD {head[:12]}",
            "the build of the newer commit releases it",
        )
    if outcome is Sync.BEHIND:
        raise PreflightError(
            f"{config.branch!r} on the remote {origin.remote!r} has commits that HEAD does not",
            f"git pull --rebase {origin.remote} {config.branch}, test, then run again",
        )


def complete_history(git: Git, config: Config, remote: RemoteState, origin: GitRemote, *, fetch: bool) -> bool:
    """Make the history a changelog entry is written from complete: every
    release tag of the remote, and every commit (a shallow clone, the default
    of many CI systems, holds only the last ones).

    :param fetch: fetch what is missing (``git fetch --tags``, with
        ``--unshallow`` for a shallow clone); without it, refuse.
    :returns: whether anything was fetched.
    :raises PreflightError: something is missing and *fetch* is false.
    """
    local = set(git.local_tags())
    missing = sorted(t for t in remote.tags if t not in local and versions_from_tags([t], config.tag_prefix))
    shallow = git.out("rev-parse", "--is-shallow-repository") == "true"
    if not (missing or shallow):
        return False
    if not fetch:
        what = "is shallow" if shallow else f"lacks the release tags {', '.join(missing[:3])}"
        raise PreflightError(
            f"this clone {what}: the changelog would list the wrong commits",
            f"git fetch{' --unshallow' if shallow else ''} --tags {origin.remote}, then run again "
            "(hoist release fetches them itself)",
        )
    git("fetch", "--quiet", *(["--unshallow"] if shallow else []), "--tags", origin.remote, mutates=True)
    return True


def make_plan(git: Git, config: Config, remote: RemoteState, now: datetime | None = None) -> ReleasePlan:
    """Plan the release of HEAD.

    A HEAD that a release tag points at is resumed with that tag's version;
    otherwise the next ``YY.MM.NN`` after every tag known locally or remotely.

    :raises PreflightError: HEAD's release tag exists on the remote at
        another commit.
    """
    now = now or datetime.now(timezone.utc)
    head = git.head()
    prefix = config.tag_prefix
    local_tags = git.local_tags()
    at_head = [*git.tags_at(head), *(t for t, sha in remote.tags.items() if sha == head)]
    resumed = decisions.head_version(versions_from_tags(at_head, prefix), CalVer.parse(git.release_marker(head) or ""))
    if resumed is not None:
        tag = resumed.tag(prefix)
        if remote.tags.get(tag, head) != head:
            raise PreflightError(
                f"tag {tag} on the remote points at {remote.tags[tag][:12]}, not at HEAD {head[:12]}",
                "the tag was claimed by another release: check out that tag, or make a new commit",
            )
        moment = datetime.fromtimestamp(git.commit_time(head), timezone.utc)
        return ReleasePlan(resumed, tag, True, head, None, (), moment, "", config.distribution, config.component)
    version = next_version([*local_tags, *remote.tags], now, prefix)
    calendar = calendar_version([*local_tags, *remote.tags], now, prefix)
    notes = ()
    if version != calendar:
        notes = (f"the newest release, {prefix}{version.year}.{version.month}.{version.serial - 1}, is dated "
                 f"after this machine's clock ({now:%Y-%m-%d %H:%M} UTC, which would give {calendar}): this "
                 f"release continues its month as {version}, so that servers still upgrade; check the clock "
                 "of the machine that made it",)
    earlier = [v for v in versions_from_tags(local_tags, prefix) if v < version and git.is_ancestor(v.tag(prefix), head)]
    previous = max(earlier).tag(prefix) if earlier else None
    subjects = git.subjects(previous, path=git.path_of(config.root))
    shown = tuple(changelog.printable(s) for s in subjects)
    changed = [s for s, p in zip(subjects, shown) if s != p]
    if changed:
        notes = (*notes, f"{len(changed)} commit subject(s) hold control characters, written into the changelog "
                         f"as shown, not obeyed: {', '.join(changelog.printable(s) for s in changed[:3])}")
    name, email = git.ident()
    # lintian (latest-changelog-entry-without-new-date): each entry is newer than the one before.
    newest = changelog.newest_date(config.root / "debian" / "changelog")
    moment = now.replace(microsecond=0)
    if newest is not None and moment <= newest:
        moment = newest + timedelta(seconds=1)
    return ReleasePlan(
        version=version,
        tag=version.tag(prefix),
        resume=False,
        base=head,
        previous_tag=previous,
        subjects=shown,
        moment=moment,
        author=f"{name} <{email}>",
        distribution=config.distribution,
        component=config.component,
        notes=notes,
    )
