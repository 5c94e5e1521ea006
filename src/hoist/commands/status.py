"""``hoist status [VERSION]``: what each target holds of a release.

Each target's state is read from the target itself, by its one reader
(``Target.state``): ``published``, ``missing`` or ``conflict``.  The sha256
of ``dist/release.json`` are compared when it records that version.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..channels import accounted
from ..context import Context
from ..errors import PreflightError
from ..manifest import Manifest
from ..targets import PUBLISHED, WITHDRAWN, ReleaseRef, TargetState
from ..version import CalVer, versions_from_tags


@dataclass(frozen=True)
class Status:
    """A release and each target's state for it."""

    version: str
    tag: str
    commit: str
    states: tuple[TargetState, ...]

    @property
    def complete(self) -> bool:
        """Every target holds it, or rightly does not (a channel's record withdrew it)."""
        return all(s.state in (PUBLISHED, WITHDRAWN) for s in self.states)

    def record(self) -> dict:
        return {
            "version": self.version, "tag": self.tag, "commit": self.commit, "complete": self.complete,
            "targets": {s.target: {**s.record(), "detail": s.detail} for s in self.states},
        }


def status(ctx: Context, version: str | None = None) -> Status:
    """Read every target's state for *version* (default: the newest release).

    :raises PreflightError: there is no release, or *version* is not one.
    """
    prefix = ctx.config.tag_prefix
    remote = ctx.targets.git.refs()
    tags = {**{t: "" for t in ctx.git.local_tags()}, **remote.tags}
    known = versions_from_tags(tags, prefix)
    if version is None:
        if not known:
            raise PreflightError("there is no release yet", "hoist release makes the first")
        chosen = known[-1]
    else:
        parsed = CalVer.parse(version)
        if parsed is None or parsed not in known:
            raise PreflightError(f"{version} is not a released version", f"released: {', '.join(map(str, known[-5:])) or 'none'}")
        chosen = parsed
    tag = chosen.tag(prefix)
    commit = remote.tags.get(tag) or ctx.git.out("rev-list", "-n", "1", tag)
    artifacts = ()
    try:
        manifest = Manifest.read(ctx.dist / "release.json")
        if manifest.version == str(chosen):
            artifacts = manifest.artifacts
    except (OSError, ValueError):
        pass
    ref = ReleaseRef(str(chosen), tag, commit, ctx.config.distribution, ctx.config.component)
    return Status(str(chosen), tag, commit, accounted(ctx, str(chosen), [(t, t.state(ref, artifacts))
                                                                        for t in ctx.targets.all]))
