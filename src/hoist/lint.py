"""lintian on a virtualenv package, the dependencies' files checked once per content.

lintian indexes every file of a package before its checks run (``md5sum``,
``file``, ``readelf`` and ``strings`` on each one): on a virtualenv of 184
distributions that alone takes most of a minute, and all but a few files are
the same from one release to the next of one lock.  So the .deb is checked
as packages that together hold each of its files:

- the *own* part: everything but the dependencies' files in site-packages
  (the application's own distribution, the scripts, ``pyvenv.cfg``, the
  documentation, ``/lib/systemd``...) and the whole ``DEBIAN`` control
  archive, checked on every release;
- the dependencies' *chunks*: the files of the other distributions under
  ``site-packages/``, grouped by top-level name into chunks that lintian
  checks side by side (it checks one package on one core; the caller picks
  how many: :func:`hoist.steps.verify.lintian_chunks`), each with the
  package's copyright, changelog and lintian overrides.  A chunk is checked
  once for each content: its passing is kept under
  ``$XDG_CACHE_HOME/hoist/lintian/``, keyed by the sha256 of each of its
  members (name, type, mode, owner, content or link target), the copyright
  file, the overrides, the control files (but md5sums) with the package's
  version taken out, the versions of lintian and the tools it runs, the
  vendor, and lintian's options.  A failing result is never kept.

Each part carries the package's own ``control`` file, and its ``md5sums``
lists exactly the part's files (lintian's ``md5sums`` check compares them);
``shlibs``, ``symbols`` and ``triggers``, which speak of the shared objects,
go with the dependencies.  A package whose own part has shared objects too
is checked whole.  Every part is assembled as ``debian/rules`` assembles the
.deb (``ar``, members compressed with the package's compressor), so that
lintian's checks of the container (deb(5)) see what the .deb is.  The same
single pass over the data archive looks for the build path in every file
(:attr:`Split.leaks`).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from debian.deb822 import Deb822
from debian.debfile import DebFile

from .cache import cache_home


def own_top_levels(record: str) -> set[str]:
    """The top-level names in site-packages of one distribution, from its
    ``RECORD`` (PEP 376/627: CSV of paths relative to site-packages); paths
    outside site-packages (``../../../bin/x``) are left out."""
    return {PurePosixPath(row[0]).parts[0] for row in csv.reader(io.StringIO(record))
            if row and row[0] and not row[0].startswith("..")}


def shared_rule(install_root: str, own: set[str]) -> Callable[[str], str | None]:
    """For a data member (``./opt/app/lib/python3.11/site-packages/x/y``), its
    top-level name in site-packages (``x``) when it is a dependency's file:
    under the virtualenv's site-packages below *install_root* and not under
    one of the application's top-level names *own*; None otherwise."""
    pattern = re.compile(re.escape(install_root.strip("/")) + r"/lib/python3\.[0-9]+/site-packages/([^/]+)")

    def shared(name: str) -> str | None:
        found = pattern.match(name.removeprefix("./"))
        return found.group(1) if found is not None and found.group(1) not in own else None
    return shared


def _helper(name: str, package: str) -> bool:
    """Members both parts carry: what lintian requires of any package (the
    copyright file and the changelog, Debian Policy 12.5 and 12.7), the
    lintian overrides, and their directories."""
    path = name.removeprefix("./").rstrip("/")
    doc = f"usr/share/doc/{package}"
    return path in (doc, f"{doc}/copyright", f"{doc}/changelog.Debian.gz", f"{doc}/changelog.gz",
                    "usr/share/lintian", "usr/share/lintian/overrides") or path.startswith("usr/share/lintian/")


def _keyed_helper(name: str, package: str) -> bool:
    """Helpers whose content decides the shared part's result: the copyright
    file and the overrides (the changelog is every release's own, and checked
    in the own part each time)."""
    path = name.removeprefix("./")
    return path == f"usr/share/doc/{package}/copyright" or path.startswith("usr/share/lintian/overrides/")


@dataclass(frozen=True)
class Chunk:
    """One part of the dependencies' files.

    :ivar key: its content key (hex sha256).
    :ivar files: how many regular files it holds.
    :ivar package: the .deb to check, or None when the key passed before.
    """

    key: str
    files: int
    package: Path | None


