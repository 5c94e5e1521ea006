"""The state a release carries from step to step.

:class:`ReleasePlan` is the frozen result of planning (what will be released);
:class:`Context` holds the tools every step uses and what the steps have made
so far (the build directory, the artifacts, the target states).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .changelog import entry_lines
from .config import AptTarget, Config
from .git import Git
from .manifest import Artifact
from .runner import Runner
from .targets import Secrets, Targets
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

    @property
    def changelog_text(self) -> str:
        """The body of the release's changelog entry."""
        return "\n".join(entry_lines(list(self.subjects))).strip("\n")


@dataclass
class Context:
    """Tools and results shared by the steps of one release."""

    config: Config
    git: Git
    runner: Runner
    ui: UI
    targets: Targets
    secrets: Secrets
    dist_dir: Path | None = None
    build_dir: Path | None = None
    wheelhouse: Path | None = None
    artifacts: dict[str, Path] = field(default_factory=dict)
    installed: list[dict[str, str]] = field(default_factory=list)
    target_states: dict[str, dict[str, Any]] = field(default_factory=dict)
    upload_url: str | None = None

    @property
    def root(self) -> Path:
        return self.config.root

    @property
    def dist(self) -> Path:
        """Where the artifacts and ``release.json`` are written."""
        return self.dist_dir or self.root / "dist"

    @property
    def source(self) -> Path:
        """The clean export of the tag that the artifacts are built from."""
        assert self.build_dir is not None, "the build step runs first"
        return self.build_dir / "src"

    def apt_target(self) -> AptTarget | None:
        """The apt target, setting up the local one (and its key) if needed."""
        if self.targets.local is not None:
            self.targets.local.ensure()
            return self.targets.local.apt()
        return self.targets.apt

    def artifact_records(self) -> list[Artifact]:
        return [Artifact.of(kind, path, self.root) for kind, path in self.artifacts.items()]
