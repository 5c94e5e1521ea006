"""Many CI agents, one apt repository server: aptly's REST API behind nginx with basic auth.

Real ``aptly api serve``, real nginx (``packaging/``'s files), real apt in a
clean Debian root; all on 127.0.0.1.  Agents are clones with a ``HOME`` of
their own and no aptly, no aptly configuration and no key: the server signs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from aptserver import AptServer, running_apt_server
from conftest import CACHE, git, repository_state, run_hoist
from debroot import debian_root, install_from_apt_repo
from hoist.config import host_codename

DISTRIBUTION = host_codename()
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
REPO_NAME = "apps"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AptServer]:
    with running_apt_server(tmp_path) as running:
        running.create_repo(REPO_NAME, DISTRIBUTION)
        yield running


def make_deb(directory: Path, package: str, version: str, text: str = "") -> Path:
    """A minimal binary package (dpkg-deb), for the server's other tenants and for conflicts."""
    tree = directory / f"{package}-{version}-tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: {ARCH}\nMaintainer: t <t@example.invalid>\n"
        f"Description: a package of the test\n")
    (tree / "usr" / "share" / "doc" / package).mkdir(parents=True)
    (tree / "usr" / "share" / "doc" / package / "note").write_text(text or f"{package} {version}\n")
    deb = directory / f"{package}_{version}_{ARCH}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(tree), str(deb)], check=True,
                   capture_output=True)
    return deb


def publish_directly(server: AptServer, debs: list[Path], distribution: str = DISTRIBUTION, snapshot: str = "seed") -> None:
    """What the server's administrator (or another tool) publishes, straight through aptly's API."""
    for deb in debs:
        with deb.open("rb") as handle:
            requests.post(f"http://127.0.0.1:{server.api_port}/api/files/seed", files={"file": (deb.name, handle)},
                          timeout=60).raise_for_status()
    server.api("POST", f"/repos/{REPO_NAME}/file/seed")
    server.api("POST", f"/repos/{REPO_NAME}/snapshots", {"Name": snapshot})
    published = [p for p in server.api("GET", "/publish") if p["Distribution"] == distribution]
    signing = {"Batch": True, "GpgKey": server.fingerprint}
    if published:
        server.api("PUT", f"/publish/:./{distribution}",
                   {"Snapshots": [{"Component": "main", "Name": snapshot}], "Signing": signing})
    else:
        server.api("POST", "/publish/:.", {"SourceKind": "snapshot", "Distribution": distribution, "Signing": signing,
                                          "Sources": [{"Component": "main", "Name": snapshot}],
                                          "AcquireByHash": True})  # as the README asks of publications made by hand


def configured(example_project, tmp_path: Path, server: AptServer, name: str = "hello", **apt: str) -> tuple[Path, Path]:
    """The example project publishing to a bare git remote and the apt server; (project, remote)."""
    project = example_project(name)
    remote = tmp_path / f"{name}-remote.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=master", str(remote))
    with (project / "pyproject.toml").open("a") as f:
        f.write(f'\n[tool.hoist.git]\nremote = "{remote}"\n' + server.toml(REPO_NAME, **apt))
    git(project, "commit", "--quiet", "-am", "Publish to the apt server")
    return project, remote


# -- bad input: each refused before anything is published ------------------------------------------


def test_bad_input_is_refused_before_anything_changes(server: AptServer, example_project, tmp_path: Path) -> None:
    project, remote = configured(example_project, tmp_path, server)
    toml = (project / "pyproject.toml").read_text()

    def refused(expect: int, message: str, env: dict[str, str] | None = None, **replace: str) -> None:
        text = toml
        for old, new in replace.items():
            text = text.replace(old, new)
        (project / "pyproject.toml").write_text(text)
        if text != toml:
            git(project, "commit", "--quiet", "-am", "Another apt setting")
        before = repository_state(project)
        run = run_hoist(project, "release", env=env if env is not None else server.env())
        assert run.returncode == expect and message in run.output, run.output
        assert "Traceback" not in run.output
        assert repository_state(project) == before and git(remote, "for-each-ref") == ""
        assert "apt-api-password" not in run.output and "wrong-secret" not in run.output

    refused(6, f"the aptly API at {server.api_url} refused the credentials (401)",
            env=server.env(HOIST_APT_API_PASSWORD="wrong-secret"))
    refused(6, f"the aptly API at {server.api_url} refused the credentials (401)", env={})
    with socket_closed() as port:
        down = f"http://127.0.0.1:{port}/api"
        refused(6, f"the aptly API at {down} is down or unreachable", **{server.api_url: down})
    refused(3, "the aptly server has no repository 'nope'", **{f'repo = "{REPO_NAME}"': 'repo = "nope"'})

    # With a publication on the server: the url and the public key must show it as apt sees it.
    publish_directly(server, [make_deb(tmp_path, "another-app", "1.0")])
    elsewhere = f"{server.url}elsewhere/"
    refused(3, f"the published {DISTRIBUTION} at {elsewhere} is not what apt would accept",
            **{f'url = "{server.url}"': f'url = "{elsewhere}"'})
    other = Path(tempfile.mkdtemp(prefix="hoist-other-key-", dir="/tmp"))  # short: gpg-agent's socket
    gpg = ["gpg", "--batch", "--homedir", str(other)]
    subprocess.run([*gpg, "--passphrase", "", "--quick-gen-key", "other", "ed25519", "sign", "never"],
                   check=True, capture_output=True)
    wrong_key = tmp_path / "other-keyring.gpg"
    subprocess.run([*gpg, "--output", str(wrong_key), "--export"], check=True, capture_output=True)
    subprocess.run(["gpgconf", "--homedir", str(other), "--kill", "gpg-agent"], check=False)
    shutil.rmtree(other, ignore_errors=True)
    refused(3, "does not verify with", **{str(server.public_key): str(wrong_key)})
    assert list(server.packages(DISTRIBUTION, ARCH)) == [f"another-app_1.0_{ARCH}.deb"]


