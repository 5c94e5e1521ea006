"""Make a staged virtualenv independent of the directory it was built in.

Run by ``debian/rules`` right after ``dh_virtualenv`` (hoist passes the
command as ``HOIST_FIXUP``)::

    python -m hoist.buildtime.fixup <package staging dir> <install root>

A virtualenv built in ``debian/<package>/opt/<name>`` records that path in
several places; the same tag built in another directory would then give
another .deb (FIELD-NOTES, "Reproducibility").  This removes every one:

- ``pyvenv.cfg``: the ``command =`` line (``python -m venv <build path>``),
  and uv's empty ``.lock`` beside it;
- ``direct_url.json`` (PEP 610: the wheel's build-host path) and uv's
  ``uv_cache.json``, with their ``RECORD`` lines;
- console scripts that uv wrote as ``/bin/sh`` launchers (``'''exec'``
  polyglots) because the build path's ``bin/python`` made too long a shebang,
  and whose quoting dh-virtualenv's shebang rewrite then broke: they become
  the plain ``#!<install root>/bin/python`` scripts that a shorter build path
  gives;
- ``RECORD`` hashes and sizes of files that dh-virtualenv rewrote after pip
  installed them (console scripts' shebangs), recomputed (PEP 376/PEP 627);
- byte code: the package ships none (a ``.pyc`` holds its source's path as
  ``co_filename``, and the byte code was a quarter of the large benchmark
  app's staged bytes).  The installer is told not to compile, and any
  ``__pycache__`` left in the virtualenv is removed with its ``RECORD``
  lines; the postinst that ``hoist init`` writes compiles the modules on the
  server and the prerm removes them (Debian Python Policy, "Modules
  byte-compilation").

With ``HOIST_SBOM_INPUT`` (a JSON file: the package's ``version`` and the
``wheels`` it was installed from, ``{filename: sha256}``), it then writes the
virtualenv's SBOM into the package (:mod:`hoist.buildtime.sbom`), dated
``SOURCE_DATE_EPOCH``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import sys
from pathlib import Path

from . import sbom_path
from .sbom import make_sbom

#: Files that only describe the build host; removed with their RECORD lines.
HOST_ONLY = ("direct_url.json", "uv_cache.json")


#: Linux reads at most this many bytes of a ``#!`` line, newline included
#: (``BINPRM_BUF_SIZE`` before Linux 5.1); installers fall back to a ``/bin/sh``
#: launcher beyond it.
SHEBANG_MAX = 128

#: The head of uv's (and distlib's) launcher for an interpreter path too long
#: for a shebang: ``sh`` runs line 2, Python reads lines 2-3 as a string.  The
#: path may be quoted or, after dh-virtualenv's rewrite, half-quoted.
_SH_LAUNCHER = re.compile(rb"""\A#!/bin/sh\n'''exec' '?[^'\n]*/bin/python[0-9.]*'? "\$0" "\$@"\n' '''\n""")


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def fix_pyvenv_cfg(venv: Path) -> None:
    (venv / ".lock").unlink(missing_ok=True)  # uv's, empty
    cfg = venv / "pyvenv.cfg"
    if cfg.exists():
        lines = cfg.read_text().splitlines(keepends=True)
        cfg.write_text("".join(line for line in lines if not line.startswith("command =")))


def fix_launchers(venv: Path, install_root: str) -> list[Path]:
    """Give console scripts written as ``/bin/sh`` launchers a plain shebang.

    A build directory deep enough that ``<venv>/bin/python`` does not fit in a
    shebang line (:data:`SHEBANG_MAX`) makes uv write a ``/bin/sh`` polyglot
    instead; installed, the path is ``<install root>/bin/python``, which fits,
    so the script gets the same bytes as from a shallow build.

    :param venv: the staged virtualenv.
    :param install_root: where it is installed, e.g. ``/opt/hello``.
    :returns: the scripts rewritten.
    """
    shebang = f"#!{install_root.rstrip('/')}/bin/python\n".encode()
    if len(shebang) > SHEBANG_MAX:
        return []
    fixed = []
    for script in sorted((venv / "bin").iterdir()):
        if script.is_symlink() or not script.is_file():
            continue
        with script.open("rb") as handle:
            head = handle.read(4096)
        match = _SH_LAUNCHER.match(head)
        if match:
            replace_file(script, shebang + script.read_bytes()[match.end():])
            fixed.append(script)
    return fixed


