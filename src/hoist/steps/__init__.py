"""The steps of a release, one small module each.

Every step has a ``name``; ``describe(ctx, plan)`` returns the lines that
``hoist plan`` prints (no side effects); ``skip(ctx, plan)`` returns the reason
it has nothing to do, or None; ``run(ctx, plan)`` does it.  Their order is the
list in :mod:`hoist.pipeline`.
"""

from __future__ import annotations

from typing import Protocol

from ..context import Context, ReleasePlan


class Step(Protocol):
    name: str

    def describe(self, ctx: Context, plan: ReleasePlan) -> list[str]: ...

    def skip(self, ctx: Context, plan: ReleasePlan) -> str | None: ...

    def run(self, ctx: Context, plan: ReleasePlan) -> None: ...
