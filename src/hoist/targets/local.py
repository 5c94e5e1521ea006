"""Local targets: the factory that provisions the three kinds on this machine.

With no target in ``[tool.hoist]`` (or ``--local``), hoist publishes into one
state directory per user and project, shared by every clone of that project,
through the same classes as configured targets:

``$HOIST_HOME/<project>/``
    ``remote.git``     a bare git repository: a :class:`~hoist.targets.git.GitRemote`
    ``index/``         the files of a PyPI index: a :class:`~hoist.targets.pypi.PyPIIndex`
                       that uploads to pypiserver on 127.0.0.1, run for the
                       upload, and that ``pip --find-links`` reads
    ``aptly/``         aptly's root and configuration, and
    ``apt/``           the published apt repository (``file://`` for apt):
                       an :class:`~hoist.targets.apt.AptRepository`
                       through an aptly root
    ``gnupg/``         the key that signs it, generated once
    ``<project>-archive-keyring.gpg``  its public key, for ``signed-by``

``$HOIST_HOME`` defaults to ``$XDG_DATA_HOME/hoist`` or ``~/.local/share/hoist``
(XDG Base Directory Specification).  Nothing outside this module knows
whether a target is local.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import PublishError
from ..flock import file_lock
from ..runner import Runner
from .apt import AptRepository, AptSettings
from .apt.signing import gpg_session
from .base import Env, Targets
from .git import GitRemote
from .pypi import PyPIIndex

#: Seconds to wait for pypiserver to accept connections.
SERVER_START_TIMEOUT = 30.0


def hoist_home() -> Path:
    """The per-user state directory of hoist."""
    if os.environ.get("HOIST_HOME"):
        return Path(os.environ["HOIST_HOME"])
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "hoist"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_index(directory: Path, log: Path) -> Iterator[str]:
    """Run pypiserver on 127.0.0.1 for *directory*, yield its base URL, stop it.

    Uploads need no credentials (``-a . -P .``); there is no fallback to any
    other index (``--disable-fallback``); links carry sha256 fragments.

    :raises PublishError: the server did not start.
    """
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [
        sys.executable, "-m", "pypiserver", "run", "--host", "127.0.0.1", "--port", str(port),
        "--authenticate", ".", "--passwords", ".", "--disable-fallback",
        "--hash-algo", "sha256", "--backend", "simple-dir", str(directory),
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise PublishError(f"pypiserver exited at start (see {log})", "read its log")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise PublishError(f"pypiserver did not start within {SERVER_START_TIMEOUT:.0f} s", f"read {log}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class LocalTargets:
    """The local targets of one project.

    :param runner: runs git, gpg.
    :param project: the Debian package name, used for every path and name.
    """

    runner: Runner
    project: str

    @property
    def root(self) -> Path:
        return hoist_home() / self.project

    @property
    def git_remote(self) -> Path:
        return self.root / "remote.git"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def apt_dir(self) -> Path:
        return self.root / "apt"

    @property
    def gnupghome(self) -> Path:
        """The GnuPG home of the signing key.

        gpg-agent's sockets live in the home directory, and a socket path may
        not be longer than 107 bytes (unix(7), ``sun_path``); a deep
        ``$HOIST_HOME`` is therefore reached through a short symbolic link in
        the temporary directory.
        """
        home = self.root / "gnupg"
        if len(str(home)) <= 60:
            return home
        digest = hashlib.sha256(str(home).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"hoist-gnupg-{digest}"

    def _make_gnupghome(self) -> None:
        """Create the GnuPG home, and the short link to it when there is one."""
        home = self.root / "gnupg"
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        link = self.gnupghome
        if link != home and not link.is_symlink():
            with contextlib.suppress(FileExistsError):
                link.symlink_to(home)

    @property
    def public_key(self) -> Path:
        return self.root / f"{self.project}-archive-keyring.gpg"

    @property
    def aptly_config(self) -> Path:
        return self.root / "aptly" / "aptly.conf"

    def lock(self, what: str, timeout: float = 600.0) -> contextlib.AbstractContextManager[None]:
        """A lock on one local target, shared by every clone on this machine."""
        return file_lock(self.root / "locks" / what, timeout)

    def ensure(self) -> None:
        """Create whatever does not exist yet: remote, directories, key, config.

        Safe to run from several processes at once (a lock serialises it).
        """
        with self.lock("setup"):
            if not (self.git_remote / "HEAD").exists():
                self.runner.run(["git", "init", "--quiet", "--bare", str(self.git_remote)], mutates=True)
            self.index_dir.mkdir(parents=True, exist_ok=True)
            self.apt_dir.mkdir(parents=True, exist_ok=True)
            if not self.aptly_config.exists():
                self.aptly_config.parent.mkdir(parents=True, exist_ok=True)
                config = {
                    "rootDir": str(self.aptly_config.parent / "db"),
                    "gpgProvider": "gpg",
                    "FileSystemPublishEndpoints": {"local": {"rootDir": str(self.apt_dir), "linkMethod": "copy"}},
                }
                self.aptly_config.write_text(json.dumps(config, indent=2) + "\n")
            if not self.public_key.exists():
                self._make_gnupghome()
                with gpg_session(self.runner, self.gnupghome):  # no gpg-agent outlives the run
                    self._generate_key()

    def _gpg(self, *args: str, mutates: bool = False) -> str:
        self._make_gnupghome()
        return self.runner.run(
            ["gpg", "--batch", "--homedir", str(self.gnupghome), *args], mutates=mutates
        ).stdout

    def fingerprint(self) -> str:
        """The fingerprint of the signing key (gpg's ``--with-colons`` output, ``fpr`` record)."""
        for line in self._gpg("--with-colons", "--list-secret-keys").splitlines():
            fields = line.split(":")
            if fields[0] == "fpr":
                return fields[9]
        return ""

    def _generate_key(self) -> None:
        if not self.fingerprint():
            uid = f"hoist local archive for {self.project} <{self.project}@localhost>"
            self._gpg("--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never", mutates=True)
        tmp = self.public_key.with_suffix(".tmp")
        self._gpg("--yes", "--output", str(tmp), "--export", self.fingerprint(), mutates=True)
        os.replace(tmp, self.public_key)

    @contextlib.contextmanager
    def upload_endpoint(self) -> Iterator[str]:
        """pypiserver on 127.0.0.1 for the index directory, for one upload at a time."""
        with self.lock("index"), serve_index(self.index_dir, self.root / "pypiserver.log") as url:
            yield url + "/"

    def apt(self) -> AptSettings:
        return AptSettings(
            aptly_config=str(self.aptly_config),
            repo=self.project,
            endpoint="filesystem:local:.",
            url=self.apt_dir.as_uri(),
            gpg_key="",  # the only key of its GnuPG home, made by ensure()
            public_key=str(self.public_key),
            gnupghome=str(self.gnupghome),
            stop_agent=True,  # hoist's own GnuPG home: no gpg-agent outlives a release
        )


def local_targets(env: Env) -> Targets:
    """The local targets of *env*'s project.

    Nothing is created until a release prepares them (a bare git remote, the
    index directory, an aptly root and its signing key, once); until then
    they read as empty, so ``hoist plan`` and ``hoist status`` change nothing.
    """
    local = LocalTargets(env.runner, env.config.package)
    return Targets(
        GitRemote(str(local.git_remote), env, setup=local.ensure),
        (
            PyPIIndex("", str(local.index_dir), env, ("hoist", "local"), endpoint=local.upload_endpoint,
                      setup=local.ensure),
            AptRepository(local.apt(), env, setup=local.ensure),
        ),
    )
