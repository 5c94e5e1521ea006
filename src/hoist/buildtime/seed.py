"""The dependencies' part of the staged virtualenv, kept from one .deb build to the next of one lock.

dh_virtualenv has uv copy every file of every locked wheel into
``debian/<package>/<install root>``: the same files for every release of
one lock, and at Warehouse's size the slowest part of a warm build (uv's
copy out of its cache, seconds of system time for tens of thousands of
files).  After a build, hoist keeps the dependencies' files as they went
into the package (installed by uv, shebangs rewritten by dh-virtualenv,
``RECORD`` files brought up to date by :mod:`hoist.buildtime.fixup`, modes
set by dh_fixperms, shared objects stripped by dh_strip) as hard links to
the build's own files, no copy, in a directory named by a key of everything
that shaped them (:func:`keep`, run by hoist after dpkg-buildpackage).  The
next build's ``debian/rules`` runs, before ``dh_virtualenv``::

    $(HOIST_SEED) debian/<package> <install root>

(hoist passes ``python -m hoist.buildtime.seed <kept directory> <the
application's wheel>`` as ``HOIST_SEED``), which links those files into the
staging tree.  ``uv pip install`` then finds every locked distribution
installed at its pinned version and installs the application's wheel alone,
and the rest of the build runs as it always does.

A linked file shares its inode with the kept one, so nothing may write
through it:

- ``strip`` rewrites ELF files and static libraries in place (binutils
  writes through a hard link): dh_strip is told to leave the trees of
  site-packages that are the dependencies' alone (``-X``, read by
  ``debian/rules`` from ``debian/.hoist-seed-strip-excludes``), which the
  build that kept them stripped already with the same debhelper and
  binutils; such a file anywhere else is copied;
- the console scripts of ``bin/``, and any file the application's wheel
  also installs, are copied; a file the application's wheel installed when
  the files were kept is not kept, and they are linked only while the
  application's wheel still installs it;
- every other file is only read by the build's later steps, or replaced by
  a new file (``sed -i`` in dh-virtualenv's shebang rewrite, the fixup's
  ``RECORD`` rewrite), or given the mode and owner it already has
  (dh_fixperms);
- a linked file also shares its change time (ctime) with every other
  link: making or removing a link, or dh_fixperms' chmod and chown, sets
  it, and GNU tar, which dpkg-deb runs, fails a file whose change time
  moved while it read it ("file changed as we read it").  So one build at a
  time links, keeps or removes the kept files of one install root
  (:func:`in_use`, held by hoist from before dpkg-buildpackage until the
  staging tree is removed); a build that finds them in use installs every
  distribution, as if nothing were kept;
- a kept file's modification time is set past any ``SOURCE_DATE_EPOCH``
  (:data:`FAR_FUTURE`), so dpkg-deb's clamp gives it the release's time, as
  it does a file uv has just copied: the .deb is byte for byte the one a
  build without a kept virtualenv makes (``tests/test_reproducible.py``).

Stdlib only: it runs with the build's interpreter and imports nothing of the
library (``tests/test_layout.py``).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

#: The kept directory's list of its files.
MANIFEST = "manifest.json"

#: What a manifest holds; one that lacks any (an older hoist's) is not used.
MANIFEST_KEYS = ("distributions", "files", "stripped", "overlaps", "empty")

#: The lock file, beside the kept directories of one install root, that
#: :func:`in_use` holds.
LOCK = "lock"

#: Where, in ``debian/``, :func:`link` writes dh_strip's options for ``debian/rules``.
STRIP_EXCLUDES = ".hoist-seed-strip-excludes"

#: The modification time of every kept file (2100-01-01, seconds since the
#: epoch): later than any ``SOURCE_DATE_EPOCH``, so that dpkg-deb, which
#: clamps each member's time to it (dpkg-deb(1), SOURCE_DATE_EPOCH), writes
#: that time and not the time the file was first installed.
FAR_FUTURE = 4102444800

#: How many kept virtualenvs one install root keeps: this lock's and the
#: one before (a rebuild of the last release, a branch on the old lock).
KEPT_PER_ROOT = 2


#: The static libraries dh_strip strips (dh_strip, ``testfile``: ``lib*.a``, not ``*_g.a``).
_STATIC_LIBRARY = re.compile(r"(?:^|/)lib[^/]*(?<!_g)\.a$")


@contextlib.contextmanager
def in_use(seed: Path) -> Iterator[bool]:
    """Hold the kept directories of *seed*'s install root for one build: an
    exclusive ``flock(2)`` on :data:`LOCK` beside them, not waited for.

    :yields: True when held: the build may link from *seed*, keep into it,
        and must remove its staging tree before leaving; False when another
        build holds them, and this one must neither link nor keep.
    :raises OSError: when the cache cannot be written.
    """
    seed.parent.mkdir(parents=True, exist_ok=True)
    with (seed.parent / LOCK).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stripped_in_place(path: Path, relative: str) -> bool:
    """Whether dh_strip would rewrite the file *path* (at *relative* in the
    virtualenv), which binutils does in place, through a hard link: an ELF
    file, or a static library (whether ``-B`` would call it binary or not)."""
    if _STATIC_LIBRARY.search(relative):
        return True
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def _record_paths(dist_info: Path, site: Path, venv: Path) -> list[str]:
    """The files a distribution's ``RECORD`` lists (PEP 376), relative to *venv*,
    that are regular files inside it."""
    record = dist_info / "RECORD"
    found = []
    for row in csv.reader(io.StringIO(record.read_text(encoding="utf-8"))):
        if not row:
            continue
        path = Path(os.path.normpath(site / row[0]))
        if path.is_relative_to(venv) and path.is_file() and not path.is_symlink():
            found.append(path.relative_to(venv).as_posix())
    return found


def keep(seed: Path, venv: Path, application_wheel: Path) -> int:
    """Keep the files of every distribution in the staged virtualenv *venv*
    but the application's own, at *seed*, as hard links; older kept
    directories beside *seed* beyond :data:`KEPT_PER_ROOT` are removed.

    :param seed: the kept directory to make, named by its key; left as it
        is when it is already there (another build made it).
    :param application_wheel: the application's wheel: its distribution,
        and any file it installs too, are not kept.
    :returns: the number of distributions kept (0 when *seed* was there).
    :raises OSError: when the cache cannot be written.
    """
    if read_manifest(seed) is not None:
        return 0
    _remove(seed)  # an older hoist's, or half of one
    application = _normalize(application_wheel.name.split("-", 1)[0])
    ours = wheel_paths(application_wheel)
    files: set[str] = set()
    overlaps: set[str] = set()
    names: list[str] = []
    for site in sorted(venv.glob("lib/python3*/site-packages")):
        for dist_info in sorted(site.glob("*.dist-info")):
            name = dist_info.name[: -len(".dist-info")]
            if _normalize(name.rpartition("-")[0]) == application or not (dist_info / "RECORD").is_file():
                continue
            names.append(name)
            for path in _record_paths(dist_info, site, venv):
                (overlaps if _installed_as(path) in ours else files).add(path)
    stripped = sorted(path for path in files if _stripped_in_place(venv / path, path))
    seed.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{seed.name}.", dir=seed.parent))
    try:
        tree = partial / "tree"
        for relative in sorted(files):
            kept = tree / relative
            kept.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(venv / relative, kept)
            os.utime(kept, (FAR_FUTURE, FAR_FUTURE))
        manifest = {
            "distributions": names,
            "files": sorted(files),
            "stripped": stripped,
            # Installed by the application's wheel too, and not kept: a later wheel must install them as well.
            "overlaps": sorted(_installed_as(path) for path in overlaps),
            # Directories of the wheels with nothing in them, which no RECORD lists (uv makes them).
            "empty": _empty_directories(venv, files, ours),
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=0), encoding="utf-8")
        try:
            os.rename(partial, seed)
        except OSError:
            if read_manifest(seed) is None:
                raise
            return 0  # a concurrent build kept the same
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    _forget_old(seed)
    return len(names)


def _installed_as(relative: str) -> str:
    """*relative* (to the virtualenv) as :func:`wheel_paths` names it."""
    head, sep, rest = relative.partition("/site-packages/")
    return f"site-packages/{rest}" if sep and head.startswith("lib/python") else relative


def _empty_directories(venv: Path, files: set[str], ours: set[str]) -> list[str]:
    """The empty directories, relative to *venv*, in the trees that hold the
    kept *files* and none of the application's (*ours*)."""
    application = {_tree(path) for path in ours}
    trees = {_tree(_installed_as(path)): path for path in files if not path.startswith("bin/")}
    empty = []
    for tree, example in sorted(trees.items()):
        if tree in application:
            continue
        root = venv / example[: len(example) - len(_installed_as(example)) + len(tree)]
        for directory, subdirectories, names in os.walk(root):
            if not subdirectories and not names:
                empty.append(Path(directory).relative_to(venv).as_posix())
    return sorted(empty)


