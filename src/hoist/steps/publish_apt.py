"""Add the .deb to the aptly repository and publish it, signed.

Under the repository's publish lock, the published indexes are read first,
as apt reads them: the same file already published, signed, is skipped;
another file under the same name and version is a conflict.  Then aptly adds,
snapshots (``<repo>-<version>``) and publishes or switches the distribution to
the snapshot (aptly docs, "publish switch").  A publication that apt would
refuse (a first publish stopped before it was signed) is published again.
"""

from __future__ import annotations

from pathlib import Path

from debian.deb822 import Packages

from ..aptly import Aptly, Publication, read_publication
from ..config import AptTarget
from ..context import Context, ReleasePlan
from ..errors import ConflictError
from ..manifest import sha256_file


def deb_architecture(filename: str) -> str:
    """The architecture part of a ``name_version_arch.deb`` file name."""
    return filename.rsplit("_", 1)[1].removesuffix(".deb")


def published_entry(ctx: Context, target: AptTarget, plan: ReleasePlan, deb: Path) -> tuple[Publication, Packages | None]:
    """The publication of *plan*'s distribution, and its ``Packages`` entry for *deb* (None when not listed).

    :raises ConflictError: the publication lists another file under *deb*'s
        name (both sha256 are named).
    """
    publication = read_publication(ctx.runner, target.url, plan.distribution, plan.component,
                                   deb_architecture(deb.name), target.public_key)
    entry = publication.packages.get(deb.name)
    if entry is not None:
        ours = sha256_file(deb)
        if entry["SHA256"] != ours:
            raise ConflictError(
                f"the apt repository already publishes {deb.name} with sha256 {entry['SHA256']}, "
                f"but this build's is {ours}",
                "a published package is never overwritten: release a new version",
            )
    return publication, entry


class PublishApt:
    name = "publish to the apt repository"

    def describe(self, ctx: Context, plan: ReleasePlan) -> list[str]:
        where = ctx.targets.local.apt_dir if ctx.targets.local else (ctx.targets.apt.url if ctx.targets.apt else "")
        return [
            f"aptly: add the .deb, snapshot {ctx.config.package}-{plan.version}, publish "
            f"{plan.distribution}/{plan.component} signed, at {where}"
        ]

    def skip(self, ctx: Context, plan: ReleasePlan) -> str | None:
        if ctx.targets.apt is None and ctx.targets.local is None:
            return "no apt repository configured in [tool.hoist.apt]"
        return None

    def run(self, ctx: Context, plan: ReleasePlan) -> None:
        target = ctx.apt_target()
        assert target is not None
        deb = ctx.artifacts["deb"]
        aptly = Aptly(ctx.runner, target, plan.distribution, plan.component, ctx.secrets.gpg_passphrase)
        with aptly.lock():
            publication, entry = published_entry(ctx, target, plan, deb)
            if entry is not None:
                if publication.signed:
                    ctx.ui.line(f"    {plan.distribution} already publishes {deb.name} (same sha256)")
                    return
                ctx.ui.line(f"    {plan.distribution} lists {deb.name} but apt would refuse it "
                            f"({publication.problem}): publishing again")
            aptly.ensure_repo()
            if not aptly.package_keys(ctx.config.package, str(plan.version)):
                aptly.add(deb)
            aptly.publish(aptly.snapshot(str(plan.version)))
