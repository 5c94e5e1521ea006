"""One contract, two transports: the apt repository behaves the same through
an aptly root on this machine and through aptly's REST API behind nginx.

Each case is one function, run against both transports (the fixture's
parameter): the same rows, the same expectations, read back as apt reads
the publication.  Where a transport cannot do a thing (sign here, so expire
and renew), the case shows the refusal instead.  Real aptly, gpg and nginx,
on 127.0.0.1; the packages are tiny ones made with dpkg-deb.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from debian.deb822 import Release

from aptserver import PASSWORD, USER, running_apt_server
from hoist.config import Config, load
from hoist.errors import ConfigError, ConflictError, PreflightError
from hoist.manifest import Artifact
from hoist.runner import Runner
from hoist.secrets import Secrets
from hoist.targets import MISSING, PUBLISHED, Env, ReleaseRef, settings_tables
from hoist.targets.apt import AptRepository, AptSettings, Held
from hoist.targets.apt.api import ApiTransport, AptlyApi
from hoist.targets.local import LocalTargets
from test_apt_server import make_deb

pytestmark = pytest.mark.slow  # aptly, gpg and nginx for every case

STAGING, PRODUCTION = "staging", "production"
APP, OTHER = "contract-app", "other-app"


@dataclass
class Lines:
    """The UI's lines, as a user reads them."""

    said: list[str] = field(default_factory=list)

    def line(self, text: str, style: str = "") -> None:
        self.said.append(text)


@dataclass
class Repository:
    """One transport's apt repository, as each case uses it."""

    kind: str
    settings: AptSettings
    root: Path
    ui: Lines
    make: object  # (settings, env) -> AptRepository

    def target(self, package: str = APP, **config: object) -> AptRepository:
        settings = AptSettings(**{**self.settings.__dict__, **{k: v for k, v in config.items() if k == "keep"}})
        values = {k: v for k, v in config.items() if k != "keep"}
        env = Env(Config(root=self.root, name=package, package=package, scripts=(), version_backend=None,
                         distribution=STAGING, component="main", channels=(STAGING, PRODUCTION), **values),
                  Runner(), None, self.ui, Secrets())
        return self.make(settings, env)

    def deb(self, version: str, package: str = APP, text: str = "") -> Artifact:
        directory = Path(tempfile.mkdtemp(prefix="debs-", dir=self.root))  # the same .deb, made anew
        return Artifact.of("deb", make_deb(directory, package, version, text))


def release(apt: AptRepository, deb: Artifact) -> ReleaseRef:
    """Publish *deb* to the first channel, as a release does; its release."""
    ref = ReleaseRef(deb.filename.split("_")[1], "", None, STAGING, "main")
    apt.publish(ref, apt.plan(ref), [deb])
    return ref


@pytest.fixture(params=["cli", "api"])
def repository(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repository]:
    if request.param == "cli":
        monkeypatch.setenv("HOIST_HOME", str(tmp_path / "home"))
        local = LocalTargets(Runner(), "contract")
        local.ensure()
        yield Repository("cli", local.apt(), tmp_path, Lines(), AptRepository)
        return
    with running_apt_server(tmp_path) as server:
        server.create_repo("apps", STAGING)
        settings = AptSettings(repo="apps", url=server.url, public_key=str(server.public_key), api_url=server.api_url)

        def make(settings: AptSettings, env: Env) -> AptRepository:
            return AptRepository(settings, env, ApiTransport(settings, AptlyApi(server.api_url, (USER, PASSWORD))))

        yield Repository("api", settings, tmp_path, Lines(), make)


def test_publish(repository: Repository) -> None:
    """A release is in the first channel, signed, as apt reads it."""
    apt = repository.target()
    deb = repository.deb("1.0")
    ref = release(apt, deb)
    assert apt.state(ref, [deb]).state == PUBLISHED
    assert apt.channel(STAGING).current == apt.in_repository("1.0")
    assert apt.channel(STAGING).current.sha256 == deb.sha256
    assert apt.state(ReleaseRef("2.0", "", None, STAGING, "main")).state == MISSING


def test_identical_re_add(repository: Repository) -> None:
    """The same .deb again: nothing changes, and it says so."""
    apt = repository.target()
    deb = repository.deb("1.0")
    release(apt, deb)
    again = Path(tempfile.mkdtemp(dir=repository.root)) / deb.filename  # the same bytes, as a resumed release has them
    shutil.copyfile(deb.path, again)
    release(apt, Artifact.of("deb", again))
    assert f"    {STAGING} already publishes {deb.filename} (same sha256)" in repository.ui.said
    assert [h.version for h in apt.channel(STAGING).held] == ["1.0"]


def test_conflict(repository: Repository) -> None:
    """Another build under a published name is refused; the publication keeps the first."""
    apt = repository.target()
    first = repository.deb("1.0")
    release(apt, first)
    other = repository.deb("1.0", text="another build\n")
    with pytest.raises(ConflictError, match=f"already publishes {first.filename} with sha256 {first.sha256}"):
        release(apt, other)
    assert apt.channel(STAGING).current.sha256 == first.sha256


