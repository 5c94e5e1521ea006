"""``[tool.hoist.apt]``: the apt repository's settings, declared once, typed.

:func:`hoist.settings.from_table` checks a table against these annotations
(every problem at once, with a did-you-mean); :meth:`AptSettings.problems`
checks the table as a whole, and :meth:`AptSettings.conflicts` what the
chosen transport cannot honour of ``[tool.hoist]``, before anything changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: aptly's names of repositories (and of the snapshots hoist derives from
#: them): letters, digits and ``._-`` (a ``/`` or space would break the
#: API's paths and hoist's snapshot names).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

#: A publish prefix: relative path segments of letters, digits and ``._-``,
#: never ``..`` (aptly docs, "publish": the prefix is a path under the endpoint).
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")


def prefix_problem(key: str, prefix: str) -> str | None:
    """Why *prefix* cannot be a publish prefix, or None."""
    if prefix == ".":
        return None
    segments = prefix.split("/")
    if all(_PREFIX_SEGMENT.match(s) and s not in (".", "..") for s in segments):
        return None
    return (f"tool.hoist.apt.{key} {prefix!r} is not a publish prefix: use \".\" or relative path segments of "
            "letters, digits, '.', '_' and '-', without \"..\"")


@dataclass(frozen=True)
class AptSettings:
    """``[tool.hoist.apt]``: an aptly repository and where it is published.

    Either an aptly root on this machine (*aptly_config*, *endpoint*; hoist
    signs here), or aptly's REST API on a server (*api_url*; the server signs).

    :ivar repo: the aptly local repository's name.
    :ivar url: the repository's URL as apt clients see it (``http(s)://``,
        ``file://`` or a path).
    :ivar public_key: the keyring clients use as ``Signed-By``: a path (in
        the project, or absolute) or a URL.
    :ivar aptly_config: the aptly configuration file of a root on this machine.
    :ivar endpoint: aptly's publish endpoint and prefix there, e.g.
        ``filesystem:public:.`` (aptly docs, "publish snapshot").
    :ivar gpg_key: the key id or fingerprint that signs ("": the default key).
    :ivar gnupghome: the GnuPG home holding the secret key ("": gpg's default).
    :ivar api_url: aptly's REST API (``aptly api serve``), usually behind a
        web server that adds authentication.
    :ivar prefix: the publish prefix on the API's server.
    :ivar keep: how many versions of the package the repository keeps
        (0: all); older ones leave the repository and the publication, unless
        another publication still holds them.
    :ivar origin: the ``Origin`` of the publication's ``Release`` file, which
        servers pin on ("": the repository's name; Debian Repository Format).
    :ivar label: its ``Label`` ("": the origin).
    :ivar stop_agent: stop the GnuPG home's gpg-agent after each signing (a
        GnuPG home of hoist's own; see :func:`hoist.targets.apt.signing.gpg_session`).
    """

    repo: str
    url: str
    public_key: str
    aptly_config: str = ""
    endpoint: str = ""
    gpg_key: str = ""
    gnupghome: str = ""
    api_url: str = ""
    prefix: str = "."
    keep: int = 0
    origin: str = ""
    label: str = ""
    stop_agent: bool = False

    @property
    def release_origin(self) -> str:
        """The ``Origin`` the publication carries."""
        return self.origin or self.repo

    @property
    def release_label(self) -> str:
        """The ``Label`` the publication carries."""
        return self.label or self.release_origin

    @property
    def signs_here(self) -> bool:
        """Whether hoist signs the publication on this machine (an aptly root), not the server."""
        return not self.api_url

    def problems(self) -> list[str]:
        """What is wrong with this table as a whole (each key has its type already)."""
        found = []
        if bool(self.api_url) == bool(self.aptly_config):
            found.append("tool.hoist.apt needs either api_url (aptly's REST API on a server) or aptly_config "
                         "(an aptly root on this machine), not both")
        if self.aptly_config and not self.endpoint:
            found.append("tool.hoist.apt needs the key 'endpoint' with aptly_config (e.g. \"filesystem:public:.\")")
        if self.api_url and (self.endpoint or self.gnupghome or self.stop_agent):
            found.append("tool.hoist.apt.endpoint, gnupghome and stop_agent are for an aptly root on this machine: "
                         "with api_url, the server publishes at prefix and signs with its own key")
        if not _NAME.match(self.repo):
            found.append(f"tool.hoist.apt.repo {self.repo!r} is not an aptly repository name: use letters, digits, "
                         "'.', '_' and '-'")
        if self.keep < 0:
            found.append(f"tool.hoist.apt.keep must be 0 (keep all) or more, not {self.keep}")
        problem = prefix_problem("prefix", self.prefix)
        if self.endpoint:
            problem = problem or prefix_problem("endpoint", self.endpoint.rpartition(":")[2])
        if problem:
            found.append(problem)
        return found

    def conflicts(self, hoist: Mapping[str, Any]) -> list[str]:
        """What of ``[tool.hoist]`` (*hoist*, as written) this transport cannot honour."""
        if not self.signs_here and "valid_days" in hoist:
            return ["tool.hoist.valid_days: the aptly server signs this repository and aptly writes no Valid-Until, "
                    "so its publications never expire: remove valid_days (or publish from an aptly root on this "
                    "machine, which hoist signs with a Valid-Until)"]
        return []
