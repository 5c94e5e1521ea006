"""Servers that follow a channel: promote the same bytes, roll back, upgrade with a health check.

The released package's lifecycle is checked by piuparts on the way.

Real releases of the example application to local targets with two channels,
``hoist promote`` and ``hoist rollback``, and a clean Debian root set up for
production by the one package ``hoist server-setup`` writes, whose upgrade
service (the command its unit names: no systemd runs in a chroot) is run
after each move.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from debian.deb822 import Deb822, Packages, Release
from debian.debian_support import Version
from prometheus_client.parser import text_string_to_metric_families

from aptserver import wait_for_port
from conftest import git, repository_state, run_hoist
from debroot import DebianRoot, debian_mirror, debian_root, host_codename, serve_directory
from hoist.runner import Runner
from hoist.targets.local import LocalTargets, free_port
from test_release_e2e import CACHE

pytestmark = pytest.mark.slow

PACKAGE = "hoist-hello"
SETUP = f"{PACKAGE}-channel-production"
UPGRADE = f"/usr/lib/{SETUP}/upgrade"
APT = {"DEBIAN_FRONTEND": "noninteractive"}


def with_channels(project: Path) -> None:
    """Give the project two channels and its own health check, committed."""
    path = project / "pyproject.toml"
    text = path.read_text().replace(
        "[tool.hoist]\n",
        '[tool.hoist]\nchannels = ["staging", "production"]\nhealth_check = "hoist-hello check"\n', 1)
    path.write_text(text)
    git(project, "commit", "--quiet", "-am", "Release through staging to production")


def release(project: Path, change: str, *, healthy: bool = True) -> str:
    """Commit *change* (a broken /healthz unless *healthy*), release it; the version."""
    app = project / "src" / "hoist_hello" / "app.py"
    text = app.read_text()
    broken = 'return jsonify(status="broken"), 500'
    text = text.replace(broken, 'return jsonify(status="ok", version=__version__)') if healthy else \
        text.replace('return jsonify(status="ok", version=__version__)', broken)
    app.write_text(text + f"\n# {change}\n")
    git(project, "commit", "--quiet", "-am", change)
    done = run_hoist(project, "release", "--yes")
    assert done.returncode == 0, done.output
    return json.loads((project / "dist" / "release.json").read_text())["version"]


def published(apt_dir: Path, channel: str) -> dict[str, str]:
    """``{version: sha256}`` of the package in *channel*'s Packages index."""
    index = apt_dir / "dists" / channel / "main" / "binary-amd64" / "Packages"
    return {p["Version"]: p["SHA256"] for p in Packages.iter_paragraphs(index.read_text(), use_apt_pkg=False)
            if p["Package"] == PACKAGE}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upgrade(root: DebianRoot) -> subprocess.CompletedProcess[str]:
    """One run of the upgrade service's ExecStart."""
    unit = (root.path / f"lib/systemd/system/{PACKAGE}-upgrade.service").read_text()
    assert f"ExecStart={UPGRADE}\n" in unit
    return root.run([UPGRADE], check=False, timeout=600)


def installed(root: DebianRoot) -> str:
    return root.run(["dpkg-query", "-W", "-f=${Version}", PACKAGE]).stdout


