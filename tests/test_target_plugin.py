"""A fourth kind of target, registered from outside ``src/hoist``, takes part in a whole release.

The kind lives in ``tests/dirtarget.py``; an entry point of the group
``hoist.targets`` (a ``.dist-info`` directory on ``PYTHONPATH``, as an
installed plugin has) registers it.  A release publishes to it after the git
push, reads it back into ``dist/release.json``, and ``hoist status`` shows it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from conftest import git, run_hoist

TESTS = Path(__file__).resolve().parent


def plugin_path(tmp_path: Path) -> str:
    """A ``PYTHONPATH`` on which ``tests/dirtarget.py`` is an installed plugin."""
    site = tmp_path / "site"
    info = site / "hoist_dirtarget-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hoist-dirtarget\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[hoist.targets]\ndirectory = dirtarget:KIND\n")
    return os.pathsep.join([str(site), str(TESTS)])


def test_plan_names_the_plugin_target(example_project, tmp_path: Path) -> None:
    project = example_project()
    published = tmp_path / "published"
    configure(project, tmp_path, published)
    env = {"PYTHONPATH": plugin_path(tmp_path)}
    plan = run_hoist(project, "plan", "--json", env=env)
    assert plan.returncode == 0, plan.output
    document = json.loads(plan.output[plan.output.index("{"):])
    assert document["targets"] == ["git", "directory"]
    (copy,) = [s for s in document["steps"] if s["step"] == "copy to the directory"]
    assert copy["plan"] == {"directory": str(published / document["version"]), "kinds": ["sdist", "wheel", "deb"]}
    # Without the plugin, the table is an unknown key, named with what is known.
    bare = run_hoist(project, "plan")
    assert bare.returncode == 9 and "unknown key tool.hoist.directory" in bare.output, bare.output


def configure(project: Path, tmp_path: Path, published: Path) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", str(remote))
    git(project, "remote", "add", "origin", str(remote))
    with (project / "pyproject.toml").open("a") as f:
        f.write(f'\n[tool.hoist.directory]\npath = "{published}"\n')
    git(project, "commit", "--quiet", "-am", "Publish to a directory")
    return remote


@pytest.mark.slow
def test_a_release_publishes_to_a_plugin_target(example_project, tmp_path: Path) -> None:
    project = example_project()
    published = tmp_path / "published"
    remote = configure(project, tmp_path, published)
    env = {"PYTHONPATH": plugin_path(tmp_path)}

    run = run_hoist(project, "release", env=env)
    assert run.returncode == 0, run.output
    assert "==> copy to the directory" in run.output
    manifest = json.loads((project / "dist" / "release.json").read_text())
    version = manifest["version"]
    assert set(manifest["targets"]) == {"git", "directory"}
    assert manifest["targets"]["directory"]["state"] == "published"
    # The directory holds each artifact, byte for byte; git holds the tag.
    for artifact in (a for a in manifest["artifacts"] if a["kind"] in ("sdist", "wheel", "deb")):  # its kinds
        copy = published / version / Path(artifact["path"]).name
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == artifact["sha256"]
    assert git(remote, "rev-parse", f"v{version}^{{commit}}") == manifest["commit"]

    status = run_hoist(project, "status", env=env)
    assert status.returncode == 0, status.output
    assert "directory" in status.output and "published on every target" in status.output

    # The one reader sees a file that changed there: conflict, and status says incomplete (exit 11).
    deb = next(published.glob(f"{version}/*.deb"))
    deb.write_bytes(deb.read_bytes() + b"changed")
    changed = run_hoist(project, "status", "--json", env=env)
    assert changed.returncode == 11, changed.output
    document = json.loads(changed.output[changed.output.index("{"):])
    assert document["targets"]["directory"]["state"] == "conflict"
    assert deb.name in document["targets"]["directory"]["detail"]
