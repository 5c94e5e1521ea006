"""``debian/changelog`` entries: what hoist writes, read back by python-debian and dpkg."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from debian.changelog import Changelog

from hoist.changelog import MAX_ITEMS, initial, read, render_entry
from hoist.errors import ConfigError

AUTHOR = "Jane Doe <jane@example.org>"
MOMENT = datetime(2026, 11, 21, 17, 3, 48, tzinfo=timezone.utc)
MOMENT_DATE = "Sat, 21 Nov 2026 17:03:48 +0000"


def render(subjects: list[str], changelog: Changelog | None = None, **overrides: object) -> str:
    args: dict[str, object] = {
        "package": "my-app",
        "version": "26.11.0",
        "distribution": "bookworm",
        "subjects": subjects,
        "author": AUTHOR,
        "moment": MOMENT,
    }
    args.update(overrides)
    return render_entry(Changelog() if changelog is None else changelog, **args)  # type: ignore[arg-type]


def items(text: str) -> list[str]:
    """The ``  * ...`` lines of the newest entry, as python-debian reads them."""
    return [line for line in Changelog(text, strict=True)[0].changes() if line.strip()]


def dpkg_parsechangelog(path: Path) -> dict[str, str]:
    """The fields ``dpkg-parsechangelog -l`` prints for the newest entry (continuation lines skipped)."""
    out = subprocess.run(
        ["dpkg-parsechangelog", "-l", str(path)], check=True, capture_output=True, text=True
    ).stdout
    fields = {}
    for line in out.splitlines():
        if line and not line[0].isspace():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def test_entry_read_back_by_python_debian() -> None:
    """The entry carries the package, version, distribution, urgency, author, date and one item per commit."""
    text = render(["Fix the login page", "Add a --verbose flag"])
    block = Changelog(text, strict=True)[0]
    assert block.package == "my-app"
    assert str(block.version) == "26.11.0"
    assert block.distributions == "bookworm"
    assert block.urgency == "medium"
    assert block.author == AUTHOR
    assert block.date == MOMENT_DATE
    assert items(text) == ["  * Fix the login page", "  * Add a --verbose flag"]


def test_entry_text_layout() -> None:
    """The file reads as Debian Policy §4.4 lays it out, ending with one newline."""
    assert render(["Fix the login page"]) == (
        "my-app (26.11.0) bookworm; urgency=medium\n"
        "\n"
        "  * Fix the login page\n"
        "\n"
        f" -- {AUTHOR}  {MOMENT_DATE}\n"
    )


@pytest.mark.parametrize(
    ("moment", "date"),
    [
        pytest.param(MOMENT, MOMENT_DATE, id="utc"),
        pytest.param(datetime(2026, 11, 21, 19, 3, 48, tzinfo=timezone(timedelta(hours=2))), MOMENT_DATE, id="east"),
        pytest.param(
            datetime(2026, 12, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5))),
            "Fri, 01 Jan 2027 01:00:00 +0000",
            id="west-across-new-year",
        ),
    ],
)
def test_date_in_utc(moment: datetime, date: str) -> None:
    """The entry's date is the release time in UTC, as ``date -R -u`` prints it."""
    assert Changelog(render(["x"], moment=moment), strict=True)[0].date == date


@pytest.mark.parametrize(
    ("count", "expected_head"),
    [
        pytest.param(0, ["  * No changes since the previous release."], id="none"),
        pytest.param(1, ["  * commit 1"], id="one"),
        pytest.param(MAX_ITEMS, ["  * commit 1"], id="max"),
        pytest.param(MAX_ITEMS + 1, ["  * (1 earlier commits not listed)", "  * commit 2"], id="max-plus-1"),
        pytest.param(MAX_ITEMS + 30, ["  * (30 earlier commits not listed)", "  * commit 31"], id="max-plus-30"),
    ],
)
def test_long_lists_summarised(count: int, expected_head: list[str]) -> None:
    """At most MAX_ITEMS commits are listed, the newest; older ones are counted in one line."""
    subjects = [f"commit {n}" for n in range(1, count + 1)]
    lines = items(render(subjects))
    assert lines[: len(expected_head)] == expected_head
    listed = [line for line in lines if line.startswith("  * commit ")]
    assert len(listed) == min(count, MAX_ITEMS)
    if count:
        assert lines[-1] == f"  * commit {count}"


