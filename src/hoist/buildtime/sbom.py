"""The SBOM of a package's virtualenv: what ``/opt/<name>`` holds, in CycloneDX.

Written at build time, by :mod:`hoist.buildtime.fixup` once the virtualenv
is staged, to ``usr/share/doc/<package>/sbom.cdx.json`` in the package, so
that a server operator can answer "what exactly is in /opt/<name>?" from the
server itself.  Every distribution installed in the virtualenv is a
component, with its name and version (from its ``.dist-info``, PEP 376), its
package URL (``pkg:pypi/<name>@<version>``, the purl specification's
``pypi`` type) and the SHA-256 of the wheel it was installed from; the
package itself is the BOM's subject.

The document is byte-reproducible: its timestamp is ``SOURCE_DATE_EPOCH``
(reproducible-builds.org), its serial number is derived from its content
(RFC 4122 version 5 UUID), and CycloneDX's library sorts components.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib.metadata import Distribution, distributions
from pathlib import Path

from cyclonedx.model import HashAlgorithm, HashType
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

#: The CycloneDX specification version written.
SCHEMA = SchemaVersion.V1_6

def site_packages(venv: Path) -> Path:
    """The virtualenv's one ``lib/pythonX.Y/site-packages``.

    :raises FileNotFoundError: there is none, or more than one.
    """
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one lib/python3*/site-packages in {venv}, found {len(found)}")
    return found[0]


def installed(venv: Path) -> list[Distribution]:
    """The distributions installed in *venv*, as ``importlib.metadata`` reads them."""
    return [dist for _, dist in sorted(((canonicalize_name(d.metadata["Name"]), d)
                                        for d in distributions(path=[str(site_packages(venv))])),
                                       key=lambda pair: pair[0])]


def make_sbom(venv: Path, package: str, version: str, wheels: Mapping[str, str], epoch: int) -> str:
    """The CycloneDX JSON document of the virtualenv *venv* of *package* at *version*.

    :param wheels: ``{wheel filename: sha256}`` of the wheels it was installed from;
        a distribution that none installed (one the virtualenv's own Python put
        there) is listed without a hash.
    :param epoch: the document's time, in seconds since the epoch (``SOURCE_DATE_EPOCH``).
    """
    by_release = {}
    for filename, sha256 in wheels.items():
        name, release, _, _ = parse_wheel_filename(filename)
        by_release[(name, release)] = sha256
    components = []
    for dist in installed(venv):
        metadata = dist.metadata  # parsed again at each access
        name, release = canonicalize_name(metadata["Name"]), metadata["Version"]
        try:
            sha256 = by_release.get((name, Version(release)))
        except InvalidVersion:
            sha256 = None
        purl = PackageURL(type="pypi", name=name, version=release)
        components.append(Component(
            type=ComponentType.LIBRARY, name=metadata["Name"], version=release, purl=purl,
            bom_ref=purl.to_string(), hashes=[HashType(alg=HashAlgorithm.SHA_256, content=sha256)] if sha256 else [],
        ))
    content = "\n".join(f"{c.purl} {[h.content for h in c.hashes]}"
                        for c in sorted(components, key=lambda c: str(c.purl)))
    bom = Bom(components=components,
              serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"hoist-sbom:{package}@{version}\n{content}"))
    bom.metadata.timestamp = datetime.fromtimestamp(epoch, timezone.utc)
    bom.metadata.component = Component(type=ComponentType.APPLICATION, name=package, version=version,
                                       bom_ref=f"{package}@{version}")
    bom.register_dependency(bom.metadata.component, components)
    return make_outputter(bom, OutputFormat.JSON, SCHEMA).output_as_string(indent=2) + "\n"

