"""``hoist init --update``: bring the files ``hoist init`` wrote up to today's hoist.

hoist's templates improve (a ``debian/rules`` that builds more projects, a
hardened unit); a project adopted earlier should get that without a hand edit
and without losing its own edits.  ``hoist init`` records what it wrote
(:data:`hoist.commands.init.ADOPTED`); the update renders today's files with
the same values and merges each one three ways, as git does (``git
merge-file``): the recorded text is the base, the project's file is "ours",
today's rendering "theirs".  A file the project never touched is replaced; a
file it edited where today's hoist changed other lines gets both; where both
changed the same lines, or nothing was recorded (a project adopted before the
record existed), the file is named as a conflict and left as it is.
"""

from __future__ import annotations

import difflib
import json
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from debian.deb822 import Deb822

from .. import targets
from ..config import Config, load
from ..errors import HoistError
from ..git import Git
from ..pyproject import project_directory
from ..runner import Runner
from .init import ADOPTED, OWN_AFTER_INIT, Adoption, planned_files, record_adoption

#: What an update does with a file.
CURRENT, REPLACE, MERGE, CREATE, CONFLICT = "up to date", "replace", "merge", "create", "conflict"


@dataclass(frozen=True)
class FileUpdate:
    """One file's update.

    :ivar path: relative to the project.
    :ivar action: one of :data:`CURRENT`, :data:`REPLACE`, :data:`MERGE`,
        :data:`CREATE`, :data:`CONFLICT`.
    :ivar diff: a unified diff from the project's file to what the update
        writes (for a conflict: to today's template).
    :ivar proposed: the text the update writes (None for a conflict).
    :ivar why: for a conflict, the reason.
    """

    path: str
    action: str
    diff: str
    proposed: str | None = None
    why: str = ""
    executable: bool = False


def read_record(root: Path) -> dict | None:
    """The record of what ``hoist init`` wrote, or None (adopted before records)."""
    try:
        record = json.loads((root / ADOPTED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("files"), dict) else None


def _known_values(root: Path, record: dict | None) -> dict[str, str]:
    """The template values of the first adoption: recorded, or read back from
    ``debian/control`` (the maintainer) for a project adopted before records."""
    if record is not None:
        return {k: str(v) for k, v in (record.get("values") or {}).items()}
    known = {}
    try:
        with (root / "debian" / "control").open(encoding="utf-8") as handle:
            source = next(iter(Deb822.iter_paragraphs(handle)), None)
        if source and source.get("Maintainer"):
            known["maintainer"] = source["Maintainer"]
    except OSError:
        pass
    return known


def _merge(runner: Runner, ours: str, base: str, theirs: str) -> tuple[str, bool]:
    """``git merge-file`` of the three texts: (the merged text, whether it is clean)."""
    with tempfile.TemporaryDirectory(prefix="hoist-update-") as tmp:
        paths = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp, name)
            path.write_text(text, encoding="utf-8")
            paths.append(str(path))
        result = runner.run(["git", "merge-file", "-p", *paths], check=False)
    if result.returncode < 0 or result.returncode > 127:
        return ours, False
    return result.stdout, result.returncode == 0


def _diff(path: str, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        f"a/{path}", f"b/{path}"))


def plan_update(root: Path, runner: Runner | None = None) -> tuple[list[FileUpdate], Adoption]:
    """What ``hoist init --update`` would do in the project at *root*.

    :raises ConfigError: the project's configuration is invalid.
    """
    runner = runner or Runner()
    config = load(root, targets.settings_tables())
    record = read_record(root)
    today = planned_files(root, config.package, _known_values(root, record))
    bases = (record or {}).get("files", {})
    updates = []
    for path, (new, executable) in sorted(today.files.items()):
        if path in OWN_AFTER_INIT:
            continue
        target = root / path
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        base = bases.get(path)
        if current == new:
            updates.append(FileUpdate(path, CURRENT, ""))
        elif current is None:
            if base is None:
                updates.append(FileUpdate(path, CREATE, _diff(path, "", new), new, executable=executable))
            else:
                updates.append(FileUpdate(path, CONFLICT, _diff(path, "", new),
                                          why="the project removed it; today's hoist writes it"))
        elif base is None:
            updates.append(FileUpdate(path, CONFLICT, _diff(path, current, new),
                                      why="hoist init kept no record of it (adopted with an earlier hoist): "
                                          "the project's edits cannot be told from hoist's"))
        elif base == new:  # today's hoist writes what it wrote then: the project's edits are all there is
            updates.append(FileUpdate(path, CURRENT, ""))
        elif current == base:
            updates.append(FileUpdate(path, REPLACE, _diff(path, current, new), new, executable=executable))
        else:
            merged, clean = _merge(runner, current, base, new)
            if clean:
                updates.append(FileUpdate(path, MERGE, _diff(path, current, merged), merged, executable=executable))
            else:
                updates.append(FileUpdate(path, CONFLICT, _diff(path, current, new),
                                          why="the project and today's hoist changed the same lines"))
    return updates, today


def update(path: Path, apply: bool = False) -> tuple[list[str], int]:
    """Show (and with *apply*, make) the update of the files ``hoist init``
    wrote; return the lines to show and the number of conflicts left.

    A conflict is never written: its diff to today's template is shown for
    the maintainer to apply by hand.  Applying also renews the record, so the
    next update merges against today's templates.

    :raises ConfigError: the project's configuration is invalid.
    """
    root = project_directory(path, Git.open(Runner(), path).root)
    updates, today = plan_update(root)
    lines: list[str] = []
    for item in updates:
        if item.action != CURRENT:
            lines.append(item.diff.rstrip("\n"))
    changing = [u for u in updates if u.action in (REPLACE, MERGE, CREATE)]
    conflicts = [u for u in updates if u.action == CONFLICT]
    for item in changing:
        lines.append(f"{'updated' if apply else 'would update'} {item.path} ({item.action})")
    for item in conflicts:
        lines.append(f"conflict: {item.path}: {item.why}; the diff above is today's template, apply it by hand"
                     + ("; --apply records it as seen, and your file as your own edit of it" if not apply else
                        "; it is recorded as seen, and your file as your own edit of it"))
    if not changing and not conflicts:
        lines.append("the files hoist init wrote are those of this hoist: nothing to update")
    if apply:
        for item in changing:
            target = root / item.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(item.proposed or "", encoding="utf-8")
            if item.executable:
                target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        # Today's texts become the base, conflicts included: the project's
        # version of those now counts as its own edit of today's template.
        record_adoption(root, today)
        lines.append(f"wrote {ADOPTED}; next: review and commit the changes")
    elif changing:
        lines.append("hoist init --update --apply writes them")
    return lines, len(conflicts)


def outdated(config: Config) -> str | None:
    """A note for ``hoist plan`` when today's hoist would write other files
    than the ones ``hoist init`` wrote (or when nothing was recorded), or None."""
    root = config.root
    record = read_record(root)
    if record is None:
        return (f"the files hoist init wrote are not recorded ({ADOPTED}): hoist init --update shows how they "
                "differ from this hoist's")
    try:
        today = planned_files(root, config.package, _known_values(root, record))
    except HoistError:  # a note never stops a plan
        return None
    stale = [p for p, (text, _) in today.files.items()
             if p not in OWN_AFTER_INIT and record["files"].get(p) not in (None, text)]
    if stale:
        return f"this hoist writes {', '.join(sorted(stale))} differently than when the project was adopted: " \
               "hoist init --update shows the change"
    return None
