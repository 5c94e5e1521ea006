"""Publish the release to one target: the pipeline has one such step per target.

The step is the target's own plan and publish (:mod:`hoist.targets.base`):
the git remote's atomic push first, which claims the version, then every
other target, each of which uploads only what it lacks.
"""

from __future__ import annotations

from typing import Any

from ..channels import withdrawal
from ..context import Context, ReleasePlan
from ..products import Products
from ..targets import Target
from . import Skip


class Publish:
    """Publish to *target*.

    :param target: one of the release's targets.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.name = getattr(target, "title", "") or f"publish to {target.name}"

    def plan(self, ctx: Context, release: ReleasePlan) -> Any:
        if "deb" in self.target.kinds and release.resume:  # a new version was never in a channel to be withdrawn
            move = withdrawal(ctx, str(release.version))
            if move is not None:  # the channel's record is the truth: nothing republishes what it withdrew
                return Skip(f"{release.version} was withdrawn from {move.channel} by {move.who}, {move.when} "
                            f"(rolled back to {move.version}): not published there again")
        return self.target.plan(release.ref(None))

    def run(self, ctx: Context, release: ReleasePlan, plan: Any, made: Products) -> Products:
        self.target.publish(release.ref(None), plan, made.artifacts)
        return made
