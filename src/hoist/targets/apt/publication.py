"""A published apt repository, read as apt reads it.

The ``InRelease`` file is verified with the repository's public key (gpgv),
and the ``Packages`` index counts only when the signed ``InRelease`` lists it
with its sha256 (Debian Repository Format, "Release files").  Both transports
of the apt repository are read back this way, through the URL servers use.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

from debian.deb822 import Packages, Release

from ...errors import ConfigError, PublishError
from ...http import fetch
from ...runner import Runner

#: Reads of a publication that moved between its InRelease and its Packages index, at most.
READS = 3


@dataclass(frozen=True)
class Publication:
    """A published distribution as an apt client sees it.

    :ivar packages: the ``Packages`` index of one component and architecture,
        by pool file name (``{"hoist_26.11.0_amd64.deb": paragraph}``); empty
        when nothing is published.
    :ivar problem: why apt would refuse the index (no ``InRelease``, a
        signature that does not verify, a ``Packages`` file that the signed
        ``InRelease`` does not list with its sha256), or ``""``.
    :ivar expired: the one problem is a ``Valid-Until`` in the past (``hoist resign`` renews it).
    """

    packages: dict[str, Packages] = field(default_factory=dict)
    problem: str = ""
    expired: bool = False

    @property
    def signed(self) -> bool:
        """Whether apt accepts the index: ``InRelease`` verifies and lists ``Packages``."""
        return not self.problem

    def holds(self, filename: str, sha256: str | None = None) -> bool:
        """Whether apt gets *filename* (with *sha256*, when given) from this publication."""
        entry = self.packages.get(filename)
        return self.signed and entry is not None and (sha256 is None or entry["SHA256"] == sha256)


def public_key_bytes(public_key: str) -> bytes:
    """The bytes of the public key at *public_key*: a path, or an ``http(s)://`` or ``file://`` URL.

    :raises ConfigError: it cannot be read.
    """
    try:
        key = fetch(public_key, what="tool.hoist.apt.public_key")
    except PublishError as exc:
        key, problem = None, exc.message
    else:
        problem = "no such file"
    if key is None:
        raise ConfigError(f"cannot read the apt repository's public key {public_key}: {problem}",
                          "set tool.hoist.apt.public_key to the keyring servers use (a path or a URL)")
    return key


def write_keyring(runner: Runner, key: bytes, keyring: Path) -> None:
    """Write *key* (OpenPGP public keys, binary or ASCII-armored) to *keyring*
    as the binary keyring that gpgv's ``--keyring`` and apt's ``Signed-By``
    read: an armored key goes through ``gpg --dearmor``.

    :raises CommandError: gpg could not dearmor it.
    """
    if key.lstrip().startswith(b"-----BEGIN PGP"):
        runner.run(["gpg", "--batch", "--yes", "--dearmor", "--output", str(keyring)], input=key.decode())
    else:
        keyring.write_bytes(key)


def _verified_payload(runner: Runner, signed: bytes, public_key: str) -> bytes | None:
    """The text that *signed* (a clearsigned ``InRelease``) carries, if its
    signature verifies with the key in *public_key* (binary or ASCII-armored,
    a path or a URL)."""
    with tempfile.TemporaryDirectory(prefix="hoist-gpgv-") as tmp:
        keyring = Path(tmp, "keyring.gpg")
        write_keyring(runner, public_key_bytes(public_key), keyring)
        Path(tmp, "InRelease").write_bytes(signed)
        payload = Path(tmp, "payload")
        result = runner.run(
            ["gpgv", "--keyring", str(keyring), "--output", str(payload), str(Path(tmp, "InRelease"))], check=False
        )
        return payload.read_bytes() if result.ok and payload.exists() else None


def verify_detached(runner: Runner, data: bytes, signature: bytes, public_key: str) -> bool:
    """Whether *signature* (a detached OpenPGP signature, armored or not) of
    *data* verifies with the key in *public_key* (a path or a URL), by gpgv.

    :raises ConfigError: the public key cannot be read.
    """
    with tempfile.TemporaryDirectory(prefix="hoist-gpgv-") as tmp:
        keyring = Path(tmp, "keyring.gpg")
        write_keyring(runner, public_key_bytes(public_key), keyring)
        Path(tmp, "data").write_bytes(data)
        Path(tmp, "data.sig").write_bytes(signature)
        return runner.run(["gpgv", "--keyring", str(keyring), str(Path(tmp, "data.sig")), str(Path(tmp, "data"))],
                          check=False).ok


def _packages(raw: bytes | None) -> dict[str, Packages]:
    if raw is None:
        return {}
    return {Path(p["Filename"]).name: p
            for p in Packages.iter_paragraphs(raw.decode("utf-8").splitlines(keepends=True), use_apt_pkg=False)}


def read_publication(
    runner: Runner, url: str, distribution: str, component: str, architecture: str, public_key: str
) -> Publication:
    """Read a published distribution as apt does: ``InRelease`` first, then
    the ``Packages`` index it lists, by its hash (``by-hash/SHA256/<sha256>``,
    which a publication made with ``Acquire-By-Hash`` keeps through a switch;
    Debian Repository Format, "indices acquisition via hashsums"), else by
    its name.  A publication that moves between the two reads is read again.

    :param url: the repository's base URL (``file://``, ``http(s)://``) or path.
    :param public_key: path of the public key that signs the repository.
    :raises PublishError: the repository answered with an error other than 404.
    """
    base = url if "://" in url else Path(url).resolve().as_uri()
    dists = f"{base.rstrip('/')}/dists/{distribution}"
    index_name = f"{component}/binary-{architecture}/Packages"
    for _ in range(READS):
        inrelease = fetch(f"{dists}/InRelease", what="tool.hoist.apt.url")
        if inrelease is None:
            raw = fetch(f"{dists}/{index_name}", what="tool.hoist.apt.url")
            return Publication(_packages(raw),
                               f"{dists}/InRelease does not exist" if raw is not None else "nothing is published")
        payload = _verified_payload(runner, inrelease, public_key)
        if payload is None:
            raw = fetch(f"{dists}/{index_name}", what="tool.hoist.apt.url")
            return Publication(_packages(raw), f"{dists}/InRelease does not verify with {public_key}")
        release = Release(payload.decode("utf-8"))
        listed = {entry["name"]: entry["sha256"] for entry in release.get("SHA256", [])}
        sha256 = listed.get(index_name)
        by_hash = f"{dists}/{component}/binary-{architecture}/by-hash/SHA256/{sha256}"
        raw = (fetch(by_hash, what="tool.hoist.apt.url") if sha256 else None) \
            or fetch(f"{dists}/{index_name}", what="tool.hoist.apt.url")
        if raw is not None and sha256 == hashlib.sha256(raw).hexdigest():
            break
        if sha256 is None:
            return Publication(_packages(raw), f"{dists}/InRelease does not list {index_name} with its sha256")
    else:
        return Publication(_packages(raw), f"{dists}/InRelease does not list {index_name} with its sha256")
    expired = _expired(release.get("Valid-Until", ""))
    if expired:
        return Publication(_packages(raw), f"{dists}/InRelease expired on {expired} (Valid-Until): hoist resign "
                           "renews it", expired=True)
    return Publication(_packages(raw))


def _expired(valid_until: str) -> str:
    """*valid_until* when it is in the past (apt's ``Check-Valid-Until``), else ``""``."""
    if not valid_until:
        return ""
    try:
        until = parsedate_to_datetime(valid_until)
    except (TypeError, ValueError):
        return valid_until  # apt refuses a date it cannot read
    if until.tzinfo is None:
        until = until.replace(tzinfo=timezone.utc)
    return valid_until if until <= datetime.now(timezone.utc) else ""
