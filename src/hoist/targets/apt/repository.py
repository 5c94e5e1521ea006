"""The apt repository: one target, one publish algorithm, one channel move, over a transport.

A release adds the .deb to aptly's local repository, snapshots the
repository and publishes the snapshot (``publish snapshot`` the first time,
then ``publish switch``, so clients move to the new set in one step and the
older versions stay in the pool for a rollback; aptly docs, "publish
switch").  What the repository holds is what apt reads through ``url``: an
``InRelease`` that verifies with the public key, listing a ``Packages`` index
that lists the .deb with its sha256 (:mod:`~hoist.targets.apt.publication`).

The algorithm is written once, here, over the few operations of a
:class:`~hoist.targets.apt.transport.Transport`: an aptly root on this
machine (:mod:`~hoist.targets.apt.cli`, under a file lock, signed here) or
aptly's REST API (:mod:`~hoist.targets.apt.api`, many writers, the server
signs).  Each publish is read back as apt reads it and repeated while the
publication lacks a package that it, or the repository, held: aptly 1.5.0
loses packages when publishes race (aptly issue 1125).
"""

from __future__ import annotations

import contextlib
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from debian.debian_support import Version

from ... import http
from ...errors import ConfigError, ConflictError, PreflightError, PublishError
from ...http import fetch
from ...manifest import CHECKSUMS, Artifact, read_checksums
from ...redaction import without_userinfo
from ..base import CONFLICT, MISSING, PUBLISHED, Env, ReleaseRef, Target, TargetState
from .api import ApiTransport, TransientError
from .cli import CliTransport
from .publication import Publication, read_publication, verify_detached
from .settings import AptSettings
from .signing import DEFAULT_VALID_DAYS, Signer, release_date
from .source import setup_commands
from .transport import PackageRef, Published, Transport

#: Publishes after the first, at most, while the publication lacks a package it should hold.
REPAIRS = 5

#: How long a read waits for another writer to repair a publication that
#: lacks a package the repository holds, in seconds (a concurrent transport).
CONVERGE_SECONDS = 60.0

#: The artifact kinds put beside the repository, under ``hoist/<package>/<version>/``.
BESIDE = ("checksums", "signature", "sbom", "source")


def deb_architecture(filename: str) -> str:
    """The architecture part of a ``name_version_arch.deb`` file name (Debian Policy §5.6.1 ff.)."""
    return filename.rsplit("_", 1)[1].removesuffix(".deb")


def conflict_message(filename: str, theirs: str, ours: str) -> str:
    return f"the apt repository already publishes {filename} with sha256 {theirs}, but this build's is {ours}"


@dataclass(frozen=True)
class AptPublishPlan:
    """Through *transport*: add the .deb to *repo*, snapshot it, publish
    *distribution*/*component* signed by *signed_by*, read it back through
    *url*; keep the newest *keep* versions (0: all); *valid_days* of
    ``Valid-Until`` where hoist signs (0: none is written)."""

    transport: str
    repo: str
    distribution: str
    component: str
    url: str
    signed_by: str
    keep: int
    valid_days: int


@dataclass(frozen=True)
class Held:
    """One version of the package in a channel or in the repository.

    :ivar version: the Debian version, e.g. ``26.12.0``.
    :ivar filename: the .deb's file name in the pool.
    :ivar sha256: its sha256 (hex).
    """

    version: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class ChannelState:
    """What a channel (an apt distribution) publishes of the package, as apt reads it.

    :ivar channel: the distribution.
    :ivar held: the versions it publishes, newest first (a server installs the first).
    :ivar problem: why apt would refuse the publication, or ``""`` (also when
        the channel is not published at all: then *held* is empty).
    """

    channel: str
    held: tuple[Held, ...]
    problem: str = ""

    @property
    def current(self) -> Held | None:
        """The version a server of the channel installs, or None."""
        return self.held[0] if self.held and not self.problem else None


