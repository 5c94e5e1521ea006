"""A fourth kind of target, as a plugin would add one: a plain directory of the artifacts.

Nothing in ``src/hoist`` names it.  ``test_target_plugin.py`` registers it
through the entry point group ``hoist.targets`` (a ``.dist-info`` on
``PYTHONPATH``), configures it as ``[tool.hoist.directory]``, and releases to it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hoist.errors import ConflictError
from hoist.manifest import Artifact, sha256_file
from hoist.targets import CONFLICT, MISSING, PUBLISHED, Env, Kind, ReleaseRef, Target, TargetState


@dataclass(frozen=True)
class DirectorySettings:
    """``[tool.hoist.directory]``: *path*, under which each version gets a directory."""

    path: str


@dataclass(frozen=True)
class CopyPlan:
    """Copy the release's artifacts into *directory*."""

    directory: str
    kinds: tuple[str, ...]


class DirectoryTarget(Target):
    name = "directory"
    title = "copy to the directory"
    kinds = ("sdist", "wheel", "deb")

    def __init__(self, root: Path, env: Env) -> None:
        self.root = root
        self.env = env

    @classmethod
    def from_settings(cls, settings: DirectorySettings, env: Env) -> DirectoryTarget:
        return cls(Path(settings.path), env)

    def plan(self, release: ReleaseRef) -> CopyPlan:
        return CopyPlan(str(self.root / release.version), self.kinds)

    def _held(self, version: str) -> dict[str, str]:
        folder = self.root / version
        return {p.name: sha256_file(p) for p in sorted(folder.iterdir())} if folder.is_dir() else {}

    def state(self, release: ReleaseRef, artifacts: Sequence[Artifact] = ()) -> TargetState:
        held = self._held(release.version)
        facts = {"directory": str(self.root / release.version), "files": held}
        mine = [a for a in artifacts if a.kind in self.kinds]
        for artifact in mine:
            if held.get(artifact.filename, artifact.sha256) != artifact.sha256:
                return TargetState(self.name, CONFLICT, f"{artifact.filename} there has sha256 "
                                   f"{held[artifact.filename]}, this build's is {artifact.sha256}", facts)
        complete = all(a.filename in held for a in mine) if mine else len(held) >= len(self.kinds)
        return TargetState(self.name, PUBLISHED if complete else MISSING, f"{len(held)} files", facts)

    def publish(self, release: ReleaseRef, plan: CopyPlan, artifacts: Sequence[Artifact]) -> None:
        folder = Path(plan.directory)
        folder.mkdir(parents=True, exist_ok=True)
        held = {p.name: sha256_file(p) for p in folder.iterdir()}
        for artifact in artifacts:
            if artifact.kind not in plan.kinds:
                continue
            if artifact.filename in held:
                if held[artifact.filename] != artifact.sha256:
                    raise ConflictError(f"{folder / artifact.filename} differs from this build's")
                continue
            partial = folder / f".{artifact.filename}.partial"
            shutil.copyfile(artifact.path, partial)
            os.replace(partial, folder / artifact.filename)


KIND = Kind("directory", DirectorySettings, DirectoryTarget.from_settings)
