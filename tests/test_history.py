"""The version never goes backwards, and the changelog lists exactly the commits since the last release.

With real git, real releases to local targets, and libfaketime for a clock
that ran ahead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from debian.changelog import Changelog

from conftest import git, repository_state, run_hoist


def changelog_changes(project: Path) -> tuple[str, list[str]]:
    """(version, change lines) of the top entry of *project*'s debian/changelog."""
    entry = next(iter(Changelog((project / "debian" / "changelog").read_text())))
    return str(entry.version), [line.strip() for line in entry.changes() if line.strip().startswith("*")]


def commit(project: Path, name: str, subject: str) -> None:
    (project / name).write_text(subject + "\n")
    git(project, "add", name)
    git(project, "commit", "--quiet", "-m", subject)


def clone(tmp_path: Path, url: str, name: str, *options: str) -> Path:
    """A clone of *url* with the options CI systems use, and a git identity."""
    path = tmp_path / name
    git(tmp_path, "clone", "--quiet", *options, url, str(path))
    git(path, "config", "user.name", "Hoist Test")
    git(path, "config", "user.email", "test@hoist.invalid")
    return path


@pytest.mark.slow
def test_a_clock_that_ran_ahead_never_makes_a_lower_version(example_project, tmp_path: Path) -> None:
    faketime = shutil.which("faketime")
    assert faketime, "ci/bootstrap installs faketime"
    project = example_project()
    # The first release, at the right time, makes the local targets and their signing key
    # (a key made while the clock ran ahead is unusable until its date: gpg refuses it).
    first = run_hoist(project, "release")
    assert first.returncode == 0, first.output
    commit(project, "AHEAD", "A change released while the clock ran ahead")
    ahead = subprocess.run([faketime, "2027-01-01 00:00:30", sys.executable, "-m", "hoist", "release"], cwd=project,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert ahead.returncode == 0, ahead.stdout + ahead.stderr
    assert json.loads((project / "dist" / "release.json").read_text())["version"] == "27.1.0"

    commit(project, "CHANGES", "A change made with the right clock")
    planned = run_hoist(project, "plan")
    assert planned.returncode == 0, planned.output
    assert "release hoist-hello 27.1.1 (tag v27.1.1)" in planned.output
    assert "the newest release, v27.1.0, is dated after this machine's clock" in planned.output
    released = run_hoist(project, "release")
    assert released.returncode == 0, released.output
    assert json.loads((project / "dist" / "release.json").read_text())["version"] == "27.1.1"
    # The entry lists the one commit since 27.1.0, not the commits that 27.1.0 (or 26.12.0) released.
    assert changelog_changes(project) == ("27.1.1", ["* A change made with the right clock"])


@pytest.mark.slow
def test_shallow_and_tagless_clones(example_project, hoist_home: Path, tmp_path: Path) -> None:
    project = example_project()
    first = run_hoist(project, "release")
    assert first.returncode == 0, first.output
    remote = hoist_home / "hoist-hello" / "remote.git"
    commit(project, "ONE", "First change after the release")
    commit(project, "TWO", "Second change after the release")
    git(project, "push", "--quiet", str(remote), "master")
    url = remote.as_uri()

    # A clone without the tags: plan refuses, naming them; nothing changes.
    tagless = clone(tmp_path, url, "tagless", "--no-tags")
    before = repository_state(tagless)
    refused = run_hoist(tagless, "plan")
    assert refused.returncode == 3, refused.output
    assert "this clone lacks the release tags v" in refused.output and "git fetch --tags" in refused.output
    assert repository_state(tagless) == before

    # A shallow clone, as many CI systems make: plan refuses; release fetches what it needs.
    shallow = clone(tmp_path, url, "shallow", "--depth", "1")
    before = repository_state(shallow)
    refused = run_hoist(shallow, "plan")
    assert refused.returncode == 3, refused.output
    assert "this clone is shallow" in refused.output and "git fetch --unshallow --tags" in refused.output
    assert repository_state(shallow) == before
    released = run_hoist(shallow, "release")
    assert released.returncode == 0, released.output
    version, changes = changelog_changes(shallow)
    assert changes == ["* First change after the release", "* Second change after the release"]
    assert version != json.loads((project / "dist" / "release.json").read_text())["version"]