def test_promote(repository: Repository) -> None:
    """A channel gets exactly the repository's file of the version, and keeps every other package."""
    apt, other = repository.target(), repository.target(OTHER)
    release(other, repository.deb("5.0", OTHER))
    other.put(PRODUCTION, "5.0")
    release(apt, repository.deb("1.0"))
    second = repository.deb("2.0")
    release(apt, second)
    apt.put(PRODUCTION, "2.0")
    assert [h.version for h in apt.channel(PRODUCTION).held] == ["2.0"]
    assert apt.channel(PRODUCTION).current.sha256 == second.sha256
    assert [h.version for h in other.channel(PRODUCTION).held] == ["5.0"]
    assert [h.version for h in apt.channel(STAGING).held] == ["2.0", "1.0"]


def test_rollback(repository: Repository) -> None:
    """A channel moved back holds the older version alone, the same bytes as released."""
    apt = repository.target()
    first = repository.deb("1.0")
    release(apt, first)
    release(apt, repository.deb("2.0"))
    apt.put(PRODUCTION, "2.0")
    apt.put(PRODUCTION, "1.0")
    assert [h.version for h in apt.channel(PRODUCTION).held] == ["1.0"]
    assert apt.channel(PRODUCTION).current.sha256 == first.sha256


def test_retention(repository: Repository) -> None:
    """keep = 2: the newest two stay, and so does what another channel publishes."""
    apt = repository.target(keep=2)
    release(apt, repository.deb("1.0"))
    apt.put(PRODUCTION, "1.0")
    for version in ("2.0", "3.0", "4.0"):
        release(apt, repository.deb(version))
    assert "    kept the newest 2; removed 2.0" in repository.ui.said
    assert apt.in_repository("2.0") is None
    assert [v for v in ("1.0", "3.0", "4.0") if apt.in_repository(v)] == ["1.0", "3.0", "4.0"]
    assert [h.version for h in apt.channel(STAGING).held] == ["4.0", "3.0", "1.0"]
    assert [h.version for h in apt.channel(PRODUCTION).held] == ["1.0"]


def _valid_until(repository: Repository, suite: str) -> datetime:
    release_file = Path(repository.settings.url.removeprefix("file://")) / "dists" / suite / "Release"
    return parsedate_to_datetime(Release(release_file.read_text())["Valid-Until"])


def test_expiry(repository: Repository) -> None:
    """Where hoist signs, a publication expires after valid_days and resign renews it;
    where the server signs, resign refuses and says why."""
    apt = repository.target(valid_days=2)
    release(apt, repository.deb("1.0"))
    if repository.kind == "api":
        with pytest.raises(PreflightError, match="the aptly server signs this repository"):
            apt.resign([STAGING])
        return
    now = datetime.now(timezone.utc)
    assert abs(_valid_until(repository, STAGING) - (now + timedelta(days=2))) < timedelta(minutes=5)
    renewed = repository.target(valid_days=30).resign([STAGING, PRODUCTION])
    assert list(renewed) == [STAGING]  # production is not published
    assert abs(_valid_until(repository, STAGING) - (now + timedelta(days=30))) < timedelta(minutes=5)
    assert apt.channel(STAGING).current is not None  # re-signed: apt still reads it
    apt.put("oldsuite", "1.0")  # a suite no channel names: servers may still follow it
    assert sorted(repository.target(valid_days=30).resign()) == ["oldsuite", STAGING]  # every suite published
    assert apt.channel("oldsuite").current is not None


def test_a_setting_the_transport_cannot_honour(repository: Repository, tmp_path: Path) -> None:
    """valid_days with a server that signs is refused by the configuration checks, saying what to do."""
    project = tmp_path / "project"
    project.mkdir()
    table = "".join(f'{k} = "{v}"\n' for k, v in repository.settings.__dict__.items() if v and isinstance(v, str))
    (project / "pyproject.toml").write_text(f'[project]\nname = "{APP}"\nversion = "1"\n\n[tool.hoist]\n'
                                            f'valid_days = 7\n\n[tool.hoist.apt]\n{table}')
    if repository.kind == "cli":
        assert load(project, settings_tables()).valid_days == 7
        return
    with pytest.raises(ConfigError) as refused:
        load(project, settings_tables())
    assert re.search(r"tool\.hoist\.valid_days: the aptly server signs this repository .* remove valid_days",
                     refused.value.message)


def test_what_the_repository_lost_is_put_back(repository: Repository) -> None:
    """A package that the publication holds and the repository lost (aptly issue 1125) is in the next publication."""
    apt = repository.target()
    first = repository.deb("1.0")
    release(apt, first)
    apt.transport.remove([r for r in apt.transport.packages() if r.version == "1.0"])
    assert apt.in_repository("1.0") is None
    release(apt, repository.deb("2.0"))
    assert [h.version for h in apt.channel(STAGING).held] == ["2.0", "1.0"]
    assert apt.in_repository("1.0") == Held("1.0", first.filename, first.sha256)
