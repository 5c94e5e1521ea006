"""End to end, on the real tools: release three real applications to local
targets, then install each on a clean Debian root with apt-get and run it.

The applications: the example WSGI service (through ``invoke release``), the
third-party pip-tools fetched as an sdist from the package index, and hoist
itself.  Each release is checked as a user would: ``dist/release.json`` against
the published files, ``git ls-remote``, ``pip install`` from the published
index, ``apt-get install`` from the published repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from debian.deb822 import Packages
from packaging.utils import canonicalize_name

from conftest import CACHE, REPO, git, init_repository, run_hoist
from debroot import DebianRoot, cached_root_tarball, debian_root, install_from_apt_repo, serve_directory
from hoist.targets.local import serve_index

pytestmark = pytest.mark.slow



def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def root_tarball() -> Path:
    """A minimal Debian root of this host's release, built once and cached."""
    return cached_root_tarball(CACHE)


def run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    assert proc.returncode == 0, f"{argv} failed:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def check_published(project: Path, hoist_home: Path, package: str, branch: str = "master") -> dict:
    """The manifest agrees with what every target holds; returns the manifest."""
    manifest = json.loads((project / "dist" / "release.json").read_text())
    version, tag = manifest["version"], manifest["tag"]
    assert tag == f"v{version}"
    assert {t: s["state"] for t, s in manifest["targets"].items()} == {"git": "published", "pypi": "published", "apt": "published"}
    artifacts = {a["kind"]: a for a in manifest["artifacts"]}
    assert set(artifacts) == {"sdist", "wheel", "deb", "sbom", "source", "checksums", "signature"}
    for artifact in artifacts.values():
        local_file = project / artifact["path"]
        assert local_file.stat().st_size == artifact["size"]
        assert sha256(local_file) == artifact["sha256"]

    # git: the tag is on the remote, at the release commit, which carries the marker.
    remote = Path(manifest["targets"]["git"]["remote"])
    assert remote == hoist_home / package / "remote.git"
    listed = git(project, "ls-remote", str(remote), f"refs/tags/{tag}^{{}}")
    assert listed.split()[0] == manifest["commit"] == git(project, "rev-parse", "HEAD")
    assert f"Hoist-Release: {version}" in git(project, "log", "-1", "--format=%B")
    assert git(remote, "rev-parse", f"refs/heads/{branch}") == manifest["commit"]

    # index: the files, byte for byte.
    index_dir = Path(manifest["targets"]["pypi"]["index"])
    for kind in ("sdist", "wheel"):
        published = index_dir / Path(artifacts[kind]["path"]).name
        assert sha256(published) == artifacts[kind]["sha256"]

    # apt: the signed Packages index names the .deb with its sha256, and the pool file has it.
    apt = manifest["targets"]["apt"]
    repo_dir = Path(apt["url"].removeprefix("file://"))
    packages_file = repo_dir / "dists" / apt["distribution"] / apt["component"] / "binary-amd64" / "Packages"
    entries = [p for p in Packages.iter_paragraphs(packages_file.open(), use_apt_pkg=False) if p["Package"] == package]
    entry = next(p for p in entries if p["Version"] == version)
    assert entry["SHA256"] == artifacts["deb"]["sha256"]
    assert sha256(repo_dir / entry["Filename"]) == artifacts["deb"]["sha256"]
    # No byte code in the package: the postinst compiles it on the server.
    listing = run(["dpkg-deb", "-c", str(repo_dir / entry["Filename"])])
    assert ".pyc" not in listing and "__pycache__" not in listing
    assert (repo_dir / "dists" / apt["distribution"] / "InRelease").exists()
    run(["gpgv", "--keyring", apt["public_key"], str(repo_dir / "dists" / apt["distribution"] / "InRelease")])
    return manifest


def check_pip_install(manifest: dict, tmp_path: Path, command: list[str]) -> str:
    """``pip install`` of the released version from the published index, in a fresh venv."""
    venv = tmp_path / "pip-venv"
    run(["/usr/bin/python3", "-m", "venv", str(venv)])
    with serve_index(Path(manifest["targets"]["pypi"]["index"]), tmp_path / "pypiserver.log") as url:
        run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
             "--extra-index-url", f"{url}/simple/", f"{manifest['name']}=={manifest['version']}"])
    return run([str(venv / "bin" / command[0]), *command[1:]])


def byte_code(root: DebianRoot, package: str) -> list[str]:
    """The ``.pyc`` files under ``/opt/<package>`` in *root*."""
    return root.run(["find", f"/opt/{package}", "-name", "*.pyc"]).stdout.split()


def opt_directory(root: DebianRoot) -> tuple[int, int, int, int]:
    """``/opt`` of *root*, a directory (not a symlink to one): its inode, mode, owner and group."""
    st = (root.path / "opt").lstat()
    assert stat.S_ISDIR(st.st_mode), oct(st.st_mode)
    return st.st_ino, st.st_mode, st.st_uid, st.st_gid


