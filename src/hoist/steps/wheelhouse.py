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
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import parse_wheel_filename

from ..cache import cache_home
from ..context import Context, ReleasePlan
from ..errors import BuildError
from ..manifest import sha256_file
from ..products import Export, Products, Wheelhouse

PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]


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


@dataclass(frozen=True)
class WheelhousePlan:
    """Collect the wheels of *lock* (cached by its sha256 under *cache*), or,
    with no lock, of the wheel's own requirements, with *command* (the run
    adds the wheel directory and the lock or the wheel)."""

    lock: str | None
    lock_sha256: str | None
    cache: str | None
    command: tuple[str, ...]


class CollectWheelhouse:
    name = "collect the wheelhouse"

    def plan(self, ctx: Context, release: ReleasePlan) -> WheelhousePlan:
        lock = ctx.config.lock
        if lock is None:
            return WheelhousePlan(None, None, None, (*PIP, "wheel", "--quiet"))
        # The lock is committed: the release's tag holds the same file as HEAD.
        path = ctx.root / lock
        digest = sha256_file(path) if path.is_file() else None
        cache = str(cache_home() / "wheelhouses" / digest[:32]) if digest else None
        return WheelhousePlan(lock, digest, cache,
                              (*PIP, "wheel", "--quiet", "--require-hashes", "--no-deps"))

    def run(self, ctx: Context, release: ReleasePlan, plan: WheelhousePlan, made: Products) -> Products:
        assert ctx.work is not None
        export = made.get(Export)
        app = made.artifact("wheel").path.resolve()
        if plan.lock:
            lock = export.path / plan.lock
            if not lock.is_file():
                raise BuildError(
                    f"the lock file {plan.lock} named in [tool.hoist] is not in {release.tag}",
                    "commit it (hoist lock writes one), or remove tool.hoist.lock",
                )
            house = self._locked(ctx, plan, lock)
            hashes = json.loads((house / RECORD).read_text())
            verify(house, hashes)
        else:
            house = ctx.work / "wheelhouse"
            ctx.runner.run([*plan.command, "--wheel-dir", str(house), str(app)], stream=True)
            app_name = parse_wheel_filename(app.name)[0]
            hashes = {w.name: sha256_file(w) for w in house.glob("*.whl") if parse_wheel_filename(w.name)[0] != app_name}
        requirements = ctx.work / "requirements.txt"
        requirements.write_text(pinned_requirements(hashes, app), encoding="utf-8")
        return made.add(Wheelhouse(house, requirements))

    @staticmethod
    def _locked(ctx: Context, plan: WheelhousePlan, lock: Path) -> Path:
        """The cached wheelhouse of *lock*, filled by pip on first use."""
        key = hashlib.sha256(lock.read_bytes()).hexdigest()[:32]
        cached = cache_home() / "wheelhouses" / key
        if (cached / RECORD).exists():
            ctx.ui.line(f"    wheelhouse {key[:12]} is cached")
            return cached
        partial = cached.with_name(f"{key}.{os.getpid()}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        ctx.runner.run([*plan.command, "--wheel-dir", str(partial), "-r", str(lock)], stream=True)
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
