"""``debian/changelog`` entries, written with python-debian.

The format is Debian Policy §4.4; :class:`debian.changelog.Changelog` reads and
writes it, so hoist never formats a changelog by hand.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

from debian.changelog import Changelog, ChangelogParseError

from .errors import ConfigError

#: Commit subjects listed in one entry; older ones are summarised.
MAX_ITEMS = 50


#: Characters that reorder or hide text on a terminal (Unicode's bidirectional controls, UAX #9).
_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}


def printable(subject: str) -> str:
    """*subject* with every control character shown, not obeyed: a C0
    control or DEL in caret notation (``^M`` for a carriage return, as
    ``cat -v`` shows it), another control, a line or paragraph separator or a
    bidirectional control as ``<U+XXXX>``.  Such a character would end a
    changelog line (Debian Policy §4.4) or move a terminal's cursor."""
    out = []
    for char in subject:
        code = ord(char)
        if code < 0x20 or code == 0x7F:
            out.append("^" + chr(code ^ 0x40))
        elif unicodedata.category(char) in ("Cc", "Zl", "Zp") or code in _BIDI:
            out.append(f"<U+{code:04X}>")
        else:
            out.append(char)
    return "".join(out)


def entry_lines(subjects: list[str]) -> list[str]:
    """The body lines of an entry for *subjects* (Debian Policy §4.4 layout)."""
    items = subjects[-MAX_ITEMS:] or ["No changes since the previous release."]
    lines = [""]
    if len(subjects) > MAX_ITEMS:
        lines.append(f"  * ({len(subjects) - MAX_ITEMS} earlier commits not listed)")
    lines += [f"  * {subject}" for subject in items]
    lines.append("")
    return lines


def rfc2822(moment: datetime) -> str:
    """*moment* as the changelog's date (RFC 2822, as ``date -R`` prints it);
    a naive datetime is taken as UTC, as :func:`hoist.version.next_version` does."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return format_datetime(moment.astimezone(timezone.utc))


def newest_date(path: Path) -> datetime | None:
    """The date of the newest entry of the changelog at *path*, or None."""
    if not path.exists():
        return None
    changelog = read(path)
    if not len(changelog) or not changelog.date:
        return None
    return parsedate_to_datetime(changelog.date).astimezone(timezone.utc)


def read(path: Path) -> Changelog:
    """Parse *path*.

    :raises ConfigError: the file is not a valid Debian changelog.
    """
    try:
        return Changelog(path.read_text(encoding="utf-8"), strict=True)
    except (ChangelogParseError, FileNotFoundError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", "run hoist init, or fix the file") from None


def render_entry(
    changelog: Changelog,
    *,
    package: str,
    version: str,
    distribution: str,
    subjects: list[str],
    author: str,
    moment: datetime,
) -> str:
    """Add a new entry on top of *changelog* and return the whole file's text.

    :param author: ``Name <email>``, the Debian maintainer of the entry.
    :param moment: the time of the release (its commit time).
    """
    changelog.new_block(
        package=package,
        version=version,
        distributions=distribution,
        urgency="medium",
        changes=entry_lines(subjects),
        author=author,
        date=rfc2822(moment),
    )
    return str(changelog).rstrip("\n") + "\n"


def initial(package: str, distribution: str, author: str, moment: datetime) -> str:
    """The text of a new ``debian/changelog`` as ``hoist init`` writes it."""
    changelog = Changelog()
    return render_entry(
        changelog,
        package=package,
        version="0",
        distribution="UNRELEASED",
        subjects=["Initial packaging, written by hoist init."],
        author=author,
        moment=moment,
    )
