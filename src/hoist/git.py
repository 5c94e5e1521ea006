"""Git, through the runner: the reads hoist needs and the writes of a release.

The release commit carries the trailer ``Hoist-Release: <version>`` (see
git-interpret-trailers(1)); that trailer is the marker by which hoist, and CI,
recognise a commit that hoist made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import PreflightError
from .runner import Result, Runner

#: The trailer that marks a release commit.
RELEASE_TRAILER = "Hoist-Release"

#: Environment variables in which CI products name the branch being built on
#: a detached HEAD (Jenkins multibranch: BRANCH_NAME; the Jenkins git plugin:
#: GIT_BRANCH, e.g. ``origin/master``).
BRANCH_VARIABLES = ("BRANCH_NAME", "GIT_BRANCH")

#: Paths hoist writes in a working tree and ignores when checking it is clean.
OWN_PATHS = ("dist/",)


@dataclass
class Git:
    """A git repository driven by the runner.

    :param runner: the runner that executes ``git``.
    :param root: the top level of the working tree.
    """

    runner: Runner
    root: Path

    def __call__(self, *args: str, mutates: bool = False, check: bool = True, env: dict[str, str] | None = None) -> Result:
        return self.runner.run(["git", *args], cwd=self.root, mutates=mutates, check=check, env=env)

    def out(self, *args: str) -> str:
        """Standard output of a read-only git command, stripped."""
        return self(*args).stdout.strip()

    @classmethod
    def open(cls, runner: Runner, path: Path) -> Git:
        """The repository that contains *path*.

        :raises PreflightError: *path* is not inside a git working tree.
        """
        result = runner.run(["git", "rev-parse", "--show-toplevel"], cwd=path, check=False)
        if not result.ok:
            raise PreflightError(
                f"{path} is not a git repository",
                "run hoist in a clone of the project (git init; git add; git commit first for a new one)",
            )
        return cls(runner, Path(result.stdout.strip()))

    def branch(self) -> str | None:
        """The checked-out branch, or None on a detached HEAD."""
        result = self("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return result.stdout.strip() if result.ok else None

    def head(self) -> str:
        """The full commit id of HEAD.

        :raises PreflightError: the repository has no commit yet.
        """
        result = self("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        if not result.ok:
            raise PreflightError("the repository has no commit yet", "commit the project first")
        return result.stdout.strip()

    def changed_files(self, project: str = ".") -> list[str]:
        """Tracked files with changes and untracked files of the whole working
        tree, except hoist's own ``dist/`` of the project at *project* (its
        path in the repository, see :meth:`path_of`)."""
        own = tuple(p if project == "." else f"{project}/{p}" for p in OWN_PATHS)
        out = self("status", "--porcelain=v1", "-z", "--untracked-files=all").stdout
        paths = []
        for entry in out.split("\0"):
            if len(entry) > 3:
                path = entry[3:]
                if not path.startswith(own):
                    paths.append(path)
        return paths

    def path_of(self, directory: Path) -> str:
        """*directory*'s path in the repository, as git writes paths (``.`` for the top level)."""
        return Path(directory).resolve().relative_to(self.root.resolve()).as_posix()

    def local_tags(self) -> list[str]:
        return self.out("tag", "--list").splitlines()

    def remote_refs(self, remote: str) -> dict[str, str]:
        """Refs of *remote* as ``{refname: commit}`` (tags peeled to their commit).

        :raises PreflightError: the remote cannot be read.
        """
        result = self("ls-remote", remote, check=False)
        if not result.ok:
            raise PreflightError(
                f"cannot read the git remote {remote!r}: {result.stderr.strip()}",
                "check the remote's URL and your access to it (git ls-remote)",
            )
        refs: dict[str, str] = {}
        for line in result.stdout.splitlines():
            commit, _, ref = line.partition("\t")
            if ref.endswith("^{}"):
                refs[ref[:-3]] = commit  # the peeled commit of an annotated tag wins
            else:
                refs.setdefault(ref, commit)
        return refs

    def tags_at(self, rev: str) -> list[str]:
        return self.out("tag", "--points-at", rev).splitlines()

    def release_marker(self, rev: str = "HEAD") -> str | None:
        """The version named by *rev*'s ``Hoist-Release`` trailer, or None."""
        value = self.out("log", "-1", f"--format=%(trailers:key={RELEASE_TRAILER},valueonly)", rev)
        return value.splitlines()[0].strip() if value else None

    def commit_time(self, rev: str) -> int:
        """Committer time of *rev*, in seconds since the epoch."""
        return int(self.out("log", "-1", "--format=%ct", rev))

    def subjects(self, since: str | None, until: str = "HEAD", path: str = ".") -> list[str]:
        """Subjects of the commits in ``since..until``, oldest first, no merges,
        without hoist's own release commits; with *path* (a project in a
        subdirectory, see :meth:`path_of`), only the commits that touch it.

        Fields and records are separated by NUL, the one byte a commit message
        cannot hold, so that no byte of a subject can cut it or mark it.
        """
        span = f"{since}..{until}" if since else until
        out = self("log", "-z", "--reverse", "--no-merges",
                   "--format=%s%x00%(trailers:key=" + RELEASE_TRAILER + ",valueonly)", span,
                   *(["--", path] if path != "." else [])).stdout
        fields = out.split("\0")
        subjects = []
        for subject, marker in zip(fields[0::2], fields[1::2]):
            if subject.strip() and not marker.strip():
                subjects.append(subject.strip())
        return subjects

    def is_ancestor(self, ancestor: str, rev: str) -> bool:
        return self("merge-base", "--is-ancestor", ancestor, rev, check=False).ok

    def ident(self) -> tuple[str, str]:
        """The committer's (name, email), as git would record them."""
        ident = self.out("var", "GIT_COMMITTER_IDENT")
        name_email = ident.rsplit(" ", 2)[0]
        name, _, email = name_email.partition(" <")
        return name.strip(), email.rstrip(">").strip()


def ci_names_branch(git: Git) -> bool:
    """Whether this is a CI build: a detached HEAD, or a branch CI names in
    :data:`BRANCH_VARIABLES`."""
    return git.branch() is None or any(os.environ.get(name) for name in BRANCH_VARIABLES)


def built_branch(git: Git) -> str | None:
    """The branch being built: the checked-out one or, on a detached HEAD,
    the one CI names in :data:`BRANCH_VARIABLES`."""
    branch = git.branch()
    if branch:
        return branch
    for name in BRANCH_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value.removeprefix("origin/")
    return None