def check_sbom(root: DebianRoot, package: str) -> None:
    """The package's SBOM, as a server has it, is valid CycloneDX and lists exactly the
    distributions installed in its virtualenv, each with its purl and a sha256."""
    sbom = (root.path / "usr" / "share" / "doc" / package / "sbom.cdx.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom) is None
    document = json.loads(sbom)
    listed = {(canonicalize_name(c["name"]), c["version"]) for c in document["components"]}
    assert all(c["purl"] == f"pkg:pypi/{canonicalize_name(c['name'])}@{c['version']}" and
               c["hashes"][0]["alg"] == "SHA-256" for c in document["components"])
    venv = json.loads(root.run([f"/opt/{package}/bin/python", "-c",
                                "import importlib.metadata as m, json; "
                                "print(json.dumps([[d.metadata['Name'], d.version] for d in m.distributions()]))"]).stdout)
    assert listed == {(canonicalize_name(name), version) for name, version in venv}, (listed, venv)
    assert document["metadata"]["component"]["name"] == package


def check_apt_install(manifest: dict, tmp_path: Path, package: str, command: list[str], *,
                      recommends: bool = True, upgrade_to: dict | None = None) -> str:
    """``apt-get install`` from the published repository on a clean Debian root; run *command* there.

    The server's whole life of the package: installed, its modules compiled by the
    postinst; with *upgrade_to* (the next release's manifest), upgraded to that
    version and run again; then ``apt-get remove`` and ``purge`` leave nothing of
    ``/opt/<package>``, and ``/opt`` itself as it was before the installation:
    the system's directory, which the package does not list.  Returns the
    output of the runs of *command*.
    """
    apt = manifest["targets"]["apt"]
    repo_dir = Path(apt["url"].removeprefix("file://"))
    with debian_root(CACHE, tmp_path / "debroot") as root, serve_directory(repo_dir) as url:
        if not recommends:
            root.write_text("/etc/apt/apt.conf.d/99no-recommends", 'APT::Install-Recommends "false";\n')
        opt = opt_directory(root)  # debootstrap's (base-files' postinst), listed by no package
        assert root.run(["dpkg-query", "-S", "/opt"], check=False).returncode == 1
        installed = install_from_apt_repo(root, url, apt["distribution"], apt["component"], Path(apt["public_key"]),
                                          package, version=manifest["version"] if upgrade_to else None)
        assert installed == manifest["version"]
        which = root.run(["sh", "-c", f"command -v {command[0]}"]).stdout.strip()
        assert which == f"/usr/bin/{command[0]}"
        assert root.run(["readlink", "-f", which]).stdout.strip().startswith(f"/opt/{package}/bin/")
        assert root.run(["dpkg-query", "-W", "-f=${Depends}", package]).stdout.startswith("python3.11")
        assert root.run(["dpkg-query", "-S", "/opt"], check=False).returncode == 1, "the package lists /opt"
        compiled = byte_code(root, package)
        assert any("/site-packages/" in p for p in compiled), compiled[:5]
        check_sbom(root, package)
        out = root.run(command).stdout + root.run(["ls", f"/opt/{package}"]).stdout
        if upgrade_to:
            root.run(["apt-get", "install", "-y", package], env={"DEBIAN_FRONTEND": "noninteractive"})
            assert root.run(["dpkg-query", "-W", "-f=${Version}", package]).stdout == upgrade_to["version"]
            assert len(byte_code(root, package)) == len(compiled)
            out += root.run(command).stdout
        for action in ("remove", "purge"):
            done = root.run(["apt-get", action, "-y", package], env={"DEBIAN_FRONTEND": "noninteractive"})
            assert "not empty" not in done.stdout + done.stderr, done.stdout + done.stderr
            assert not (root.path / "opt" / package).exists(), byte_code(root, package)[:5]
            assert opt_directory(root) == opt, f"apt-get {action} changed /opt"
        return out


def test_example_application(example_project, hoist_home: Path, tmp_path: Path, root_tarball: Path) -> None:
    """The example WSGI service, released by `invoke release`, installs with apt-get and runs."""
    project = example_project()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "invoke"), "release", "--yes"],
        cwd=project, env={**os.environ, "NO_COLOR": "1"}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800,
    )
    assert result.returncode == 0, result.stdout
    # The local repository is on this machine: the summary says how a server gets it.
    assert "which only this machine reads: `hoist serve --bind ADDRESS:PORT` serves it" in result.stdout
    manifest = check_published(project, hoist_home, "hoist-hello")
    assert {d["name"].lower() for d in manifest["installed"]} >= {"hoist-hello", "flask", "gunicorn", "werkzeug"}
    changelog = run(["dpkg-parsechangelog", "-l", str(project / "debian" / "changelog")])
    assert f"Version: {manifest['version']}" in changelog and "* Package with hoist" in changelog

    assert check_pip_install(manifest, tmp_path, ["hoist-hello", "--version"]).strip() == manifest["version"]
    contents = run(["dpkg-deb", "-c", str(project / manifest["artifacts"][2]["path"])])
    assert "./lib/systemd/system/hoist-hello.service" in contents or "./usr/lib/systemd/system/hoist-hello.service" in contents

    # A second release of the next commit gets the next serial and keeps the first one published.
    (project / "CHANGES").write_text("second\n")
    git(project, "add", "CHANGES")
    git(project, "commit", "--quiet", "-m", "Second change")
    again = run_hoist(project, "release")
    assert again.returncode == 0, again.output
    # The dependencies are the same as the first release's: lintian checked them then, and the application now.
    assert re.search(r"lintian: \d+ files of the package's own, and (\d+) of its dependencies: 0 checked, "
                     r"\1 passed before with the same content", again.output), again.output
    second = check_published(project, hoist_home, "hoist-hello")
    first_serial = int(manifest["version"].rsplit(".", 1)[1])
    assert second["version"].rsplit(".", 1)[1] == str(first_serial + 1) or second["version"].split(".")[:2] != manifest["version"].split(".")[:2]
    assert "* Second change" in run(["dpkg-parsechangelog", "-l", str(project / "debian" / "changelog")])
    # And a third run on the released HEAD has nothing to do.
    third = run_hoist(project, "release")
    assert third.returncode == 0, third.output

    # A server installs the first release, upgrades to the second, then removes it.
    out = check_apt_install(manifest, tmp_path, "hoist-hello", ["hoist-hello", "check"], upgrade_to=second)
    assert f"OK hoist-hello {manifest['version']}" in out and f"OK hoist-hello {second['version']}" in out


