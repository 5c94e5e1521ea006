"""What runs inside ``debian/rules`` while dpkg-buildpackage builds the .deb.

Not part of the library that plans and publishes releases: these modules are
handed to the build through ``HOIST_*`` variables (see :mod:`hoist.steps.deb`)
and run as their own processes, in the build's environment.

- :mod:`hoist.buildtime.pip_uv`: the installer dh-virtualenv calls, uv behind pip's options;
- :mod:`hoist.buildtime.fixup`: makes the staged virtualenv independent of the build path;
- :mod:`hoist.buildtime.shlibdeps`: dh_shlibdeps, its answer kept by content;
- :mod:`hoist.buildtime.sbom`: the virtualenv's CycloneDX SBOM.
"""


def sbom_path(package: str) -> str:
    """The SBOM's path in the package *package*, without the leading ``/``:
    with the package's documentation (Debian Policy §12.3)."""
    return f"usr/share/doc/{package}/sbom.cdx.json"
