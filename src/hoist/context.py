"""What a release is (:class:`ReleasePlan`) and the tools its steps use (:class:`Context`).

Both are frozen: a step receives the plan and the context, and hands on what
it makes as typed values (:mod:`hoist.products`), never as fields it fills in
for a later step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .changelog import entry_lines
from .config import Config
from .git import Git
from .runner import Runner
from .secrets import Secrets
from .targets import Env, ReleaseRef, Targets
from .ui import UI
from .version import CalVer


@dataclass(frozen=True)
class ReleasePlan:
    """What a release will do; computed without changing anything.

    :ivar version: the release version.
    :ivar tag: its git tag.
    :ivar resume: HEAD is already this release's commit: build and publish
        what is missing, make no new commit or tag.
    :ivar base: the commit the release is made from (HEAD when planning).
    :ivar previous_tag: the newest earlier release tag, or None.
    :ivar subjects: commit subjects since *previous_tag*, for the changelog.
    :ivar moment: the release time (the changelog's date and the commit's).
    :ivar author: ``Name <email>`` of the changelog entry.
    :ivar distribution: the apt distribution (suite) it is published to.
    :ivar component: the apt component.
    :ivar notes: what the maintainer should know about this plan (shown
        before anything changes).
    """

    version: CalVer
    tag: str
    resume: bool
    base: str
    previous_tag: str | None
    subjects: tuple[str, ...]
    moment: datetime
    author: str
    distribution: str
    component: str
    notes: tuple[str, ...] = ()

    @property
    def changelog_text(self) -> str:
        """The body of the release's changelog entry."""
        return "\n".join(entry_lines(list(self.subjects))).strip("\n")

    def ref(self, commit: str | None) -> ReleaseRef:
        """The release as targets are asked about it, at the release *commit*."""
        return ReleaseRef(str(self.version), self.tag, commit, self.distribution, self.component)


@dataclass(frozen=True)
class Context:
    """The tools shared by the steps of one release.

    :ivar dist: where the artifacts and ``release.json`` are written.
    :ivar work: the run's own temporary directory (the export, the build),
        removed when the run ends; None outside a run.
    """

    config: Config
    git: Git
    runner: Runner
    ui: UI
    targets: Targets
    secrets: Secrets
    dist: Path
    work: Path | None = None

    @property
    def root(self) -> Path:
        """The project's directory (where ``pyproject.toml`` is)."""
        return self.config.root

    @property
    def subdir(self) -> str:
        """The project's directory in its git repository, ``.`` at the top level."""
        return self.git.path_of(self.config.root)

    @property
    def env(self) -> Env:
        return Env(self.config, self.runner, self.git, self.ui, self.secrets)
