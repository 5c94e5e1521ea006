"""The apt repository in an aptly root on this machine: aptly's CLI, signed here with gpg.

Each operation is one ``aptly`` command (aptly docs, "repo", "snapshot",
"publish") with ``-config`` naming the root.  aptly's own database lock
covers one command; a file lock beside the database (:meth:`CliTransport.lock`)
covers a release's add, snapshot and publish, so releases on this machine
never interleave them.  aptly signs with :class:`~hoist.targets.apt.signing.Signer`'s
key and passphrase.

Every aptly command of a release, reads too, runs under that lock: aptly's
database admits one process at a time, and an aptly that finds it taken
polls for it with long sleeps, so that ten releases reading and writing at
once starve one another; the lock lets them in turn, and says when one waits.

aptly's CLI says what went wrong only in free text and exits 1 for every
failure, so a failure is classified by looking at the world instead: the
database is locked when its ``LOCK`` file is (goleveldb holds a ``flock``
on it), and a publish failed to sign when the key does not sign now.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ...errors import ConfigError, PublishError
from ...flock import file_lock
from ...manifest import sha256_file
from ...preflight import check_tool
from ...runner import Result, Runner
from .settings import AptSettings
from .signing import Signer, gist
from .transport import PackageRef, Published, Transport

#: How many times aptly tries to open a database that another aptly process
#: holds, sleeping a few seconds between tries (aptly's ``-db-open-attempts``):
#: a bounded wait.  Overridden by ``HOIST_APTLY_DB_OPEN_ATTEMPTS`` (0: no wait).
DB_OPEN_ATTEMPTS = 10

#: How long a release waits for another one's add, snapshot and publish, in seconds.
PUBLISH_LOCK_TIMEOUT = 600.0

#: aptly's ``-format`` template of one package: its key and the fields of a :class:`PackageRef`.
PACKAGE_FORMAT = "{{.Key}}|{{.Package}}|{{.Version}}|{{.Architecture}}|{{.SHA256}}"

#: The longest query put in one argument (the kernel's limit is 128 KiB, MAX_ARG_STRLEN).
QUERY_CHUNK = 100_000


def nva(ref: PackageRef) -> str:
    """aptly's query of exactly *ref*'s name, version and architecture (``name_version_arch``)."""
    return f'"{ref.package}_{ref.version}_{ref.architecture}"'


def _queries(refs: Sequence[PackageRef]) -> list[str]:
    """The OR of :func:`nva` of *refs*, split into arguments aptly takes (each one ORed with the others)."""
    chunks: list[str] = []
    for term in sorted(nva(r) for r in refs):
        if chunks and len(chunks[-1]) + len(term) + 3 < QUERY_CHUNK:
            chunks[-1] += " | " + term
        else:
            chunks.append(term)
    return chunks


class CliTransport(Transport):
    """An aptly root on this machine (``aptly_config``, ``endpoint``).

    :param settings: the ``[tool.hoist.apt]`` settings.
    :param runner: runs aptly.
    :param signer: the key that signs the publications.
    :param tell: called with a line when an aptly command waits for another release's turn.
    """

    def __init__(self, settings: AptSettings, runner: Runner, signer: Signer,
                 tell: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.runner = runner
        self.signer = signer
        self.tell = tell
        self.repo = settings.repo
        self.prefix = settings.endpoint
        self._holder: int | None = None  # the thread that holds the lock through this transport

    def describe(self) -> str:
        return f"the aptly root of {self.settings.aptly_config}, at {self.prefix}"

    # -- running aptly ------------------------------------------------------------------

    def _aptly(self, *args: str, mutates: bool = False, check: bool = True) -> Result:
        """Run aptly under the root's lock (see :meth:`lock`); a database that
        another aptly process kept locked past the bounded wait is a :class:`PublishError`."""
        attempts = os.environ.get("HOIST_APTLY_DB_OPEN_ATTEMPTS", str(DB_OPEN_ATTEMPTS))
        try:
            self.root_dir()
        except ConfigError:  # no configuration, no database: aptly says so itself
            turn: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        else:
            turn = self.lock(self._waiting if self.tell else None)
        with turn:
            result = self.runner.run(["aptly", f"-config={self.settings.aptly_config}",
                                      f"-db-open-attempts={attempts}", *args], env=self.signer.env, mutates=mutates,
                                     check=False)
        if not result.ok and self._database_locked():
            raise PublishError(
                f"the aptly database of {self.settings.aptly_config} is locked by another aptly process "
                f"(gave up after {attempts} attempts to open it)",
                "wait for the other process to finish, then run hoist release again: it resumes")
        if check and not result.ok:
            raise self.runner.failure(" ".join(["aptly", *args]), result.returncode, result.stdout + result.stderr)
        return result

    def _database_locked(self) -> bool:
        """Whether another process holds aptly's database (goleveldb's ``flock`` on ``db/LOCK``)."""
        try:
            with (self.root_dir() / "db" / "LOCK").open("a") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return True
                fcntl.flock(handle, fcntl.LOCK_UN)
        except (OSError, ConfigError):
            return False
        return False

    @functools.cached_property
    def _config(self) -> dict:
        """aptly's configuration file, read once."""
        try:
            return json.loads(Path(self.settings.aptly_config).expanduser().read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the aptly configuration {self.settings.aptly_config}: {exc}",
                              "set tool.hoist.apt.aptly_config to aptly's JSON configuration file") from None

    def root_dir(self) -> Path:
        """aptly's ``rootDir`` (aptly docs, "Configuration"; default ``~/.aptly``).

        :raises ConfigError: the aptly configuration file is missing or not JSON.
        """
        return Path(self._config.get("rootDir") or "~/.aptly").expanduser()

    def publish_dir(self) -> Path:
        """A ``filesystem:<name>:<prefix>`` endpoint's ``rootDir`` (aptly docs,
        "FileSystemPublishEndpoints"), or ``<rootDir>/public`` for a bare prefix, with the prefix.

        :raises ConfigError: the endpoint is not on this machine's file system (S3, Swift).
        """
        parts = self.prefix.split(":")
        if len(parts) == 1:
            return self.root_dir() / "public" / parts[0]
        endpoint = (self._config.get("FileSystemPublishEndpoints") or {}).get(parts[1]) if parts[0] == "filesystem" else None
        if endpoint is None or len(parts) != 3:
            raise ConfigError(f"tool.hoist.apt.endpoint {self.prefix!r} is not a file system endpoint "
                              f"of {self.settings.aptly_config}",
                              "hoist writes files beside the repository, and signs Valid-Until into Release files, "
                              "where it can write them: use a filesystem endpoint")
        return Path(endpoint["rootDir"]) / parts[2]

    # -- the transport ------------------------------------------------------------------

    def check(self, distribution: str, component: str) -> None:
        """aptly and gpgv are installed, and the key signs with ``HOIST_GPG_PASSPHRASE``.

        :raises ToolMissingError: aptly or gpgv is not installed.
        :raises PreflightError: the key cannot sign; the message names it.
        """
        check_tool("aptly", "aptly")
        check_tool("gpgv", "gpgv")
        self.signer.check()

    def _waiting(self, path: Path) -> None:
        assert self.tell is not None
        self.tell(f"    waiting for another release's apt publish ({path})")

    @contextlib.contextmanager
    def lock(self, on_wait: Callable[[Path], None] | None = None) -> Iterator[None]:
        """An exclusive lock on this root: held across a release's add,
        snapshot and publish, it keeps two releases from interleaving (without
        it, a run that took its snapshot before another release published
        could switch the publication back to its older snapshot), and each
        aptly command takes it too.  Taken again by the thread that holds it,
        it is held already.

        :raises PublishError: another release held it for :data:`PUBLISH_LOCK_TIMEOUT` seconds.
        """
        if self._holder == threading.get_ident():
            yield
            return
        with file_lock(self.root_dir() / "hoist-publish.lock", PUBLISH_LOCK_TIMEOUT, on_wait):
            self._holder = threading.get_ident()
            try:
                yield
            finally:
                self._holder = None

    def ensure_repository(self, distribution: str, component: str) -> None:
        if self.repo not in self._aptly("repo", "list", "-raw").stdout.split():
            self._aptly("repo", "create", f"-distribution={distribution}", f"-component={component}", self.repo,
                        mutates=True)

    def _search(self, kind: str, name: str, query: str) -> list[PackageRef]:
        result = self._aptly(kind, "search", f"-format={PACKAGE_FORMAT}", name, *([query] if query else []),
                             check=False)
        if not result.ok:  # aptly says "no results" with exit status 1; a missing repository reads as empty
            return []
        refs = []
        for line in result.stdout.splitlines():
            parts = line.split("|")
            if len(parts) == 5:
                refs.append(PackageRef(*parts))
        return refs

    def packages(self, query: str = "") -> list[PackageRef]:
        return self._search("repo", self.repo, query)  # a repository not made yet reads as empty

    def snapshot_packages(self, snapshot: str, query: str = "") -> list[PackageRef]:
        return self._search("snapshot", snapshot, query)

    def add(self, deb: Path) -> None:
        result = self._aptly("repo", "add", self.repo, str(deb), mutates=True, check=False)
        if not result.ok:
            raise PublishError(f"aptly could not add {deb.name}: {gist(result.stdout + result.stderr)}",
                               "read aptly's message")

    def restore(self, refs: Sequence[PackageRef]) -> None:
        """Add the pool files of *refs* back (aptly keeps them until ``aptly db cleanup``)."""
        pool = self.root_dir() / "pool"
        for ref in refs:
            shown = self._aptly("package", "show", "-with-files", nva(ref).strip('"'), check=False).stdout
            paths = [pool / line.split()[-1] for line in shown.splitlines() if line.strip().endswith(".deb")]
            found = [p for p in paths if p.is_file() and (not ref.sha256 or sha256_file(p) == ref.sha256)]
            if found:  # several builds of one name, version and architecture: the one of that sha256
                self._aptly("repo", "add", self.repo, str(found[0]), mutates=True)

    def remove(self, refs: Sequence[PackageRef]) -> None:
        if refs:
            self._aptly("repo", "remove", self.repo, *_queries(refs), mutates=True)

    def _snapshots(self) -> set[str]:
        return set(self._aptly("snapshot", "list", "-raw").stdout.split())

    def _free(self, name: str, taken: set[str]) -> str:
        return name if name not in taken else next(f"{name}-{n}" for n in range(2, 1_000_000) if f"{name}-{n}" not in taken)

    def snapshot_repository(self, name: str) -> str:
        unique = self._free(name, self._snapshots())
        self._aptly("snapshot", "create", unique, "from", "repo", self.repo, mutates=True)
        return unique

    def snapshot_of(self, name: str, refs: Sequence[PackageRef]) -> str:
        """Each package of *refs* is filtered (``snapshot filter``, by name,
        version and architecture) out of a snapshot of the repository, else
        out of a published snapshot; the pieces are merged (``snapshot merge
        -no-remove``) and dropped; the result's keys must be *refs*' keys.

        :raises PublishError: a package of *refs* is in none of them, or is another build there.
        """
        taken = self._snapshots()
        unique = self._free(name, taken)
        sources = [self.snapshot_repository(f"{unique}-repository")]
        sources += sorted({s for p in self.publications() if p.of_snapshots for s in p.sources.values()})
        wanted = {r.key: r for r in refs}
        left = dict(wanted)
        pieces: list[str] = []
        try:
            for index, source in enumerate(sources):
                if not left:
                    break
                piece = self._free(f"{unique}-piece{index}", taken | set(pieces) | {unique})
                self._aptly("snapshot", "filter", "-with-deps=false", source, piece, *_queries(list(left.values())),
                            mutates=True)
                pieces.append(piece)
                for found in self.snapshot_packages(piece):
                    left.pop(found.key, None)
            if left:
                raise PublishError(f"aptly holds no package {', '.join(sorted(nva(r) for r in left.values()))} "
                                   "of the keys asked for", "run hoist status, then decide again")
            if pieces:
                self._aptly("snapshot", "merge", "-no-remove", unique, *pieces, mutates=True)
            else:
                self._aptly("snapshot", "create", unique, "empty", mutates=True)
        finally:
            for piece in pieces:
                self._aptly("snapshot", "drop", "-force", piece, mutates=True, check=False)
            self._aptly("snapshot", "drop", "-force", sources[0], mutates=True, check=False)
        made = {r.key for r in self.snapshot_packages(unique)}
        if made != set(wanted):
            self._aptly("snapshot", "drop", "-force", unique, mutates=True, check=False)
            raise PublishError(f"aptly's snapshot {unique} is not the packages asked for "
                               f"(another build of {', '.join(sorted(made ^ set(wanted)))[:300]})",
                               "run hoist status, then decide again")
        return unique

    def publications(self) -> list[Published]:
        found = []
        for entry in json.loads(self._aptly("publish", "list", "-json").stdout or "[]") or []:
            storage = entry.get("Storage") or ""
            prefix = f"{storage}:{entry.get('Prefix')}" if storage else entry.get("Prefix") or "."
            found.append(Published(prefix, entry.get("Distribution") or "",
                                   {s.get("Component", ""): s.get("Name", "") for s in entry.get("Sources") or []},
                                   entry.get("SourceKind") == "snapshot"))
        return found

    def publish(self, distribution: str, component: str, snapshot: str, *, first: bool,
                origin: str, label: str) -> None:
        """``publish snapshot`` the first time, else ``publish switch``, signed by the signer.

        aptly writes and signs the new indexes, then moves them into place: a
        publish that fails leaves what apt reads as it was.  A first publish
        that failed leaves files but no publication in aptly's database;
        ``publish snapshot`` then writes over them.

        :raises PublishError: aptly refused; when the key no longer signs, the message says so.
        """
        with self.signer.session() as passphrase_file:
            sign = self.signer.aptly_options(passphrase_file)
            if first:
                args = ["publish", "snapshot", *sign, "-acquire-by-hash", f"-origin={origin}", f"-label={label}",
                        f"-distribution={distribution}", f"-component={component}", snapshot, self.prefix]
            else:
                args = ["publish", "switch", *sign, distribution, self.prefix, snapshot]
            result = self._aptly(*args, mutates=True, check=False)
        if result.ok:
            return
        if not self.signer.signs():
            raise PublishError(f"aptly could not sign the repository with the key {self.signer.key_name}: "
                               f"{gist(result.stdout + result.stderr)}",
                               self.signer.hint("the published repository is unchanged"))
        raise self.runner.failure(" ".join(["aptly", *args]), result.returncode, result.stdout + result.stderr)

