"""``hoist server-setup --channel CHANNEL``: one small .deb that points a server at a channel.

``apt-get install ./<package>-channel-<channel>_<version>_all.deb`` sets up,
with Debian's own parts, everything a server needs to follow the channel:

``/usr/share/keyrings/<package>-archive-keyring.gpg``
    the repository's public key;
``/etc/apt/sources.list.d/<package>.sources``
    the channel's source in deb822 form, with ``Signed-By`` (sources.list(5));
``/etc/apt/preferences.d/<package>.pref``
    a pin of the package to the channel's ``Origin``, ``Label`` and suite at
    priority 1001, which lets apt downgrade to what the channel publishes after
    a rollback (apt_preferences(5): "causes a version to be installed even if
    this constitutes a downgrade");
``<package>-upgrade.timer`` and ``<package>-upgrade.service``
    every 30 minutes (a randomised delay spreads the servers), one run of
    ``/usr/lib/<setup package>/upgrade``: update this source only, install
    the version the channel publishes, run ``tool.hoist.health_check``, and
    on failure put the previous version back (see that script's docstring).

The two files under ``/etc/apt`` are links into ``/usr/share/<setup
package>``, so that removing the package removes them too (files under
``/etc`` would be conffiles, which dpkg keeps until purge).  The package is
built with debhelper (dh_installsystemd enables the timer; the service is
never started by the package's own scripts: it runs apt, which the running
dpkg locks).  Setup packages of other channels of the same application
conflict with it: a server follows one channel.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path

from .. import changelog
from ..config import is_debian_package_name
from ..context import Context
from ..errors import ConfigError, PreflightError, PublishError
from ..preflight import check_tool
from ..redaction import without_userinfo
from ..targets.apt.publication import public_key_bytes, read_publication, write_keyring
from ..targets.apt.repository import AptRepository, apt_repository
from ..targets.apt.source import KEYRING_DIR, keyring_name, render_source, sources_path


@dataclass(frozen=True)
class SetupPackage:
    """The setup package that was built.

    :ivar path: the .deb.
    :ivar name: its package name.
    :ivar url: the repository URL the server will read.
    :ivar notes: what the user should know (a URL only this machine can read).
    """

    path: Path
    name: str
    url: str
    notes: tuple[str, ...] = ()


def check_channel(ctx: Context, apt: AptRepository, url: str, channel: str) -> None:
    """*url* serves *channel* as a server's apt reads it: over HTTP(S), an
    ``InRelease`` that verifies with the project's key, listing a ``Packages``
    index that holds the package.

    :raises PreflightError: it does not; the message says what to do instead.
    """
    shown = without_userinfo(url)
    if not url.startswith(("http://", "https://")):
        raise PreflightError(f"the repository is at {shown}, which a server cannot read",
                             "serve it over HTTP(S) (hoist serve, or a web server) and pass that URL with --url; "
                             "--unchecked builds the package anyway")
    try:
        publication = read_publication(ctx.runner, url, channel, ctx.config.component, apt.architecture(),
                                       apt.public_key)
    except PublishError as exc:
        raise PreflightError(f"cannot read the {channel} channel at {shown}: {exc.message}",
                             "check --url (the repository's published directory, with dists/ in it) and that its "
                             "server runs; --unchecked builds the package anyway") from None
    if publication.problem == "nothing is published":
        raise PreflightError(f"{shown} publishes no {channel} channel (no dists/{channel}/InRelease)",
                             f"check that --url is the published directory, not the repository's root; or release or "
                             f"promote to {channel} first; --unchecked builds the package anyway")
    if publication.problem:
        raise PreflightError(f"the {channel} channel at {shown} is not what apt would accept: {publication.problem}",
                             "check --url and tool.hoist.apt.public_key")
    if not any(p["Package"] == ctx.config.package for p in publication.packages.values()):
        raise PreflightError(f"the {channel} channel at {shown} publishes no {ctx.config.package}",
                             f"release or promote to {channel} first; --unchecked builds the package anyway")


def setup_package_name(package: str, channel: str) -> str:
    """``<package>-channel-<channel>``, lower case.

    :raises ConfigError: the result is not a Debian package name.
    """
    name = f"{package}-channel-{channel.lower().replace('_', '-')}"
    if not is_debian_package_name(name):
        raise ConfigError(f"{name!r} is not a valid Debian package name (Debian Policy §5.6.1)",
                          "name channels with lower case letters, digits, '.' and '-'")
    return name


def server_setup(ctx: Context, channel: str, output: Path | None = None, url: str | None = None,
                 every_minutes: int = 30, unchecked: bool = False) -> SetupPackage:
    """Build the setup package of *channel*, once the repository at *url*
    serves the channel as a server's apt will read it.

    :param output: where to write the .deb (default ``dist/<name>_<version>_all.deb``).
    :param url: the repository's URL as servers reach it (default ``tool.hoist.apt.url``).
    :param every_minutes: how often the timer runs an upgrade.
    :param unchecked: build it without reading the channel (a ``file://``
        URL, a channel not published yet, a URL only the servers reach).
    :raises PreflightError: an unknown channel, *every_minutes* below 1, or
        (unless *unchecked*) a URL that is not HTTP(S), that cannot be read,
        or whose channel publishes nothing or is not signed by the key;
        nothing is written.
    :raises ConfigError: no apt repository is configured.
    :raises CommandError: the package did not build.
    """
    config = ctx.config
    channels = config.channels or (config.distribution,)
    if channel not in channels:
        raise PreflightError(f"there is no channel {channel!r}", f"the channels are: {', '.join(channels)}")
    if every_minutes < 1:
        raise PreflightError(f"--every {every_minutes}: the timer needs 1 minute or more", "e.g. --every 30")
    apt = apt_repository(ctx.targets.all, "hoist server-setup")
    for tool, debian in (("dpkg-buildpackage", "dpkg-dev"), ("dh", "debhelper")):
        check_tool(tool, debian)
    url = url or apt.settings.url
    notes = []
    if unchecked:
        notes.append(f"the {channel} channel at {without_userinfo(url)} was not read (--unchecked): a server's timer "
                     "fails until it serves the channel, signed by the repository's key")
    else:
        check_channel(ctx, apt, url, channel)
    if not config.health_check:
        notes.append("tool.hoist.health_check is not set: servers will upgrade without a check, and never go back "
                     "to the previous version on their own")
    name = setup_package_name(config.package, channel)
    key = public_key_bytes(apt.public_key)
    now = datetime.now(timezone.utc)
    version = now.strftime("%Y%m%d.%H%M%S")
    with tempfile.TemporaryDirectory(prefix="hoist-server-setup-") as tmp:
        source = Path(tmp, name)
        _write_source(ctx, source, name, version, channel, url, apt, every_minutes, now)
        write_keyring(ctx.runner, key, source / keyring_name(config.package))
        ctx.runner.run(["dpkg-buildpackage", "-b", "-uc", "-us", "--no-check-builddeps"], cwd=source,
                       env={"SOURCE_DATE_EPOCH": str(int(now.timestamp()))})
        built = Path(tmp, f"{name}_{version}_all.deb")
        target = output or ctx.dist / built.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)
    return SetupPackage(target, name, url, tuple(notes))


def _write_source(ctx: Context, source: Path, name: str, version: str, channel: str, url: str,
                  apt: AptRepository, every_minutes: int, now: datetime) -> None:
    """The setup package's source tree: debian/ and the files it installs."""
    config = ctx.config
    package = config.package
    debian = source / "debian"
    debian.mkdir(parents=True)
    author = "{} <{}>".format(*ctx.git.ident())
    (debian / "changelog").write_text(changelog.render_entry(
        changelog.Changelog(), package=name, version=version, distribution=channel,
        subjects=[f"Follow the {channel} channel of {package}."], author=author, moment=now))
    (debian / "control").write_text(textwrap.dedent(f"""\
        Source: {name}
        Section: admin
        Priority: optional
        Maintainer: {author}
        Build-Depends: debhelper-compat (= 13)
        Rules-Requires-Root: no

        Package: {name}
        Architecture: all
        Depends: ${{misc:Depends}}, apt, python3
        Provides: {package}-channel
        Conflicts: {package}-channel
        Replaces: {package}-channel
        Description: follow the {channel} channel of {package}
         Points apt at the {channel} channel of the {package} repository (its key,
         its source, a pin that allows downgrades after a rollback) and upgrades
         {package} every {every_minutes} minutes with a health check, putting the
         previous version back when the check fails.
        """))
    (debian / "rules").write_text(textwrap.dedent(f"""\
        #!/usr/bin/make -f
        %:
        \tdh $@

        # The timer is enabled and started; the service, which runs apt, is
        # never started from the package's own scripts (dpkg holds apt's lock).
        override_dh_installsystemd:
        \tdh_installsystemd --no-start {package}-upgrade.service
        \tdh_installsystemd {package}-upgrade.timer
        """))
    (debian / "rules").chmod(0o755)
    (debian / "source").mkdir()
    (debian / "source" / "format").write_text("3.0 (native)\n")
    share, lib = f"usr/share/{name}", f"usr/lib/{name}"
    (debian / "install").write_text(
        f"{keyring_name(package)} {KEYRING_DIR.lstrip('/')}\n"
        f"{package}.sources {share}\n{package}.pref {share}\n"
        f"upgrade {lib}\nsettings.json {lib}\n"
        f"{package}-upgrade.service lib/systemd/system\n{package}-upgrade.timer lib/systemd/system\n")
    (debian / "links").write_text(
        f"{share}/{package}.sources {sources_path(package).lstrip('/')}\n"
        f"{share}/{package}.pref etc/apt/preferences.d/{package}.pref\n")
    (debian / "postrm").write_text(textwrap.dedent(f"""\
        #!/bin/sh
        set -e
        # What the upgrade service kept: the last good .deb, a failed version.
        if [ "$1" = purge ]; then
        \trm -rf /var/lib/{name}
        fi
        #DEBHELPER#
        """))
    (source / f"{package}.sources").write_text(render_source(
        package, url, channel, config.component, f"The {channel} channel of {package}, written by hoist server-setup."))
    origin, label = apt.settings.release_origin, apt.settings.release_label
    (source / f"{package}.pref").write_text(textwrap.dedent(f"""\
        # {package} comes from the {channel} channel only, whatever its version:
        # priority 1001 lets apt downgrade when the channel rolls back (apt_preferences(5)).
        Package: {package}
        Pin: release o={origin},l={label},a={channel}
        Pin-Priority: 1001
        """))
    (source / "settings.json").write_text(json.dumps({
        "package": package, "channel": channel, "sources": sources_path(package), "url": without_userinfo(url),
        "health_check": list(config.health_check), "health_timeout": config.health_timeout,
        "metrics_directory": config.metrics_directory, "state": f"/var/lib/{name}",
    }, indent=2) + "\n")
    upgrade = source / "upgrade"
    upgrade.write_text(files("hoist.templates.server").joinpath("upgrade").read_text())
    upgrade.chmod(0o755)
    (source / f"{package}-upgrade.service").write_text(textwrap.dedent(f"""\
        [Unit]
        Description=Upgrade {package} to what its {channel} channel publishes, with a health check
        Documentation=man:apt-get(8) man:apt_preferences(5)
        Wants=network-online.target
        After=network-online.target

        [Service]
        Type=oneshot
        ExecStart=/usr/lib/{name}/upgrade
        """))
    (source / f"{package}-upgrade.timer").write_text(textwrap.dedent(f"""\
        [Unit]
        Description=Upgrade {package} from its {channel} channel every {every_minutes} minutes

        [Timer]
        OnBootSec=5min
        OnUnitActiveSec={every_minutes}min
        RandomizedDelaySec={max(1, every_minutes // 6)}min

        [Install]
        WantedBy=timers.target
        """))
