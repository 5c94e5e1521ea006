"""lintian on a virtualenv package, the dependencies' files checked once per content.

lintian indexes every file of a package before its checks run (``md5sum``,
``file``, ``readelf`` and ``strings`` on each one): on a virtualenv of 184
distributions that alone takes most of a minute, and all but a few files are
the same from one release to the next of one lock.  So the .deb is checked
as two packages that together hold each of its files:

- the *own* part: everything but the dependencies' files in site-packages
  (the application's own distribution, the scripts, ``pyvenv.cfg``, the
  documentation, ``/lib/systemd``...) and the whole ``DEBIAN`` control
  archive, checked on every release;
- the *shared* part: the files of the other distributions under
  ``site-packages/``, with the package's documentation and lintian overrides,
  checked once for each content: its lintian passing is kept under
  ``$XDG_CACHE_HOME/hoist/lintian/``, keyed by the sha256 of every such
  member (name, type, mode, content or link target), the overrides, the
  lintian version and its options.  A failing result is never kept.

Each part carries the package's own ``control`` file, and its ``md5sums``
lists exactly the part's files (lintian's ``md5sums`` check compares them);
``shlibs``, ``symbols`` and ``triggers``, which speak of the shared objects,
go with the dependencies.  A package whose own part has shared objects too
is checked whole.  Both parts are compressed as the package is.
The same single pass over the data archive looks for the build path in
every file (:attr:`Split.leaks`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from debian.debfile import DebFile

from .config import cache_home


def own_top_levels(record: str) -> set[str]:
    """The top-level names in site-packages of one distribution, from its
    ``RECORD`` (PEP 376/627: CSV of paths relative to site-packages); paths
    outside site-packages (``../../../bin/x``) are left out."""
    return {PurePosixPath(row[0]).parts[0] for row in csv.reader(io.StringIO(record))
            if row and row[0] and not row[0].startswith("..")}


def shared_rule(install_root: str, own: set[str]) -> Callable[[str], bool]:
    """Whether a data member (``./opt/app/lib/python3.11/site-packages/x/y``) is
    a dependency's file: under the virtualenv's site-packages below
    *install_root* and not under one of the application's top-level names *own*."""
    pattern = re.compile(re.escape(install_root.strip("/")) + r"/lib/python3\.[0-9]+/site-packages/([^/]+)")

    def shared(name: str) -> bool:
        found = pattern.match(name.removeprefix("./"))
        return found is not None and found.group(1) not in own
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
class Split:
    """A .deb split for lintian: *own* and, when it has dependencies' files, *shared*.

    :ivar key: the shared part's content key (hex sha256), or "" without one.
    :ivar leaks: data members whose content or link target holds a build path.
    """

    own: Path
    shared: Path | None
    key: str
    leaks: tuple[str, ...]
    files: int
    shared_files: int


#: Control files about the shared objects (dh_makeshlibs), which are the dependencies'.
SHARED_OBJECT_CONTROL = ("shlibs", "symbols", "triggers")


def _control_parts(deb: DebFile, shared: Callable[[str], bool], package: str) -> tuple[list, list, bytes]:
    """The control archive's members for the own and the shared part (md5sums
    filtered to each part's files), and the ``control`` file."""
    own, dependencies = [], []
    control = b""
    with deb.control.tgz() as tar:
        for member in tar:
            data = tar.extractfile(member).read() if member.isfile() else None
            name = member.name.lstrip("./")
            if name == "control":
                control = data or b""
            if name in SHARED_OBJECT_CONTROL:
                dependencies.append((member, data))
            elif name == "md5sums" and data is not None:
                lines = data.decode().splitlines(keepends=True)
                mine = "".join(line for line in lines
                               if not shared("./" + line.split("  ", 1)[1].rstrip("\n"))).encode()
                theirs = "".join(line for line in lines
                                 if shared("./" + line.split("  ", 1)[1].rstrip("\n"))
                                 or _helper("./" + line.split("  ", 1)[1].rstrip("\n"), package)).encode()
                own.append((member, mine))
                dependencies.append((member, theirs))
            elif member.isfile():
                own.append((member, data))
                if member.name.lstrip("./") == "control":
                    dependencies.append((member, data))
            else:
                own.append((member, None))
                dependencies.append((member, None))
    return own, dependencies, control


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


def split(deb: Path, package: str, shared: Callable[[str], bool], build_paths: list[str], out: Path,
          is_known: Callable[[str], bool]) -> Split:
    """Split *deb* (see the module's documentation) into *out*.

    :param shared: whether a data member is a dependency's (:func:`shared_rule`).
    :param build_paths: paths that must appear in no file (the build directory).
    :param is_known: whether a content key has passed before; when it has, the
        shared part is not written.
    """
    out.mkdir(parents=True, exist_ok=True)
    debfile = DebFile(str(deb))
    suffix = next((Path(n).suffix for n in debfile.getnames() if n.startswith("data.tar")), "")
    suffix = suffix if suffix in COMPRESSORS and suffix != ".tar" else ""
    own_control, shared_control, control = _control_parts(debfile, shared, package)
    needles = [p.encode() for p in build_paths]
    digest = hashlib.sha256()
    # What the whole package says of itself, but its version (which every release changes).
    digest.update(b"".join(line for line in control.splitlines(keepends=True)
                           if not line.startswith((b"Version:", b"Installed-Size:"))))
    leaks, own_members, helpers = [], [], []
    files = shared_files = 0
    own_objects = False
    with debfile.data.tgz() as data:
        for member in data:
            content = data.extractfile(member).read() if member.isfile() else None
            if content is not None and any(n in content for n in needles):
                leaks.append(member.name)
            elif member.issym() and any(p in member.linkname for p in build_paths):
                leaks.append(member.name)
            files += member.isfile()
            if shared(member.name):
                shared_files += member.isfile()
                digest.update(json.dumps([member.name, member.type.decode(), member.mode, member.linkname,
                                          hashlib.sha256(content).hexdigest() if content is not None else ""]
                                         ).encode() + b"\n")
                continue
            own_members.append((member, content))
            own_objects = own_objects or (member.isfile() and _is_shared_object(member.name))
            if _keyed_helper(member.name, package) and member.isfile():
                digest.update(json.dumps([member.name, member.mode, hashlib.sha256(content or b"").hexdigest()]
                                         ).encode() + b"\n")
            if _helper(member.name, package) or member.isdir() and not shared(member.name):
                helpers.append((member, content))
    if not shared_files or own_objects:
        # Nothing to share, or shared objects of its own that the control
        # files (shlibs) speak of with the dependencies': checked whole.
        return Split(deb, None, "", tuple(leaks), files, 0)
    _write_tar(out / "own-data.tar", own_members)
    own = _assemble(out / f"{package}-own.deb", own_control, out / "own-data.tar", suffix)
    key = digest.hexdigest()
    if is_known(key):
        return Split(own, None, key, tuple(leaks), files, shared_files)
    shared_members = list(helpers)
    with DebFile(str(deb)).data.tgz() as data:
        for member in data:
            if shared(member.name):
                shared_members.append((member, data.extractfile(member).read() if member.isfile() else None))
    shared_members.sort(key=lambda m: m[0].name)
    _write_tar(out / "shared-data.tar", shared_members)
    return Split(own, _assemble(out / f"{package}-shared.deb", shared_control, out / "shared-data.tar", suffix), key,
                 tuple(leaks), files, shared_files)


class PassedCache:
    """The content keys whose shared part lintian passed, one file each under
    ``$XDG_CACHE_HOME/hoist/lintian/``; *salt* (lintian's version and options)
    is part of every key."""

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
