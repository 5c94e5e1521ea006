"""The source release: one file from which a release is rebuilt with no network.

zc.sourcerelease's idea ("a single distribution ... that allows the
application to be built and installed from a single download"), for today's
releases.  ``<name>-<version>-source-release.tar.gz`` holds:

- ``hoist-source-release.json``: the release (name, package, version, tag,
  ``SOURCE_DATE_EPOCH``) and the sha256 of every file below and of every
  artifact the release made (sdist, wheel, .deb, SBOM);
- the sdist, from which the wheel is built again;
- ``debian/``, the packaging of the tag, and ``lock/`` the project's lock
  file (``[tool.hoist] lock``), when it has one;
- ``wheels/``: every distribution of the wheelhouse, the virtualenv's contents;
- ``build/``: the build backend's requirements as wheels (PEP 517/518: those
  of ``[build-system] requires`` and those the backend asks for), exactly the
  versions the wheel was built with, so that building it again needs no index.

The tarball is byte-reproducible: members sorted, owned by root, dated
``SOURCE_DATE_EPOCH``, gzip without a name or time (as the sdist).
``hoist rebuild VERSION --from FILE`` (:mod:`hoist.commands.rebuild`) checks
every hash, then builds the wheel and the .deb from it alone.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import parse_wheel_filename

from ..backend import BackendEnv
from ..context import Context, ReleasePlan
from ..errors import BuildError
from ..manifest import Artifact, sha256_file
from ..products import BuildBackend, Export, Products, Wheelhouse
from ..pyproject import read_pyproject
from ..reproducible import extract

#: The description inside a source release.
DESCRIPTION = "hoist-source-release.json"


def source_release_name(name: str, version: str) -> str:
    """The file name of the source release of *name* at *version*."""
    return f"{name}-{version}-source-release.tar.gz"


def write_tarball(target: Path, top: str, files: dict[str, Path | bytes], epoch: int) -> None:
    """A reproducible ``.tar.gz`` of *files* (``{path in the tarball: file or bytes}``) under *top*/."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):  # no directory members: unpacking makes them
            source = files[path]
            data = source if isinstance(source, bytes) else source.read_bytes()
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size, info.mtime = len(data), epoch
            info.mode = 0o755 if isinstance(source, Path) and source.stat().st_mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(data))
    with target.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out:
        out.write(buffer.getvalue())


@dataclass(frozen=True)
class SourceReleasePlan:
    """Write *file* into ``dist/``: the sdist, ``debian/``, the wheelhouse
    and the wheels of what the build backend's virtualenv holds
    (:meth:`hoist.backend.BackendEnv.wheels`)."""

    file: str


class SourceRelease:
    name = "source release"

    def plan(self, ctx: Context, release: ReleasePlan) -> SourceReleasePlan:
        return SourceReleasePlan(source_release_name(ctx.config.name, str(release.version)))

    def run(self, ctx: Context, release: ReleasePlan, plan: SourceReleasePlan, made: Products) -> Products:
        assert ctx.work is not None
        export, house = made.get(Export), made.get(Wheelhouse)
        # What the backend's virtualenv held when the Build step built in it.
        backend = made.get(BuildBackend)
        build = BackendEnv.of(ctx.runner, read_pyproject(export.path)).wheels(backend.pins)
        app = made.artifact("wheel")
        files: dict[str, Path | bytes] = {made.artifact("sdist").filename: made.artifact("sdist").path}
        wheels = {w.name: w for w in sorted(house.directory.glob("*.whl"))
                  if parse_wheel_filename(w.name)[0] != parse_wheel_filename(app.filename)[0]}
        files.update({f"wheels/{name}": path for name, path in wheels.items()})
        files.update({f"build/{w.name}": w for w in sorted(build.glob("*.whl"))})
        # debian/ as the tag has it, without what the .deb build wrote there.
        tracked = ctx.runner.run(["git", "ls-files", "-z", "--", "debian"], cwd=export.path).stdout.split("\0")
        files.update({path: export.path / path for path in sorted(tracked) if path})
        if ctx.config.lock and (export.path / ctx.config.lock).is_file():  # the lock the wheelhouse was collected from
            files[f"lock/{Path(ctx.config.lock).name}"] = export.path / ctx.config.lock
        description = {
            "name": ctx.config.name, "package": ctx.config.package, "version": str(release.version),
            "tag": release.tag, "source_date_epoch": export.source_date_epoch,
            "files": {path: sha256_file(source) for path, source in files.items() if isinstance(source, Path)},
            "artifacts": {a.kind: {"file": a.filename, "sha256": a.sha256} for a in made.artifacts},
        }
        files[DESCRIPTION] = (json.dumps(description, indent=1, sort_keys=True) + "\n").encode()
        target = ctx.dist / plan.file
        top = plan.file.removesuffix(".tar.gz")
        write_tarball(target, top, files, export.source_date_epoch)
        return made.add(Artifact.of("source", target))


def unpack(path: Path, into: Path) -> tuple[Path, dict]:
    """Unpack the source release *path* into *into* and check every file
    against its description; the unpacked directory and the description.

    :raises BuildError: it is not a source release, a file is missing, or a
        file's sha256 differs (the message names the distribution).
    """
    extract(path, into)
    tops = list(into.iterdir())
    if len(tops) != 1 or not tops[0].is_dir() or not (tops[0] / DESCRIPTION).is_file():
        raise BuildError(f"{path} is not a source release: it has no {DESCRIPTION}",
                         "give the <name>-<version>-source-release.tar.gz a release made")
    top = tops[0]
    try:
        description = json.loads((top / DESCRIPTION).read_text(encoding="utf-8"))
        named = [a["file"] for a in description["artifacts"].values()]
        files = description["files"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BuildError(f"the {DESCRIPTION} of {path.name} is not a source release's description",
                         "give the <name>-<version>-source-release.tar.gz a release made") from None
    bad = [n for n in [*named, *files] if not isinstance(n, str) or n.startswith("/") or ".." in Path(n).parts
           or (n in named and "/" in n)]
    if bad:
        raise BuildError(f"the {DESCRIPTION} of {path.name} names {bad[0]!r}, which is not a file inside it",
                         "build only from a file a release made")
    unlisted = sorted(p.relative_to(top).as_posix() for p in top.rglob("*")
                      if p.is_file() and p.relative_to(top).as_posix() not in {*description["files"], DESCRIPTION})
    if unlisted:
        raise BuildError(f"the source release holds {', '.join(unlisted[:5])}, which its {DESCRIPTION} does not list",
                         "the file was changed after the release: do not build from it")
    for member, expected in sorted(description["files"].items()):
        file = top / member
        what = _distribution(member)
        if not file.is_file():
            raise BuildError(f"the source release lacks {member}{what}", "the file is incomplete: download it again")
        if sha256_file(file) != expected:
            raise BuildError(f"{member}{what} in the source release does not match its sha256 "
                             f"(sha256 {sha256_file(file)}, expected {expected})",
                             "the file was changed after the release: do not build from it")
    return top, description


def _distribution(member: str) -> str:
    if member.endswith(".whl"):
        name, version, _, _ = parse_wheel_filename(Path(member).name)
        return f" ({name} {version})"
    return ""

