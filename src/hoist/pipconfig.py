"""The machine's own package index settings, as pip has them.

hoist never names an index: it takes what ``pip config list`` reports (the
files pip reads: /etc/pip.conf, the user's pip.conf, ``$PIP_CONFIG_FILE``) and
the ``PIP_INDEX_URL``, ``PIP_EXTRA_INDEX_URL`` and ``PIP_FIND_LINKS``
variables, which take precedence, as they do for pip.  uv does not read pip's
configuration, so these become uv's options.
"""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .runner import Runner


@dataclass(frozen=True)
class IndexSettings:
    index_url: str | None
    extra_index_urls: tuple[str, ...]
    find_links: tuple[str, ...]

    def uv_options(self) -> list[str]:
        """The settings as uv options, without locations that do not exist
        (pip only warns about those; uv refuses them).  Like pip, uv then takes
        the best version across all indexes (``unsafe-best-match``), not the
        first index that has the name."""
        options = ["--index-strategy", "unsafe-best-match"]
        if self.index_url:
            options += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            if _exists(url):
                options += ["--extra-index-url", url]
        for link in self.find_links:
            if _exists(link):
                options += ["--find-links", link]
        return options


def _exists(location: str) -> bool:
    if location.startswith("file://"):
        return Path(urlparse(location).path).exists()
    if "://" not in location:
        return Path(location).exists()
    return True


def read(runner: Runner) -> IndexSettings:
    """Read pip's index settings for this machine and user."""
    values: dict[str, str] = {}
    result = runner.run([sys.executable, "-m", "pip", "config", "list"], check=False)
    for line in result.stdout.splitlines():
        key, sep, raw = line.partition("=")
        if not sep:
            continue
        try:
            value = ast.literal_eval(raw)  # pip prints each value as a Python string literal
        except (ValueError, SyntaxError):
            continue
        section, _, option = key.partition(".")
        if section == "global":
            values.setdefault(option, value)  # a command's own section ([install]) wins over [global]
        else:
            values[option] = value
    for option in ("index-url", "extra-index-url", "find-links"):
        env = os.environ.get("PIP_" + option.upper().replace("-", "_"))
        if env:
            values[option] = env
    return IndexSettings(
        values.get("index-url"),
        tuple(values.get("extra-index-url", "").split()),
        tuple(values.get("find-links", "").split()),
    )
