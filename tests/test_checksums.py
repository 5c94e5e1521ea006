"""SHA256SUMS of a release, signed with the apt repository's key and published beside it:
anyone with the repository's public key checks what they downloaded."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from conftest import git, run_hoist


def test_signed_checksums_of_what_was_published(example_project, hoist_home: Path, tmp_path: Path) -> None:
    project = example_project()
    done = run_hoist(project, "release", "--yes")
    assert done.returncode == 0, done.output
    manifest = json.loads((project / "dist" / "release.json").read_text())
    version, apt = manifest["version"], manifest["targets"]["apt"]
    key, repository = apt["public_key"], Path(apt["url"].removeprefix("file://"))
    beside = repository / "hoist" / "hoist-hello" / version
    assert sorted(p.name for p in beside.iterdir()) == ["SHA256SUMS", "SHA256SUMS.asc", f"hoist-hello-{version}-source-release.tar.gz",
                                                          f"hoist-hello_{version}.cdx.json"]
    listed = sorted(line.split("  ")[1] for line in (beside / "SHA256SUMS").read_text().splitlines())
    # sdist, wheel, .deb, SBOM, source; the list and its signature are artifacts too, not in the list
    assert listed == sorted(Path(a["path"]).name for a in manifest["artifacts"]
                            if a["kind"] not in ("checksums", "signature"))
    assert {a["kind"]: Path(a["path"]).name for a in manifest["artifacts"]
            if a["kind"] in ("checksums", "signature")} == {"checksums": "SHA256SUMS", "signature": "SHA256SUMS.asc"}

    # What a user downloads: the index's sdist and wheel, the pool's .deb, the rest beside the repository.
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    for name in listed:
        found = [*Path(manifest["targets"]["pypi"]["index"]).glob(name), *repository.glob(f"pool/*/*/*/{name}"),
                 *beside.glob(name)]
        assert len(found) == 1, (name, found)
        shutil.copyfile(found[0], downloads / name)
    for name in ("SHA256SUMS", "SHA256SUMS.asc"):
        shutil.copyfile(beside / name, downloads / name)
    verified = subprocess.run(["gpgv", "--keyring", key, "SHA256SUMS.asc", "SHA256SUMS"], cwd=downloads,
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    checked = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=downloads,
                             capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stdout.count(": OK") == 5, checked.stdout + checked.stderr
    assert (downloads / "SHA256SUMS").read_bytes() == (project / "dist" / "SHA256SUMS").read_bytes()

    # A changed list no longer verifies.
    sums = downloads / "SHA256SUMS"
    sums.write_text(sums.read_text().replace(listed[0], "renamed-" + listed[0]))
    refused = subprocess.run(["gpgv", "--keyring", key, "SHA256SUMS.asc", "SHA256SUMS"], cwd=downloads,
                             capture_output=True, text=True)
    assert refused.returncode != 0 and "BAD signature" in refused.stderr, refused.stderr
    assert git(project, "status", "--porcelain") == ""

    # hoist status reads them back with the rest: the signature, the SBOM and the source release.
    shown = run_hoist(project, "status")
    assert shown.returncode == 0, shown.output
    flat = " ".join(shown.output.replace("│", " ").split())
    assert "SHA256SUMS beside it, its signature good" in flat, flat
    assert f"hoist-hello_{version}.cdx.json matches it" in flat and "source-release.tar.gz matches it" in flat
    published_sums = beside / "SHA256SUMS"
    published_sums.write_text(published_sums.read_text() + f"{'0' * 64}  extra-file\n")
    flat = " ".join(run_hoist(project, "status").output.replace("│", " ").split())
    assert "SHA256SUMS.asc beside it does NOT verify with" in flat, flat
