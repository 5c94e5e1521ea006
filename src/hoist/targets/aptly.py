"""The apt repository, kept with aptly and signed with gpg.

A release adds the .deb to an aptly local repository, takes a snapshot named
after the version, and publishes it: the first time with ``publish snapshot``,
later with ``publish switch``, so clients move to the new set in one step and
the older versions stay in the pool for a rollback (aptly docs, "publish
switch").  The three commands run under one lock (:meth:`Aptly.lock`): aptly's
own database lock covers a single command.

What it published is read back as apt reads it, by
:func:`hoist.targets.publication.read_publication`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from debian.deb822 import Deb822, Release

from ..config import AptTarget
from ..errors import ConfigError, ConflictError, PreflightError, PublishError
from ..flock import file_lock, shared_until_last
from ..runner import Result, Runner

#: How many times aptly tries to open a database that another aptly process
#: holds, sleeping a few seconds between tries (aptly's ``-db-open-attempts``):
#: a bounded wait.  Overridden by ``HOIST_APTLY_DB_OPEN_ATTEMPTS`` (0: no wait).
DB_OPEN_ATTEMPTS = 10

#: What aptly says of a database that stayed locked (aptly's context.go): a
#: line before each wait, and the error once it gives up, the only one with
#: ``-db-open-attempts=0``.
DB_LOCKED = ("unable to open database", "unable to reopen the db, maximum number of retries reached")

#: How long a release waits for another one's add, snapshot and publish, in seconds.
PUBLISH_LOCK_TIMEOUT = 600.0

#: Copies of the passphrase put in the pipe gpg reads it from: gpg reads one
#: line per run, and aptly runs gpg twice per publish (Release.gpg, InRelease).
PASSPHRASE_COPIES = 8

#: What a pipe holds before a write blocks (pipe(7): 65536 bytes since Linux 2.6.11).
PIPE_CAPACITY = 65536


def _gist(output: str) -> str:
    """The last 300 characters of a command's output, on one line."""
    return " ".join(line.strip() for line in output.splitlines() if line.strip())[-300:]


def release_date(moment: datetime) -> str:
    """*moment* as a ``Release`` file's ``Date`` (RFC 2822 in UTC, as the Debian archive writes it)."""
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    utc = moment.astimezone(timezone.utc)
    return f"{days[utc.weekday()]}, {utc.day:02d} {months[utc.month - 1]} {utc.year} {utc:%H:%M:%S} UTC"


#: Seconds to wait for a stopped gpg-agent to exit.
AGENT_EXIT_TIMEOUT = 10.0


