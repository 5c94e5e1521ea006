"""Read every target back, compare sha256, and write ``dist/release.json``.

The manifest says what *is* published: each target's state comes from
reading it (its one reader, ``Target.state``), not from what the earlier
steps meant to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..channels import accounted
from ..context import Context, ReleasePlan
from ..errors import PublishError
from ..manifest import Manifest
from ..products import Installed, Products
from ..targets import PUBLISHED, WITHDRAWN, TargetState


@dataclass(frozen=True)
class ConfirmPlan:
    """Read *targets* back and write the manifest at *manifest*."""

    targets: tuple[str, ...]
    manifest: str


@dataclass(frozen=True)
class Confirmed:
    """The release as confirmed: its manifest and every target's state."""

    manifest: Manifest
    states: tuple[TargetState, ...]


class Confirm:
    name = "confirm and write the manifest"

    def plan(self, ctx: Context, release: ReleasePlan) -> ConfirmPlan:
        return ConfirmPlan(tuple(t.name for t in ctx.targets.all), str(ctx.dist / "release.json"))

    def run(self, ctx: Context, release: ReleasePlan, plan: ConfirmPlan, made: Products) -> Products:
        commit = ctx.git.head()
        artifacts = made.artifacts
        states = accounted(ctx, str(release.version), [(t, t.state(release.ref(commit), artifacts))
                                                      for t in ctx.targets.all])
        try:
            installed = made.get(Installed).records()
        except LookupError:
            installed = ()
        manifest = Manifest(
            name=ctx.config.name,
            version=str(release.version),
            tag=release.tag,
            commit=commit,
            artifacts=artifacts,
            targets={s.target: s.record() for s in states},
            installed=installed,
        )
        manifest.write(ctx.dist / "release.json", ctx.root)
        bad = [s for s in states if s.state not in (PUBLISHED, WITHDRAWN)]
        if bad:
            raise PublishError(
                "targets do not hold the release: " + ", ".join(f"{s.target} {s.state} ({s.detail})" for s in bad),
                "run hoist release again to finish it; `hoist status` shows each target",
            )
        return made.add(Confirmed(manifest, states))
