"""The targets of a release: the git remote, a PyPI index, an apt repository, and plugins.

One module (or package) per kind, each one class behind the interface of
:mod:`hoist.targets.base`, with its settings declared beside it.
:func:`resolve` makes the targets of a project: those configured in
``[tool.hoist]``, or, with none (or ``--local``), the local ones that
:mod:`hoist.targets.local` provisions on this machine.
"""

from __future__ import annotations

from .apt import AptRepository, AptSettings
from .base import (
    CONFLICT,
    MISSING,
    PUBLISHED,
    WITHDRAWN,
    Env,
    Kind,
    ReleaseRef,
    Target,
    Targets,
    TargetState,
    kinds,
    register,
)
from .git import GitRemote, GitSettings
from .local import local_targets
from .pypi import PyPIIndex, PyPISettings

__all__ = [
    "CONFLICT", "MISSING", "PUBLISHED", "WITHDRAWN", "Env", "Kind", "ReleaseRef", "Target", "TargetState", "Targets",
    "kinds", "register", "resolve",
]

register(Kind("git", GitSettings, GitRemote.from_settings))
register(Kind("pypi", PyPISettings, PyPIIndex.from_settings))
register(Kind("apt", AptSettings, AptRepository.from_settings))

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