def _wait_for_exit(pid: int, timeout: float) -> None:
    """Wait until the process *pid* (not a child: a daemon) has exited or is a zombie."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.02)


def gpg_session(runner: Runner, gnupghome: Path) -> contextlib.AbstractContextManager[None]:
    """A stretch of gpg work in *gnupghome* after which its gpg-agent is
    stopped, by the last of the sessions open at once on this machine (see
    :func:`hoist.flock.shared_until_last`), so that no daemon outlives a run
    and no run loses its agent in the middle of signing.  gpg starts the agent
    again when it needs it (gpg-agent(1), ``gpgconf --kill``).
    """
    def stop_agent() -> None:
        # The agent leaves after gpgconf returns; a gpg that connects to it
        # meanwhile is reset ("Connection reset by peer"): wait until it is gone.
        asked = runner.run(["gpg-connect-agent", "--homedir", str(gnupghome), "--no-autostart", "GETINFO pid", "/bye"],
                           check=False)
        pids = [int(line[2:]) for line in asked.stdout.splitlines() if line.startswith("D ") and line[2:].isdigit()]
        runner.run(["gpgconf", "--homedir", str(gnupghome), "--kill", "gpg-agent"], check=False)
        for pid in pids:
            _wait_for_exit(pid, AGENT_EXIT_TIMEOUT)

    return shared_until_last(gnupghome / "hoist-sessions.lock", stop_agent)


@contextlib.contextmanager
def passphrase_path(passphrase: str) -> Iterator[str]:
    """A path from which each gpg run reads *passphrase* as its first line.

    The passphrase goes into an anonymous pipe that this process holds open,
    and gpg opens it as ``/proc/<pid>/fd/<n>``: nothing is written to disk, and
    the pipe is gone when this process ends, however it ends (a file would
    outlive a SIGKILL).  aptly cannot pass a descriptor to gpg itself: it runs
    gpg with stdin on /dev/null.

    :raises ConfigError: the passphrase has a line break, or is too long for the pipe.
    """
    line = passphrase.encode() + b"\n"
    if b"\n" in line[:-1] or len(line) * PASSPHRASE_COPIES > PIPE_CAPACITY:
        raise ConfigError(
            "HOIST_GPG_PASSPHRASE has a line break or is longer than 8 KiB",
            "gpg reads the passphrase's first line only: set HOIST_GPG_PASSPHRASE to the passphrase itself",
        )
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, line * PASSPHRASE_COPIES)
        os.close(write_end)  # more gpg runs than copies read an empty line and fail, never hang
        write_end = -1
        yield f"/proc/{os.getpid()}/fd/{read_end}"
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


@dataclass
class Aptly:
    """One aptly repository and its publication.

    :param runner: the command runner.
    :param target: the ``[tool.hoist.apt]`` settings.
    :param distribution: the distribution (suite) published, e.g. ``bookworm``.
    :param component: the component, e.g. ``main``.
    :param passphrase: the signing key's passphrase, from the environment, or None.
    :param valid_days: days a publication stays valid (``Valid-Until``, see
        :meth:`resign`); 0 for no limit.
    """

    runner: Runner
    target: AptTarget
    distribution: str
    component: str
    passphrase: str | None = None
    valid_days: int = 0

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
        if not result.ok and any(message in output.lower() for message in DB_LOCKED):
            raise PublishError(
                f"the aptly database of {self.target.aptly_config} is locked by another aptly process "
                f"(gave up after {attempts} attempts to open it)",
                "wait for the other process to finish, then run hoist release again: it resumes",
            )
        if not result.ok and ("gpg" in output.lower() or "sign" in output.lower()) and args[:1] == ("publish",):
            raise PublishError(
                f"aptly could not sign the repository with the key {self.key_name}: {_gist(output)}",
                self._signing_hint("the published repository is unchanged"),
            )
        if check and not result.ok:
            raise self.runner.failure(" ".join(["aptly", *args]), result.returncode, output)
        return result

    def root_dir(self) -> Path:
        """aptly's ``rootDir`` (aptly docs, "Configuration"; default ``~/.aptly``).

        :raises ConfigError: the aptly configuration file is missing or not JSON.
        """
        try:
            config = json.loads(Path(self.target.aptly_config).expanduser().read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the aptly configuration {self.target.aptly_config}: {exc}",
                "set tool.hoist.apt.aptly_config to aptly's JSON configuration file",
            ) from None
        return Path(config.get("rootDir") or "~/.aptly").expanduser()

    def lock(self, timeout: float = PUBLISH_LOCK_TIMEOUT,
             on_wait: Callable[[Path], None] | None = None) -> contextlib.AbstractContextManager[None]:
        """An exclusive lock on this repository's add, snapshot and publish.

        Held across the three commands, it keeps two releases from interleaving
        them: without it, a run that took its snapshot before another release
        published could switch the publication back to its older snapshot.

        :param on_wait: called when another release holds it (see :func:`hoist.flock.file_lock`).
        :raises PublishError: another release held it for *timeout* seconds.
        """
        return file_lock(self.root_dir() / "hoist-publish.lock", timeout, on_wait)

    def check_signing(self) -> None:
        """Sign an empty text with the key and passphrase aptly will use.

        Run before a release changes anything, so that a missing key or a wrong
        passphrase stops it before the push rather than in the middle of the
        apt publish.

        :raises PreflightError: gpg could not sign; the message names the key.
        """
        result = self._gpg_sign("--output", "-", "--detach-sign", "/dev/null")
        if not result.ok:
            raise PreflightError(
                f"cannot sign the apt repository with the key {self.key_name}: {_gist(result.stderr)}",
                self._signing_hint("nothing was changed"),
            )

    def detach_sign(self, path: Path) -> Path:
        """Sign the file *path* with the repository's key: an ASCII-armored
        detached OpenPGP signature in *path* + ``.asc`` (RFC 4880 §11.4), which
        ``gpgv --keyring <public key> path.asc path`` verifies.

        :raises PublishError: gpg cannot sign.
        """
        signature = path.with_name(path.name + ".asc")
        result = self._gpg_sign("--yes", "--armor", "--output", str(signature), "--detach-sign", str(path))
        if not result.ok:
            raise PublishError(f"cannot sign {path.name} with the key {self.key_name}: {_gist(result.stderr)}",
                               self._signing_hint("nothing was published"))
        return signature

    def _gpg_sign(self, *args: str, input: str | None = None) -> Result:
        """Run ``gpg *args`` with the repository's key and passphrase, in a
        signing session (:meth:`_signing`); its result, unchecked."""
        with self._signing() as passphrase_file:
            secret = ["--passphrase-file", passphrase_file] if passphrase_file else []
            key = ["--local-user", self.target.gpg_key] if self.target.gpg_key else []
            return self.runner.run(["gpg", "--batch", "--no-tty", "--pinentry-mode", "loopback", *secret, *key, *args],
                                   env=self._env(), input=input, check=False)

    @contextlib.contextmanager
    def _signing(self) -> Iterator[str | None]:
        """One signing session: the passphrase's path for gpg (see
        :func:`passphrase_path`), or None without a passphrase.  When the
        settings ask for it (*stop_agent*), the session runs inside
        :func:`gpg_session`, so no gpg-agent outlives the run."""
        with contextlib.ExitStack() as stack:
            if self.target.stop_agent and self.target.gnupghome:
                stack.enter_context(gpg_session(self.runner, Path(self.target.gnupghome)))
            yield stack.enter_context(passphrase_path(self.passphrase)) if self.passphrase else None

    @property
    def key_name(self) -> str:
        """The signing key, as messages name it."""
        return self.target.gpg_key or f"(the default key of {self.target.gnupghome or 'the GnuPG home'})"

    def _signing_hint(self, outcome: str) -> str:
        home = f" {self.target.gnupghome}" if self.target.gnupghome else ""
        return f"check that the key is in the GnuPG home{home} and that HOIST_GPG_PASSPHRASE is its passphrase; {outcome}"

    def snapshot_name(self, version: str) -> str:
        return f"{self.target.repo}-{version}"

    def _keys(self, kind: str, name: str) -> set[str]:
        """aptly's keys of every package in a local repository or snapshot."""
        result = self._aptly(kind, "search", "-format={{.Key}}", name, check=False)
        return {line.strip() for line in result.stdout.splitlines() if line.strip()} if result.ok else set()

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
        """A snapshot of the repository as it is now, named ``<repo>-<version>``.

        A snapshot of that name taken earlier (by a run stopped before its
        publish) that lacks a package the repository holds now is never
        published: it would take that package away from clients.  It is
        dropped and taken again, or, when aptly refuses to drop it, a fresh
        one is taken as ``<repo>-<version>-<n>``.
        """
        name = self.snapshot_name(version)
        existing = set(self.snapshots())
        if name in existing:
            if self._keys("repo", self.target.repo) <= self._keys("snapshot", name):
                return name
            if not self._aptly("snapshot", "drop", name, mutates=True, check=False).ok:
                name = next(f"{name}-{n}" for n in range(2, 10_000) if f"{name}-{n}" not in existing)
        self._aptly("snapshot", "create", name, "from", "repo", self.target.repo, mutates=True)
        return name

    def published(self) -> bool:
        """Whether the distribution is already published at the endpoint."""
        prefix = self.target.endpoint
        lines = self._aptly("publish", "list", "-raw").stdout.splitlines()
        return any(line.split() == [prefix, self.distribution] for line in lines)

    def published_snapshot(self) -> str | None:
        """The snapshot the distribution publishes in the component, or None
        when it is not published (aptly's ``publish list -json``)."""
        for entry in json.loads(self._aptly("publish", "list", "-json").stdout or "[]"):
            storage = entry.get("Storage") or ""
            endpoint = f"{storage}:{entry.get('Prefix')}" if storage else entry.get("Prefix")
            if endpoint == self.target.endpoint and entry.get("Distribution") == self.distribution:
                return next((s["Name"] for s in entry.get("Sources") or [] if s.get("Component") == self.component),
                            None)
        return None

    def free_snapshot_name(self, name: str) -> str:
        """*name*, or *name*-<n> when a snapshot has that name."""
        existing = set(self.snapshots())
        return next(f"{name}-{n}" for n in range(2, 100_000) if f"{name}-{n}" not in existing) if name in existing else name

    def new_snapshot(self, name: str, *source: str) -> str:
        """Create a snapshot named after *name* (see :meth:`free_snapshot_name`)
        ``from repo <repo>`` when no *source* is given, ``empty`` for ``("empty",)``."""
        name = self.free_snapshot_name(name)
        self._aptly("snapshot", "create", name, *(source or ("from", "repo", self.target.repo)), mutates=True)
        return name

    def pull(self, base: str, source: str, destination: str, package: str, version: str, architecture: str) -> None:
        """Create *destination* from *base* with *package* at exactly *version*
        from *source*, and no other version of it (aptly ``snapshot pull``,
        which removes the other versions of a pulled package)."""
        self._aptly("snapshot", "pull", "-no-deps", f"-architectures={architecture}", base, source, destination,
                    f"Name (= {package}), $Version (= {version})", mutates=True)

    def package_fields(self, package: str, version: str, architecture: str) -> dict[str, str] | None:
        """The repository's package *package* *version* of *architecture*: its
        control fields with ``Filename`` and ``SHA256`` (aptly ``package show``), or None."""
        keys = [k for k in self.package_keys(package, version) if k.split()[0] in (f"P{architecture}", "Pall")]
        if not keys:
            return None
        arch = keys[0].split()[0][1:]
        stanza = self._aptly("package", "show", f"Name (= {package}), $Version (= {version}), "
                             f"$Architecture (= {arch})").stdout
        return dict(Deb822(stanza))

    def publish_dir(self) -> Path:
        """The directory aptly publishes to: a ``filesystem:<name>:<prefix>``
        endpoint's ``rootDir`` (aptly docs, "FileSystemPublishEndpoints"), or
        ``<rootDir>/public`` for a bare prefix, with the prefix.

        :raises ConfigError: the endpoint is not on this machine's file system (S3, Swift).
        """
        parts = self.target.endpoint.split(":")
        if len(parts) == 1:
            return self.root_dir() / "public" / parts[0]
        config = json.loads(Path(self.target.aptly_config).expanduser().read_text())
        endpoint = (config.get("FileSystemPublishEndpoints") or {}).get(parts[1]) if parts[0] == "filesystem" else None
        if endpoint is None or len(parts) != 3:
            raise ConfigError(f"tool.hoist.apt.endpoint {self.target.endpoint!r} is not a file system endpoint "
                              f"of {self.target.aptly_config}",
                              "hoist signs Valid-Until into Release files it can write: use a filesystem endpoint")
        return Path(endpoint["rootDir"]) / parts[2]

    def resign(self, valid_days: int, now: datetime | None = None) -> datetime:
        """Date the distribution's ``Release`` now and make it valid for
        *valid_days* days (``Valid-Until``), then sign it again: ``InRelease``
        (clearsigned) and ``Release.gpg`` (detached).  apt refuses a
        ``Release`` past its ``Valid-Until`` (apt.conf(5),
        ``Acquire::Check-Valid-Until``), so a server fed a frozen copy of the
        repository stops trusting it.  aptly 1.5 writes no ``Valid-Until``.

        :returns: the new ``Valid-Until``.
        :raises PublishError: the distribution is not published, or gpg cannot sign.
        """
        directory = self.publish_dir() / "dists" / self.distribution
        path = directory / "Release"
        try:
            release = Release(path.read_text())
        except FileNotFoundError:
            raise PublishError(f"{self.distribution} is not published at {directory}",
                               "publish it first (hoist release, or hoist promote)") from None
        now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        until = now + timedelta(days=valid_days)
        fields = {k: v for k, v in release.items() if k not in ("Date", "Valid-Until")}
        ordered = Release()
        for key, value in fields.items():
            ordered[key] = value
            if key == "Codename":
                ordered["Date"], ordered["Valid-Until"] = release_date(now), release_date(until)
        if "Date" not in ordered:
            ordered["Date"], ordered["Valid-Until"] = release_date(now), release_date(until)
        text = ordered.dump()
        with self._signing():  # one session for both signatures
            for name, how in (("InRelease", "--clearsign"), ("Release.gpg", "--detach-sign")):
                result = self._gpg_sign("--yes", "--armor", "--digest-algo", "SHA512", how,
                                        "--output", str(directory / f"{name}.new"), "-", input=text)
                if not result.ok:
                    raise PublishError(f"cannot sign {path} with the key {self.key_name}: {_gist(result.stderr)}",
                                       self._signing_hint("the publication is unchanged"))
        (directory / "Release.new").write_text(text)
        for name in ("Release", "Release.gpg", "InRelease"):
            os.replace(directory / f"{name}.new", directory / name)
        return until

    def publish(self, snapshot: str) -> None:
        """Publish *snapshot*, signed: a first ``publish snapshot``, else
        ``publish switch``; then :meth:`resign` when publications expire.

        aptly writes and signs the new indexes, then moves them into place.  A
        first publish that failed leaves files but no publish in aptly's
        database; ``publish snapshot`` then writes over them.
        """
        sign = [*([f"-gpg-key={self.target.gpg_key}"] if self.target.gpg_key else []), "-batch"]
        with self._signing() as passphrase_file:
            if passphrase_file:
                sign.append(f"-passphrase-file={passphrase_file}")
            if self.published():
                self._aptly("publish", "switch", *sign, self.distribution, self.target.endpoint, snapshot, mutates=True)
            else:
                self._aptly(
                    "publish", "snapshot", *sign, "-acquire-by-hash",
                    f"-origin={self.target.release_origin}", f"-label={self.target.release_label}",
                    f"-distribution={self.distribution}", f"-component={self.component}",
                    snapshot, self.target.endpoint, mutates=True,
                )
            if self.valid_days:  # in the same gpg session: its agent is not stopped in between
                self.resign(self.valid_days)