class socket_closed:
    """A loopback port that nothing listens on (bound, never listening, while in use)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


@pytest.mark.slow
def test_a_conflicting_package_is_refused_before_the_push(server: AptServer, example_project, tmp_path: Path) -> None:
    project, remote = configured(example_project, tmp_path, server)
    plan = run_hoist(project, "plan", "--json", env=server.env())
    version = json.loads(plan.output[plan.output.index("{"):])["version"]
    theirs = make_deb(tmp_path, "hoist-hello", version, "not the package hoist builds\n")
    publish_directly(server, [theirs])
    run = run_hoist(project, "release", env=server.env())
    assert run.returncode == 7, run.output
    assert re.search(rf"the apt repository already publishes hoist-hello_{version}_{ARCH}.deb with sha256 "
                     rf"{sha256(theirs)}, but this build's is [0-9a-f]{{64}}", run.output), run.output
    assert git(remote, "for-each-ref") == ""  # nothing pushed: the version was not claimed
    assert server.packages(DISTRIBUTION, ARCH)[theirs.name]["SHA256"] == sha256(theirs)


def sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- agents ------------------------------------------------------------------------------------------


def agent(tmp_path: Path, name: str, remote: Path) -> tuple[Path, dict[str, str]]:
    """A clone of *remote* with a HOME of its own (no aptly, no key, no hoist state)."""
    home = tmp_path / f"{name}-home"
    home.mkdir()
    clone = tmp_path / name
    git(tmp_path, "clone", "--quiet", str(remote), str(clone))
    git(clone, "config", "user.name", f"Agent {name}")
    git(clone, "config", "user.email", f"{name}@hoist.invalid")
    return clone, {"HOME": str(home), "HOIST_HOME": str(home / ".local" / "share" / "hoist")}


@pytest.mark.slow
def test_agents_release_in_turn_and_a_server_installs(server: AptServer, example_project, tmp_path: Path) -> None:
    project, remote = configured(example_project, tmp_path, server)
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text.replace("[tool.hoist]\n", f'[tool.hoist]\nchannels = ["{DISTRIBUTION}", "production"]\n', 1))
    git(project, "commit", "--quiet", "-am", "Channels")
    git(project, "push", "--quiet", str(remote), "master")
    versions = []
    for name in ("agent-a", "agent-b"):
        clone, home = agent(tmp_path, name, remote)
        (clone / "CHANGES").write_text(f"released by {name}\n")
        git(clone, "add", "CHANGES")
        git(clone, "commit", "--quiet", "-m", f"A change of {name}")
        run = run_hoist(clone, "release", env={**server.env(), **home})
        assert run.returncode == 0, run.output
        manifest = json.loads((clone / "dist" / "release.json").read_text())
        assert manifest["targets"]["apt"]["state"] == "published"
        versions.append((manifest["version"], next(a["sha256"] for a in manifest["artifacts"] if a["kind"] == "deb")))
        # The agent needed no aptly state, no key and no local targets of its own (its caches are its own).
        made = sorted(str(p.relative_to(home["HOME"])) for p in Path(home["HOME"]).rglob("*"))
        assert not [p for p in made if re.search(r"aptly|gnupg|\.local/share/hoist", p)], made
    published = server.packages(DISTRIBUTION, ARCH)
    assert {(p["Version"], p["SHA256"]) for p in published.values() if p["Package"] == "hoist-hello"} == set(versions)
    assert server.inrelease_verifies(DISTRIBUTION)
    # Promoted through the API: production publishes the very .deb of each release in turn.
    for version, digest in versions:
        moved = run_hoist(clone, "promote", version, "--to", "production", env={**server.env(), **home})
        assert moved.returncode == 0, moved.output
        production = server.packages("production", ARCH)
        assert {(p["Version"], p["SHA256"]) for p in production.values()} == {(version, digest)}
    assert server.inrelease_verifies("production")
    with debian_root(CACHE, tmp_path / "debroot") as root:
        installed = install_from_apt_repo(root, server.url, DISTRIBUTION, "main", server.public_key, "hoist-hello")
    assert installed == versions[-1][0]


@pytest.mark.slow
def test_retention_keeps_the_newest_and_what_a_distribution_needs(server: AptServer, example_project,
                                                                    tmp_path: Path) -> None:
    old = [make_deb(tmp_path, "hoist-hello", v) for v in ("1.0", "2.0", "3.0")]
    publish_directly(server, old[:1], distribution="production", snapshot="production-1")  # 1.0 is in production
    publish_directly(server, old[1:], snapshot="staging-2")
    project, _ = configured(example_project, tmp_path, server, keep="2")
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text().replace('keep = "2"', "keep = 2"))
    git(project, "commit", "--quiet", "-am", "Keep two versions")
    run = run_hoist(project, "release", env=server.env())
    assert run.returncode == 0, run.output
    version = json.loads((project / "dist" / "release.json").read_text())["version"]
    assert "kept the newest 2; removed 2.0" in run.output
    held = {p["Version"] for p in server.api("GET", f"/repos/{REPO_NAME}/packages?format=details")}
    assert held == {"1.0", "3.0", version}  # 1.0: production still publishes it
    assert {p["Version"] for p in server.packages(DISTRIBUTION, ARCH).values()} == {"1.0", "3.0", version}
    assert {p["Version"] for p in server.packages("production", ARCH).values()} == {"1.0"}


@pytest.mark.slow
def test_five_applications_released_at_once(server: AptServer, example_project, tmp_path: Path) -> None:
    """A company's one repository: five agents release five applications into one distribution at once,
    while an apt client runs `apt-get update` against it in a loop; all five end up published."""
    publish_directly(server, [make_deb(tmp_path, "seed", "1.0")])  # a publication exists before the first update
    projects = []
    for n in range(1, 6):
        project = example_project(f"app{n}", init=False)
        path = project / "pyproject.toml"
        path.write_text(path.read_text().replace('name = "hoist-hello"', f'name = "hoist-hello-{n}"'))
        git(project, "commit", "--quiet", "-am", f"Application {n}")
        assert run_hoist(project, "init").returncode == 0
        git(project, "add", "-A")
        git(project, "commit", "--quiet", "-m", "Package with hoist")
        remote = tmp_path / f"app{n}-remote.git"
        git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=master", str(remote))
        with path.open("a") as f:
            f.write(f'\n[tool.hoist.git]\nremote = "{remote}"\n' + server.toml(REPO_NAME))
        git(project, "commit", "--quiet", "-am", "Publish to the apt server")
        projects.append(project)

    results: dict[int, object] = {}
    done = threading.Event()
    updates: list[subprocess.CompletedProcess] = []
    with debian_root(CACHE, tmp_path / "debroot") as root:
        root.path.joinpath("etc/apt/keyrings").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(server.public_key, root.path / "etc/apt/keyrings/apps.gpg")
        root.write_text("/etc/apt/sources.list.d/apps.sources",
                        f"Types: deb\nURIs: {server.url}\nSuites: {DISTRIBUTION}\nComponents: main\n"
                        "Signed-By: /etc/apt/keyrings/apps.gpg\n")
        root.write_text("/etc/apt/sources.list", "")  # only the server under test

        def client() -> None:
            while not done.is_set() and len(updates) < 400:
                updates.append(root.run(["apt-get", "update", "--error-on=any"], check=False, timeout=120))

        threads = [threading.Thread(target=lambda i=i, p=p: results.setdefault(i, run_hoist(p, "release", env=server.env())))
                   for i, p in enumerate(projects)]
        reader = threading.Thread(target=client)
        reader.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done.set()
        reader.join()
    for i, run in sorted(results.items()):
        assert run.returncode == 0, run.output
    failed = [u for u in updates if u.returncode != 0]
    assert updates and not failed, (failed[0].stdout + failed[0].stderr) if failed else "no apt-get update ran"
    published = server.packages(DISTRIBUTION, ARCH)
    for project in projects:
        manifest = json.loads((project / "dist" / "release.json").read_text())
        deb = next(a for a in manifest["artifacts"] if a["kind"] == "deb")
        assert published[Path(deb["path"]).name]["SHA256"] == deb["sha256"]
    assert server.inrelease_verifies(DISTRIBUTION)
    repairs = sum(run.output.count("publishing again (repair") for run in results.values())
    print(f"\nAPT SERVER: 5 concurrent releases, {len(updates)} apt-get update runs (none failed), {repairs} repairs")
