"""Calendar versions ``YY.MM.NN``: parsing, ordering and the next release's version.

Table-driven, with fixed datetimes; the Debian ordering is checked against the
real ``dpkg --compare-versions``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from packaging.version import Version

from hoist.version import CalVer, next_version, versions_from_tags

UTC = timezone.utc
PLUS2 = timezone(timedelta(hours=2))
MINUS5 = timezone(timedelta(hours=-5))



# --------------------------------------------------------------------------- parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("26.1.0", CalVer(26, 1, 0)),
        ("26.11.0", CalVer(26, 11, 0)),
        ("26.11.10", CalVer(26, 11, 10)),
        ("27.12.123", CalVer(27, 12, 123)),
        ("0.1.0", CalVer(0, 1, 0)),
        ("99.12.0", CalVer(99, 12, 0)),
    ],
)
def test_parse_canonical(text: str, expected: CalVer) -> None:
    """A canonical ``YY.MM.NN`` is a release version and prints back unchanged."""
    assert CalVer.parse(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("26.01.0", id="zero-padded-month"),
        pytest.param("26.11.01", id="zero-padded-serial"),
        pytest.param("26.11.00", id="zero-padded-zero-serial"),
        pytest.param("026.11.0", id="zero-padded-year"),
        pytest.param("2026.11.0", id="four-digit-year"),
        pytest.param("100.1.0", id="year-100"),
        pytest.param("26.0.1", id="month-0"),
        pytest.param("26.13.0", id="month-13"),
        pytest.param("26.11", id="two-parts"),
        pytest.param("26.11.0.1", id="four-parts"),
        pytest.param("1!26.11.0", id="epoch"),
        pytest.param("0!26.11.0", id="explicit-zero-epoch"),
        pytest.param("v26.11.0", id="v-prefix"),
        pytest.param(" 26.11.0", id="leading-space"),
        pytest.param("26.11.0-1", id="debian-revision"),
        pytest.param("26-11-0", id="dashes"),
        pytest.param("", id="empty"),
        pytest.param("latest", id="word"),
        pytest.param("26.11.0rc1", id="pre-release-rc"),
        pytest.param("26.11.0a1", id="pre-release-alpha"),
        pytest.param("26.11.0.dev1", id="dev-release"),
        pytest.param("26.11.0.post1", id="post-release"),
        pytest.param("26.11.0+local", id="local-version"),
    ],
)
def test_parse_rejects(text: str) -> None:
    """Anything but canonical ``YY.MM.NN`` is not a release version (``None``)."""
    assert CalVer.parse(text) is None


# ------------------------------------------------------------------------ ordering

#: (older, newer): each pair sorts as numbers, never as strings.
ORDERED_PAIRS = [
    ("26.11.9", "26.11.10"),
    ("26.11.0", "26.11.1"),
    ("26.9.0", "26.10.0"),
    ("26.9.99", "26.10.0"),
    ("26.12.99", "27.1.0"),
    ("9.12.0", "10.1.0"),
]


@pytest.mark.parametrize(("older", "newer"), ORDERED_PAIRS)
def test_ordering_is_numeric(older: str, newer: str) -> None:
    """``26.11.9`` comes before ``26.11.10``, as hoist, PEP 440 and a user expect."""
    a, b = CalVer.parse(older), CalVer.parse(newer)
    assert a is not None and b is not None
    assert a < b
    assert not b < a
    assert max(b, a) == b
    assert Version(older) < Version(newer)


def test_sorted_releases() -> None:
    """A list of releases sorts by (year, month, serial)."""
    texts = ["26.11.10", "27.1.0", "26.11.9", "26.2.3", "26.11.0"]
    assert [str(v) for v in sorted(CalVer.parse(t) for t in texts)] == [
        "26.2.3",
        "26.11.0",
        "26.11.9",
        "26.11.10",
        "27.1.0",
    ]


def _dpkg_lt(a: str, b: str) -> bool:
    result = subprocess.run(["dpkg", "--compare-versions", a, "lt", b], check=False)
    assert result.returncode in (0, 1), f"dpkg --compare-versions failed for {a!r} {b!r}"
    return result.returncode == 0


@pytest.mark.parametrize(("older", "newer"), ORDERED_PAIRS)
def test_dpkg_agrees_with_ordering(older: str, newer: str) -> None:
    """apt installs the newer release: dpkg orders the versions as hoist does."""
    assert _dpkg_lt(older, newer)
    assert not _dpkg_lt(newer, older)


# -------------------------------------------------------------------------- tag()


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("v", "v26.11.3"), ("", "26.11.3"), ("release-", "release-26.11.3")],
)
def test_tag(prefix: str, expected: str) -> None:
    """The git tag is the prefix followed by the version."""
    assert CalVer(26, 11, 3).tag(prefix) == expected


# ------------------------------------------------------------ versions_from_tags


@pytest.mark.parametrize(
    ("tags", "prefix", "expected"),
    [
        pytest.param([], "v", [], id="no-tags"),
        pytest.param(
            ["v26.11.10", "v26.11.9", "v26.2.0", "v27.1.0"],
            "v",
            ["26.2.0", "26.11.9", "26.11.10", "27.1.0"],
            id="sorted-numerically",
        ),
        pytest.param(["v26.11.0", "v26.11.0", "v26.11.1"], "v", ["26.11.0", "26.11.1"], id="duplicates-once"),
        pytest.param(
            ["v1.2.3.4", "v26.11", "v26.01.0", "latest", "v26.13.0", "vfoo", "v1!26.11.4", "v26.11.2"],
            "v",
            ["26.11.2"],
            id="non-calver-ignored",
        ),
        pytest.param(["26.11.0", "release-26.11.1", "v26.11.2"], "v", ["26.11.2"], id="other-prefixes-ignored"),
        pytest.param(["26.11.0", "release-26.11.1", "v26.11.2"], "", ["26.11.0"], id="empty-prefix"),
        pytest.param(
            ["26.11.0", "release-26.11.1", "v26.11.2", "release-26.12.0"],
            "release-",
            ["26.11.1", "26.12.0"],
            id="release-prefix",
        ),
    ],
)
def test_versions_from_tags(tags: list[str], prefix: str, expected: list[str]) -> None:
    """Only tags spelled ``<prefix>YY.MM.NN`` are releases; each once, oldest first."""
    assert [str(v) for v in versions_from_tags(tags, prefix)] == expected


# -------------------------------------------------------------------- next_version

NOV_21 = datetime(2026, 11, 21, 12, 0)


@pytest.mark.parametrize(
    ("tags", "now", "prefix", "expected"),
    [
        pytest.param([], NOV_21, "v", "26.11.0", id="first-release"),
        pytest.param(["v26.11.0", "v26.11.1"], NOV_21, "v", "26.11.2", id="max-plus-one"),
        pytest.param(["v26.11.9", "v26.11.10"], NOV_21, "v", "26.11.11", id="max-is-numeric"),
        pytest.param(["v26.11.0", "v26.11.5"], NOV_21, "v", "26.11.6", id="gap-not-filled"),
        pytest.param(["v26.10.7", "v25.11.3", "v26.9.4"], NOV_21, "v", "26.11.0", id="other-months-ignored"),
        # A release dated after the clock (a clock that ran ahead): its month goes on,
        # so the version never goes backwards.
        pytest.param(["v26.10.7", "v27.11.4"], NOV_21, "v", "27.11.5", id="a-later-month-goes-on"),
        pytest.param(["v26.11.3", "v27.1.0"], NOV_21, "v", "27.1.1", id="clock-behind-the-newest"),
        pytest.param(
            ["26.11.4", "release-26.11.6", "x26.11.8", "v26.11.1"], NOV_21, "v", "26.11.2", id="other-prefixes-ignored"
        ),
        pytest.param(
            ["v26.11", "v26.11.03", "latest", "v26.11.1.1", "v1!26.11.7", "vnext"],
            NOV_21,
            "v",
            "26.11.0",
            id="non-calver-ignored",
        ),
        pytest.param(
            # local tags, then the remote's: the same tags twice and one only the remote has
            ["v26.11.0", "v26.11.1"] + ["v26.11.0", "v26.11.1", "v26.11.2"],
            NOV_21,
            "v",
            "26.11.3",
            id="local-and-remote-merged",
        ),
        pytest.param(["v26.12.3"], datetime(2027, 1, 1, 0, 0), "v", "27.1.0", id="january-2027"),
        pytest.param(["v26.12.3"], datetime(2026, 12, 31, 23, 59, 59), "v", "26.12.4", id="last-second-of-year"),
        pytest.param(["v26.12.3"], datetime(2027, 1, 15, tzinfo=UTC), "v", "27.1.0", id="aware-utc"),
        pytest.param(
            # 2026-12-01 01:30 at +02:00 is still 2026-11-30 23:30 UTC
            ["v26.11.2"],
            datetime(2026, 12, 1, 1, 30, tzinfo=PLUS2),
            "v",
            "26.11.3",
            id="east-of-utc-still-previous-month",
        ),
        pytest.param(
            # 2026-11-30 22:00 at -05:00 is already 2026-12-01 03:00 UTC
            ["v26.11.2"],
            datetime(2026, 11, 30, 22, 0, tzinfo=MINUS5),
            "v",
            "26.12.0",
            id="west-of-utc-already-next-month",
        ),
        pytest.param(
            # 2027-01-01 03:00 at +05:00 is 2026-12-31 22:00 UTC
            ["v26.12.0"],
            datetime(2027, 1, 1, 3, 0, tzinfo=timezone(timedelta(hours=5))),
            "v",
            "26.12.1",
            id="new-year-east-of-utc-is-previous-year",
        ),
        pytest.param(["26.11.0", "v26.11.4"], NOV_21, "", "26.11.1", id="empty-prefix"),
        pytest.param(
            ["release-26.11.3", "v26.11.7", "26.11.9"], NOV_21, "release-", "26.11.4", id="release-prefix"
        ),
        pytest.param(["v26.11.0rc1"], NOV_21, "v", "26.11.0", id="pre-release-tag-not-a-release"),
    ],
)
def test_next_version(tags: list[str], now: datetime, prefix: str, expected: str) -> None:
    """The next release is ``YY.MM.NN`` of the UTC month, one past the highest serial tagged in it."""
    assert str(next_version(tags, now, prefix)) == expected


def test_next_version_default_prefix_is_v() -> None:
    """Without a prefix, tags are read as ``vYY.MM.NN``."""
    assert next_version(["v26.11.4", "26.11.8"], NOV_21) == CalVer(26, 11, 5)


def test_next_version_takes_any_iterable() -> None:
    """Tags may come as a generator (read once), e.g. straight from ``git tag``'s output."""
    tags = (f"v26.11.{n}" for n in range(3))
    assert next_version(tags, NOV_21) == CalVer(26, 11, 3)


@pytest.fixture
def far_local_timezone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with the process's local time zone at UTC+14, so local time is never taken for UTC."""
    monkeypatch.setenv("TZ", "Etc/GMT-14")  # POSIX sign: GMT-14 is UTC+14
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_local_timezone")
@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # taken as local time (UTC+14) these would be 2026-11-30 15:00 and 2026-12-31 20:00 UTC
        (datetime(2026, 12, 1, 5, 0), "26.12.0"),
        (datetime(2027, 1, 1, 10, 0), "27.1.0"),
    ],
)
def test_naive_datetime_is_utc_whatever_the_local_zone(now: datetime, expected: str) -> None:
    """A naive release time is UTC, even on a build machine whose local zone is UTC+14."""
    assert time.localtime(0).tm_gmtoff == 14 * 3600  # the fixture took effect
    assert str(next_version([], now)) == expected
