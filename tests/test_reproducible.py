"""Reproducible, hermetic .deb builds (issue 5), on the real tools.

The same tag built again, from another clone in another directory, later,
gives the same sha256 for the sdist, the wheel and the .deb; a package that
would carry the build directory's path is refused before anything is
published; a wheel that does not match its recorded hash stops the build.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from conftest import git, repository_state, run_hoist
from hoist.steps.source_release import DESCRIPTION

pytestmark = pytest.mark.slow


def released(project: Path) -> dict:
    result = run_hoist(project, "release")
    assert result.returncode == 0, result.output
    return json.loads((project / "dist" / "release.json").read_text())


def test_rebuild_elsewhere_later_is_byte_identical(example_project, hoist_home: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """... and the rebuild links the dependencies' files the release's build kept
    (hoist.buildtime.seed), where the release's build installed them with uv."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = example_project()
    result = run_hoist(project, "release")
    assert result.returncode == 0, result.output
    assert re.search(r"venv: \d+ distributions of the lock kept for the next build", result.output), result.output
    manifest = json.loads((project / "dist" / "release.json").read_text())
    deb = next(project / a["path"] for a in manifest["artifacts"] if a["kind"] == "deb")
    members = subprocess.run(["ar", "t", str(deb)], capture_output=True, text=True, check=True).stdout.split()
    assert members == ["debian-binary", "control.tar.zst", "data.tar.zst"]
    paths = [line.split()[-1] for line in subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True,
                                                          text=True, check=True).stdout.splitlines()]
    assert "./opt/hoist-hello/bin/hoist-hello" in paths and "./opt/" not in paths  # /opt is the system's
    time.sleep(2)  # another time: every timestamp must come from the commit
    elsewhere = tmp_path / "another" / "deeper" / "clone"
    git(tmp_path, "clone", "--quiet", str(project), str(elsewhere))
    result = run_hoist(elsewhere, "rebuild", manifest["version"], timeout=900)
    assert result.returncode == 0, result.output
    assert f"{manifest['version']}: reproducible: every artifact is byte-identical" in result.output
    # ... though this build linked the dependencies' files that the release's build kept.
    assert re.search(r"venv: \d+ distributions of the lock linked from the last build's", result.output), result.output
    # Against the index and the apt repository, each artifact: 2 files + 1 .deb.
    assert result.output.count("same") >= 3 and "DIFFERENT" not in result.output
    # The SBOM, which no target holds, against the release's own.
    rebuilt = Path(re.search(r"rebuild of \S+ in (\S+)", result.output)[1])
    sbom = f"hoist-hello_{manifest['version']}.cdx.json"
    try:
        assert (rebuilt / sbom).read_bytes() == (project / "dist" / sbom).read_bytes()
    finally:
        shutil.rmtree(rebuilt)


def test_a_build_path_in_the_package_is_refused(example_project, hoist_home: Path) -> None:
    project = example_project()
    rules = project / "debian" / "rules"
    rules.write_text("".join(line for line in rules.read_text().splitlines(keepends=True) if "HOIST_FIXUP)" not in line))
    git(project, "commit", "--quiet", "-am", "Rules without the fixup")
    result = run_hoist(project, "release")
    assert result.returncode == 5, result.output
    assert "contains the build directory's path" in result.output and "pyvenv.cfg" in result.output
    assert "HOIST_FIXUP" in result.output
    remote = hoist_home / "hoist-hello" / "remote.git"
    assert git(remote, "for-each-ref") == ""  # nothing pushed
    assert not any((hoist_home / "hoist-hello" / "index").iterdir())
    assert not (hoist_home / "hoist-hello" / "apt" / "dists").exists()


