"""``SHA256SUMS`` of every artifact of the release, signed with the apt repository's key.

Written to ``dist/`` after the artifacts are verified and before anything is
published, in the format ``sha256sum --check`` reads (GNU coreutils: the hex
digest, two spaces, the file name), sorted by file name.  Where the apt
repository is signed on this machine (an aptly root), the file gets an
ASCII-armored detached signature by the repository's key, ``SHA256SUMS.asc``,
so that anyone with the repository's public key checks what they downloaded:
``gpgv --keyring <key> SHA256SUMS.asc SHA256SUMS && sha256sum -c SHA256SUMS``.
The apt target publishes both beside the repository, under
``hoist/<package>/<version>/``, with the SBOM.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..context import Context, ReleasePlan
from ..products import Products
from ..targets.apt import CHECKSUMS, AptRepository


@dataclass(frozen=True)
class ChecksumsPlan:
    """Write ``dist/SHA256SUMS`` of *kinds*; sign it when *signed_by* names a key.

    :ivar kinds: the artifact kinds it lists.
    :ivar signed_by: the apt repository whose key signs it, or None (an apt
        repository signed elsewhere, as through aptly's API, or none).
    """

    file: str
    kinds: tuple[str, ...]
    signed_by: str | None


class Checksums:
    name = "checksums"

    def plan(self, ctx: Context, release: ReleasePlan) -> ChecksumsPlan:
        apt = next((t for t in ctx.targets.all if isinstance(t, AptRepository)), None)
        return ChecksumsPlan(CHECKSUMS, ("sdist", "wheel", "deb", "sbom", "source"),
                             f"the key of {apt.settings.repo} ({apt.settings.gpg_key or 'its GnuPG home default'})"
                             if apt else None)

    def run(self, ctx: Context, release: ReleasePlan, plan: ChecksumsPlan, made: Products) -> Products:
        listed = sorted((a for a in made.artifacts if a.kind in plan.kinds), key=lambda a: a.filename)
        path = ctx.dist / plan.file
        path.write_text("".join(f"{a.sha256}  {a.filename}\n" for a in listed), encoding="utf-8")
        signature = path.with_name(path.name + ".asc")
        signature.unlink(missing_ok=True)  # never one of another content
        apt = next((t for t in ctx.targets.all if isinstance(t, AptRepository)), None)
        if plan.signed_by and apt is not None:
            apt.sign_file(path, release.ref(release.base))
        return made
