"""The apt repository, kept with aptly and signed with gpg.

A release adds the .deb to an aptly local repository, takes a snapshot named
after the version, and publishes it: the first time with ``publish snapshot``,
later with ``publish switch``, so clients move to the new set in one step and
the older versions stay in the pool for a rollback (aptly docs, "publish
switch").  Published indexes are read back from the repository's URL and parsed
with python-debian.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from debian.deb822 import Packages

from .config import AptTarget
from .errors import ConflictError, PublishError
from .runner import Result, Runner

#: How many times aptly tries to open a database that another aptly process
#: holds, sleeping a few seconds between tries (aptly's ``-db-open-attempts``):
#: a bounded wait.  Overridden by ``HOIST_APTLY_DB_OPEN_ATTEMPTS``.
DB_OPEN_ATTEMPTS = 10


@dataclass
class Aptly:
    """One aptly repository and its publication.

    :param runner: the command runner.
    :param target: the ``[tool.hoist.apt]`` settings.
    :param distribution: the distribution (suite) published, e.g. ``bookworm``.
    :param component: the component, e.g. ``main``.
    :param passphrase: the signing key's passphrase, from the environment, or None.
    """

    runner: Runner
    target: AptTarget
    distribution: str
    component: str
    passphrase: str | None = None

    def _env(self) -> dict[str, str]:
        return {"GNUPGHOME": self.target.gnupghome} if self.target.gnupghome else {}

    def _aptly(self, *args: str, mutates: bool = False, check: bool = True) -> Result:
        """Run aptly; a database locked past the bounded wait is a :class:`PublishError`."""
        attempts = os.environ.get("HOIST_APTLY_DB_OPEN_ATTEMPTS", str(DB_OPEN_ATTEMPTS))
        result = self.runner.run(
            ["aptly", f"-config={self.target.aptly_config}", f"-db-open-attempts={attempts}", *args],
            env=self._env(),
            mutates=mutates,
            check=False,
        )
        output = result.stdout + result.stderr
        if not result.ok and "unable to open database" in output.lower():
            raise PublishError(
                f"the aptly database of {self.target.aptly_config} is locked by another aptly process "
                f"(gave up after {attempts} attempts to open it)",
                "wait for the other process to finish, then run hoist release again: it resumes",
            )
        if not result.ok and ("gpg" in output.lower() or "sign" in output.lower()) and args[:1] == ("publish",):
            raise PublishError(
                f"aptly could not sign the repository with the key {self.target.gpg_key}: "
                + " ".join(line.strip() for line in output.splitlines() if line.strip())[-300:],
                "check that the key is in the GnuPG home"
                + (f" {self.target.gnupghome}" if self.target.gnupghome else "")
                + " and that HOIST_GPG_PASSPHRASE is its passphrase; the published repository is unchanged",
            )
        if check and not result.ok:
            raise self.runner.failure(" ".join(["aptly", *args]), result.returncode, output)
        return result

    def snapshot_name(self, version: str) -> str:
        return f"{self.target.repo}-{version}"

    def ensure_repo(self) -> None:
        """Create the local repository unless it exists."""
        names = self._aptly("repo", "list", "-raw").stdout.split()
        if self.target.repo not in names:
            self._aptly(
                "repo", "create", f"-distribution={self.distribution}", f"-component={self.component}",
                self.target.repo, mutates=True,
            )

    def package_keys(self, package: str, version: str) -> list[str]:
        """aptly's keys of the packages in the repository with that name and version."""
        result = self._aptly(
            "repo", "search", "-format={{.Key}}", self.target.repo, f"Name (= {package}), $Version (= {version})",
            check=False,
        )
        return [line.strip() for line in result.stdout.splitlines() if line.strip()] if result.ok else []

    def add(self, deb: Path) -> None:
        """Add *deb* to the repository.

        :raises ConflictError: the repository holds another file with the same
            name and version (aptly refuses it: "conflict in package").
        """
        result = self._aptly("repo", "add", self.target.repo, str(deb), mutates=True, check=False)
        output = result.stdout + result.stderr
        if not result.ok or "conflict" in output.lower() or "ERROR" in output:
            if "conflict" in output.lower():
                raise ConflictError(
                    f"the apt repository already holds a different {deb.name}",
                    "a version is never overwritten: release a new version instead",
                )
            raise PublishError(f"aptly could not add {deb.name}:\n{output.strip()}", "read aptly's message above")

    def snapshots(self) -> list[str]:
        return self._aptly("snapshot", "list", "-raw").stdout.split()

    def snapshot(self, version: str) -> str:
        """Snapshot the repository as ``<repo>-<version>`` unless that exists."""
        name = self.snapshot_name(version)
        if name not in self.snapshots():
            self._aptly("snapshot", "create", name, "from", "repo", self.target.repo, mutates=True)
        return name

    def published(self) -> bool:
        """Whether the distribution is already published at the endpoint."""
        prefix = self.target.endpoint
        lines = self._aptly("publish", "list", "-raw").stdout.splitlines()
        return any(line.split() == [prefix, self.distribution] for line in lines)

    def publish(self, snapshot: str) -> None:
        """Publish *snapshot*, signed: a first ``publish snapshot``, else ``publish switch``.

        aptly writes and signs the new indexes, then moves them into place.
        """
        sign = [f"-gpg-key={self.target.gpg_key}", "-batch"]
        with tempfile.TemporaryDirectory(prefix="hoist-aptly-") as tmp:
            if self.passphrase:
                secret = Path(tmp, "passphrase")
                secret.write_text(self.passphrase)
                os.chmod(secret, 0o600)
                sign.append(f"-passphrase-file={secret}")
            if self.published():
                self._aptly("publish", "switch", *sign, self.distribution, self.target.endpoint, snapshot, mutates=True)
            else:
                self._aptly(
                    "publish", "snapshot", *sign, "-acquire-by-hash",
                    f"-distribution={self.distribution}", f"-component={self.component}",
                    snapshot, self.target.endpoint, mutates=True,
                )


def published_packages(url: str, distribution: str, component: str, architecture: str) -> dict[str, Packages]:
    """The ``Packages`` index of a published repository, by pool file name.

    :param url: the repository's base URL (``file://``, ``http(s)://``) or path.
    :returns: ``{"hoist_26.11.0_amd64.deb": paragraph}``; empty when the
        distribution is not published (yet).
    """
    base = url if "://" in url else Path(url).resolve().as_uri()
    index = f"{base.rstrip('/')}/dists/{distribution}/{component}/binary-{architecture}/Packages"
    try:
        with urllib.request.urlopen(index, timeout=30) as response:
            text = response.read().decode("utf-8")
    except (FileNotFoundError, urllib.error.URLError) as exc:
        if isinstance(exc, urllib.error.HTTPError) and exc.code != 404:
            raise PublishError(f"cannot read {index}: {exc}", "check tool.hoist.apt.url") from None
        return {}
    return {Path(p["Filename"]).name: p for p in Packages.iter_paragraphs(text.splitlines(keepends=True), use_apt_pkg=False)}