@dataclass(frozen=True)
class Split:
    """A .deb split for lintian: *own*, and the dependencies' files in *chunks*
    (none when the package is checked whole: then *own* is the .deb itself).

    :ivar leaks: data members whose content or link target holds a build path.
    :ivar files: the regular files of the whole .deb.
    """

    own: Path
    chunks: tuple[Chunk, ...]
    leaks: tuple[str, ...]
    files: int

    @property
    def shared_files(self) -> int:
        return sum(c.files for c in self.chunks)

    @property
    def packages(self) -> list[Path]:
        """What lintian checks: the own part and every chunk not passed before."""
        return [self.own, *(c.package for c in self.chunks if c.package is not None)]


#: Control files about the shared objects (dh_makeshlibs), which are the dependencies'.
SHARED_OBJECT_CONTROL = ("shlibs", "symbols", "triggers")


def _control_members(deb: DebFile) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    with deb.control.tgz() as tar:
        return [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar]


def _control_for(members: list, keep: Callable[[str], bool], dependencies: bool) -> list:
    """The control archive of one part: ``md5sums`` lists the files *keep*
    holds; the shared objects' control files go with the *dependencies*, the
    maintainer scripts with the own part, ``control`` with both."""
    chosen = []
    for member, data in members:
        name = member.name.lstrip("./")
        if name == "md5sums" and data is not None:
            lines = data.decode().splitlines(keepends=True)
            data = "".join(line for line in lines if keep("./" + line.split("  ", 1)[1].rstrip("\n"))).encode()
        elif member.isfile() and name != "control" and (name in SHARED_OBJECT_CONTROL) != dependencies:
            continue
        chosen.append((copy.copy(member), data))
    return chosen


def _write_tar(path: Path, members: list) -> None:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for member, data in members:
            if data is not None:
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
            else:
                tar.addfile(member)


#: The fastest level of each compressor a .deb's members may use (deb(5)):
#: the parts are compressed as the package is, for lintian's checks of it.
COMPRESSORS = {".gz": ["gzip", "-1n"], ".xz": ["xz", "-0"], ".zst": ["zstd", "-1", "-q", "--rm"], "": None}


def _assemble(target: Path, control: list, data: Path, suffix: str) -> Path:
    """A .deb of the *control* members and the data tarball *data* (deb(5):
    ``debian-binary``, ``control.tar``, ``data.tar``, in an ar archive),
    the tarballs compressed to *suffix* (``.zst``...)."""
    work = target.with_suffix(".parts")
    work.mkdir()
    (work / "debian-binary").write_bytes(b"2.0\n")
    _write_tar(work / "control.tar", control)
    os.replace(data, work / "data.tar")
    compressor = COMPRESSORS[suffix]
    if compressor is not None:
        subprocess.run([*compressor, "control.tar", "data.tar"], cwd=work, check=True)
    members = ["debian-binary", f"control.tar{suffix}", f"data.tar{suffix}"]
    target.unlink(missing_ok=True)
    subprocess.run(["ar", "rcD", str(target), *members], cwd=work, check=True)
    for name in members:
        (work / name).unlink()
    work.rmdir()
    return target


def _is_shared_object(name: str) -> bool:
    """A shared object by its name (``x.so``, ``libx.so.1.2``)."""
    return re.search(r"\.so(\.[0-9]+)*$", name) is not None


