"""What runs inside ``debian/rules`` while dpkg-buildpackage builds the .deb.

Not part of the library that plans and publishes releases: these modules are
handed to the build through ``HOIST_*`` variables (see :mod:`hoist.steps.deb`)
and run as their own processes, in the build's environment.

- :mod:`hoist.buildtime.pip_uv`: the installer dh-virtualenv calls, uv behind pip's options;
- :mod:`hoist.buildtime.fixup`: makes the staged virtualenv independent of the build path;
- :mod:`hoist.buildtime.shlibdeps`: dh_shlibdeps, its answer kept by content;
- :mod:`hoist.buildtime.seed`: the dependencies' files, kept from the last build of the lock and linked;
- :mod:`hoist.buildtime.sbom`: the virtualenv's CycloneDX SBOM.
"""

from __future__ import annotations

from importlib.metadata import distributions
from pathlib import Path


def venv_distributions(venv: Path) -> list[tuple[str, str]]:
    """Name and version of every distribution installed in the virtualenv
    *venv* (its ``lib/python3*/site-packages``), sorted by name."""
    site = [str(p) for p in sorted(venv.glob("lib/python3*/site-packages"))]
    found = {(dist.metadata["Name"], dist.version) for dist in distributions(path=site)}
    return sorted(found, key=lambda nv: nv[0].lower())


def sbom_path(package: str) -> str:
    """The SBOM's path in the package *package*, without the leading ``/``:
    with the package's documentation (Debian Policy §12.3)."""
    return f"usr/share/doc/{package}/sbom.cdx.json"
