"""The apt repository: what its two kinds share, and an aptly root on this machine, signed with gpg.

(The other kind, aptly's REST API on a server, is :mod:`hoist.targets.aptly_api`.)

Publishing adds the .deb to an aptly local repository, snapshots it
(``<repo>-<version>``) and publishes the snapshot, or switches the
distribution to it (aptly docs, "publish switch"), under one lock so that two
releases never interleave (:mod:`hoist.targets.aptly`).  The repository
holds a release only as apt sees it: its ``Packages`` index lists the .deb
with its sha256 and is vouched for by an ``InRelease`` that verifies with the
repository's public key; the pool file has that sha256 too.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from debian.debian_support import Version

from ..config import AptTarget
from ..errors import ConfigError, ConflictError, PreflightError, PublishError
from ..manifest import Artifact
from ..preflight import check_tool
from ..redaction import without_userinfo
from .aptly import Aptly, release_date
from .base import CONFLICT, MISSING, PUBLISHED, Env, ReleaseRef, Target, Targets, TargetState
from .publication import Publication, fetch, read_publication, verify_detached


#: The name of a release's checksum file, in ``sha256sum`` format (coreutils).
CHECKSUMS = "SHA256SUMS"


def deb_architecture(filename: str) -> str:
    """The architecture part of a ``name_version_arch.deb`` file name."""
    return filename.rsplit("_", 1)[1].removesuffix(".deb")


def url_sha256(url: str) -> str:
    """The sha256 of the file at *url* (``file://``, ``http(s)://``, or a path)."""
    if "://" not in url:
        url = Path(url).resolve().as_uri()
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=60) as response:
        for block in iter(lambda: response.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def conflict_message(filename: str, theirs: str, ours: str) -> str:
    return f"the apt repository already publishes {filename} with sha256 {theirs}, but this build's is {ours}"


@dataclass(frozen=True)
class AptPublishPlan:
    """aptly: add the .deb to *repo*, snapshot it as *snapshot*, publish
    *distribution*/*component* at *endpoint*, signed with *gpg_key*."""

    repo: str
    snapshot: str
    distribution: str
    component: str
    endpoint: str
    url: str
    gpg_key: str


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


class PublishedRepository(Target):
    """What both kinds of apt target share: the publication, read as apt
    reads it through *url*, is the one record of what the repository holds.

    :param settings: the ``[tool.hoist.apt]`` settings.
    :param env: the project's tools; the distribution and component come
        from its configuration.
    :param setup: see :meth:`Target.prepare`.
    """

    name = "apt"
    title = "publish to the apt repository"
    kinds = ("deb",)

    def __init__(self, settings: AptTarget, env: Env, setup: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.env = env
        self.setup = setup

    @property
    def public_key(self) -> str:
        """The public key's path (a relative one is in the project) or URL."""
        key = self.settings.public_key
        return key if "://" in key or key.startswith("/") else str(self.env.config.root / key)

    def _publication(self, release: ReleaseRef, architecture: str) -> Publication:
        return read_publication(self.env.runner, self.settings.url, release.distribution, release.component,
                                architecture, self.public_key)

    def _architecture(self, artifacts: Sequence[Artifact]) -> str:
        deb = next((a for a in artifacts if a.kind == "deb"), None)
        if deb is not None:
            return deb_architecture(deb.filename)
        return self.env.runner.run(["dpkg", "--print-architecture"]).stdout.strip()

    def state(self, release: ReleaseRef, artifacts: Sequence[Artifact] = ()) -> TargetState:
        package = self.env.config.package
        publication = self._publication(release, self._architecture(artifacts))
        deb = next((a for a in artifacts if a.kind == "deb"), None)
        facts = {"url": without_userinfo(self.settings.url), "distribution": release.distribution, "component": release.component,
                 "public_key": without_userinfo(self.settings.public_key), "signed": publication.signed}
        if deb is not None:
            entry = publication.packages.get(deb.filename)
        else:
            entry = next((p for p in publication.packages.values()
                          if p["Package"] == package and p["Version"] == release.version), None)
        if entry is None:
            return TargetState(self.name, MISSING, f"{package} {release.version} not in {release.distribution}", facts)
        filename = Path(entry["Filename"]).name
        if deb is not None and entry["SHA256"] != deb.sha256:
            return TargetState(self.name, CONFLICT, conflict_message(filename, entry["SHA256"], deb.sha256), facts)
        if not publication.signed:
            return TargetState(self.name, MISSING, f"apt would refuse it: {publication.problem}", facts)
        if deb is not None:
            pool = url_sha256(f"{self.settings.url.rstrip('/')}/{entry['Filename']}")
            if pool != deb.sha256:
                return TargetState(self.name, CONFLICT, f"the pool file {entry['Filename']} has sha256 {pool}, "
                                   f"but the index and this build say {deb.sha256}", facts)
        beside = self._beside(release.version)
        if beside:
            facts["beside"] = beside
        return TargetState(self.name, PUBLISHED, filename + "".join(f"; {line}" for line in beside), facts)

    def _beside(self, version: str) -> list[str]:
        """What the repository holds beside it for *version* (``hoist/<package>/<version>/``:
        ``SHA256SUMS``, its signature, the SBOM and the source release), checked: the
        signature with the repository's public key, each file against ``SHA256SUMS``."""
        url = self.settings.url if "://" in self.settings.url else Path(self.settings.url).resolve().as_uri()
        base = f"{url.rstrip('/')}/hoist/{self.env.config.package}/{version}"
        try:
            sums = fetch(f"{base}/{CHECKSUMS}")
            signature = fetch(f"{base}/{CHECKSUMS}.asc") if sums is not None else None
        except PublishError as exc:  # a server that answers 403 for what it does not have
            return [f"nothing read beside it ({exc.message})"]
        if sums is None:
            return []
        if signature is None:
            found = [f"{CHECKSUMS} beside it, unsigned"]
        elif verify_detached(self.env.runner, sums, signature, self.public_key):
            found = [f"{CHECKSUMS} beside it, its signature good"]
        else:
            found = [f"{CHECKSUMS}.asc beside it does NOT verify with {without_userinfo(self.settings.public_key)}"]
        for line in sums.decode("utf-8", "replace").splitlines():
            digest, _, name = line.partition("  ")
            if name.endswith((".cdx.json", "-source-release.tar.gz")):
                try:
                    held = url_sha256(f"{base}/{name}")
                except OSError:
                    found.append(f"{name} is not beside it")
                    continue
                found.append(f"{name} " + ("matches it" if held == digest else f"does NOT match it (sha256 {held})"))
        return found

    # -- channels: distributions of the one repository (see hoist.channels) --------------

    def channel(self, channel: str, component: str) -> ChannelState:
        """What *channel* publishes of the package, read as apt reads it."""
        ref = ReleaseRef("", "", None, channel, component)
        publication = self._publication(ref, self._architecture(()))
        package = self.env.config.package
        held = sorted((Held(p["Version"], Path(p["Filename"]).name, p["SHA256"])
                       for p in publication.packages.values() if p["Package"] == package),
                      key=lambda h: Version(h.version), reverse=True)
        problem = publication.problem if publication.packages else ""
        return ChannelState(channel, tuple(held), problem)

    def in_repository(self, version: str) -> Held | None:
        """The repository's .deb of *version* of the package, or None (a
        version never released here, or one that retention removed)."""
        raise NotImplementedError

    def put(self, channel: str, component: str, version: str) -> None:
        """Make *channel* publish *version* of the package, from the
        repository (the same file, the same sha256), and no other version of
        it; every other package it publishes stays.

        :raises PublishError: the repository does not hold *version*, or aptly refused.
        """
        raise NotImplementedError

    def resign(self, distributions: Sequence[str], component: str) -> dict[str, str]:
        """Sign each published distribution of *distributions* again, valid
        for ``tool.hoist.valid_days`` from now (``Valid-Until``).

        :returns: the new ``Valid-Until`` of each distribution re-signed.
        :raises PreflightError: this kind of repository is signed elsewhere.
        """
        raise PreflightError("the aptly server signs this repository, and aptly 1.5 writes no Valid-Until",
                             "publications of aptly's REST API do not expire; nothing to renew")

    def usage(self, release: ReleaseRef) -> list[str]:
        key = Path(without_userinfo(self.settings.public_key))
        package = self.env.config.package
        url = without_userinfo(self.settings.url)
        local = not url.startswith(("http://", "https://"))
        serve = (f"apt: the repository is at {url}, which only this machine reads: `hoist serve --bind "
                 "ADDRESS:PORT` serves it over HTTP for a trial, and prints what a server runs")
        if self.env.config.channels:
            channels = self.env.config.channels
            return [
                f"apt: {release.version} is in the channel {channels[0]}"
                + (f"; hoist promote {release.version} --to {channels[1]} moves it on" if len(channels) > 1 else ""),
                *([serve] if local else []),
                "  servers follow a channel with the package that hoist server-setup --channel CHANNEL writes",
            ]
        if local:
            return [serve]
        keyring = f"/etc/apt/keyrings/{key.name}"
        fetch_key = (f"  curl -fsSLo {keyring} {without_userinfo(self.settings.public_key)}"
                     if "://" in self.settings.public_key
                     else f"  install -D -m 644 {key} {keyring}    # {key}, copied from this machine")
        return [
            "apt: on a Debian server, as root:",
            fetch_key,
            f"  echo 'deb [signed-by={keyring}] {url} {release.distribution} {release.component}' "
            f"> /etc/apt/sources.list.d/{package}.list",
            f"  apt-get update && apt-get install {package}",
        ]


def published_repository(targets: Targets, needed_for: str) -> PublishedRepository:
    """The release's apt repository, whichever its kind.

    :param needed_for: what needs it, for the message (``"hoist resign"``).
    :raises ConfigError: no apt repository is configured.
    """
    apt = next((t for t in targets.all if isinstance(t, PublishedRepository)), None)
    if apt is None:
        raise ConfigError(f"{needed_for} needs an apt repository, and none is configured",
                          "add [tool.hoist.apt] (or remove every target to use the local ones)")
    return apt


class AptRepository(PublishedRepository):
    """An aptly root on this machine (``aptly_config``), signed here with ``gpg_key``."""

    @classmethod
    def from_settings(cls, settings: AptTarget, env: Env) -> AptRepository:
        return cls(settings, env)

    def _aptly(self, release: ReleaseRef) -> Aptly:
        return Aptly(self.env.runner, self.settings, release.distribution, release.component,
                     self.env.secrets.gpg_passphrase, self.env.config.valid_days)

    def plan(self, release: ReleaseRef) -> AptPublishPlan:
        s = self.settings
        return AptPublishPlan(s.repo, f"{s.repo}-{release.version}", release.distribution, release.component,
                              s.endpoint, s.url, s.gpg_key or "(the GnuPG home's default key)")

    def check(self, release: ReleaseRef) -> None:
        """The signing key signs, with ``HOIST_GPG_PASSPHRASE`` (before anything changes).

        :raises ToolMissingError: aptly or gpgv is not installed.
        :raises PreflightError: the key cannot sign; the message names it.
        """
        check_tool("aptly", "aptly")
        check_tool("gpgv", "gpgv")
        self._aptly(release).check_signing()

    def sign_file(self, path: Path, release: ReleaseRef) -> Path:
        """Sign *path* with the repository's key (see :meth:`Aptly.detach_sign`); the signature's path."""
        return self._aptly(release).detach_sign(path)

    def publish_beside(self, release: ReleaseRef, files: Sequence[Path]) -> tuple[Path, bool]:
        """Put *files* beside the published repository, into
        ``hoist/<package>/<version>/`` of the directory aptly publishes to,
        which the repository's URL serves, all at once: they are copied into a
        new directory that is then renamed into place, so a reader finds all
        of them or none.  What is there already stays: a version's files are
        never replaced (a resumed release may have made them anew).

        :returns: that directory, and whether the files were put there now.
        :raises ConfigError: the endpoint is not on this machine's file system.
        """
        target = self._aptly(release).publish_dir() / "hoist" / self.env.config.package / release.version
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

    def publish(self, plan: AptPublishPlan, artifacts: Sequence[Artifact]) -> None:
        """Add, snapshot and publish under the repository's lock; skip a .deb
        already published, signed, with the same sha256; publish again a
        publication that apt would refuse (a first publish stopped before signing).

        :raises ConflictError: the publication lists another file under the .deb's name.
        """
        deb = next(a for a in artifacts if a.kind == "deb")
        release = ReleaseRef(deb.filename.split("_")[1], "", None, plan.distribution, plan.component)
        aptly = self._aptly(release)
        ui = self.env.ui
        with aptly.lock(on_wait=lambda path: ui.line(f"    waiting for another release's apt publish ({path})")):
            publication = self._publication(release, deb_architecture(deb.filename))
            entry = publication.packages.get(deb.filename)
            if entry is not None:
                if entry["SHA256"] != deb.sha256:
                    raise ConflictError(conflict_message(deb.filename, entry["SHA256"], deb.sha256),
                                        "a published package is never overwritten: release a new version")
                if publication.signed:
                    ui.line(f"    {plan.distribution} already publishes {deb.filename} (same sha256)")
                    self._publish_checksums(release, deb)
                    return
                ui.line(f"    {plan.distribution} lists {deb.filename} but apt would refuse it "
                        f"({publication.problem}): publishing again")
            aptly.ensure_repo()
            if not aptly.package_keys(self.env.config.package, release.version):
                aptly.add(deb.path)
            aptly.publish(aptly.snapshot(release.version))
            self._publish_checksums(release, deb)

    def _publish_checksums(self, release: ReleaseRef, deb: Artifact) -> None:
        """The release's ``SHA256SUMS``, its signature and the SBOM, beside the
        repository (:meth:`publish_beside`), when the release made them (see
        :mod:`hoist.steps.checksums`)."""
        dist = deb.path.parent
        files = [dist / CHECKSUMS, dist / f"{CHECKSUMS}.asc", dist / f"{self.env.config.package}_{release.version}.cdx.json",
                 dist / f"{self.env.config.name}-{release.version}-source-release.tar.gz"]
        present = [f for f in files if f.is_file()]
        if not present:
            return
        try:
            where, now = self.publish_beside(release, present)
        except ConfigError as exc:  # an S3 or Swift endpoint: nothing to write beside it
            self.env.ui.line(f"    note: {', '.join(f.name for f in present)} stay in dist/: {exc.message}")
            return
        self.env.ui.line(f"    {', '.join(f.name for f in present)} " + (f"published in {where}" if now else
                                                                         f"were already in {where}"))

    def in_repository(self, version: str) -> Held | None:
        aptly = self._aptly(ReleaseRef(version, "", None, self.env.config.distribution, self.env.config.component))
        fields = aptly.package_fields(self.env.config.package, version, self._architecture(()))
        if fields is None:
            return None
        return Held(version, f"{fields['Package']}_{version}_{fields['Architecture']}.deb", fields["SHA256"])

    def resign(self, distributions: Sequence[str], component: str) -> dict[str, str]:
        renewed = {}
        first = self._aptly(ReleaseRef("", "", None, distributions[0], component))
        with first.lock(on_wait=lambda path: self.env.ui.line(f"    waiting for another apt publish ({path})")):
            for distribution in distributions:
                aptly = self._aptly(ReleaseRef("", "", None, distribution, component))
                if aptly.published():
                    renewed[distribution] = release_date(aptly.resign(max(aptly.valid_days, 1)))
        return renewed

    def put(self, channel: str, component: str, version: str) -> None:
        """Under the repository's lock: a snapshot of the repository is the
        source, the channel's published snapshot (or an empty one) the base,
        and aptly's ``snapshot pull`` makes the new one, published to the
        channel (``publish switch``, or ``publish snapshot`` the first time)."""
        package = self.env.config.package
        architecture = self._architecture(())
        aptly = self._aptly(ReleaseRef(version, "", None, channel, component))
        ui = self.env.ui
        with aptly.lock(on_wait=lambda path: ui.line(f"    waiting for another apt publish ({path})")):
            if aptly.package_fields(package, version, architecture) is None:
                raise PublishError(f"the apt repository does not hold {package} {version}",
                                   "promote a version the repository still holds (hoist status lists the channels)")
            source = aptly.new_snapshot(f"{self.settings.repo}-{version}-source")
            base = aptly.published_snapshot() or aptly.new_snapshot(f"{self.settings.repo}-{channel}-empty", "empty")
            target = aptly.free_snapshot_name(f"{self.settings.repo}-{channel}-{version}")
            aptly.pull(base, source, target, package, version, architecture)
            aptly.publish(target)
