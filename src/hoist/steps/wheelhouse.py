"""Collect every distribution the virtualenv needs into a wheelhouse, before the .deb build.

The .deb build then installs from the wheelhouse alone (``--no-index``), with
no network, every file checked against its sha256 (``--require-hashes``).

With a lock file (``[tool.hoist] lock``: pinned requirements with hashes, as
``hoist lock`` or pip-compile write them), ``pip wheel --require-hashes``
fills a wheelhouse cached under ``$XDG_CACHE_HOME/hoist/wheelhouses/``, keyed
by the sha256 of the lock: a warm build touches no index at all.  Without a
lock, ``pip wheel`` resolves the wheel's own requirements (its metadata) from
the machine's configured index into the build's wheelhouse.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from packaging.utils import parse_wheel_filename

from ..context import Context, ReleasePlan
from ..errors import BuildError
from ..manifest import sha256_file

PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]


def cache_home() -> Path:
    """hoist's cache directory (XDG Base Directory Specification)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hoist"


#: The record of a cached wheelhouse: ``{filename: sha256}`` of the wheels pip
#: collected (and checked against the lock's hashes), written when it is complete.
RECORD = "wheelhouse.json"


def pinned_requirements(hashes: dict[str, str], app: Path) -> str:
    """A requirements file that pins every wheel of *hashes* (``{filename:
    sha256}``) by name, version and sha256, and names the application's wheel
    by path (pip's requirements format; uv checks every hash on install)."""
    lines = [f"{app} --hash=sha256:{sha256_file(app)}"]
    for filename, sha256 in sorted(hashes.items()):
        name, version, _, _ = parse_wheel_filename(filename)
        lines.append(f"{name}=={version} --hash=sha256:{sha256}")
    return "\n".join(lines) + "\n"


def verify(house: Path, hashes: dict[str, str]) -> None:
    """Every wheel of the record is in *house* with its recorded sha256.

    :raises BuildError: a wheel is missing or its sha256 differs.
    """
    for filename, expected in hashes.items():
        path = house / filename
        actual = sha256_file(path) if path.exists() else "missing"
        if actual != expected:
            raise BuildError(
                f"wheel {filename} in the wheelhouse {house} does not match its hash: "
                f"sha256 {actual}, expected {expected}",
                f"remove {house} to collect it again from the index, then run again",
            )


class Wheelhouse:
    name = "collect the wheelhouse"

    def describe(self, ctx: Context, plan: ReleasePlan) -> list[str]:
        if ctx.config.lock:
            return [f"pip wheel --require-hashes -r {ctx.config.lock}, cached by the lock's sha256; the .deb build is offline"]
        return ["pip wheel of the wheel's requirements from the configured index; the .deb build is offline"]

    def skip(self, ctx: Context, plan: ReleasePlan) -> str | None:
        return None

    def run(self, ctx: Context, plan: ReleasePlan) -> None:
        assert ctx.build_dir is not None
        app = ctx.artifacts["wheel"].resolve()
        if ctx.config.lock:
            lock = ctx.source / ctx.config.lock
            if not lock.is_file():
                raise BuildError(
                    f"the lock file {ctx.config.lock} named in [tool.hoist] is not in {plan.tag}",
                    "commit it (hoist lock writes one), or remove tool.hoist.lock",
                )
            house = self._locked(ctx, lock)
            hashes = json.loads((house / RECORD).read_text())
            verify(house, hashes)
        else:
            house = ctx.build_dir / "wheelhouse"
            ctx.runner.run([*PIP, "wheel", "--quiet", "--wheel-dir", str(house), str(app)], stream=True)
            app_name = parse_wheel_filename(app.name)[0]
            hashes = {w.name: sha256_file(w) for w in house.glob("*.whl") if parse_wheel_filename(w.name)[0] != app_name}
        (ctx.build_dir / "requirements.txt").write_text(pinned_requirements(hashes, app), encoding="utf-8")
        ctx.wheelhouse = house

    @staticmethod
    def _locked(ctx: Context, lock: Path) -> Path:
        """The cached wheelhouse of *lock*, filled by pip on first use."""
        key = hashlib.sha256(lock.read_bytes()).hexdigest()[:32]
        cached = cache_home() / "wheelhouses" / key
        if (cached / RECORD).exists():
            ctx.ui.line(f"    wheelhouse {key[:12]} is cached")
            return cached
        partial = cached.with_name(f"{key}.{os.getpid()}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        ctx.runner.run(
            [*PIP, "wheel", "--quiet", "--require-hashes", "--no-deps", "--wheel-dir", str(partial), "-r", str(lock)],
            stream=True,
        )
        record = {w.name: sha256_file(w) for w in sorted(partial.glob("*.whl"))}
        (partial / RECORD).write_text(json.dumps(record, indent=1) + "\n")
        try:
            os.rename(partial, cached)
        except OSError:
            if (cached / RECORD).exists():  # another build filled it first
                shutil.rmtree(partial, ignore_errors=True)
            else:  # a wheelhouse left incomplete: replace it
                shutil.rmtree(cached, ignore_errors=True)
                os.rename(partial, cached)
        return cached