def split(deb: Path, package: str, shared: Callable[[str], str | None], build_paths: list[str], out: Path,
          is_known: Callable[[str], bool], chunks: int = 1) -> Split:
    """Split *deb* (see the module's documentation) into *out*: the
    dependencies' files in *chunks* parts, by their top-level name, so that
    lintian can check them side by side.

    :param shared: a data member's dependency (:func:`shared_rule`).
    :param build_paths: paths that must appear in no file (the build directory).
    :param is_known: whether a content key has passed before; such a chunk is
        not written.
    """
    out.mkdir(parents=True, exist_ok=True)
    debfile = DebFile(str(deb))
    suffix = next((Path(n).suffix for n in debfile.getnames() if n.startswith("data.tar")), "")
    suffix = suffix if suffix in COMPRESSORS and suffix != ".tar" else ""
    control_members = _control_members(debfile)

    def chunk_of(name: str) -> int | None:
        top = shared(name)
        return None if top is None else zlib.crc32(top.encode()) % chunks

    needles = [p.encode() for p in build_paths]
    # What the package says of itself: every control file but md5sums (each
    # part's own), without what every release changes: its version (in
    # control, and in shlibs and symbols: "(>= <version>)") and Installed-Size.
    control = next((d for m, d in control_members if m.name.lstrip("./") == "control"), None) or b""
    version = Deb822(control.decode("utf-8", "replace")).get("Version", "\0").encode()
    common = hashlib.sha256(f"{chunks}\n".encode())
    for member, content in sorted(control_members, key=lambda m: m[0].name):
        if member.name.lstrip("./") == "md5sums":
            continue
        lines = (content or b"").replace(version, b"@VERSION@").splitlines(keepends=True)
        common.update(json.dumps([member.name, member.mode]).encode() + b"".join(
            line for line in lines if not line.startswith(b"Installed-Size:")) + b"\n")
    digests = [hashlib.sha256() for _ in range(chunks)]
    counts = [0] * chunks
    held = [False] * chunks
    leaks, own_members, helpers = [], [], []
    files = 0
    own_objects = False
    with debfile.data.tgz() as data:
        for member in data:
            content = data.extractfile(member).read() if member.isfile() else None
            if content is not None and any(n in content for n in needles):
                leaks.append(member.name)
            elif member.issym() and any(p in member.linkname for p in build_paths):
                leaks.append(member.name)
            files += member.isfile()
            index = chunk_of(member.name)
            if index is not None:
                counts[index] += member.isfile()
                held[index] = True
                digests[index].update(json.dumps([member.name, member.type.decode(), member.mode, member.linkname,
                                                  member.uid, member.gid, member.uname, member.gname,
                                                  hashlib.sha256(content).hexdigest() if content is not None else ""]
                                                 ).encode() + b"\n")
                continue
            own_members.append((member, content))
            own_objects = own_objects or (member.isfile() and _is_shared_object(member.name))
            if _keyed_helper(member.name, package) and member.isfile():
                common.update(json.dumps([member.name, member.mode, hashlib.sha256(content or b"").hexdigest()]
                                         ).encode() + b"\n")
            if _helper(member.name, package) or member.isdir():
                helpers.append((member, content))
    if not any(held) or own_objects:
        # Nothing to share, or shared objects of its own that the control
        # files (shlibs) speak of with the dependencies': checked whole.
        return Split(deb, (), tuple(leaks), files)
    _write_tar(out / "own-data.tar", own_members)
    own = _assemble(out / f"{package}-own.deb", _control_for(control_members, lambda n: chunk_of(n) is None, False),
                     out / "own-data.tar", suffix)
    keys = [hashlib.sha256(common.digest() + d.digest() + f"{i}".encode()).hexdigest() for i, d in enumerate(digests)]
    wanted = {i for i in range(chunks) if held[i] and not is_known(keys[i])}
    members: dict[int, list] = {i: list(helpers) for i in wanted}
    if wanted:
        with DebFile(str(deb)).data.tgz() as data:
            for member in data:
                index = chunk_of(member.name)
                if index in wanted:
                    members[index].append((member, data.extractfile(member).read() if member.isfile() else None))
    parts = []
    for i in range(chunks):
        if not held[i]:
            continue
        package_file = None
        if i in wanted:
            chosen = sorted(members.pop(i), key=lambda m: m[0].name)
            _write_tar(out / f"shared-{i}-data.tar", chosen)

            def keep(name: str, i: int = i) -> bool:
                return chunk_of(name) == i or _helper(name, package)
            package_file = _assemble(out / f"{package}-shared-{i}.deb", _control_for(control_members, keep, True),
                                     out / f"shared-{i}-data.tar", suffix)
        parts.append(Chunk(keys[i], counts[i], package_file))
    return Split(own, tuple(parts), tuple(leaks), files)


class PassedCache:
    """The content keys of the chunks lintian passed, one file each under
    ``$XDG_CACHE_HOME/hoist/lintian/``; *salt* (the versions of lintian and
    its tools, the vendor, lintian's options) is part of every key."""

    def __init__(self, salt: str) -> None:
        self.directory = cache_home() / "lintian"
        self.salt = salt

    def _path(self, key: str) -> Path:
        return self.directory / hashlib.sha256(f"{self.salt}\n{key}".encode()).hexdigest()

    def __contains__(self, key: str) -> bool:
        return self._path(key).is_file()

    def add(self, key: str, detail: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        partial = path.with_suffix(f".{os.getpid()}")
        partial.write_text(detail, encoding="utf-8")
        os.replace(partial, path)