def test_a_tampered_wheel_stops_the_build(example_project, hoist_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = example_project()
    assert 'lock = "requirements.lock"' in (project / "pyproject.toml").read_text()
    released(project)
    (house,) = (tmp_path / "cache" / "hoist" / "wheelhouses").iterdir()
    victim = sorted(house.glob("flask-*.whl"))[0]
    victim.write_bytes(victim.read_bytes() + b"tampered")
    (project / "CHANGES").write_text("next\n")
    git(project, "add", "CHANGES")
    git(project, "commit", "--quiet", "-m", "Next")
    before = git(hoist_home / "hoist-hello" / "remote.git", "for-each-ref")
    result = run_hoist(project, "release")
    assert result.returncode == 5, result.output
    assert f"wheel {victim.name}" in result.output and "does not match its hash" in result.output
    assert git(hoist_home / "hoist-hello" / "remote.git", "for-each-ref") == before
    # The hint's remedy works: without the wheelhouse, the release completes.
    import shutil

    shutil.rmtree(house)
    assert run_hoist(project, "release").returncode == 0
    assert repository_state(project)[1].count("v") == 2


def repack(source_release: Path, target: Path, change) -> None:
    """*source_release* unpacked, changed by *change* (called with the unpacked directory), packed as *target*."""
    unpacked = target.parent / "unpacked"
    with tarfile.open(source_release) as tar:
        tar.extractall(unpacked)
    (top,) = unpacked.iterdir()
    change(top)
    with tarfile.open(target, "w:gz") as tar:
        tar.add(top, arcname=top.name)
    shutil.rmtree(unpacked)


def test_the_source_release_rebuilds_with_no_network(example_project, hoist_home: Path, tmp_path: Path) -> None:
    """One file and its signed SHA256SUMS, another directory, no git repository, empty caches, the
    network unshared: the same sdist, wheel, .deb and SBOM as the signed list says; a changed,
    incomplete, hostile or truncated source release, or one whose list is not signed, is refused."""
    project = example_project()
    manifest = released(project)
    version = manifest["version"]
    source = next(project / a["path"] for a in manifest["artifacts"] if a["kind"] == "source")
    keyring = hoist_home / "hoist-hello" / "hoist-hello-archive-keyring.gpg"
    elsewhere = tmp_path / "offline"
    (elsewhere / "cache").mkdir(parents=True)
    for name in (source.name, "SHA256SUMS", "SHA256SUMS.asc"):
        shutil.copyfile(project / "dist" / name, elsewhere / name)

    def offline_rebuild(file: Path, *, key: Path | None = keyring) -> subprocess.CompletedProcess:
        if file.parent != elsewhere:  # the signed list travels with the file
            for name in ("SHA256SUMS", "SHA256SUMS.asc"):
                shutil.copyfile(elsewhere / name, file.parent / name)
        return subprocess.run(
            ["unshare", "--net", "env", f"XDG_CACHE_HOME={elsewhere / 'cache'}", "PIP_NO_CACHE_DIR=1", "NO_COLOR=1",
             "COLUMNS=200", sys.executable, "-m", "hoist", "rebuild", version, "--from", str(file),
             *(["--keyring", str(key)] if key else [])],
            cwd=elsewhere, capture_output=True, text=True, timeout=900)

    rebuilt = offline_rebuild(elsewhere / source.name)
    output = rebuilt.stdout + rebuilt.stderr
    assert rebuilt.returncode == 0, output
    assert f"{version}: reproducible: every artifact is byte-identical" in output
    assert output.count(" same ") == 4, output  # sdist, wheel, .deb, SBOM
    shutil.rmtree(re.search(r"rebuild of \S+ in (\S+)", output)[1])

    unsigned = offline_rebuild(elsewhere / source.name, key=None)
    assert unsigned.returncode == 3 and "is checked with the repository's public key, and none was given" in \
        unsigned.stdout + unsigned.stderr

    def refused_as(name: str, change, expect: str, status: int = 5) -> None:
        made = tmp_path / name / source.name
        made.parent.mkdir()
        repack(source, made, change)
        refused = offline_rebuild(made)
        assert refused.returncode == status, refused.stdout + refused.stderr
        assert re.search(expect, refused.stdout + refused.stderr), refused.stdout + refused.stderr
        assert "Traceback" not in refused.stdout + refused.stderr

    def tamper_and_rehash(top: Path) -> None:  # the wheel changed, and the description changed to match it
        wheel = next((top / "wheels").glob("flask-*.whl"))
        wheel.write_bytes(wheel.read_bytes() + b"\0")
        description = top / DESCRIPTION
        data = json.loads(description.read_text())
        data["files"][f"wheels/{wheel.name}"] = hashlib.sha256(wheel.read_bytes()).hexdigest()
        description.write_text(json.dumps(data))
    refused_as("tampered", tamper_and_rehash, rf"error: {re.escape(source.name)} has sha256 \w+, but the signed "
                                              r"SHA256SUMS lists \w+")

    truncated = tmp_path / "truncated" / source.name
    truncated.parent.mkdir()
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    refused = offline_rebuild(truncated)
    assert refused.returncode == 5 and "but the signed SHA256SUMS lists" in refused.stdout + refused.stderr
