"""``dist/release.json``: what a release built and where it stands.

Like pypa/build's report: each artifact with its kind, path, size in bytes and
sha256; and each target with its state.  Written after the targets have been
read back, so it describes what is published, not what was meant to be.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Artifact kinds, in release order.
KINDS = ("sdist", "wheel", "deb")


def sha256_file(path: Path) -> str:
    """The hex sha256 of the file at *path*, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Artifact:
    """A file of the release.

    :ivar kind: ``sdist``, ``wheel`` or ``deb``.
    :ivar path: where it is, relative to the project root when inside it.
    :ivar size: its size in bytes.
    :ivar sha256: its sha256, hex.
    """

    kind: str
    path: str
    size: int
    sha256: str

    @classmethod
    def of(cls, kind: str, path: Path, root: Path) -> Artifact:
        try:
            shown = str(path.relative_to(root))
        except ValueError:
            shown = str(path)
        return cls(kind, shown, path.stat().st_size, sha256_file(path))

    @property
    def filename(self) -> str:
        return Path(self.path).name


@dataclass
class Manifest:
    """The content of ``dist/release.json``."""

    name: str
    version: str
    tag: str
    commit: str
    artifacts: list[Artifact] = field(default_factory=list)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    installed: list[dict[str, str]] = field(default_factory=list)

    def artifact(self, kind: str) -> Artifact:
        return next(a for a in self.artifacts if a.kind == kind)

    def write(self, path: Path) -> None:
        """Write the manifest as JSON, atomically (a rename over the old file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["artifacts"] = [Artifact(**a) for a in data.get("artifacts", [])]
        return cls(**data)