def test_new_entry_on_top_of_existing() -> None:
    """A release adds its entry above the previous ones, which stay as they were."""
    first = initial("my-app", "bookworm", AUTHOR, MOMENT)
    text = render(["Fix the login page"], changelog=Changelog(first, strict=True), version="26.11.1")
    changelog = Changelog(text, strict=True)
    assert [str(block.version) for block in changelog] == ["26.11.1", "0"]
    assert text.endswith(first)


def test_dpkg_parsechangelog_reads_entry(tmp_path: Path) -> None:
    """dpkg-buildpackage's own parser reads the file: source, version, distribution, maintainer, date."""
    path = tmp_path / "changelog"
    path.write_text(render(["Fix the login page"], version="26.11.10"), encoding="utf-8")
    fields = dpkg_parsechangelog(path)
    assert fields["Source"] == "my-app"
    assert fields["Version"] == "26.11.10"
    assert fields["Distribution"] == "bookworm"
    assert fields["Urgency"] == "medium"
    assert fields["Maintainer"] == AUTHOR
    assert fields["Date"] == MOMENT_DATE
    assert fields["Timestamp"] == str(int(MOMENT.timestamp()))


def test_dpkg_parsechangelog_reads_summarised_entry_on_top(tmp_path: Path) -> None:
    """dpkg takes the newest entry of a file with a summarised list above the initial entry."""
    first = initial("my-app", "bookworm", AUTHOR, MOMENT)
    subjects = [f"commit {n}" for n in range(MAX_ITEMS + 5)]
    path = tmp_path / "changelog"
    text = render(subjects, changelog=Changelog(first), version="27.1.0", distribution="trixie")
    path.write_text(text, encoding="utf-8")
    fields = dpkg_parsechangelog(path)
    assert (fields["Version"], fields["Distribution"]) == ("27.1.0", "trixie")


def test_initial(tmp_path: Path) -> None:
    """``hoist init`` writes one entry: version 0, UNRELEASED, one item saying where it came from."""
    text = initial("my-app", "bookworm", AUTHOR, MOMENT)
    changelog = Changelog(text, strict=True)
    assert len(changelog) == 1
    block = changelog[0]
    assert (block.package, str(block.version), block.distributions) == ("my-app", "0", "UNRELEASED")
    assert (block.author, block.date) == (AUTHOR, MOMENT_DATE)
    assert items(text) == ["  * Initial packaging, written by hoist init."]
    path = tmp_path / "changelog"
    path.write_text(text, encoding="utf-8")
    fields = dpkg_parsechangelog(path)
    assert (fields["Version"], fields["Distribution"]) == ("0", "UNRELEASED")


def test_read_round_trip(tmp_path: Path) -> None:
    """read() gives back the entries hoist wrote."""
    path = tmp_path / "changelog"
    path.write_text(initial("my-app", "bookworm", AUTHOR, MOMENT), encoding="utf-8")
    assert str(read(path)[0].version) == "0"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="missing"),
        pytest.param("this is not a changelog\n", id="garbage"),
    ],
)
def test_read_invalid(tmp_path: Path, content: str | None) -> None:
    """A missing or malformed debian/changelog is a configuration error naming the file (exit 9)."""
    path = tmp_path / "changelog"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read(path)
    assert info.value.message.startswith(f"cannot read {path}: ")
    assert info.value.hint == "run hoist init, or fix the file"
    assert info.value.exit_code == 9
