"""Build the binary package: a virtualenv under the install root, by dh-virtualenv.

``dpkg-buildpackage -b`` runs in the clean export of the tag; ``debian/rules``
(written by ``hoist init``) calls ``dh_virtualenv`` with Debian's
``/usr/bin/python3``.  hoist hands it, through ``HOIST_*`` variables, the
requirements (the wheel just built and every dependency, pinned with hashes),
uv as the installer (:mod:`hoist.buildtime.pip_uv`), the wheelhouse as its only
source (``--no-index``), :mod:`hoist.buildtime.fixup`, and the compression.  The installed
distributions are read back from the staging tree for the manifest.

The dependencies' files, as the build left them, are kept for the next build
of the same lock, tools and rules (:func:`seed_directory`), which links them
in rather than have uv copy them again (:mod:`hoist.buildtime.seed`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sys
import threading
from dataclasses import dataclass
from importlib.metadata import version as distribution_version
from pathlib import Path

from packaging.utils import parse_wheel_filename
from uv import find_uv_bin

from .. import __version__
from ..buildtime import (  # not .sbom: cyclonedx is slow to import, and needed at build time only
    pip_uv,
    sbom_path,
    seed,
    venv_distributions,
)
from ..cache import cache_home
from ..context import Context, ReleasePlan
from ..errors import BuildError
from ..manifest import Artifact, sha256_file
from ..preflight import SYSTEM_PYTHON
from ..products import Export, Installed, Products, Wheelhouse
from ..runner import Runner

#: What the debian/rules of a hoist that ships the SBOM has (its override_dh_compress).
SBOM_MARKER = "dh_compress -X.cdx.json"

#: What the debian/rules of a hoist that links the kept virtualenv has (its override_dh_virtualenv).
SEED_MARKER = "$(HOIST_SEED)"

#: Debian packages whose versions shape the kept virtualenv's files: dh_fixperms
#: and dh_strip (debhelper, binutils), dh-virtualenv's shebang rewrite.
SHAPING_PACKAGES = ("debhelper", "dh-virtualenv", "binutils")


def seed_directory(runner: Runner, export: Path, wheels: dict[str, str], install_root: str,
                   environment: dict[str, str]) -> Path:
    """Where the dependencies' part of the virtualenv is kept (:mod:`hoist.buildtime.seed`):
    ``$XDG_CACHE_HOME/hoist/venvs/<install root>/<key>``, the key a sha256 of
    everything that shapes those files: the dependencies' wheels (*wheels*,
    ``{filename: sha256}``), the interpreter, the install root, ``debian/rules``
    and ``debian/control``, the environment hoist gives the build, and the
    versions of uv, hoist, and :data:`SHAPING_PACKAGES`.

    :raises BuildError: dpkg cannot tell the packages' versions.
    """
    versions = runner.run(["dpkg-query", "--showformat=${Package} ${Version}\n", "--show", *SHAPING_PACKAGES],
                          check=False)
    if not versions.ok:
        raise BuildError(f"dpkg cannot tell the versions of {', '.join(SHAPING_PACKAGES)}: {versions.stderr.strip()}",
                         "install them (ci/bootstrap does)")
    shaping = {
        "wheels": wheels,
        "python": str(Path(SYSTEM_PYTHON).resolve()),
        "install_root": install_root,
        "debian": {name: sha256_file(export / "debian" / name) for name in ("rules", "control")},
        "environment": {k: v for k, v in environment.items() if k != "SOURCE_DATE_EPOCH"},
        "tools": [versions.stdout, distribution_version("uv"), __version__],
    }
    key = hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:32]
    return cache_home() / "venvs" / install_root.strip("/").replace("/", "_") / key


def installed_distributions(staging: Path, install_root: str) -> Installed:
    """Name and version of every distribution in the staged virtualenv, sorted."""
    return Installed(tuple(venv_distributions(staging / install_root.lstrip("/"))))


@dataclass(frozen=True)
class DebPlan:
    """``dpkg-buildpackage`` with dh-virtualenv in the export, making *package_file*.

    :ivar install_root: where the virtualenv is installed on servers.
    :ivar dependencies: where the dependencies come from.
    :ivar environment: what hoist hands ``debian/rules`` (the wheelhouse's
        paths are added by the run).
    """

    command: tuple[str, ...]
    package_file: str
    install_root: str
    python: str
    dependencies: str
    compression: str
    environment: tuple[tuple[str, str], ...]


class Deb:
    name = "build .deb"

    def plan(self, ctx: Context, release: ReleasePlan) -> DebPlan:
        config = ctx.config
        environment = {
            "HOIST_INSTALL_ROOT": config.install_root,
            "HOIST_FIXUP": f"{sys.executable} -m hoist.buildtime.fixup",
            "HOIST_SHLIBDEPS": f"{sys.executable} -m hoist.buildtime.shlibdeps",
            "HOIST_PIP_TOOL": str(Path(pip_uv.__file__).resolve()),
            "HOIST_UV": find_uv_bin(),
            "HOIST_COMPRESSION": config.compression,
            "SOURCE_DATE_EPOCH": str(int(release.moment.timestamp())),
            "DEB_BUILD_OPTIONS": "nocheck",
        }
        return DebPlan(
            # --no-pre-clean: the export is a fresh checkout of the tag, with nothing to clean.
            command=("dpkg-buildpackage", "-b", "-us", "-uc", "--no-pre-clean"),
            package_file=f"{config.package}_{release.version}_<architecture>.deb",
            install_root=config.install_root,
            python=SYSTEM_PYTHON,
            dependencies=f"the lock file {config.lock}" if config.lock else "the wheel's metadata",
            compression=config.compression,
            environment=tuple(environment.items()),
        )

    def run(self, ctx: Context, release: ReleasePlan, plan: DebPlan, made: Products) -> Products:
        assert ctx.work is not None
        export, house = made.get(Export), made.get(Wheelhouse)
        package = ctx.config.package
        app = made.artifact("wheel")
        wheels = {w.name: sha256_file(w) for w in sorted(house.directory.glob("*.whl"))} | {app.filename: app.sha256}
        # Without a lock, the wheelhouse holds the application's wheel too.
        ours = parse_wheel_filename(app.filename)[0]
        dependencies = {name: digest for name, digest in wheels.items() if parse_wheel_filename(name)[0] != ours}
        sbom_input = ctx.work / "sbom-input.json"
        sbom_input.write_text(json.dumps({"version": str(release.version), "wheels": wheels}, sort_keys=True),
                              encoding="utf-8")
        rules = (export.path / "debian" / "rules").read_text(encoding="utf-8", errors="replace")
        # The debian/rules of an earlier hoist ships no SBOM: its releases rebuild as they were.
        ships_sbom = SBOM_MARKER in rules
        kept = None
        if SEED_MARKER in rules:
            kept = seed_directory(ctx.runner, export.path, dependencies, plan.install_root, dict(plan.environment))
        staging = export.path / "debian" / package
        with seed.in_use(kept) if kept else contextlib.nullcontext(False) as holding:
            if kept and not holding:
                ctx.ui.line(f"    venv: another build uses the kept virtualenvs of {plan.install_root}: "
                            "uv installs every distribution")
            try:
                return self._build(ctx, release, plan, made, sbom_input, ships_sbom, kept if holding else None)
            finally:
                if holding:
                    # Its files share their inodes with the kept ones: removed while no other build reads those.
                    shutil.rmtree(staging, ignore_errors=True)

    def _build(self, ctx: Context, release: ReleasePlan, plan: DebPlan, made: Products, sbom_input: Path,
               ships_sbom: bool, kept: Path | None) -> Products:
        """dpkg-buildpackage, linking the dependencies from *kept* and keeping them there (when not None)."""
        assert ctx.work is not None
        export, house = made.get(Export), made.get(Wheelhouse)
        package = ctx.config.package
        app = made.artifact("wheel")
        # The kept files are read into memory while dpkg-buildpackage starts and links them.
        reading = threading.Thread(target=seed.prefetch, args=(kept,), daemon=True) if kept else None
        if reading:
            reading.start()
        try:
            ctx.runner.run(
                list(plan.command),
                cwd=export.path,
                env={
                    **dict(plan.environment),
                    "HOIST_REQUIREMENTS": str(house.requirements),
                    "HOIST_PIP_ARGS": f"--no-index --find-links={house.directory} --require-hashes",
                    **({"HOIST_SBOM_INPUT": str(sbom_input)} if ships_sbom else {}),
                    **({"HOIST_SEED": f"{sys.executable} -m hoist.buildtime.seed {kept} {app.path}"} if kept else {}),
                },
                stream=True,
            )
        finally:
            if reading:
                reading.join()
        beside = export.path.parent  # dpkg-buildpackage writes its results beside the source tree
        debs = sorted(beside.glob(f"{package}_{release.version}_*.deb"))
        if len(debs) != 1:
            raise BuildError(
                f"expected one {package}_{release.version}_*.deb, found {[d.name for d in debs]}",
                "check debian/control: the binary package must be named like the source package",
            )
        installed = installed_distributions(export.path / "debian" / package, plan.install_root)
        if kept:
            self.keep(ctx, kept, export.path / "debian" / package / plan.install_root.lstrip("/"), app.path)
        for built in [debs[0], *beside.glob(f"{package}_{release.version}_*.buildinfo")]:
            shutil.copyfile(built, ctx.dist / built.name)
        deb = Artifact.of("deb", ctx.dist / debs[0].name)
        if not ships_sbom:
            ctx.ui.line("    note: debian/rules is older than this hoist and ships no SBOM: hoist init --update")
            return made.add(installed, deb)
        staged = export.path / "debian" / package / sbom_path(package)
        if not staged.is_file():
            ctx.ui.line(f"    warning: the package has no SBOM at /{sbom_path(package)}: debian/rules must run "
                        "$(HOIST_FIXUP) after dh_virtualenv (hoist init --update)", style="yellow")
            return made.add(installed, deb)
        sbom = ctx.dist / f"{package}_{release.version}.cdx.json"
        shutil.copyfile(staged, sbom)
        return made.add(installed, deb, Artifact.of("sbom", sbom))

    @staticmethod
    def keep(ctx: Context, kept: Path, venv: Path, wheel: Path) -> None:
        """Say whether the build linked the dependencies from *kept*, else keep them there for the next."""
        linked = seed.linked(kept, venv)
        if linked:
            ctx.ui.line(f"    venv: {linked} distributions of the lock linked from the last build's ({kept})")
            return
        try:
            count = seed.keep(kept, venv, wheel)
        except Exception as error:  # noqa: BLE001 -- a cache: the release goes on without it
            ctx.ui.line(f"    note: the virtualenv's dependencies could not be kept for the next build: {error!r}")
            return
        if count:
            ctx.ui.line(f"    venv: {count} distributions of the lock kept for the next build ({kept})")