def fix_records(venv: Path) -> None:
    """Drop host-only files and bring every RECORD up to date with the files.

    Only the files under ``bin/`` can differ from what the installer recorded:
    console scripts, whose shebang dh-virtualenv and :func:`fix_launchers`
    rewrite.  Those are hashed again (PEP 376/PEP 627); every other line is
    kept as the installer wrote it, so the rest of the virtualenv is not read.
    A RECORD is replaced (a new file, renamed over it) only when it changes:
    a virtualenv linked from a kept one (:mod:`hoist.buildtime.seed`) shares
    its files, which must not be written through.
    """
    scripts = os.path.normpath(venv / "bin")
    for site in venv.glob("lib/python3*/site-packages"):
        for record in site.glob("*.dist-info/RECORD"):
            dist_info = record.parent
            for name in HOST_ONLY:
                (dist_info / name).unlink(missing_ok=True)
            text = record.read_text(encoding="utf-8")
            fixed = []
            for row in csv.reader(io.StringIO(text)):
                if not row:
                    continue
                path, *rest = row
                if Path(path).name in HOST_ONLY and Path(path).parent.name == dist_info.name:
                    continue
                if "__pycache__" in Path(path).parts and not (site / path).exists():
                    continue  # byte code removed by remove_byte_code
                target = os.path.normpath(os.path.join(site, path))  # a RECORD path may be absolute
                if rest and rest[0] and target.startswith(scripts + os.sep) and os.path.isfile(target):
                    data = Path(target).read_bytes()
                    row = [path, _record_hash(data), str(len(data))]
                fixed.append(row)
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(fixed)
            if out.getvalue() != text:
                replace_file(record, out.getvalue().encode("utf-8"))


def replace_file(path: Path, data: bytes) -> None:
    """Write *data* as a new file renamed over *path*, keeping its mode: a file
    linked from a kept virtualenv is replaced here, never written through."""
    fresh = path.with_name(f".{path.name}.hoist-new")
    fresh.write_bytes(data)
    os.chmod(fresh, path.stat().st_mode & 0o7777)
    os.replace(fresh, path)


def remove_byte_code(venv: Path) -> None:
    """Remove every ``__pycache__`` directory of the virtualenv.

    uv and pip are run with ``--no-compile``, so there is normally none; one
    that a build step left would carry the build path.  The ``RECORD`` lines of
    the removed files go in :func:`fix_records`.
    """
    for cache in sorted(venv.rglob("__pycache__"), reverse=True):
        if cache.is_dir() and not cache.is_symlink():
            shutil.rmtree(cache)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m hoist.buildtime.fixup <package staging dir> <install root>", file=sys.stderr)
        return 2
    staging = Path(argv[0]).resolve()
    venv = staging / argv[1].lstrip("/")
    if not (venv / "pyvenv.cfg").exists():
        print(f"hoist.buildtime.fixup: no virtualenv at {venv}", file=sys.stderr)
        return 1
    fix_pyvenv_cfg(venv)
    remove_byte_code(venv)
    fix_launchers(venv, argv[1])
    fix_records(venv)
    if os.environ.get("HOIST_SBOM_INPUT"):
        given = json.loads(Path(os.environ["HOIST_SBOM_INPUT"]).read_text(encoding="utf-8"))
        target = staging / sbom_path(staging.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(make_sbom(venv, staging.name, given["version"], given["wheels"],
                                    int(os.environ.get("SOURCE_DATE_EPOCH", "0"))), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
