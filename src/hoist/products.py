"""What the steps of a release make, handed on as typed, frozen values.

goreleaser's artifact list, for one release: each step receives the
:class:`Products` made so far and returns them with its own added.  A step
asks for what it needs by type (``made.get(Export)``), so it never reads
another step's fields from a shared context, nor files whose name it must
know.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .manifest import Artifact

T = TypeVar("T")


@dataclass(frozen=True)
class Export:
    """A clean checkout of the release tag, from which every artifact is built.

    :ivar path: the checkout.
    :ivar source_date_epoch: the tag's commit time, in seconds since the epoch
        (reproducible-builds.org's ``SOURCE_DATE_EPOCH``).
    """

    path: Path
    source_date_epoch: int


@dataclass(frozen=True)
class Wheelhouse:
    """Every distribution the virtualenv needs, collected before the .deb build.

    :ivar directory: the wheels.
    :ivar requirements: a requirements file pinning each of them and the
        application's wheel by sha256 (pip's format).
    """

    directory: Path
    requirements: Path


@dataclass(frozen=True)
class BuildBackend:
    """What the build backend's virtualenv (:class:`hoist.backend.BackendEnv`)
    held when the sdist and wheel were built in it.

    :ivar pins: every distribution, ``name==version``.
    """

    pins: tuple[str, ...]


@dataclass(frozen=True)
class Installed:
    """The distributions in the .deb's virtualenv, as ``(name, version)``, sorted."""

    distributions: tuple[tuple[str, str], ...]

    def records(self) -> tuple[dict[str, str], ...]:
        return tuple({"name": n, "version": v} for n, v in self.distributions)


@dataclass(frozen=True)
class Products:
    """The values made so far by a release's steps, in the order made."""

    items: tuple[object, ...] = ()

    def add(self, *values: object) -> Products:
        return Products(self.items + values)

    def get(self, kind: type[T]) -> T:
        """The newest value of type *kind*.

        :raises LookupError: no step has made one (the steps run out of order).
        """
        for item in reversed(self.items):
            if isinstance(item, kind):
                return item
        raise LookupError(f"no {kind.__name__} has been made: the step that makes it has not run")

    @property
    def artifacts(self) -> tuple[Artifact, ...]:
        """The release's artifacts, one per kind (the newest of each)."""
        newest: dict[str, Artifact] = {}
        for item in self.items:
            if isinstance(item, Artifact):
                newest[item.kind] = item
        return tuple(newest.values())

    def artifact(self, kind: str) -> Artifact:
        """The artifact of *kind* (``sdist``, ``wheel``, ``deb``).

        :raises LookupError: none was made.
        """
        for artifact in self.artifacts:
            if artifact.kind == kind:
                return artifact
        raise LookupError(f"no {kind} has been built")
