"""What a transport of the apt repository does: the few aptly operations
that the one publish algorithm (:mod:`hoist.targets.apt.repository`) is
written over.

A transport reaches one aptly: a root on this machine through aptly's CLI
(:mod:`~hoist.targets.apt.cli`), or a server through aptly's REST API
(:mod:`~hoist.targets.apt.api`).  It names packages by aptly's key
(``P<architecture> <name> <version> <files hash>``), as both of aptly's
interfaces do, and declares what it can do: whether hoist signs here (then
``valid_days``, ``hoist resign`` and the signature of ``SHA256SUMS`` work),
whether other writers publish without its lock (then a publish is read back
and repaired), and where files beside the repository go.  A third transport
is one more module with one class.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError
from .signing import Signer


@dataclass(frozen=True)
class PackageRef:
    """One package that aptly holds.

    :ivar key: aptly's key of it.
    :ivar package: its name.
    :ivar version: its Debian version.
    :ivar architecture: its architecture (``all`` too).
    :ivar sha256: the sha256 of its .deb (hex), ``""`` where aptly did not say.
    """

    key: str
    package: str
    version: str
    architecture: str
    sha256: str = ""

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> PackageRef:
        """From aptly's fields of a package (``Key``, ``Package``, ``Version``, ``Architecture``, ``SHA256``)."""
        return cls(fields["Key"], fields["Package"], fields["Version"], fields["Architecture"], fields.get("SHA256", ""))


@dataclass(frozen=True)
class Published:
    """One publication of aptly (aptly docs, "publish list").

    :ivar prefix: its prefix (``.``; with a storage: ``filesystem:name:.``).
    :ivar distribution: the distribution (suite) it publishes.
    :ivar sources: the snapshot or local repository each component publishes.
    :ivar of_snapshots: whether *sources* are snapshots (else local repositories).
    """

    prefix: str
    distribution: str
    sources: dict[str, str]
    of_snapshots: bool = True


class Transport(abc.ABC):
    """One aptly, reached one way.

    :cvar concurrent: other writers publish without this transport's lock
        (agents through one API): a publish is read back and repaired, and a
        read waits a little for another's repair.
    :ivar signer: the key that signs here, or None where aptly's server signs.
    :ivar repo: the aptly local repository.
    :ivar prefix: the publish prefix (the endpoint of a local root).
    """

    concurrent: bool = False
    signer: Signer | None = None
    repo: str
    prefix: str

    @abc.abstractmethod
    def describe(self) -> str:
        """Where it publishes, for the plan (``aptly's REST API at URL``)."""

    @abc.abstractmethod
    def check(self, distribution: str, component: str) -> None:
        """Cheap checks before anything changes (the tool, the server, the key).

        :raises HoistError: it cannot publish.
        """

    def lock(self, on_wait: Callable[[Path], None] | None = None) -> contextlib.AbstractContextManager[None]:
        """Exclusive use of the repository for one add, snapshot and publish
        (where the transport can lock; a server's writers repair instead)."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    def ensure_repository(self, distribution: str, component: str) -> None:
        """Create the local repository where it does not exist and the transport may.

        :raises PreflightError: it does not exist, and only the server's administrator can create it.
        """

    @abc.abstractmethod
    def packages(self, query: str = "") -> list[PackageRef]:
        """The local repository's packages that match aptly's package *query* (all for ``""``)."""

    @abc.abstractmethod
    def add(self, deb: Path) -> None:
        """Add the .deb file *deb* to the local repository.

        :raises ConflictError: the repository holds another file of its name and version.
        """

    @abc.abstractmethod
    def restore(self, refs: Sequence[PackageRef]) -> None:
        """Put packages that aptly still has back into the local repository."""

    @abc.abstractmethod
    def remove(self, refs: Sequence[PackageRef]) -> None:
        """Take packages out of the local repository (their files stay until ``aptly db cleanup``)."""

    @abc.abstractmethod
    def snapshot_repository(self, name: str) -> str:
        """A new snapshot of the local repository as it is now, named after *name*; its name."""

    @abc.abstractmethod
    def snapshot_of(self, name: str, refs: Sequence[PackageRef]) -> str:
        """A new snapshot of exactly the packages *refs* (which aptly holds), named after *name*; its name."""

    @abc.abstractmethod
    def snapshot_packages(self, snapshot: str, query: str = "") -> list[PackageRef]:
        """The packages of *snapshot* that match *query* (all for ``""``)."""

    @abc.abstractmethod
    def publications(self) -> list[Published]:
        """Every publication of this aptly."""

    @abc.abstractmethod
    def publish(self, distribution: str, component: str, snapshot: str, *, first: bool,
                origin: str, label: str) -> None:
        """Publish *snapshot* as *distribution*/*component*, signed: the first
        time with *origin* and *label* (``publish snapshot``), then by
        ``publish switch``.

        :raises TransientError: the server failed in a way another try may not.
        :raises PublishError: aptly refused.
        """

    def publish_dir(self) -> Path:
        """The directory the prefix is published to, on this machine.

        :raises ConfigError: the publication is not on this machine's file system.
        """
        raise ConfigError("the apt repository is published by a server, not on this machine",
                          "files beside it stay in dist/")
