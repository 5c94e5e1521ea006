"""The git remote: receives the release commit and tag, atomically.

Of the targets, only ``git push --atomic`` is a transaction (git-push(1)):
either the branch and the tag both move or neither does.  That push is
therefore the lock that claims a version, and this target is published
before every other one.  Its refs are also what planning reads: the newest
release tags and the branch head.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import CommandError, PreflightError, PushRejectedError
from ..manifest import Artifact
from ..redaction import without_userinfo
from .base import CONFLICT, MISSING, PUBLISHED, Env, ReleaseRef, Target, TargetState


@dataclass(frozen=True)
class GitSettings:
    """``[tool.hoist.git]``: the remote that receives the release commit and tag.

    :ivar remote: a remote name of the repository, or a URL or path.
    """

    remote: str = "origin"


@dataclass(frozen=True)
class RemoteState:
    """What the git remote holds: its release branch's head and its tags.

    :ivar branch_head: the commit of the release branch, or None when the
        remote has no such branch (a new remote).
    :ivar tags: ``{tag name: commit}``, annotated tags peeled to their commit.
    """

    branch_head: str | None
    tags: dict[str, str]


@dataclass(frozen=True)
class PushPlan:
    """``git push --atomic <remote> <refspecs>``."""

    remote: str
    refspecs: tuple[str, ...]


class GitRemote(Target):
    """A git remote: a remote name of the repository, or a URL or path.

    :param remote: what ``git push`` and ``git ls-remote`` are given.
    :param env: the project's tools.
    """

    name = "git"
    title = "push to git"
    claims = True

    def __init__(self, remote: str, env: Env, setup: Callable[[], None] | None = None) -> None:
        self.remote = remote
        self.env = env
        self.setup = setup

    @classmethod
    def from_settings(cls, settings: GitSettings, env: Env) -> GitRemote:
        return cls(settings.remote, env)

    def _absent(self) -> bool:
        """Whether the remote is a path of this machine that does not exist (yet)."""
        return self.remote.startswith("/") and not Path(self.remote).exists()

    def refs(self) -> RemoteState:
        """The remote's release branch head and tags (``git ls-remote``); a
        remote path that does not exist yet holds nothing.

        :raises PreflightError: the remote cannot be read.
        """
        if self._absent():
            return RemoteState(None, {})
        refs = self.env.git.remote_refs(self.remote)
        tags = {ref.removeprefix("refs/tags/"): sha for ref, sha in refs.items() if ref.startswith("refs/tags/")}
        return RemoteState(refs.get(f"refs/heads/{self.env.config.branch}"), tags)

    def ref(self, name: str) -> str | None:
        """The object the remote's ref *name* (``refs/...``) points at, or None.

        :raises PreflightError: the remote cannot be read.
        """
        return None if self._absent() else self.env.git.remote_refs(self.remote).get(name)

    def fetch(self, *refspecs: str) -> None:
        """Fetch *refspecs* (all tags when none) from the remote into the repository."""
        if refspecs:
            self.env.git("fetch", "--quiet", self.remote, *refspecs, mutates=True)
        else:
            self.env.git("fetch", "--quiet", "--tags", self.remote, mutates=True, check=False)

    def plan(self, release: ReleaseRef) -> PushPlan:
        tag = f"refs/tags/{release.tag}"
        return PushPlan(without_userinfo(self.remote), (f"HEAD:refs/heads/{self.env.config.branch}", f"{tag}:{tag}"))

    def check(self, release: ReleaseRef) -> None:
        """The remote can be read.

        :raises PreflightError: it cannot, or it is a path that does not exist.
        """
        if self._absent():
            raise PreflightError(f"the git remote {self.remote} does not exist",
                                 f"create it (git init --bare {self.remote}) or set tool.hoist.git.remote")
        self.refs()

    def state(self, release: ReleaseRef, artifacts: Sequence[Artifact] = ()) -> TargetState:
        at = self.refs().tags.get(release.tag)
        if at is None:
            state, detail = MISSING, f"no tag {release.tag}"
        else:
            state = PUBLISHED if release.commit in (None, at) else CONFLICT
            detail = f"{release.tag} at {at[:12]}" + ("" if state == PUBLISHED else f", not at {release.commit[:12]}")
        return TargetState(self.name, state, detail, {"remote": without_userinfo(self.remote), "tag": release.tag})

    def publish(self, release: ReleaseRef, plan: PushPlan, artifacts: Sequence[Artifact]) -> None:
        """Push the release commit and tag in one atomic push.

        :raises PushRejectedError: the remote refused a ref (another release
            claimed the version, or the branch moved).
        :raises CommandError: the push failed otherwise.
        """
        git = self.env.git
        remote = self.refs()
        head = git.head()
        tag = plan.refspecs[-1].rsplit(":", 1)[1].removeprefix("refs/tags/")
        if remote.tags.get(tag) == head and remote.branch_head is not None and git.is_ancestor(head, remote.branch_head):
            self.env.ui.line(f"    the remote already has {tag} at {head[:12]}")
            return
        result = git("push", "--atomic", "--porcelain", self.remote, *plan.refspecs, mutates=True, check=False)
        if result.ok:
            return
        rejected = [line for line in result.stdout.splitlines() if line.startswith("!")]
        if rejected:
            raise PushRejectedError(
                f"the remote refused the release push: {'; '.join(rejected)}",
                "another release claimed the version or the branch moved",
            )
        raise CommandError(
            f"git push to {plan.remote} failed: {self.env.runner.redact(result.stderr.strip())}",
            "check the remote and your access to it, then run again (the release resumes)",
        )
