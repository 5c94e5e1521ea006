"""``SHA256SUMS`` of every artifact of the release, signed where a target signs on this machine.

Written to ``dist/`` after the artifacts are verified and before anything is
published, in the format ``sha256sum --check`` reads (GNU coreutils: the hex
digest, two spaces, the file name), sorted by file name.  Where a target
signs on this machine (the apt repository in an aptly root: its
:attr:`~hoist.targets.base.Target.signer`), the file gets an ASCII-armored
detached signature by that key, ``SHA256SUMS.asc``, so that anyone with the
repository's public key checks what they downloaded: ``gpgv --keyring <key>
SHA256SUMS.asc SHA256SUMS && sha256sum -c SHA256SUMS``.  Both are artifacts
of the release (kinds ``checksums`` and ``signature``); the apt repository
publishes them beside itself, under ``hoist/<package>/<version>/``, with the
SBOM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..context import Context, ReleasePlan
from ..manifest import CHECKSUMS, KINDS, Artifact, checksums_text
from ..products import Products

#: The artifact kinds it lists: every kind but itself and its signature.
LISTED = tuple(k for k in KINDS if k not in ("checksums", "signature"))


def signer_of(ctx: Context) -> Any:
    """The signer of the first target that signs on this machine, or None."""
    return next((t.signer for t in ctx.targets.all if t.signer is not None), None)


@dataclass(frozen=True)
class ChecksumsPlan:
    """Write ``dist/SHA256SUMS`` of *kinds*; sign it when *signed_by* names a key.

    :ivar kinds: the artifact kinds it lists.
    :ivar signed_by: the key that signs it, or None (no target signs on this
        machine: an apt repository whose server signs, or none).
    """

    file: str
    kinds: tuple[str, ...]
    signed_by: str | None


class Checksums:
    name = "checksums"

    def plan(self, ctx: Context, release: ReleasePlan) -> ChecksumsPlan:
        signer = signer_of(ctx)
        return ChecksumsPlan(CHECKSUMS, LISTED, signer.key_name if signer is not None else None)

    def run(self, ctx: Context, release: ReleasePlan, plan: ChecksumsPlan, made: Products) -> Products:
        path = ctx.dist / plan.file
        path.write_text(checksums_text(a for a in made.artifacts if a.kind in plan.kinds), encoding="utf-8")
        signature = path.with_name(path.name + ".asc")
        signature.unlink(missing_ok=True)  # never one of another content
        made = made.add(Artifact.of("checksums", path))
        signer = signer_of(ctx)
        if plan.signed_by and signer is not None:
            made = made.add(Artifact.of("signature", signer.detach_sign(path)))
        return made
