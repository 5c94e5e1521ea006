"""Build the binary package: a virtualenv under the install root, by dh-virtualenv.

``dpkg-buildpackage -b`` runs in the clean export of the tag; ``debian/rules``
(written by ``hoist init``) calls ``dh_virtualenv`` with Debian's
``/usr/bin/python3``.  hoist hands it, through ``HOIST_*`` variables, the
requirements (the wheel just built and every dependency, pinned with hashes),
uv as the installer (:mod:`hoist.pip_uv`), the wheelhouse as its only source
(``--no-index``), :mod:`hoist.fixup`, and the compression.  The installed
distributions are read back from the staging tree for the manifest.
"""

from __future__ import annotations

import shutil
import sys
from importlib.metadata import distributions
from pathlib import Path

from uv import find_uv_bin

from .. import pip_uv
from ..context import Context, ReleasePlan
from ..errors import BuildError


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
        assert ctx.build_dir is not None and ctx.wheelhouse is not None
        requirements = ctx.build_dir / "requirements.txt"
        ctx.runner.run(
            ["dpkg-buildpackage", "-b", "-us", "-uc"],
            cwd=ctx.source,
            env={
                "HOIST_REQUIREMENTS": str(requirements),
                "HOIST_INSTALL_ROOT": ctx.config.install_root,
                "HOIST_FIXUP": f"{sys.executable} -m hoist.fixup",
                "HOIST_PIP_TOOL": str(Path(pip_uv.__file__).resolve()),
                "HOIST_PIP_ARGS": f"--no-index --find-links={ctx.wheelhouse} --require-hashes",
                "HOIST_UV": find_uv_bin(),
                "HOIST_COMPRESSION": ctx.config.compression,
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