#: The third-party application of the end-to-end test, pinned by version and
#: by the sha256 of its sdist (pip checks it: --require-hashes).
PIP_TOOLS_VERSION = "7.6.2"
PIP_TOOLS_SDIST_SHA256 = "04dbe0e25f3b60fbdeee17d0590dac7fe20039876aa410a946fc54dc926c09ba"


def test_pip_tools_from_the_index(hoist_home: Path, tmp_path: Path, root_tarball: Path) -> None:
    """A real third-party application, fetched as an sdist: hoist init, hoist release, apt-get install."""
    download = tmp_path / "download"
    pinned = tmp_path / "pip-tools.txt"
    pinned.write_text(f"pip-tools=={PIP_TOOLS_VERSION} --hash=sha256:{PIP_TOOLS_SDIST_SHA256}\n")
    run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--require-hashes",
         "--no-deps", "--no-binary", ":all:", "-r", str(pinned), "--dest", str(download)])
    (sdist,) = download.glob("pip_tools-*.tar.gz")
    with tarfile.open(sdist) as archive:
        # Debian 12's Python 3.11.2 predates extraction filters: check the names by hand.
        members = archive.getmembers()
        assert all(not m.name.startswith("/") and ".." not in Path(m.name).parts for m in members)
        for member in members:  # as root, tarfile would keep the archive's owners, and git refuses a repository of another user
            member.uid, member.gid = os.getuid(), os.getgid()
        archive.extractall(tmp_path / "unpacked", members=members)
    (project,) = (tmp_path / "unpacked").iterdir()
    init_repository(project)
    result = run_hoist(project, "init")
    assert result.returncode == 0, result.output
    assert "wrote debian/pip-tools.links" in result.output
    assert (project / "debian" / "pip-tools.links").read_text() == (
        "${env:HOIST_INSTALL_ROOT}/bin/pip-compile usr/bin/pip-compile\n${env:HOIST_INSTALL_ROOT}/bin/pip-sync usr/bin/pip-sync\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "Package pip-tools with hoist")
    released = run_hoist(project, "release")
    assert released.returncode == 0, released.output
    manifest = check_published(project, hoist_home, "pip-tools")
    assert check_pip_install(manifest, tmp_path, ["pip-compile", "--version"]).strip().endswith(manifest["version"])
    out = check_apt_install(manifest, tmp_path, "pip-tools", ["pip-compile", "--version"])
    assert manifest["version"] in out


def test_hoist_releases_itself(hoist_home: Path, tmp_path: Path, root_tarball: Path) -> None:
    """`invoke release` in a clone of hoist's own repository produces /opt/hoist, which installs and runs."""
    clone = tmp_path / "hoist"
    git(tmp_path, "clone", "--quiet", str(REPO), str(clone))
    git(clone, "checkout", "--quiet", "-B", "main")  # hoist's own release branch
    git(clone, "config", "user.name", "Hoist Test")
    git(clone, "config", "user.email", "test@hoist.invalid")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "invoke"), "release", "--yes"],
        cwd=clone, env={**os.environ, "NO_COLOR": "1"}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800,
    )
    assert result.returncode == 0, result.stdout
    manifest = check_published(clone, hoist_home, "hoist", branch="main")
    deb = clone / next(a["path"] for a in manifest["artifacts"] if a["kind"] == "deb")
    assert "./opt/hoist/bin/hoist" in run(["dpkg-deb", "-c", str(deb)])
    out = check_apt_install(manifest, tmp_path, "hoist", ["hoist", "--version"], recommends=False)
    assert f"hoist {manifest['version']}" in out
