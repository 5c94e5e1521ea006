"""Credentials, read from the environment only.

hoist never reads a secret from a file it owns and never writes one: CI
products inject them as environment variables (Jenkins' Credentials Binding),
and each reaches only the process that needs it (twine the index's, gpg the
passphrase, through a pipe).  Every secret value is also registered with the
runner and the UI, which replace it with ``***`` wherever text is shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Environment variables hoist reads secrets from, first match wins.
PYPI_USERNAME_VARS = ("HOIST_PYPI_USERNAME", "TWINE_USERNAME")
PYPI_PASSWORD_VARS = ("HOIST_PYPI_PASSWORD", "TWINE_PASSWORD")
GPG_PASSPHRASE_VARS = ("HOIST_GPG_PASSPHRASE",)
#: The login of the web server in front of aptly's REST API (:mod:`hoist.targets.apt.api`).
APT_API_USERNAME_VAR, APT_API_PASSWORD_VAR = "HOIST_APT_API_USERNAME", "HOIST_APT_API_PASSWORD"

#: Variables no command inherits from hoist's environment: each secret is
#: handed only to the process that needs it (twine the index's credentials,
#: gpg the passphrase, through a pipe).
SECRET_VARIABLES = frozenset({*PYPI_USERNAME_VARS, *PYPI_PASSWORD_VARS, *GPG_PASSPHRASE_VARS,
                              APT_API_USERNAME_VAR, APT_API_PASSWORD_VAR})


def _first(names: tuple[str, ...]) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


@dataclass(frozen=True)
class Secrets:
    """The credentials of one run.

    :ivar pypi_username: ``HOIST_PYPI_USERNAME`` or ``TWINE_USERNAME``.
    :ivar pypi_password: ``HOIST_PYPI_PASSWORD`` or ``TWINE_PASSWORD`` (a
        password or an API token).
    :ivar gpg_passphrase: ``HOIST_GPG_PASSPHRASE``, the apt signing key's.
    :ivar unused: secret values of the environment that another variable
        overrides: never used, still never shown.
    """

    pypi_username: str | None = None
    pypi_password: str | None = None
    gpg_passphrase: str | None = None
    unused: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls) -> Secrets:
        """The secrets of ``os.environ``; those that another variable overrides
        (``TWINE_PASSWORD`` beside ``HOIST_PYPI_PASSWORD``) are kept, to be redacted."""
        password, passphrase = _first(PYPI_PASSWORD_VARS), _first(GPG_PASSPHRASE_VARS)
        every = [os.environ[n] for n in (*PYPI_PASSWORD_VARS, *GPG_PASSPHRASE_VARS, APT_API_PASSWORD_VAR)
                 if os.environ.get(n)]
        return cls(_first(PYPI_USERNAME_VARS), password, passphrase,
                   tuple(v for v in every if v not in (password, passphrase)))

    def values(self) -> list[str]:
        """Every secret value, for redaction."""
        return [v for v in (self.pypi_password, self.gpg_passphrase, *self.unused) if v]
