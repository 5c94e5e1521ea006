"""``dh_shlibdeps``, run once for each set of shared objects.

``debian/rules`` runs, as its ``override_dh_shlibdeps``::

    $(HOIST_SHLIBDEPS) debian/<package> -- dh_shlibdeps [options]

dh_shlibdeps runs dpkg-shlibdeps on every ELF file of the package, which
looks each library up in dpkg's database (its ``shlibs`` and ``symbols``
files): seconds for a virtualenv of manylinux wheels, whose shared objects
are the same from one release to the next of one lock.  Its only product is
the ``shlibs:Depends`` line (and any other ``shlibs:`` variable) of
``debian/<package>.substvars`` (deb-substvars(5)).  This wrapper keys that
product by the sha256 of every ELF file (path and content), of what
dpkg-shlibdeps(1) reads besides (dpkg's status file, which any library
installed, upgraded or removed changes; ``debian/shlibs.local``,
``/etc/dpkg/shlibs.override`` and ``shlibs.default``; the dynamic linker's
``/etc/ld.so.conf*``), of the architecture and of the command: on a hit it
writes the kept lines, on a miss it runs the command and keeps what it
wrote, under ``$XDG_CACHE_HOME/hoist/shlibdeps/``.  A source package with
more than one binary package is not kept: the command runs every time.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from debian.deb822 import Deb822

STATUS = Path("/var/lib/dpkg/status")

#: What dpkg-shlibdeps reads besides the ELF files and dpkg's database (dpkg-shlibdeps(1), FILES).
READ = ("debian/shlibs.local", "/etc/dpkg/shlibs.override", "/etc/dpkg/shlibs.default", "/etc/ld.so.conf")


def elf_files(staging: Path) -> list[Path]:
    """Every regular file under *staging* that starts with the ELF magic, sorted."""
    found = []
    for directory, _, names in os.walk(staging):
        for name in names:
            path = Path(directory, name)
            if path.is_symlink() or not path.is_file():
                continue
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    found.append(path)
    return sorted(found)


def key(staging: Path, command: list[str]) -> str:
    """The cache key of *command* run on the package staged at *staging*."""
    digest = hashlib.sha256()
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout
    digest.update(json.dumps([command, arch.strip()]).encode())
    read = [STATUS, *map(Path, READ), *sorted(Path("/etc/ld.so.conf.d").glob("*"))]
    for path in read:
        digest.update(f"{path}\0{_sha256(path) if path.is_file() else '-'}\n".encode())
    for path in elf_files(staging):
        digest.update(f"{path.relative_to(staging)}\0{_sha256(path)}\n".encode())
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def binary_packages(control: Path) -> list[str]:
    """The binary packages of the source package's ``debian/control`` (deb-src-control(5))."""
    with control.open(encoding="utf-8") as handle:
        return [paragraph["Package"] for paragraph in Deb822.iter_paragraphs(handle) if "Package" in paragraph]


def shlibs_lines(substvars: Path) -> list[str]:
    """The ``shlibs:`` variables of a substvars file (deb-substvars(5))."""
    if not substvars.exists():
        return []
    return [line for line in substvars.read_text(encoding="utf-8").splitlines() if line.startswith("shlibs:")]


def write_lines(substvars: Path, lines: list[str]) -> None:
    """Replace the ``shlibs:`` variables of *substvars* by *lines*."""
    kept = []
    if substvars.exists():
        kept = [line for line in substvars.read_text(encoding="utf-8").splitlines() if not line.startswith("shlibs:")]
    substvars.write_text("".join(f"{line}\n" for line in [*kept, *lines]), encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: python -m hoist.buildtime.shlibdeps debian/<package> -- dh_shlibdeps [options]\n")
        return 2
    staging, command = Path(argv[0]), argv[2:]
    if binary_packages(staging.parent / "control") != [staging.name]:
        return subprocess.run(command, check=False).returncode  # others' substvars are written too: not kept
    substvars = staging.parent / f"{staging.name}.substvars"
    # hoist.cache.cache_home's directory; buildtime imports nothing of the library (test_layout).
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hoist" / "shlibdeps"
    entry = cache / f"{key(staging, command)}.json"
    if entry.is_file():
        lines = json.loads(entry.read_text(encoding="utf-8"))
        write_lines(substvars, lines)
        print(f"hoist.buildtime.shlibdeps: the same shared objects as before: {'; '.join(lines) or 'no shlibs:'}")
        return 0
    status = subprocess.run(command, check=False).returncode
    if status != 0:
        return status
    cache.mkdir(parents=True, exist_ok=True)
    partial = entry.with_suffix(f".{os.getpid()}")
    partial.write_text(json.dumps(shlibs_lines(substvars)), encoding="utf-8")
    os.replace(partial, entry)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
