"""Calendar versions ``YY.MM.NN``: pure functions of (tags, date).

``YY`` and ``MM`` are the UTC year (two digits) and month, without zero
padding; ``NN`` is the serial of the release within that month, from 0.  The
same string is the PEP 440 version of the sdist and wheel, the Debian version
(Debian Policy §5.6.12: ``26.11.9`` sorts before ``26.11.10`` with dpkg) and,
after ``tag_prefix``, the git tag.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from packaging.version import InvalidVersion, Version


@dataclass(frozen=True, order=True)
class CalVer:
    """A release version; ordering compares (year, month, serial) as numbers."""

    year: int
    month: int
    serial: int

    def __str__(self) -> str:
        return f"{self.year}.{self.month}.{self.serial}"

    @classmethod
    def parse(cls, text: str) -> CalVer | None:
        """Return the version *text* spells, or ``None`` if it is not ``YY.MM.NN``.

        Only the canonical PEP 440 spelling counts: ``26.11.01`` (which PEP 440
        normalises to ``26.11.1``) and ``26.11.0rc1`` are not release versions.
        """
        try:
            version = Version(text)
        except InvalidVersion:
            return None
        if str(version) != text or len(version.release) != 3 or version.epoch:
            return None
        if version.pre or version.post is not None or version.dev is not None or version.local:
            return None
        year, month, serial = version.release
        if not (0 <= year <= 99 and 1 <= month <= 12):
            return None
        return cls(year, month, serial)

    def tag(self, prefix: str) -> str:
        """The git tag of this version: *prefix* followed by the version."""
        return f"{prefix}{self}"


def versions_from_tags(tags: Iterable[str], prefix: str) -> list[CalVer]:
    """The release versions among *tags* (names without ``refs/tags/``), sorted."""
    found = set()
    for tag in tags:
        if tag.startswith(prefix):
            version = CalVer.parse(tag[len(prefix):])
            if version is not None:
                found.add(version)
    return sorted(found)


def calendar_version(tags: Iterable[str], now: datetime, prefix: str = "v") -> CalVer:
    """``YY.MM.NN`` for the UTC month of *now*: ``NN`` one more than the
    highest serial already tagged in that month, or 0 (a naive *now* is UTC)."""
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc)
    year, month = now.year % 100, now.month
    serials = [v.serial for v in versions_from_tags(tags, prefix) if (v.year, v.month) == (year, month)]
    return CalVer(year, month, max(serials, default=-1) + 1)


def next_version(tags: Iterable[str], now: datetime, prefix: str = "v") -> CalVer:
    """The version the next release gets: always greater than every release.

    :param tags: every tag name known, from the local repository and the remote.
    :param now: the release time; a naive datetime is taken as UTC.
    :param prefix: the tag prefix (``[tool.hoist] tag_prefix``).
    :returns: the :func:`calendar_version` of *now*, unless a release was
        made in a later month (a clock that ran ahead, here or on another
        machine): then the next serial of that release's month, so that apt
        and pip, which install only greater versions, still take it.
    """
    calendar = calendar_version(tags, now, prefix)
    released = versions_from_tags(tags, prefix)
    if released and released[-1] >= calendar:
        newest = released[-1]
        return CalVer(newest.year, newest.month, newest.serial + 1)
    return calendar