def test_promote_rollback_and_a_server_that_follows_production(example_project, hoist_home: Path,
                                                               tmp_path: Path) -> None:
    project = example_project()
    with_channels(project)
    signing_key_made_a_month_ago(hoist_home)
    apt_dir = hoist_home / PACKAGE / "apt"
    v1 = release(project, "First")
    assert not gpg_agents(), "a release left a gpg-agent running"
    deb1 = sha256(project / "dist" / f"{PACKAGE}_{v1}_amd64.deb")
    v2 = release(project, "Second")
    deb2 = sha256(project / "dist" / f"{PACKAGE}_{v2}_amd64.deb")
    assert published(apt_dir, "staging") == {v1: deb1, v2: deb2}
    assert not (apt_dir / "dists" / "production").exists()

    # Bad input: refused with nothing changed.
    before = repository_state(project), git(hoist_home / PACKAGE / "remote.git", "for-each-ref")
    for args, message in [
        (("promote", "26.1.9", "--to", "production"), "26.1.9 was never released: the git remote has no tag v26.1.9"),
        (("promote", v1, "--to", "prod"), "there is no channel 'prod'"),
        (("rollback", "production"), "the channel production publishes no version of hoist-hello"),
        (("rollback", "nowhere"), "there is no channel 'nowhere'"),
    ]:
        refused = run_hoist(project, *args)
        assert refused.returncode == 3 and f"error: {message}" in refused.output, refused.output
    assert (repository_state(project), git(hoist_home / PACKAGE / "remote.git", "for-each-ref")) == before

    # Promotion publishes the very bytes of the release, one version per channel.
    for version, digest in ((v1, deb1), (v2, deb2)):
        moved = run_hoist(project, "promote", version, "--to", "production")
        assert moved.returncode == 0, moved.output
        assert published(apt_dir, "production") == {version: digest}
        assert published(apt_dir, "staging")[version] == digest
        if version == v1:
            lifecycle_by_piuparts(project / "dist" / f"{PACKAGE}_{v2}_amd64.deb", apt_dir, tmp_path)
            nothing_before = run_hoist(project, "rollback", "production")
            assert nothing_before.returncode == 3, nothing_before.output
            assert f"error: production published no version before {v1}" in nothing_before.output
    record = git(hoist_home / PACKAGE / "remote.git", "log", "--format=%s", "refs/hoist/channels/production")
    assert record.splitlines() == [f"promote {v2} to production", f"promote {v1} to production"]
    release_file = Release((apt_dir / "dists" / "production" / "Release").read_text())
    assert (release_file["Origin"], release_file["Label"], release_file["Suite"]) == (PACKAGE, PACKAGE, "production")
    assert "Valid-Until" in release_file

    shown = json.loads(run_hoist(project, "status", "--json").output)["channels"]
    assert {name: c["version"] for name, c in shown.items()} == {"staging": v2, "production": v2}
    assert shown["production"]["sha256"] == deb2 and shown["production"]["recorded"]["action"] == "promote"

    setup_deb = tmp_path / "setup.deb"
    with contextlib.ExitStack() as stack, hoist_serve(project) as served, \
            debian_root(CACHE, tmp_path / "debroot", mount_proc=True) as root:
        url = served + "apt/"
        made = run_hoist(project, "server-setup", "--channel", "production", "--url", url, "-o", str(setup_deb))
        assert made.returncode == 0, made.output
        (root.path / "tmp" / setup_deb.name).write_bytes(setup_deb.read_bytes())
        root.run(["apt-get", "update"], env=APT)
        root.run(["apt-get", "install", "-y", f"/tmp/{setup_deb.name}"], env=APT)
        assert (root.path / "etc/systemd/system/timers.target.wants" / f"{PACKAGE}-upgrade.timer").is_symlink()

        # The first run installs what production publishes, and it is healthy.
        exporter = stack.enter_context(node_exporter(root.path / "var/lib/prometheus/node-exporter"))
        first = upgrade(root)
        assert first.returncode == 0, first.stdout + first.stderr
        assert installed(root) == v2 and f"nothing -> {v2}, health check passed" in first.stdout
        assert reported(exporter) == {"result": "upgraded", "installed": v2, "channel": v2, "refused": None}
        assert root.run(["hoist-hello", "check"]).stdout.startswith(f"OK hoist-hello {v2}")

        # A release whose health check fails, promoted: the server goes back to v2, once.
        v3 = release(project, "Third, broken", healthy=False)
        assert run_hoist(project, "promote", v3, "--to", "production").returncode == 0
        bad = upgrade(root)
        assert bad.returncode == 1
        assert re.search(rf"^{PACKAGE} {v3} failed its health check \(hoist-hello check exited with 1: "
                         rf"FAIL: /healthz returned 500\); {v2} is installed again$", bad.stderr, re.M), bad.stderr
        assert installed(root) == v2 and root.run(["hoist-hello", "check"]).returncode == 0
        assert reported(exporter) == {"result": "rolled_back", "installed": v2, "channel": v3, "refused": v3}
        again = upgrade(root)
        assert again.returncode == 0 and f"{v3} failed on this server: not trying it again" in again.stdout
        assert installed(root) == v2
        assert reported(exporter) == {"result": "current", "installed": v2, "channel": v3, "refused": v3}

        # Rolled back to v2 (the version before v3): the server stays.
        back = run_hoist(project, "rollback", "production")
        assert back.returncode == 0 and f"production publishes {PACKAGE} {v2}" in back.output, back.output
        assert published(apt_dir, "production") == {v2: deb2}
        stays = upgrade(root)
        assert stays.returncode == 0 and "nothing to do" in stays.stdout and installed(root) == v2

        # A good release promoted: the server upgrades to it.
        v4 = release(project, "Fourth, fixed")
        assert run_hoist(project, "promote", v4, "--to", "production").returncode == 0
        good = upgrade(root)
        assert good.returncode == 0 and installed(root) == v4, good.stdout + good.stderr

        # Rolled back on purpose to v2: the pin lets apt downgrade.
        assert run_hoist(project, "rollback", "production", "--to", v2).returncode == 0
        down = upgrade(root)
        assert down.returncode == 0 and installed(root) == v2, down.stdout + down.stderr

        # A publication past its Valid-Until (signed twenty days ago, valid for
        # fourteen) is refused by apt, and hoist says so; hoist resign renews it.
        signed_before = subprocess.run(["faketime", "20 days ago", sys.executable, "-m", "hoist", "resign"],
                                       cwd=project, capture_output=True, text=True)
        assert signed_before.returncode == 0, signed_before.stdout + signed_before.stderr
        stale = root.run(["apt-get", "update", "--error-on=any"], check=False, env=APT)
        assert stale.returncode != 0 and "is expired" in stale.stdout + stale.stderr, stale.stdout + stale.stderr
        failing = upgrade(root)
        assert failing.returncode == 1 and re.search(rf"^{PACKAGE}: apt-get update cannot read the production channel "
                                                     rf"at {re.escape(url)} \(.+\): check that this server reaches",
                                                     failing.stderr, re.M), failing.stderr
        assert reported(exporter)["result"] == "apt_failed"
        assert "expired on" in run_hoist(project, "status").output
        renewed = run_hoist(project, "resign")
        assert renewed.returncode == 0 and "production: valid until" in renewed.output, renewed.output
        root.run(["apt-get", "update", "--error-on=any"], env=APT)

        # A patch upgrade of python3.11 (from the security pocket) leaves the application running.
        python_patch_upgrade_keeps_it_running(root, v2)

        # Removing the setup package removes all of it.
        root.run(["apt-get", "remove", "-y", SETUP], env=APT)
        for path in (f"etc/apt/sources.list.d/{PACKAGE}.sources", f"etc/apt/preferences.d/{PACKAGE}.pref",
                     f"usr/share/keyrings/{PACKAGE}-archive-keyring.gpg", UPGRADE.lstrip("/")):
            assert not (root.path / path).exists(), path
        assert installed(root) == v2

        # On Debian 13 (python3.13) apt refuses the package built for Debian 12's python3.11.
        with debian_root(CACHE, tmp_path / "trixie", codename="trixie") as trixie:
            (trixie.path / "tmp" / setup_deb.name).write_bytes(setup_deb.read_bytes())
            trixie.run(["apt-get", "update"], env=APT)
            trixie.run(["apt-get", "install", "-y", f"/tmp/{setup_deb.name}"], env=APT)
            refused = upgrade(trixie)
            assert refused.returncode == 1, refused.stdout + refused.stderr
            assert re.search(rf"^{PACKAGE} {v2} could not be installed \(.*Depends:? python3\.11 ",
                             refused.stderr, re.M), refused.stderr
            assert trixie.run(["dpkg-query", "-W", PACKAGE], check=False).returncode != 0



