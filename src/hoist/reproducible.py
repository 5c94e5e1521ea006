"""Byte-reproducible sdists, and unpacking them safely.

setuptools' sdist is not reproducible even with ``SOURCE_DATE_EPOCH``: the gzip
header carries a time and the archive's members carry the time they were
generated (FIELD-NOTES, "Reproducibility").  :func:`normalize_sdist` rewrites
it as a function of its content alone: members sorted by name, every mtime
set to ``SOURCE_DATE_EPOCH``, owner ``root:root`` (0:0), modes 0644/0755,
and a gzip header with mtime 0 and no file name (RFC 1952).  A release resumed
on another machine therefore uploads the same bytes.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from pathlib import Path

from .errors import BuildError


def normalize_sdist(path: Path, epoch: int) -> None:
    """Rewrite the ``.tar.gz`` at *path* in place, deterministically.

    :param epoch: ``SOURCE_DATE_EPOCH``, seconds since the epoch: every
        member's mtime.
    """
    with tarfile.open(path, "r:gz") as source:
        members = [(m, source.extractfile(m).read() if m.isfile() else None) for m in source.getmembers()]
    members.sort(key=lambda item: item[0].name)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as target:
        for member, data in members:
            member.mtime = epoch  # not min(): checkout times differ between clones
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            if member.isdir() or member.mode & 0o111:
                member.mode = 0o755
            else:
                member.mode = 0o644
            member.pax_headers = {}
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out, gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    os.replace(tmp, path)


def extract(path: Path, into: Path) -> None:
    """Unpack the tarball *path* into *into*: regular files and directories
    only, none outside *into* (Python 3.11.2, Debian 12's, has no
    ``extractall(filter=...)``, so each member is checked here).

    :raises BuildError: it cannot be read, or a member is a link, a device, or
        a path that leaves *into*.
    """
    try:
        with tarfile.open(path) as tar:
            members = tar.getmembers()
            for member in members:
                parts = Path(member.name).parts
                if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in parts:
                    raise BuildError(f"{path.name} holds {member.name!r}, which is not a plain file under it",
                                     "build only from a file a release made")
                member.mode &= 0o755  # no set-id bits
            tar.extractall(into, members=members)
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:  # a truncated gzip stream is an EOFError
        raise BuildError(f"cannot unpack {path}: {exc or type(exc).__name__}",
                         "the file is damaged, or not an sdist or source release that hoist made") from None
