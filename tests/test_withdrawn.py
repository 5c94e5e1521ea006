"""The channel's record is the truth: a version a rollback withdrew is never published there again.

Real releases of the example application to local targets with two
channels; what apt reads of each channel, and what ``hoist status`` says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import git, run_hoist
from test_channels import PACKAGE, published, release, with_channels

pytestmark = pytest.mark.slow


def test_a_rolled_back_release_stays_withdrawn(example_project, hoist_home: Path) -> None:
    project = example_project()
    with_channels(project)
    apt_dir = hoist_home / PACKAGE / "apt"
    v1 = release(project, "First")
    v2 = release(project, "Second")
    back = run_hoist(project, "rollback", "staging")
    assert back.returncode == 0, back.output
    assert list(published(apt_dir, "staging")) == [v1]
    who = git(project, "config", "user.name")

    # status: the record says staging publishes v1, apt agrees, and v2 is withdrawn, not incomplete.
    shown = run_hoist(project, "status")
    assert shown.returncode == 0, shown.output
    assert f"{v2}: published, and withdrawn from staging by {who} <" in shown.output
    assert f"(rolled back to {v1})" in shown.output
    record = json.loads(run_hoist(project, "status", "--json").output)
    assert record["targets"]["apt"]["state"] == "withdrawn" and record["channels"]["staging"]["agrees"] is True

    # A release run again on v2's release commit (a resume) does not publish it again, and says why.
    again = run_hoist(project, "release", "--yes")
    assert again.returncode == 0, again.output
    assert f"{v2} was withdrawn from staging by {who} <" in again.output
    assert list(published(apt_dir, "staging")) == [v1]

    # Nor does a promote into that channel.
    promoted = run_hoist(project, "promote", v2, "--to", "staging")
    assert promoted.returncode == 3 and f"error: {v2} was withdrawn from staging by {who} <" in promoted.output
    assert list(published(apt_dir, "staging")) == [v1]

    # A new release with the fix goes to staging, and supersedes the rollback's record there.
    v3 = release(project, "Third, fixed")
    assert v3 in published(apt_dir, "staging")
    fixed = json.loads(run_hoist(project, "status", "--json").output)
    assert fixed["version"] == v3 and fixed["complete"] is True
    assert fixed["channels"]["staging"]["version"] == v3 and fixed["channels"]["staging"]["agrees"] is True
