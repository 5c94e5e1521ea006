"""The steps of a release, one small module each.

A step has a ``name``; ``plan(ctx, release)`` returns, without side
effects, a frozen value saying what it will do (or :class:`Skip` with the
reason it has nothing to do); ``run(ctx, release, plan, made)`` carries out
that very value and returns the :class:`~hoist.products.Products` made so
far with its own added.  ``hoist plan`` prints the values ``plan`` returns,
so the preview cannot drift from the run.  Their order is the list in
:mod:`hoist.pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..context import Context, ReleasePlan
from ..products import Products


@dataclass(frozen=True)
class Skip:
    """A step has nothing to do, and why."""

    reason: str


class Step(Protocol):
    name: str

    def plan(self, ctx: Context, release: ReleasePlan) -> Any: ...

    def run(self, ctx: Context, release: ReleasePlan, plan: Any, made: Products) -> Products: ...
