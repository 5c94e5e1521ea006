"""Build the binary package: a virtualenv under the install root, by dh-virtualenv.

``dpkg-buildpackage -b`` runs in the clean export of the tag; ``debian/rules``
(written by ``hoist init``) calls ``dh_virtualenv`` with Debian's
``/usr/bin/python3`` and installs the requirements file hoist hands it through
``HOIST_REQUIREMENTS``: the wheel just built, and the lock file when the
project names one.  The installed distributions are read back from the
staging tree and recorded in the manifest.
"""

from __future__ import annotations

import shutil
import sys
from importlib.metadata import distributions
from pathlib import Path

from ..context import Context, ReleasePlan
from ..errors import BuildError
from ..manifest import sha256_file


def requirements_text(wheel: Path, lock: Path | None) -> str:
    """The requirements file (pip's format) for the virtualenv.

    With a lock, every requirement must carry a hash (pip's hash-checking
    mode), so the wheel gets one too.
    """
    if lock is None:
        return f"{wheel}\n"
    return f"-r {lock}\n{wheel} --hash=sha256:{sha256_file(wheel)}\n"


def installed_distributions(staging: Path, install_root: str) -> list[dict[str, str]]:
    """Name and version of every distribution in the staged virtualenv, sorted."""
    venv = staging / install_root.lstrip("/")
    site = sorted(venv.glob("lib/python3*/site-packages"))
    found = {
        (dist.metadata["Name"], dist.version)
        for dist in distributions(path=[str(p) for p in site])
    }
    return [{"name": n, "version": v} for n, v in sorted(found, key=lambda nv: nv[0].lower())]


class Deb:
    name = "build .deb"

    def describe(self, ctx: Context, plan: ReleasePlan) -> list[str]:
        deps = f"the lock file {ctx.config.lock}" if ctx.config.lock else "the wheel's metadata"
        return [
            f"dpkg-buildpackage -b with dh-virtualenv: {ctx.config.package}_{plan.version}_<arch>.deb",
            f"virtualenv in {ctx.config.install_root} for /usr/bin/python3; the app from the wheel, dependencies from {deps}",
        ]

    def skip(self, ctx: Context, plan: ReleasePlan) -> str | None:
        return None

    def run(self, ctx: Context, plan: ReleasePlan) -> None:
        assert ctx.build_dir is not None
        lock = None
        if ctx.config.lock:
            lock = ctx.source / ctx.config.lock
            if not lock.is_file():
                raise BuildError(
                    f"the lock file {ctx.config.lock} named in [tool.hoist] is not in {plan.tag}",
                    "commit it, or remove tool.hoist.lock to take dependencies from the wheel",
                )
        requirements = ctx.build_dir / "requirements.txt"
        requirements.write_text(requirements_text(ctx.artifacts["wheel"].resolve(), lock), encoding="utf-8")
        ctx.runner.run(
            ["dpkg-buildpackage", "-b", "-us", "-uc"],
            cwd=ctx.source,
            env={
                "HOIST_REQUIREMENTS": str(requirements),
                "HOIST_INSTALL_ROOT": ctx.config.install_root,
                "HOIST_FIXUP": f"{sys.executable} -m hoist.fixup",
                "SOURCE_DATE_EPOCH": str(int(plan.moment.timestamp())),
                "DEB_BUILD_OPTIONS": "nocheck",
            },
            stream=True,
        )
        debs = sorted(ctx.build_dir.glob(f"{ctx.config.package}_{plan.version}_*.deb"))
        if len(debs) != 1:
            raise BuildError(
                f"expected one {ctx.config.package}_{plan.version}_*.deb, found {[d.name for d in debs]}",
                "check debian/control: the binary package must be named like the source package",
            )
        ctx.installed = installed_distributions(ctx.source / "debian" / ctx.config.package, ctx.config.install_root)
        for built in [debs[0], *ctx.build_dir.glob(f"{ctx.config.package}_{plan.version}_*.buildinfo")]:
            shutil.copyfile(built, ctx.dist / built.name)
        ctx.artifacts["deb"] = ctx.dist / debs[0].name
