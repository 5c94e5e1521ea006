"""Which targets a release publishes to, and the secrets they need.

Configured targets come from ``[tool.hoist]``; with none (or ``--local``) the
local targets of :mod:`hoist.local` are used.  Secrets come only from the
environment, never from a file hoist reads or writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .config import AptTarget, Config, GitTarget, PyPITarget
from .local import LocalTargets
from .runner import Runner

#: Environment variables hoist reads secrets from, first match wins.
PYPI_USERNAME_VARS = ("HOIST_PYPI_USERNAME", "TWINE_USERNAME")
PYPI_PASSWORD_VARS = ("HOIST_PYPI_PASSWORD", "TWINE_PASSWORD")
GPG_PASSPHRASE_VARS = ("HOIST_GPG_PASSPHRASE",)


def _first(names: tuple[str, ...]) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


@dataclass(frozen=True)
class Secrets:
    """Credentials, read from the environment only.

    :ivar pypi_username: ``HOIST_PYPI_USERNAME`` or ``TWINE_USERNAME``.
    :ivar pypi_password: ``HOIST_PYPI_PASSWORD`` or ``TWINE_PASSWORD`` (a
        password or an API token).
    :ivar gpg_passphrase: ``HOIST_GPG_PASSPHRASE``, the apt signing key's.
    """

    pypi_username: str | None = None
    pypi_password: str | None = None
    gpg_passphrase: str | None = None

    @classmethod
    def from_environment(cls) -> Secrets:
        return cls(_first(PYPI_USERNAME_VARS), _first(PYPI_PASSWORD_VARS), _first(GPG_PASSPHRASE_VARS))

    def values(self) -> list[str]:
        return [v for v in (self.pypi_password, self.gpg_passphrase) if v]


@dataclass(frozen=True)
class Targets:
    """The targets of one release.

    :ivar git: the git remote (always present).
    :ivar pypi: the index, or None when the project publishes to no index.
        For local targets its upload URL is known only while the local
        index server runs (see :func:`hoist.local.serve_index`).
    :ivar apt: the apt repository, or None.
    :ivar local: the local targets in use, or None.
    """

    git: GitTarget
    pypi: PyPITarget | None
    apt: AptTarget | None
    local: LocalTargets | None = None

    @classmethod
    def resolve(cls, config: Config, runner: Runner, *, local: bool = False) -> Targets:
        """The targets for *config*; local ones when *local* or none configured."""
        if local or config.local:
            targets = LocalTargets(runner, config.package)
            return cls(targets.git(), targets.pypi(), None, targets)
        assert config.git is not None
        return cls(config.git, config.pypi, config.apt)

    def describe(self) -> list[tuple[str, str]]:
        """(target, where) pairs for plans and summaries."""
        rows = [("git", self.git.remote)]
        if self.local:
            rows.append(("pypi", f"{self.local.index_dir} (served on 127.0.0.1 for the upload)"))
            rows.append(("apt", f"{self.local.apt_dir.as_uri()} (signed with a local key)"))
        else:
            rows.append(("pypi", self.pypi.upload_url if self.pypi else "(none configured)"))
            rows.append(("apt", self.apt.url if self.apt else "(none configured)"))
        return rows
