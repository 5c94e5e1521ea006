"""The targets of a release: the git remote, a PyPI index, an apt repository, and plugins.

One module per kind, each one class behind the interface of
:mod:`hoist.targets.base`.  :func:`resolve` makes the targets of a project:
those configured in ``[tool.hoist]``, or, with none (or ``--local``), the
local ones that :mod:`hoist.targets.local` provisions on this machine.
"""

from __future__ import annotations

from ..config import AptTarget, GitTarget, PyPITarget
from .apt import AptRepository
from .aptly_api import AptlyApiRepository
from .base import (
    CONFLICT,
    MISSING,
    PUBLISHED,
    Env,
    Kind,
    ReleaseRef,
    Target,
    Targets,
    TargetState,
    kinds,
    register,
)
from .git import GitRemote
from .local import local_targets
from .pypi import PyPIIndex

__all__ = [
    "CONFLICT", "MISSING", "PUBLISHED", "Env", "Kind", "ReleaseRef", "Target", "TargetState", "Targets",
    "kinds", "register", "resolve",
]

register(Kind("git", GitTarget, GitRemote.from_settings))
register(Kind("pypi", PyPITarget, PyPIIndex.from_settings))
def _apt(settings: AptTarget, env: Env) -> Target:
    """An aptly root on this machine, or aptly's REST API on a server (``api_url``)."""
    if settings.api_url:
        return AptlyApiRepository.from_settings(settings, env)
    return AptRepository.from_settings(settings, env)


register(Kind("apt", AptTarget, _apt))

#: Publishing order of the built-in kinds after git; other kinds follow in
#: the order of their tables.
_ORDER = ("pypi", "apt")


def settings_tables() -> dict[str, type]:
    """The settings class of every registered kind, by table (for :func:`hoist.config.load`)."""
    return {table: kind.settings for table, kind in kinds().items()}


def resolve(env: Env, *, local: bool = False) -> Targets:
    """The targets of *env*'s project.

    :param local: use the local targets whatever is configured.
    :raises HoistError: local targets could not be set up.
    """
    config = env.config
    if local or config.local:
        return local_targets(env)
    registry = kinds()
    made = {table: registry[table].make(settings, env) for table, settings in config.targets.items()}
    git = made.pop("git")
    order = sorted(made, key=lambda t: _ORDER.index(t) if t in _ORDER else len(_ORDER))
    return Targets(git, tuple(made[t] for t in order))
