"""What a target is: one small interface, and the registry of kinds.

A target is a place a release is published to: the git remote, a PyPI
index, an apt repository, or a kind a plugin registers.  Each is one class
with four parts (goreleaser's publishers, cibuildwheel's platforms):

``plan(release)``
    what it will do for the release: a frozen value that ``hoist plan``
    prints (and ``--json`` dumps) and that ``publish`` then carries out;
``check(release)``
    the cheap checks before anything changes (reachable, credentials, a key
    that signs); a conflicting file is found by ``state`` once the artifacts
    are built, before the push;
``state(release, artifacts)``
    what it holds of the release: the one reader that verify, confirm,
    ``hoist status``, resume and ``hoist rebuild`` all use;
``publish(release, plan, artifacts)``
    put what it lacks there; never overwrite a file that differs.

A target that signs the release's checksums on this machine says so by its
:attr:`Target.signer` (the apt repository signed here); a step asks for
that capability, never for a type.

A kind is registered with :func:`register` (or, from another distribution,
as an entry point of the group ``hoist.targets`` whose object is a
:class:`Kind`); its table ``[tool.hoist.<table>]`` then configures it.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from ..manifest import Artifact

if TYPE_CHECKING:
    from ..config import Config
    from ..git import Git
    from ..runner import Runner
    from ..secrets import Secrets
    from ..ui import UI

#: The states a target can be in for one release; ``withdrawn``: a channel's
#: record rolled it back, so the apt repository rightly does not publish it
#: there (see :mod:`hoist.channels`).
PUBLISHED, MISSING, CONFLICT, WITHDRAWN = "published", "missing", "conflict", "withdrawn"

#: The entry point group of target kinds from other distributions.
ENTRY_POINT_GROUP = "hoist.targets"


@dataclass(frozen=True)
class ReleaseRef:
    """The release a target is asked about.

    :ivar version: ``YY.MM.NN``.
    :ivar tag: its git tag.
    :ivar commit: the release commit, or None when not known here.
    :ivar distribution: the apt distribution (suite) it is published to.
    :ivar component: the apt component.
    """

    version: str
    tag: str
    commit: str | None
    distribution: str
    component: str


@dataclass(frozen=True)
class TargetState:
    """What one target holds of one release.

    :ivar target: the target's name.
    :ivar state: :data:`PUBLISHED`, :data:`MISSING` or :data:`CONFLICT`
        (a file of the same name with another sha256).
    :ivar detail: one line saying what it holds, for people.
    :ivar facts: what the manifest records of it (where, which files): JSON
        values, never a credential.
    """

    target: str
    state: str
    detail: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {**self.facts, "state": self.state}


@dataclass(frozen=True)
class Env:
    """What a target may use: the project's configuration and hoist's tools."""

    config: Config
    runner: Runner
    git: Git
    ui: UI
    secrets: Secrets


class Target(abc.ABC):
    """A place a release is published to.

    :cvar name: the key of the target in ``release.json`` and ``hoist status``.
    :cvar title: the name of its publish step (default ``publish to <name>``).
    :cvar kinds: the artifact kinds it publishes (none for git).
    :cvar claims: publishing to it claims the version (git's atomic push):
        it is published before every other target.
    """

    name: str = ""
    title: str = ""
    kinds: tuple[str, ...] = ()
    claims: bool = False

    #: The key that signs the release's checksum list on this machine (an
    #: object with ``key_name`` and ``detach_sign(path) -> Path``, see
    #: :class:`hoist.targets.apt.signing.Signer`), or None.
    signer: Any = None

    #: Sets the target up before its first release (see :meth:`prepare`).
    setup: Callable[[], None] | None = None

    @abc.abstractmethod
    def plan(self, release: ReleaseRef) -> Any:
        """What :meth:`publish` will do for *release*: a frozen dataclass."""

    def prepare(self) -> None:
        """Create what the target needs to receive a release, where it can do
        so itself (the local targets set themselves up on first use); run by
        a release before :meth:`check`.  Reading a target never needs it."""
        if self.setup is not None:
            self.setup()

    def check(self, release: ReleaseRef) -> None:
        """Cheap checks before anything changes.

        :raises HoistError: the target is unreachable, refuses the
            credentials, or cannot take the release.
        """

    def accepts(self, artifacts: Sequence[Artifact]) -> None:
        """Check, once the artifacts are built and before the push, that the
        target would take them (a size it accepts, say).

        :raises PreflightError: it would refuse one; the message names it and the limit.
        """

    @abc.abstractmethod
    def state(self, release: ReleaseRef, artifacts: Sequence[Artifact] = ()) -> TargetState:
        """What the target holds of *release*.

        :param artifacts: the release's artifacts when known (built here, or
            from ``release.json``): their sha256 are compared.  Without them,
            presence is checked by name and version.
        :raises HoistError: the target cannot be read.
        """

    @abc.abstractmethod
    def publish(self, release: ReleaseRef, plan: Any, artifacts: Sequence[Artifact]) -> None:
        """Carry out *plan* (from :meth:`plan` of *release*) with the built *artifacts*.

        Publishes only what the target lacks; a second run completes what a
        first one began.

        :raises ConflictError: the target holds a different file of the same name.
        :raises PublishError: the target refused.
        """

    def usage(self, release: ReleaseRef) -> list[str]:
        """How a user gets the release from this target (lines for the summary)."""
        return []


@dataclass(frozen=True)
class Targets:
    """The targets of one release, the git remote first: its push claims the version.

    :ivar git: the git remote (see :mod:`hoist.targets.git`).
    :ivar others: every other target, in publishing order.
    """

    git: Any
    others: tuple[Target, ...] = ()

    @property
    def all(self) -> tuple[Target, ...]:
        return (self.git, *self.others)


@dataclass(frozen=True)
class Kind:
    """A kind of target.

    :ivar table: its table in ``[tool.hoist]`` (``[tool.hoist.<table>]``).
    :ivar settings: a frozen dataclass of the table's keys, with their types
        (checked by :func:`hoist.settings.from_table`).
    :ivar make: makes the target from its settings and the environment.
    """

    table: str
    settings: type
    make: Callable[[Any, Env], Target]


_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Register *kind*, so that ``[tool.hoist.<table>]`` configures it.

    :raises ValueError: another kind has that table.
    """
    existing = _KINDS.get(kind.table)
    if existing is not None and existing != kind:
        raise ValueError(f"a target kind for [tool.hoist.{kind.table}] is registered already")
    _KINDS[kind.table] = kind
    return kind


def kinds() -> dict[str, Kind]:
    """Every registered kind, by table, those of entry points included."""
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name not in _KINDS:
            register(point.load())
    return dict(_KINDS)
