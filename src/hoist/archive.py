"""Debian's archive as this machine's apt sees it: which names and files are taken.

A company's repository must never take over a package of Debian's by
accident, nor block one: a binary package named like one of Debian's (or
like a virtual package one of them provides) would replace it on ``apt-get
upgrade`` when its version sorts higher, and a link such as ``/usr/bin/flake8``
that another package ships makes dpkg refuse to install either ("trying to
overwrite ..."). Names come from apt's package lists (``apt-cache``), files
from the Contents indexes (``apt-file``, when it is installed and updated)
and from the packages installed here (``dpkg -S``).

apt-cache and apt-file read tens of megabytes per question, so their
answers are kept in ``$XDG_CACHE_HOME/hoist/archive/``, keyed by the
question and by the names, sizes and times of apt's lists (the Contents
indexes among them): after ``apt-get update`` or ``apt-file update`` they are
asked again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .cache import cache_home, kept
from .runner import Runner

#: Where apt keeps its lists, the Contents indexes among them (apt.conf(5), Dir::State::lists).
APT_LISTS = Path("/var/lib/apt/lists")

#: Suffixes init tries, in order, when the project's name is taken.
NAME_SUFFIXES = ("-app", "-venv", "-service")

#: The ``Origin`` of the archives whose names and files are Debian's (Release files).
ORIGINS = ("Debian", "Ubuntu")

#: Providers of a virtual package looked up, at most.
MAX_PROVIDERS = 10

T = TypeVar("T")


@dataclass(frozen=True)
class Taken:
    """A name or file of Debian's archive.

    :ivar what: ``package name X`` or ``file /usr/bin/x``.
    :ivar owners: the Debian packages that have it (or provide it).
    """

    what: str
    owners: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.what} is Debian's ({', '.join(self.owners)})"


def _remembered(question: object, answer: Callable[[], T]) -> T:
    """*answer()*, kept for the same *question* (JSON) while apt's lists are unchanged."""
    try:
        lists = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in APT_LISTS.iterdir() if p.is_file())
    except OSError:
        return answer()
    key = hashlib.sha256(json.dumps([question, lists]).encode()).hexdigest()[:32]
    return kept(cache_home() / "archive" / f"{key}.json", answer)


class Archive:
    """Debian's archive through this machine's apt: the sources whose
    ``Release`` names :data:`ORIGINS` (a company repository in the same apt
    configuration is not Debian's).

    :param runner: runs apt-cache, apt-file and dpkg.
    :param own: the project's own package, which is never a clash with itself.
    """

    def __init__(self, runner: Runner, own: str = "") -> None:
        self.runner = runner
        self.own = own
        self._sources: set[str] | None = None

    def _distribution_sources(self) -> set[str]:
        """apt's package files of Debian and Ubuntu, as ``apt-cache madison`` names them
        (``http://deb.debian.org/debian bookworm/main amd64 Packages``)."""
        if self._sources is None:
            self._sources = set()
            lines = self.runner.run(["apt-cache", "policy"], check=False).stdout.splitlines()
            for source, release in zip(lines, lines[1:]):
                fields = dict(f.split("=", 1) for f in release.strip().removeprefix("release ").split(",") if "=" in f)
                if release.strip().startswith("release ") and fields.get("o") in ORIGINS:
                    self._sources.add(source.strip().split(" ", 1)[1])
        return self._sources

    def _in_distribution(self, name: str) -> bool:
        """Whether a package file of Debian's (or Ubuntu's) has a package *name*."""
        madison = self.runner.run(["apt-cache", "madison", name], check=False).stdout.splitlines()
        return any(line.split(" | ")[-1].strip() in self._distribution_sources() for line in madison if " | " in line)

    def package(self, name: str) -> Taken | None:
        """Whether a real or virtual package of the archive is called *name*
        (``apt-cache madison``; ``apt-cache showpkg``'s reverse provides)."""
        if shutil.which("apt-cache") is None:
            return None
        found = _remembered(["package", name, self.own], lambda: self._package(name))
        return None if found is None else Taken(found[0], tuple(found[1]))

    def _package(self, name: str) -> tuple[str, list[str]] | None:
        if self._in_distribution(name):
            return f"the package name {name}", [name]
        shown = self.runner.run(["apt-cache", "showpkg", name], check=False)
        lines = shown.stdout.splitlines()
        if shown.ok and "Reverse Provides: " in lines:
            providers = sorted({line.split()[0] for line in lines[lines.index("Reverse Provides: ") + 1:]
                                if line.strip()} - {self.own})
            providers = [p for p in providers[:MAX_PROVIDERS] if self._in_distribution(p)]
            if providers:
                return f"the package name {name} (a virtual package)", providers
        return None

    def files(self, paths: list[str]) -> tuple[list[Taken], bool]:
        """Which of *paths* (absolute) a package of the archive ships, or one
        installed here; and whether the archive's files could be searched
        (apt-file with its Contents indexes)."""
        owners: dict[str, set[str]] = {p: set() for p in paths}
        for path in paths:
            found = self.runner.run(["dpkg-query", "--search", path], check=False)
            for line in found.stdout.splitlines() if found.ok else []:
                package, _, owned = line.partition(": ")
                if owned.strip() == path:
                    owners[path].update(p.strip().split(":")[0] for p in package.split(","))
            owners[path].discard(self.own)
        searched = self._contents(paths)
        if searched is not None:
            for path, packages in searched.items():
                owners[path].update(set(packages) - {self.own})
        taken = [Taken(f"the file {path}", tuple(sorted(o))) for path, o in owners.items() if o]
        return taken, searched is not None

    def _contents(self, paths: list[str]) -> dict[str, list[str]] | None:
        """apt-file's owners of each of *paths*, or None without apt-file or Contents indexes."""
        if shutil.which("apt-file") is None or not any(APT_LISTS.glob("*Contents-*")):
            return None
        if not paths:
            return {}
        return _remembered(["contents", ORIGINS, sorted(paths)], lambda: self._search(paths))

    def _search(self, paths: list[str]) -> dict[str, list[str]] | None:
        result = self.runner.run(["apt-file", "search", "--filter-origins", ",".join(ORIGINS), "--fixed-string",
                                  "--from-file", "-"], input="\n".join(paths) + "\n", check=False)
        if result.returncode not in (0, 1):  # 1: nothing found
            return None
        found: dict[str, list[str]] = {p: [] for p in paths}
        for line in result.stdout.splitlines():
            package, _, path = line.partition(": ")
            if path.strip() in found:
                found[path.strip()].append(package.strip())
        return found

    def free_name(self, name: str) -> str:
        """*name*, or the first of *name* + :data:`NAME_SUFFIXES` that the archive does not have."""
        for candidate in (name, *(name + suffix for suffix in NAME_SUFFIXES)):
            if self.package(candidate) is None:
                return candidate
        return name + "-" + hashlib.sha256(name.encode()).hexdigest()[:6]