def _tree(installed_as: str) -> str:
    """The top of the tree a path (as :func:`wheel_paths` names it) is in:
    ``site-packages/<name>``, or the first directory of a data path."""
    parts = installed_as.split("/")
    return "/".join(parts[:2]) if parts[0] == "site-packages" else parts[0]


def read_manifest(seed: Path) -> dict | None:
    """The manifest of the kept directory *seed*, or None when there is none
    (or none that this hoist reads)."""
    try:
        manifest = json.loads((seed / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and all(key in manifest for key in MANIFEST_KEYS) else None


def _forget_old(seed: Path) -> None:
    """Remove kept directories beside *seed* but the newest :data:`KEPT_PER_ROOT`
    (by use), and what killed runs left (``.``-names, an hour old).  Each is
    renamed aside first, so that half of one is never taken for a kept one."""
    kept = sorted((p for p in seed.parent.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[KEPT_PER_ROOT:]:
        _remove(old)
    for left in seed.parent.glob(".*"):
        with contextlib.suppress(OSError):
            if left.stat().st_mtime < time.time() - 3600:
                shutil.rmtree(left, ignore_errors=True)


def _remove(kept: Path) -> None:
    """Rename *kept* aside (a ``.``-name), then delete it."""
    aside = kept.with_name(f".{kept.name}.removed.{os.getpid()}")
    try:
        os.rename(kept, aside)
    except OSError:
        return  # another run removed it
    shutil.rmtree(aside, ignore_errors=True)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system (EXDEV), or links not allowed
        shutil.copy2(source, target)


def _normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return "-".join(part for part in name.replace("_", "-").replace(".", "-").lower().split("-") if part)


def wheel_paths(wheel: Path) -> set[str]:
    """The paths, relative to the virtualenv, that installing *wheel* writes
    (the wheel binary package format, "Installing a wheel"), but for its
    console scripts, which go to ``bin/`` (never linked)."""
    found = set()
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            parts = PurePosixPath(name).parts
            if len(parts) > 2 and parts[0].endswith(".data"):
                scheme, rest = parts[1], PurePosixPath(*parts[2:])
                if scheme in ("purelib", "platlib"):
                    found.add(f"site-packages/{rest}")
                elif scheme == "data":
                    found.add(str(rest))
            else:
                found.add(f"site-packages/{name}")
    return found


def link(seed: Path, venv: Path, application_wheel: Path, install_root: str, excludes: Path | None = None) -> int:
    """Link the files kept at *seed* into the staged virtualenv *venv*, which
    must not be there yet.

    Console scripts, and any file the application's wheel installs too, are
    copied.  What dh_strip rewrites in place is linked only where dh_strip
    will not touch it: with *excludes*, this writes there one
    ``-X<install root>/lib/pythonX.Y/site-packages/<name>`` option of dh_strip
    (dh_strip(1), ``--exclude``) for each top-level name of site-packages that
    is the dependencies' alone, which ``debian/rules`` passes on; it prunes
    those trees, stripped already by the build that kept them with the same
    debhelper and binutils.  Everything else dh_strip rewrites is copied.

    :param install_root: where the virtualenv is installed, e.g. ``/opt/hello``.
    :returns: the number of distributions linked; 0 when nothing is kept at
        *seed*, when the application's wheel no longer installs a file that
        the kept distributions lack (the dependencies are installed then), or
        when linking failed (a kept directory removed meanwhile): *venv* is then
        removed again, for dh_virtualenv to install all, and a kept directory
        found broken is removed.
    """
    manifest = read_manifest(seed)
    if manifest is None:
        return 0
    ours = wheel_paths(application_wheel)
    if venv.exists() or not set(manifest["overlaps"]) <= ours:
        return 0
    stripped = set(manifest["stripped"])
    pruned = _strip_prunable(manifest["files"], ours) if excludes else {}
    tree = seed / "tree"
    try:
        made: set[Path] = set()
        for relative in manifest["files"]:
            source, target = tree / relative, venv / relative
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            written_in_place = relative in stripped and _top_level(relative) not in pruned
            if written_in_place or relative.startswith("bin/") or _installed_as(relative) in ours:
                shutil.copyfile(source, target)
                shutil.copymode(source, target)
            else:
                _link_or_copy(source, target)
        for directory in manifest["empty"]:
            (venv / directory).mkdir(parents=True, exist_ok=True)
        if excludes:
            root = install_root.rstrip("/")
            excludes.write_text("".join(f"-X{root}/{top}\n" for top in sorted(pruned)), encoding="utf-8")
        os.utime(seed)  # in use: the newest is kept longest
    except OSError as error:
        sys.stderr.write(f"hoist.buildtime.seed: {seed} could not be linked ({error}): uv installs every distribution\n")
        shutil.rmtree(venv, ignore_errors=True)
        if excludes:
            excludes.unlink(missing_ok=True)
        _remove(seed)  # broken: the next build keeps a whole one
        return 0
    return len(manifest["distributions"])


#: A top-level name of site-packages that can go into a dh_strip option as it is
#: (no whitespace, no quoting, nothing make or the shell would expand).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.+-]+")


def _top_level(relative: str) -> str | None:
    """``lib/pythonX.Y/site-packages/<name>`` that *relative* is or is under, else None."""
    head, sep, rest = relative.partition("/site-packages/")
    return f"{head}/site-packages/{rest.split('/', 1)[0]}" if sep and head.startswith("lib/python") else None


def _strip_prunable(files: list[str], ours: set[str]) -> set[str]:
    """The top-level trees of site-packages (:func:`_top_level`) under which
    dh_strip may skip everything: the dependencies' alone.  dh_strip matches
    ``-X`` as a part of the path, so a name that begins any name of the
    application's is not one."""
    application = {path.split("/", 2)[1] for path in ours if path.startswith("site-packages/")}
    tops = {top for top in map(_top_level, files) if top}
    return {top for top in tops
            if _PLAIN_NAME.fullmatch(name := top.rpartition("/")[2])
            and not any(other.startswith(name) for other in application)}


def prefetch(seed: Path) -> int:
    """Ask the kernel to read every file kept at *seed* into the page cache
    (posix_fadvise(2), ``POSIX_FADV_WILLNEED``), ELF files first: the build
    reads each of them (dh_makeshlibs, dh_shlibdeps, dh_md5sums, dpkg-deb),
    and a kept file unread since an earlier build is often on disk only, where
    reading tens of thousands of small files one at a time is the slowest part
    of a warm build (13 s against 4 s for Warehouse's on the benchmark's disk).
    hoist runs it beside dpkg-buildpackage.

    :returns: the number of files advised (0 when nothing is kept at *seed*).
    """
    manifest = read_manifest(seed)
    if manifest is None:
        return 0
    stripped = set(manifest["stripped"])
    count = 0
    for relative in [*manifest["stripped"], *(f for f in manifest["files"] if f not in stripped)]:
        try:
            descriptor = os.open(seed / "tree" / relative, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_WILLNEED)
            count += 1
        finally:
            os.close(descriptor)
    return count


def linked(seed: Path, venv: Path) -> int:
    """The number of distributions kept at *seed* whose files *venv* holds as
    links to the kept ones (0 when it holds none: the build installed them)."""
    manifest = read_manifest(seed)
    if manifest is None:
        return 0
    stripped = set(manifest["stripped"])
    for relative in manifest["files"]:
        if not relative.startswith("bin/") and relative not in stripped:
            try:
                return len(manifest["distributions"]) if (venv / relative).samefile(seed / "tree" / relative) else 0
            except OSError:
                return 0
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        sys.stderr.write("usage: python -m hoist.buildtime.seed <kept directory> <application wheel> "
                         "debian/<package> <install root>\n")
        return 2
    seed, wheel, staging, install_root = argv
    debian = Path(staging).parent
    # The dh_strip options go where debian/rules reads them; rules that do not would strip through links.
    excludes = debian / STRIP_EXCLUDES
    honoured = STRIP_EXCLUDES in (debian / "rules").read_text(encoding="utf-8", errors="replace")
    count = link(Path(seed), Path(staging) / install_root.lstrip("/"), Path(wheel), install_root,
                 excludes if honoured else None)
    if count:
        print(f"hoist.buildtime.seed: {count} distributions of the lock linked from {seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
