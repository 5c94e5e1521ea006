"""The artifacts of a release, and ``dist/release.json``, the record of one.

Like pypa/build's report: each artifact with its kind, path, size in bytes and
sha256; and each target with its state.  Written after the targets have been
read back, so it describes what is published, not what was meant to be.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

#: Artifact kinds, in release order: the checksum list of the others
#: (``SHA256SUMS``) and its signature last.
KINDS = ("sdist", "wheel", "deb", "sbom", "source", "checksums", "signature")


#: The name of a release's checksum list, in ``sha256sum`` format (GNU coreutils).
CHECKSUMS = "SHA256SUMS"


def checksums_text(artifacts: Iterable[Artifact]) -> str:
    """*artifacts* as ``sha256sum`` writes them (GNU coreutils: the hex digest,
    two spaces, the file name), sorted by file name."""
    return "".join(f"{a.sha256}  {a.filename}\n" for a in sorted(artifacts, key=lambda a: a.filename))


def read_checksums(text: str) -> dict[str, str]:
    """A list in ``sha256sum`` format as ``{file name: sha256}``."""
    listed = {}
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        if name:
            listed[name] = digest
    return listed


def sha256_file(path: Path) -> str:
    """The hex sha256 of the file at *path*, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def version_of(filename: str) -> Version | None:
    """The version in a wheel's, an sdist's (PEP 427, PEP 625) or a .deb's
    (``name_version_arch.deb``) file name, or None for any other file."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        if filename.endswith(".deb") and filename.count("_") == 2:
            return Version(filename.split("_")[1])
        return parse_sdist_filename(filename)[1]
    except (InvalidSdistFilename, InvalidWheelFilename, InvalidVersion):
        return None


@dataclass(frozen=True)
class Artifact:
    """A file of the release.

    :ivar kind: ``sdist``, ``wheel``, ``deb``, ``sbom`` (the CycloneDX SBOM of the .deb's virtualenv) or
        ``source`` (the source release, :mod:`hoist.steps.source_release`).
    :ivar path: where it is (in a manifest: relative to the project root when inside it).
    :ivar size: its size in bytes.
    :ivar sha256: its sha256, hex.
    """

    kind: str
    path: Path
    size: int
    sha256: str

    @classmethod
    def of(cls, kind: str, path: Path) -> Artifact:
        """The artifact of the file at *path*, measured now."""
        return cls(kind, path, path.stat().st_size, sha256_file(path))

    @property
    def filename(self) -> str:
        return self.path.name

    def record(self, root: Path) -> dict[str, Any]:
        """The artifact as ``release.json`` holds it."""
        try:
            shown = str(self.path.relative_to(root))
        except ValueError:
            shown = str(self.path)
        return {"kind": self.kind, "path": shown, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Manifest:
    """The content of ``dist/release.json``.

    :ivar targets: each target's state, by target name (see
        :meth:`hoist.targets.TargetState.record`).
    :ivar installed: name and version of every distribution in the .deb's virtualenv.
    """

    name: str
    version: str
    tag: str
    commit: str
    artifacts: tuple[Artifact, ...] = ()
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    installed: tuple[dict[str, str], ...] = ()

    def artifact(self, kind: str) -> Artifact:
        return next(a for a in self.artifacts if a.kind == kind)

    def complete(self) -> bool:
        """Whether every target held the release when the manifest was written."""
        return bool(self.targets) and all(t.get("state") == "published" for t in self.targets.values())

    def write(self, path: Path, root: Path) -> None:
        """Write the manifest as JSON, atomically (a rename over the old file).

        :param root: artifact paths inside it are written relative to it.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "name": self.name, "version": self.version, "tag": self.tag, "commit": self.commit,
            "artifacts": [a.record(root) for a in self.artifacts],
            "targets": self.targets,
            "installed": list(self.installed),
        }
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """The manifest at *path*.

        :raises OSError: it cannot be read.
        :raises ValueError: it is not a manifest (bad JSON or missing keys).
        """
        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            artifacts = tuple(Artifact(a["kind"], Path(a["path"]), a["size"], a["sha256"]) for a in data.get("artifacts", []))
            return cls(data["name"], data["version"], data["tag"], data["commit"], artifacts,
                       data.get("targets", {}), tuple(data.get("installed", [])))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a release manifest: {exc}") from None
