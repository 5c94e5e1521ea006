"""Planning a release: which version, from which commit, with which changes.

Reads the repository and the remote, and changes nothing (``hoist plan`` is
this module plus printing).  The version rule itself is the pure function
:func:`hoist.version.next_version`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from . import changelog
from .config import Config
from .context import Context, ReleasePlan
from .errors import NothingToDo, PreflightError
from .git import Git, ci_names_branch
from .version import CalVer, next_version, versions_from_tags


@dataclass(frozen=True)
class RemoteState:
    """What the git remote holds: its branch head and its tags."""

    branch_head: str | None
    tags: dict[str, str]  # tag name -> commit

    @classmethod
    def read(cls, git: Git, remote: str, branch: str) -> RemoteState:
        refs = git.remote_refs(remote)
        tags = {ref.removeprefix("refs/tags/"): sha for ref, sha in refs.items() if ref.startswith("refs/tags/")}
        return cls(refs.get(f"refs/heads/{branch}"), tags)


def remote_state(ctx: Context) -> RemoteState:
    """The git remote's branch head and tags (empty for a local remote not made yet)."""
    if ctx.targets.local is not None and not (ctx.targets.local.git_remote / "HEAD").exists():
        return RemoteState(None, {})
    return RemoteState.read(ctx.git, ctx.targets.git.remote, ctx.config.branch)


def check_in_sync(git: Git, config: Config, remote: RemoteState, remote_name: str, *, fetch: bool) -> None:
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
    if theirs is None or theirs == head:
        return
    known = git("cat-file", "-e", f"{theirs}^{{commit}}", check=False).ok
    if not known and fetch:
        git("fetch", "--quiet", remote_name, f"refs/heads/{config.branch}")
        known = True
    if known and git.is_ancestor(theirs, head):
        return  # HEAD is ahead: the push fast-forwards the branch.
    if known and git.is_ancestor(head, theirs):
        if versions_from_tags([t for t, sha in remote.tags.items() if sha == head], config.tag_prefix):
            return  # HEAD is a pushed release that later commits build on: resuming it publishes what it lacks.
        between = git.out("rev-list", f"{head}..{theirs}").split()
        if len(between) == 1 and git.release_marker(theirs):
            tag = next((t for t, sha in remote.tags.items() if sha == theirs), git.release_marker(theirs))
            raise NothingToDo(
                f"HEAD {head[:12]} was released by another run as {tag}",
                "git pull, then `hoist status` shows its state (and `hoist release` completes it)",
            )
        if ci_names_branch(git):
            # A CI build of a commit that the branch moved past while it ran:
            # the build of the newer commit releases this one's changes too.
            raise NothingToDo(
                f"{config.branch!r} on the remote is at {theirs[:12]}, which contains HEAD {head[:12]}",
                "the build of the newer commit releases it",
            )
    raise PreflightError(
        f"{config.branch!r} on the remote {remote_name!r} has commits that HEAD does not",
        f"git pull --rebase {remote_name} {config.branch}, test, then run again",
    )


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
    at_head = versions_from_tags(git.tags_at(head), prefix)
    remote_at_head = versions_from_tags([t for t, sha in remote.tags.items() if sha == head], prefix)
    marker = CalVer.parse(git.release_marker(head) or "")
    if at_head or remote_at_head or marker:
        version = max(at_head + remote_at_head) if (at_head or remote_at_head) else marker
        assert version is not None
        tag = version.tag(prefix)
        if remote.tags.get(tag, head) != head:
            raise PreflightError(
                f"tag {tag} on the remote points at {remote.tags[tag][:12]}, not at HEAD {head[:12]}",
                "the tag was claimed by another release: check out that tag, or make a new commit",
            )
        moment = datetime.fromtimestamp(git.commit_time(head), timezone.utc)
        return ReleasePlan(version, tag, True, head, None, (), moment, "", config.distribution, config.component)
    version = next_version([*local_tags, *remote.tags], now, prefix)
    earlier = [v for v in versions_from_tags(local_tags, prefix) if v < version and git.is_ancestor(v.tag(prefix), head)]
    previous = max(earlier).tag(prefix) if earlier else None
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
        subjects=tuple(git.subjects(previous)),
        moment=moment,
        author=f"{name} <{email}>",
        distribution=config.distribution,
        component=config.component,
    )