@contextlib.contextmanager
def node_exporter(directory: Path) -> Iterator[str]:
    """Debian's prometheus-node-exporter on a free port of 127.0.0.1, its textfile collector
    reading *directory* (where a server's upgrade service writes); its /metrics URL."""
    port = free_port()
    server = subprocess.Popen(["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}",
                               "--collector.disable-defaults", "--collector.textfile",
                               f"--collector.textfile.directory={directory}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server, "prometheus-node-exporter")
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        server.terminate()
        server.wait(timeout=30)


def reported(url: str) -> dict[str, str | None]:
    """What node_exporter shows of the package's last upgrade run, read with Prometheus' own parser."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    seen: dict[str, str | None] = {"result": None, "installed": None, "channel": None, "refused": None}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("package") != PACKAGE:
                continue
            if sample.name == "hoist_upgrade_result" and sample.value == 1:
                seen["result"] = sample.labels["result"]
            for what in ("installed", "channel", "refused"):
                if sample.name == f"hoist_upgrade_{what}_info":
                    seen[what] = sample.labels["version"]
    return seen


@contextlib.contextmanager
def hoist_serve(project: Path) -> Iterator[str]:
    """``hoist serve`` on a free port of 127.0.0.1 until the block ends; its base URL.

    It serves the apt repository, its key and the index, and nothing else of
    the local targets (the signing key's GnuPG home least of all)."""
    server = subprocess.Popen([sys.executable, "-m", "hoist", "serve", "--bind", "127.0.0.1:0"], cwd=project,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = server.stdout.readline()  # printed once it listens
        match = re.search(r"at (http://127\.0\.0\.1:\d+/) ", first)
        assert match, first
        url = match[1]
        for path, status in (("apt/dists/production/InRelease", 200), (f"{PACKAGE}-archive-keyring.gpg", 200),
                             ("index/", 200), ("gnupg/", 404), ("apt/../gnupg/", 404), ("aptly/aptly.conf", 404)):
            try:
                with urllib.request.urlopen(url + path, timeout=10) as response:
                    assert response.status == status, path
            except urllib.error.HTTPError as exc:
                assert exc.code == status, path
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def python_patch_upgrade_keeps_it_running(root: DebianRoot, version: str) -> None:
    """Upgrade python3.11 from the host's security mirror while the application
    serves; the running service and a new process both still work."""
    security = next(uri for uri, suites in host_sources() if uri.rstrip("/").endswith("/debian-security")
                    and f"{host_codename()}-security" in suites)
    before = root.run(["dpkg-query", "-W", "-f=${Version}", "python3.11"]).stdout
    port = free_port()
    server = subprocess.Popen(["chroot", str(root.path), "/usr/bin/hoist-hello", "serve", "--bind", f"127.0.0.1:{port}",
                               "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert answers(port, server) == version
        root.write_text("/etc/apt/sources.list.d/security.sources",
                        f"Types: deb\nURIs: {security}\nSuites: {host_codename()}-security\nComponents: main\n"
                        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
        root.run(["apt-get", "update"], env=APT)
        root.run(["apt-get", "install", "-y", "python3.11"], env=APT)
        after = root.run(["dpkg-query", "-W", "-f=${Version}", "python3.11"]).stdout
        assert Version(after) > Version(before), f"the mirror has no python3.11 newer than {before} to upgrade to"
        assert answers(port, server) == version
        assert root.run(["hoist-hello", "check"]).stdout.startswith(f"OK hoist-hello {version}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def answers(port: int, server: subprocess.Popen, timeout: float = 60.0) -> str:
    """The version /healthz reports, once the server answers (it may be starting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                return json.loads(response.read())["version"]
        except OSError:
            assert server.poll() is None, "the application's server exited"
            assert time.monotonic() < deadline, f"no answer on port {port} within {timeout:.0f} s"
            time.sleep(0.2)


def host_sources() -> list[tuple[str, list[str]]]:
    """(URI, suites) of the host's apt sources: deb822 ``.sources`` files and
    one-line ``deb`` entries (sources.list(5))."""
    found = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for paragraph in Deb822.iter_paragraphs(path.read_text()):
            found += [(uri, paragraph.get("Suites", "").split()) for uri in paragraph.get("URIs", "").split()]
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
        for line in path.read_text().splitlines() if path.is_file() else []:
            words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                found.append((words[1], [words[2]]))
    return found


def lifecycle_by_piuparts(deb: Path, apt_dir: Path, tmp_path: Path) -> None:
    """Debian's own test of a package's lifecycle passes on *deb*: install and
    purge; install the version production publishes, upgrade to *deb*, purge;
    each time the file system ends as it began (piuparts(1))."""
    with serve_directory(apt_dir) as url, debian_root(CACHE, tmp_path / "piuparts-base") as base:
        proc = subprocess.run(
            ["piuparts", "--existing-chroot", str(base.path), "--distribution", host_codename(),
             "--mirror", f"{debian_mirror()} main", "--extra-repo", f"deb [trusted=yes] {url} production main",
             "--tmpdir", str(tmp_path), str(deb)],
            capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "PASS: Installation and purging test." in log and \
        "PASS: Installation, upgrade and purging tests." in log, log[-4000:]


def gpg_agents() -> list[str]:
    """The command lines of the gpg-agents running for the local repository's GnuPG home."""
    local = LocalTargets(Runner(), PACKAGE)
    homes = {str(local.gnupghome), str(local.root / "gnupg")}
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # the process ended
        if words and words[0].endswith("gpg-agent") and homes & set(words):
            found.append(" ".join(words))
    return found


def signing_key_made_a_month_ago(hoist_home: Path) -> None:
    """The local repository's signing key, made thirty days ago (gpg's own
    ``--faked-system-time``), so that a publication can be signed in the past."""
    local = LocalTargets(Runner(), PACKAGE)
    (hoist_home / PACKAGE / "gnupg").mkdir(mode=0o700, parents=True)
    local._make_gnupghome()
    month_ago = int(time.time()) - 30 * 86400
    subprocess.run(["gpg", "--batch", "--homedir", str(local.gnupghome), f"--faked-system-time={month_ago}",
                    "--passphrase", "", "--quick-gen-key", f"hoist local archive for {PACKAGE}", "ed25519", "sign",
                    "never"], check=True, capture_output=True)
