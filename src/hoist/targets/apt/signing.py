"""Signing the apt repository on this machine: one module for every gpg call.

aptly signs ``Release`` files itself (``-gpg-key``, ``-passphrase-file``);
hoist signs with the same key, in the same GnuPG home, what aptly does not:
a detached signature of ``SHA256SUMS`` (RFC 4880 §11.4), and a ``Release``
dated again with a ``Valid-Until`` (``hoist resign``; apt.conf(5),
``Acquire::Check-Valid-Until``), which aptly 1.5 never writes.

The passphrase reaches gpg through a pipe that this process holds open
(:func:`passphrase_path`), never a file; a GnuPG home of hoist's own has its
gpg-agent stopped by the last signing session open on the machine
(:func:`gpg_session`), so no daemon outlives a run.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from debian.deb822 import Release

from ...config import MAX_VALID_DAYS
from ...errors import ConfigError, PreflightError, PublishError
from ...flock import shared_until_last
from ...runner import Result, Runner

#: Copies of the passphrase put in the pipe gpg reads it from: gpg reads one
#: line per run, and aptly runs gpg twice per publish (Release.gpg, InRelease).
PASSPHRASE_COPIES = 8

#: What a pipe holds before a write blocks (pipe(7): 65536 bytes since Linux 2.6.11).
PIPE_CAPACITY = 65536

#: Seconds to wait for a stopped gpg-agent to exit.
AGENT_EXIT_TIMEOUT = 10.0

#: How long a signed publication stays valid when ``tool.hoist.valid_days`` is not set, in days.
DEFAULT_VALID_DAYS = 14



def gist(output: str) -> str:
    """The last 300 characters of a command's output, on one line."""
    return " ".join(line.strip() for line in output.splitlines() if line.strip())[-300:]


def release_date(moment: datetime) -> str:
    """*moment* as a ``Release`` file's ``Date`` (RFC 2822 in UTC, as the Debian archive writes it)."""
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    utc = moment.astimezone(timezone.utc)
    return f"{days[utc.weekday()]}, {utc.day:02d} {months[utc.month - 1]} {utc.year} {utc:%H:%M:%S} UTC"


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


