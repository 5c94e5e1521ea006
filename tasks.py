"""Invoke tasks of hoist: `invoke release` releases HEAD with hoist."""

from hoist.tasks import ns  # noqa: F401  (release, plan, status)