def make_transport(settings: AptSettings, env: Env) -> Transport:
    """The transport *settings* ask for: aptly's REST API (``api_url``) or an aptly root here."""
    if settings.api_url:
        return ApiTransport.from_environment(settings, env.ui.line)
    signer = Signer(env.runner, settings.gpg_key, settings.gnupghome, env.secrets.gpg_passphrase, settings.stop_agent)
    return CliTransport(settings, env.runner, signer, env.ui.line)


class AptRepository(Target):
    """An apt repository kept with aptly, reached through *transport*.

    :param settings: the ``[tool.hoist.apt]`` settings.
    :param env: the project's tools; the package comes from its configuration.
    :param transport: how aptly is reached (default: as *settings* say).
    :param setup: see :meth:`Target.prepare`.
    """

    name = "apt"
    title = "publish to the apt repository"
    kinds = ("deb",)

    def __init__(self, settings: AptSettings, env: Env, transport: Transport | None = None,
                 setup: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.env = env
        self.transport = transport or make_transport(settings, env)
        self.setup = setup

    @classmethod
    def from_settings(cls, settings: AptSettings, env: Env) -> AptRepository:
        return cls(settings, env)

    # -- what it is ---------------------------------------------------------------------

    @property
    def signer(self) -> Signer | None:
        """The key that signs on this machine (``SHA256SUMS``, ``hoist resign``), or None where the server signs."""
        return self.transport.signer

    @property
    def package(self) -> str:
        return self.env.config.package

    @property
    def public_key(self) -> str:
        """The public key's path (a relative one is in the project) or URL."""
        key = self.settings.public_key
        return key if "://" in key or key.startswith("/") else str(self.env.config.root / key)

    @property
    def valid_days(self) -> int:
        """Days a publication signed here stays valid (``Valid-Until``); 0 where the server signs."""
        if self.signer is None:
            return 0
        return self.env.config.valid_days or DEFAULT_VALID_DAYS

    def _on_wait(self, path: Path) -> None:
        self.env.ui.line(f"    waiting for another release's apt publish ({path})")

    # -- reading, as apt reads ----------------------------------------------------------

    def _publication(self, distribution: str, component: str, architecture: str) -> Publication:
        return read_publication(self.env.runner, self.settings.url, distribution, component, architecture,
                                self.public_key)

    def architecture(self, artifacts: Sequence[Artifact] = ()) -> str:
        """The architecture of the .deb among *artifacts*, else this machine's (``dpkg --print-architecture``)."""
        deb = next((a for a in artifacts if a.kind == "deb"), None)
        if deb is not None:
            return deb_architecture(deb.filename)
        return self.env.runner.run(["dpkg", "--print-architecture"]).stdout.strip()

    def _held(self, version: str, architecture: str) -> PackageRef | None:
        """The repository's package of *version* and *architecture* (or ``all``), or None."""
        found = self.transport.packages(f'Name (= {self.package}), $Version (% "{version}")')
        return next((r for r in found if r.version == version and r.architecture in (architecture, "all")), None)

    def _published(self, distribution: str) -> Published | None:
        return next((p for p in self.transport.publications()
                     if p.prefix == self.transport.prefix and p.distribution == distribution), None)

    def _publication_refs(self, published: Published | None, component: str) -> list[PackageRef]:
        """The packages *published* (a publication, or None) holds in *component*, as aptly holds them."""
        source = (published.sources.get(component) if published else None) or ""
        if not source:
            return []
        if published.of_snapshots:
            return self.transport.snapshot_packages(source)
        return self.transport.packages() if source == self.transport.repo else []

    def state(self, release: ReleaseRef, artifacts: Sequence[Artifact] = ()) -> TargetState:
        """As apt sees the publication of the release's distribution; a
        conflict when the repository or the publication holds another file
        under the .deb's name.

        Through a concurrent transport, a repository that holds the release
        while the publication does not is read again for up to
        :data:`CONVERGE_SECONDS`: another writer's publish may have switched
        to a snapshot taken before this one's add, and repairs it.
        """
        deb = next((a for a in artifacts if a.kind == "deb"), None)
        facts = {"url": without_userinfo(self.settings.url), "distribution": release.distribution,
                 "component": release.component, "public_key": without_userinfo(self.settings.public_key)}
        held = None
        if deb is not None:
            held = self._held(release.version, deb_architecture(deb.filename))
            if held is not None and held.sha256 != deb.sha256:
                return TargetState(self.name, CONFLICT, conflict_message(deb.filename, held.sha256, deb.sha256), facts)
        deadline = time.monotonic() + (CONVERGE_SECONDS if self.transport.concurrent else 0)
        while True:
            state = self._read_state(release, deb, facts)
            if state.state != MISSING or held is None or time.monotonic() >= deadline:
                return state
            time.sleep(1.0)

    def _read_state(self, release: ReleaseRef, deb: Artifact | None, facts: dict) -> TargetState:
        publication = self._publication(release.distribution, release.component,
                                        self.architecture([deb] if deb else []))
        facts = {**facts, "signed": publication.signed}
        if deb is not None:
            entry = publication.packages.get(deb.filename)
        else:
            entry = next((p for p in publication.packages.values()
                          if p["Package"] == self.package and p["Version"] == release.version), None)
        if entry is None:
            return TargetState(self.name, MISSING, f"{self.package} {release.version} not in {release.distribution}",
                               facts)
        filename = Path(entry["Filename"]).name
        if deb is not None and entry["SHA256"] != deb.sha256:
            return TargetState(self.name, CONFLICT, conflict_message(filename, entry["SHA256"], deb.sha256), facts)
        if not publication.signed:
            return TargetState(self.name, MISSING, f"apt would refuse it: {publication.problem}", facts)
        if deb is not None:
            pool = http.sha256(f"{self.settings.url.rstrip('/')}/{entry['Filename']}", what="tool.hoist.apt.url")
            if pool is None:
                return TargetState(self.name, MISSING, f"the index lists {entry['Filename']}, which the pool does not "
                                   "hold (yet)", facts)
            if pool != deb.sha256:
                return TargetState(self.name, CONFLICT, f"the pool file {entry['Filename']} has sha256 {pool}, "
                                   f"but the index and this build say {deb.sha256}", facts)
        beside = self._beside(release.version)
        if beside:
            facts["beside"] = beside
        return TargetState(self.name, PUBLISHED, filename + "".join(f"; {line}" for line in beside), facts)

    def _beside_url(self, version: str) -> str:
        url = self.settings.url if "://" in self.settings.url else Path(self.settings.url).resolve().as_uri()
        return f"{url.rstrip('/')}/hoist/{self.package}/{version}"

    def _checksums_beside(self, version: str) -> tuple[str, dict[str, str] | None, bool | None]:
        """The ``SHA256SUMS`` the release of *version* put beside the repository:
        where they are, ``{file name: sha256}`` (None: not there), and whether its
        signature verifies with the repository's public key (None: unsigned).

        :raises PublishError: the repository answered with an error other than 404.
        """
        base = self._beside_url(version)
        sums = fetch(f"{base}/{CHECKSUMS}", what="tool.hoist.apt.url")
        if sums is None:
            return base, None, None
        signature = fetch(f"{base}/{CHECKSUMS}.asc", what="tool.hoist.apt.url")
        signed = None if signature is None else verify_detached(self.env.runner, sums, signature, self.public_key)
        return base, read_checksums(sums.decode("utf-8", "replace")), signed

    def recorded_sha256(self, version: str, filename: str) -> str | None:
        """The sha256 that the release of *version* recorded for *filename* in
        the ``SHA256SUMS`` beside the repository, its signature verified with
        the repository's public key; None where the release put none there
        (a repository whose server signs).

        :raises PreflightError: the list is there but its signature is missing
            or does not verify, or it does not list *filename*.
        """
        base, listed, signed = self._checksums_beside(version)
        if listed is None:
            return None
        if not signed:
            raise PreflightError(f"the {CHECKSUMS} of {version} beside the repository is not signed by its key",
                                 f"check {base}/{CHECKSUMS}.asc against tool.hoist.apt.public_key")
        if filename not in listed:
            raise PreflightError(f"the {CHECKSUMS} of {version} beside the repository does not list {filename}",
                                 "promote a version that hoist released (hoist status lists them)")
        return listed[filename]

    def _beside(self, version: str) -> list[str]:
        """What the repository holds beside *version* (``SHA256SUMS``, its
        signature, the SBOM and the source release), checked: the signature
        with the repository's public key, each file against ``SHA256SUMS``."""
        try:
            base, listed, signed = self._checksums_beside(version)
        except PublishError as exc:  # a server that answers 403 for what it does not have
            return [f"nothing read beside it ({exc.message})"]
        if listed is None:
            return []
        if signed is None:
            found = [f"{CHECKSUMS} beside it, unsigned"]
        elif signed:
            found = [f"{CHECKSUMS} beside it, its signature good"]
        else:
            found = [f"{CHECKSUMS}.asc beside it does NOT verify with {without_userinfo(self.settings.public_key)}"]
        for name, digest in listed.items():
            if name.endswith((".cdx.json", "-source-release.tar.gz")):
                try:
                    held = http.sha256(f"{base}/{name}", what="tool.hoist.apt.url")
                except PublishError:
                    held = None
                if held is None:
                    found.append(f"{name} is not beside it")
                else:
                    found.append(f"{name} " + ("matches it" if held == digest else f"does NOT match it (sha256 {held})"))
        return found

    # -- the target ---------------------------------------------------------------------

    def plan(self, release: ReleaseRef) -> AptPublishPlan:
        signed_by = (self.settings.gpg_key or "(the GnuPG home's default key)") if self.signer else \
            (self.settings.gpg_key or "(the server's default key)") + ", on the server"
        return AptPublishPlan(self.transport.describe(), self.settings.repo, release.distribution, release.component,
                              without_userinfo(self.settings.url), signed_by, self.settings.keep, self.valid_days)

    def check(self, release: ReleaseRef) -> None:
        """The transport can publish (tools, server, credentials, key), and a
        publication that exists already verifies with the public key through
        *url*, so that what servers read is what aptly publishes.

        :raises HoistError: the transport cannot publish.
        :raises PreflightError: *url* does not serve the publication, or the public key does not verify it.
        """
        self.transport.check(release.distribution, release.component)
        if self._published(release.distribution) is None:
            return
        publication = self._publication(release.distribution, release.component, self.architecture())
        if publication.problem and not publication.expired:  # an expired one is what a release renews
            raise PreflightError(
                f"the published {release.distribution} at {without_userinfo(self.settings.url)} is not what apt "
                f"would accept: {publication.problem}",
                "check tool.hoist.apt.url (where the web server serves aptly's public directory) and "
                "tool.hoist.apt.public_key (the key that signs the repository)")

    def publish(self, release: ReleaseRef, plan: AptPublishPlan, artifacts: Sequence[Artifact]) -> None:
        """Add, snapshot and publish (under the transport's lock), unless the
        publication holds the .deb already, signed, with the same sha256; then
        apply retention and put the release's checksums, signature, SBOM and
        source release beside the repository.

        :raises ConflictError: the repository or the publication holds another file under the .deb's name.
        :raises PublishError: aptly refused, or the publication is still
            incomplete after :data:`REPAIRS` publishes.
        """
        deb = next(a for a in artifacts if a.kind == "deb")
        ui = self.env.ui
        with self.transport.lock(self._on_wait):
            publication = self._publication(plan.distribution, plan.component, deb_architecture(deb.filename))
            entry = publication.packages.get(deb.filename)
            if entry is not None and entry["SHA256"] != deb.sha256:
                raise ConflictError(conflict_message(deb.filename, entry["SHA256"], deb.sha256),
                                    "a published package is never overwritten: release a new version")
            if entry is not None and publication.signed:
                ui.line(f"    {plan.distribution} already publishes {deb.filename} (same sha256)")
            else:
                if entry is not None:
                    ui.line(f"    {plan.distribution} lists {deb.filename} but apt would refuse it "
                            f"({publication.problem}): publishing again")
                self.transport.ensure_repository(plan.distribution, plan.component)
                self._publish_until_complete(plan.distribution, plan.component, release.version, deb)
                if plan.keep:
                    self._retain(plan, release.version, deb)
        self._publish_beside(release, artifacts)

    def _add(self, version: str, deb: Artifact) -> None:
        """Add *deb* unless the repository holds it; another build of it there is a conflict."""
        held = self._held(version, deb_architecture(deb.filename))
        if held is not None:
            if held.sha256 != deb.sha256:
                raise ConflictError(conflict_message(deb.filename, held.sha256, deb.sha256),
                                    "a published package is never overwritten: release a new version")
            return
        try:
            self.transport.add(deb.path)
        except PublishError:
            held = self._held(version, deb_architecture(deb.filename))
            if held is not None and held.sha256 != deb.sha256:  # another writer's build of it came first
                raise ConflictError(conflict_message(deb.filename, held.sha256, deb.sha256),
                                    "a published package is never overwritten: release a new version") from None
            if held is None:
                raise

    def _switch(self, distribution: str, component: str, snapshot: str, first: bool) -> None:
        """Publish *snapshot* (signed), and date it with a ``Valid-Until`` where hoist signs."""
        signer = self.signer
        with signer.session() if signer else contextlib.nullcontext():
            self.transport.publish(distribution, component, snapshot, first=first,
                                   origin=self.settings.release_origin, label=self.settings.release_label)
            if signer is not None:
                signer.resign(self.transport.publish_dir() / "dists" / distribution, self.valid_days)

    def _publish_until_complete(self, distribution: str, component: str, version: str, deb: Artifact,
                                dropped: frozenset[str] = frozenset()) -> None:
        """Snapshot the repository and publish it until the publication, as
        apt reads it, holds *deb* and every package that the repository or the
        publication held (but *dropped*, which retention removes).

        Each round puts back into the repository what a publication seen in
        this run held and the repository lost (aptly keeps the packages; only
        the repository's list lost them), adds *deb* again if it was lost, and
        publishes again; a server error of a publish is retried the same way,
        after a short random pause.
        """
        must: dict[str, PackageRef] = {}
        architecture = deb_architecture(deb.filename)
        problem = ""
        for attempt in range(1 + REPAIRS):
            if attempt:
                self.env.ui.line(f"    {problem}: publishing again (repair {attempt} of {REPAIRS})")
                time.sleep(random.uniform(0.2, 1.0) * attempt)
            try:
                published = self._published(distribution)  # the API transport switches one another agent made first
                must.update({r.key: r for r in self._publication_refs(published, component) if r.key not in dropped})
                self._add(version, deb)
                repository = {r.key: r for r in self.transport.packages()}
                lost = [r for k, r in sorted(must.items()) if k not in repository]
                if lost:
                    self.transport.restore(lost)
                snapshot = self.transport.snapshot_repository(f"{self.transport.repo}-{version}")
                self._switch(distribution, component, snapshot, published is None)
            except TransientError as exc:
                problem = exc.message
                continue
            wanted = [*must.values(), *self.transport.packages()]
            missing = self._missing(distribution, component, architecture, wanted, version, deb.sha256)
            if not missing:
                return
            problem = f"the publication lacks {', '.join(missing[:5])}"
        raise PublishError(
            f"the publication of {distribution} is still incomplete after {REPAIRS} repairs: {problem}",
            "run hoist release again (it resumes); if it persists, read aptly's log")

    def _missing(self, distribution: str, component: str, architecture: str, wanted: Iterable[PackageRef],
                 version: str, sha256: str) -> list[str]:
        """Of *wanted* of *architecture* or ``all``, and the release's .deb,
        what the publication as apt reads it lacks (by package, version and sha256)."""
        publication = self._publication(distribution, component, architecture)
        seen = ({(p["Package"], p["Version"], p["SHA256"]) for p in publication.packages.values()}
                if publication.signed else set())
        needed = {(r.package, r.version, r.sha256) for r in wanted if r.architecture in (architecture, "all")}
        needed.add((self.package, version, sha256))
        return sorted(f"{name}_{v}" for name, v, sha in needed - seen)

    def _retain(self, plan: AptPublishPlan, version: str, deb: Artifact) -> None:
        """Remove all but the newest *keep* versions of the package: never the
        one released, never one that another publication still holds; then
        publish again so that the publication drops them too (aptly issue
        291).  Old snapshots and pool files stay until the administrator
        runs ``aptly db cleanup``."""
        query = f"Name (= {self.package})"
        held = self.transport.packages(query)
        versions = sorted({r.version for r in held}, key=Version, reverse=True)
        needed = {version}
        for published in self.transport.publications():
            if published.distribution == plan.distribution and published.prefix == self.transport.prefix:
                continue  # this distribution follows the repository: it keeps what the repository keeps
            for source in published.sources.values():
                if published.of_snapshots:
                    listed = self.transport.snapshot_packages(source, query)
                else:
                    listed = self.transport.packages(query) if source == self.transport.repo else []
                needed.update(r.version for r in listed)
        drop = [v for v in versions[plan.keep:] if v not in needed]
        if not drop:
            return
        refs = [r for r in held if r.version in drop]
        self.transport.remove(refs)
        self.env.ui.line(f"    kept the newest {plan.keep}; removed {', '.join(sorted(drop, key=Version))}")
        self._publish_until_complete(plan.distribution, plan.component, version, deb,
                                     dropped=frozenset(r.key for r in refs))

    # -- beside the repository ----------------------------------------------------------

    def sign_file(self, path: Path) -> Path:
        """Sign *path* with the repository's key (see :meth:`Signer.detach_sign`).

        :raises PreflightError: the server signs this repository, not this machine.
        """
        if self.signer is None:
            raise PreflightError("the aptly server signs this repository; this machine holds no key of it",
                                 "nothing to sign here")
        return self.signer.detach_sign(path)

    def publish_beside(self, release: ReleaseRef, files: Sequence[Path]) -> tuple[Path, bool]:
        """Put *files* beside the published repository, into
        ``hoist/<package>/<version>/`` of the directory aptly publishes to,
        which the repository's URL serves, all at once: they are copied into a
        new directory that is then renamed into place, so a reader finds all
        of them or none.  What is there already stays: a version's files are
        never replaced (a resumed release may have made them anew).

        :returns: that directory, and whether the files were put there now.
        :raises ConfigError: the publication is not on this machine's file system.
        """
        target = self.transport.publish_dir() / "hoist" / self.package / release.version
        if target.is_dir():
            return target, False
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{release.version}-", dir=target.parent))
        try:
            for path in files:
                shutil.copyfile(path, staging / path.name)
            staging.chmod(0o755)
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            return target, False  # another run put them there first
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target, True

    def _publish_beside(self, release: ReleaseRef, artifacts: Sequence[Artifact]) -> None:
        present = [a.path for a in artifacts if a.kind in BESIDE and a.path.is_file()]
        if not present:
            return
        names = ", ".join(p.name for p in present)
        try:
            where, now = self.publish_beside(release, present)
        except ConfigError as exc:  # a server's publication, S3 or Swift: nothing to write beside it
            self.env.ui.line(f"    note: {names} stay in dist/: {exc.message}")
            return
        self.env.ui.line(f"    {names} " + (f"published in {where}" if now else f"were already in {where}"))

    # -- channels: distributions of the one repository (see hoist.channels) --------------

    def channel(self, channel: str) -> ChannelState:
        """What *channel* publishes of the package, read as apt reads it."""
        publication = self._publication(channel, self.env.config.component, self.architecture())
        held = sorted((Held(p["Version"], Path(p["Filename"]).name, p["SHA256"])
                       for p in publication.packages.values() if p["Package"] == self.package),
                      key=lambda h: Version(h.version), reverse=True)
        problem = publication.problem if publication.packages else ""
        return ChannelState(channel, tuple(held), problem)

    def in_repository(self, version: str) -> Held | None:
        """The repository's .deb of *version* of the package, or None (a
        version never released here, or one that retention removed)."""
        held = self._held(version, self.architecture())
        if held is None:
            return None
        return Held(version, f"{self.package}_{version}_{held.architecture}.deb", held.sha256)

    def put(self, channel: str, version: str) -> None:
        """Make *channel* publish *version* of the package, from the
        repository (the same file, the same sha256), and no other version of
        it; every other package it publishes stays: a snapshot of exactly
        those packages, published to the channel.

        :raises PublishError: the repository does not hold *version*, or aptly refused.
        """
        component = self.env.config.component
        with self.transport.lock(self._on_wait):
            held = self._held(version, self.architecture())
            if held is None:
                raise PublishError(f"the apt repository does not hold {self.package} {version}",
                                   "promote a version the repository still holds (hoist status lists the channels)")
            published = self._published(channel)
            others = [r for r in self._publication_refs(published, component) if r.package != self.package]
            snapshot = self.transport.snapshot_of(f"{self.transport.repo}-{channel}-{version}", [*others, held])
            self._switch(channel, component, snapshot, published is None)

    def suites(self) -> list[str]:
        """Every distribution (suite) published at the repository's prefix, by name."""
        return sorted({p.distribution for p in self.transport.publications() if p.prefix == self.transport.prefix})

    def resign(self, distributions: Sequence[str] | None = None) -> dict[str, str]:
        """Sign each published distribution of *distributions* (default: every
        one published at the prefix, those no channel names any more too)
        again, valid for ``tool.hoist.valid_days`` from now (``Valid-Until``).

        :returns: the new ``Valid-Until`` of each distribution re-signed.
        :raises PreflightError: the server signs this repository.
        """
        signer = self.signer
        if signer is None:
            raise PreflightError("the aptly server signs this repository, and aptly writes no Valid-Until",
                                 "publications of aptly's REST API do not expire; nothing to renew")
        renewed = {}
        with self.transport.lock(self._on_wait), signer.session():
            published = set(self.suites())
            for distribution in published if distributions is None else distributions:
                if distribution in published:
                    until = signer.resign(self.transport.publish_dir() / "dists" / distribution, self.valid_days)
                    renewed[distribution] = release_date(until)
        return renewed

    def usage(self, release: ReleaseRef) -> list[str]:
        url = without_userinfo(self.settings.url)
        local = not url.startswith(("http://", "https://"))
        serve = (f"apt: the repository is at {url}, which only this machine reads: `hoist serve --bind "
                 "ADDRESS:PORT` serves it over HTTP for a trial, and prints what a server runs")
        channels = self.env.config.channels
        if channels:
            return [
                f"apt: {release.version} is in the channel {channels[0]}"
                + (f"; hoist promote {release.version} --to {channels[1]} moves it on" if len(channels) > 1 else ""),
                *([serve] if local else []),
                "  servers follow a channel with the package that hoist server-setup --channel CHANNEL writes",
            ]
        if local:
            return [serve]
        key = self.settings.public_key if "://" in self.settings.public_key else self.public_key
        commands = setup_commands(self.package, url, release.distribution, release.component, key)
        return ["apt: on a Debian server, as root:", *(f"  {line}" for line in commands)]



def apt_repository(targets: Iterable[Target], needed_for: str) -> AptRepository:
    """The release's apt repository among *targets*.

    :param needed_for: what needs it, for the message (``"hoist resign"``).
    :raises ConfigError: no apt repository is configured.
    """
    apt = next((t for t in targets if isinstance(t, AptRepository)), None)
    if apt is None:
        raise ConfigError(f"{needed_for} needs an apt repository, and none is configured",
                          "add [tool.hoist.apt] (or remove every target to use the local ones)")
    return apt