class Signer:
    """The apt repository's key on this machine.

    :param runner: runs gpg.
    :param gpg_key: the key id or fingerprint (``""``: the GnuPG home's default key).
    :param gnupghome: the GnuPG home (``""``: gpg's default).
    :param passphrase: the key's passphrase (``HOIST_GPG_PASSPHRASE``), or None.
    :param stop_agent: stop the home's gpg-agent after each session (see :func:`gpg_session`).
    """

    def __init__(self, runner: Runner, gpg_key: str, gnupghome: str, passphrase: str | None,
                 stop_agent: bool = False) -> None:
        self.runner = runner
        self.gpg_key = gpg_key
        self.gnupghome = gnupghome
        self.passphrase = passphrase
        self.stop_agent = stop_agent

    @property
    def env(self) -> dict[str, str]:
        """The environment of gpg, and of aptly when it signs with this key."""
        return {"GNUPGHOME": self.gnupghome} if self.gnupghome else {}

    @property
    def key_name(self) -> str:
        """The signing key, as messages name it."""
        return self.gpg_key or f"(the default key of {self.gnupghome or 'the GnuPG home'})"

    def hint(self, outcome: str) -> str:
        """What to check when the key does not sign; *outcome* says what was left as it was."""
        home = f" {self.gnupghome}" if self.gnupghome else ""
        return f"check that the key is in the GnuPG home{home} and that HOIST_GPG_PASSPHRASE is its passphrase; {outcome}"

    @contextlib.contextmanager
    def session(self) -> Iterator[str | None]:
        """One signing session: yields the path gpg reads the passphrase from
        (see :func:`passphrase_path`), or None without a passphrase."""
        with contextlib.ExitStack() as stack:
            if self.stop_agent and self.gnupghome:
                stack.enter_context(gpg_session(self.runner, Path(self.gnupghome)))
            yield stack.enter_context(passphrase_path(self.passphrase)) if self.passphrase else None

    def aptly_options(self, passphrase_file: str | None) -> list[str]:
        """aptly's options that sign a publish with this key, inside a :meth:`session`."""
        return [*([f"-gpg-key={self.gpg_key}"] if self.gpg_key else []), "-batch",
                *([f"-passphrase-file={passphrase_file}"] if passphrase_file else [])]

    def _gpg(self, *args: str, input: str | None = None) -> Result:
        """Run ``gpg *args`` with the key and passphrase, in a session; its result, unchecked."""
        with self.session() as passphrase_file:
            secret = ["--passphrase-file", passphrase_file] if passphrase_file else []
            key = ["--local-user", self.gpg_key] if self.gpg_key else []
            return self.runner.run(["gpg", "--batch", "--no-tty", "--pinentry-mode", "loopback", *secret, *key, *args],
                                   env=self.env, input=input, check=False)

    def _sign_nothing(self) -> Result:
        """Sign an empty text, thrown away: gpg's result, unchecked."""
        return self._gpg("--output", "-", "--detach-sign", "/dev/null")

    def signs(self) -> bool:
        """Whether the key signs now."""
        return self._sign_nothing().ok

    def check(self) -> None:
        """Sign an empty text with the key and passphrase aptly will use.

        Run before a release changes anything, so that a missing key or a wrong
        passphrase stops it before the push rather than in the middle of the
        apt publish.

        :raises PreflightError: gpg could not sign; the message names the key.
        """
        result = self._sign_nothing()
        if not result.ok:
            raise PreflightError(f"cannot sign the apt repository with the key {self.key_name}: {gist(result.stderr)}",
                                 self.hint("nothing was changed"))

    def detach_sign(self, path: Path) -> Path:
        """Sign the file *path*: an ASCII-armored detached OpenPGP signature in
        *path* + ``.asc`` (RFC 4880 §11.4), which ``gpgv --keyring <public key>
        path.asc path`` verifies.

        :returns: the signature's path.
        :raises PublishError: gpg cannot sign.
        """
        signature = path.with_name(path.name + ".asc")
        result = self._gpg("--yes", "--armor", "--output", str(signature), "--detach-sign", str(path))
        if not result.ok:
            raise PublishError(f"cannot sign {path.name} with the key {self.key_name}: {gist(result.stderr)}",
                               self.hint("nothing was published"))
        return signature

    def resign(self, directory: Path, valid_days: int, now: datetime | None = None) -> datetime:
        """Date the ``Release`` in *directory* (``dists/<suite>/``) now, make it
        valid for *valid_days* days (``Valid-Until``), and sign it again:
        ``InRelease`` (clearsigned) and ``Release.gpg`` (detached), each
        written beside and renamed into place.

        :param valid_days: 1 to :data:`MAX_VALID_DAYS`.
        :returns: the new ``Valid-Until``.
        :raises PublishError: nothing is published there, or gpg cannot sign.
        """
        path = directory / "Release"
        try:
            release = Release(path.read_text())
        except FileNotFoundError:
            raise PublishError(f"{directory.name} is not published at {directory}",
                               "publish it first (hoist release, or hoist promote)") from None
        now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        until = now + timedelta(days=min(max(valid_days, 1), MAX_VALID_DAYS))
        ordered = Release()
        for key, value in release.items():
            if key in ("Date", "Valid-Until"):
                continue
            ordered[key] = value
            if key == "Codename":
                ordered["Date"], ordered["Valid-Until"] = release_date(now), release_date(until)
        if "Date" not in ordered:
            ordered["Date"], ordered["Valid-Until"] = release_date(now), release_date(until)
        text = ordered.dump()
        with self.session():  # one session for both signatures
            for name, how in (("InRelease", "--clearsign"), ("Release.gpg", "--detach-sign")):
                result = self._gpg("--yes", "--armor", "--digest-algo", "SHA512", how,
                                   "--output", str(directory / f"{name}.new"), "-", input=text)
                if not result.ok:
                    raise PublishError(f"cannot sign {path} with the key {self.key_name}: {gist(result.stderr)}",
                                       self.hint("the publication is unchanged"))
        (directory / "Release.new").write_text(text)
        for name in ("Release", "Release.gpg", "InRelease"):
            os.replace(directory / f"{name}.new", directory / name)
        return until
