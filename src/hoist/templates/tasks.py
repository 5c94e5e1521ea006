"""Invoke tasks of @{name}: `invoke release` releases HEAD with hoist."""

from hoist.tasks import ns  # noqa: F401  (release, plan, status)
