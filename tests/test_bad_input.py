"""Bad input: each case ends with a clear message, a non-zero exit status, and nothing changed."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import git, repository_state, run_hoist


def assert_refused(project: Path, hoist_home: Path, *args: str, expect: list[str], env: dict[str, str] | None = None) -> str:
    """Run hoist, expect a refusal whose output contains every string of *expect*,
    and check that the repository and the local targets are unchanged."""
    before = repository_state(project) if (project / ".git").exists() else None
    result = run_hoist(project, *args, env=env)
    assert result.returncode != 0, result.output
    for text in expect:
        assert text in result.output, f"{text!r} not in:\n{result.output}"
    assert "Traceback" not in result.output
    if before is not None:
        assert repository_state(project) == before
    remote = hoist_home / "hoist-hello" / "remote.git"
    assert not remote.exists() or git(remote, "for-each-ref") == ""
    return result.output


def test_not_a_git_repository(tmp_path: Path, hoist_home: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert_refused(tmp_path, hoist_home, "release", expect=["is not a git repository", "hint:"])


def test_dirty_working_tree_names_the_files(example_project, hoist_home: Path) -> None:
    project = example_project()
    (project / "src" / "hoist_hello" / "app.py").write_text("# edited\n", encoding="utf-8")
    (project / "notes.txt").write_text("new\n")
    output = assert_refused(project, hoist_home, "release", expect=["working tree has changes:"])
    assert "src/hoist_hello/app.py" in output and "notes.txt" in output
    assert "commit or stash them" in output


def test_not_on_the_release_branch(example_project, hoist_home: Path) -> None:
    project = example_project()
    git(project, "checkout", "--quiet", "-b", "feature")
    assert_refused(project, hoist_home, "release", expect=["releases are made from 'master'", "branch 'feature'", "git checkout master"])


def test_detached_head(example_project, hoist_home: Path) -> None:
    project = example_project()
    git(project, "checkout", "--quiet", "--detach")
    assert_refused(project, hoist_home, "release", expect=["detached HEAD"])


def test_behind_the_remote(example_project, hoist_home: Path, tmp_path: Path) -> None:
    project = example_project()
    remote = hoist_home / "hoist-hello" / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", str(remote))
    git(project, "push", "--quiet", str(remote), "master")
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(remote), str(other))
    (other / "CHANGES").write_text("more\n")
    git(other, "add", "CHANGES")
    git(other, "-c", "user.name=O", "-c", "user.email=o@x.invalid", "commit", "--quiet", "-m", "Elsewhere")
    git(other, "push", "--quiet", "origin", "master")
    before_remote = git(remote, "for-each-ref")
    before = repository_state(project)
    result = run_hoist(project, "release")
    assert result.returncode == 3, result.output
    assert "has commits that HEAD does not" in result.output and "git pull --rebase" in result.output
    assert repository_state(project) == before
    assert git(remote, "for-each-ref") == before_remote


def test_no_debian_and_no_tool_hoist_suggests_init(example_project, hoist_home: Path) -> None:
    project = example_project(init=False)
    assert_refused(project, hoist_home, "release", expect=["has no debian/ directory", "hoist init"])


STATIC_VERSION = '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "hoist-hello"\nversion = "1.0"\n'


@pytest.mark.parametrize("command", ["release", "init"])
def test_version_not_from_git_tags(example_project, hoist_home: Path, command: str) -> None:
    project = example_project(init=command == "release")
    (project / "pyproject.toml").write_text(STATIC_VERSION)
    git(project, "commit", "--quiet", "-am", "Static version")
    assert_refused(project, hoist_home, command, expect=["does not come from git tags", "setuptools-scm", 'dynamic'])
    assert not (project / "tasks.py").exists() or command == "release"


def test_required_tool_missing_names_the_debian_package(example_project, hoist_home: Path, tmp_path: Path) -> None:
    project = example_project()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        for tool in Path(directory).glob("*") if Path(directory).is_dir() else []:
            if tool.name != "aptly" and not (bin_dir / tool.name).exists():
                (bin_dir / tool.name).symlink_to(tool)
    assert_refused(
        project, hoist_home, "release", env={"PATH": str(bin_dir)},
        expect=["required tool 'aptly' was not found", "apt-get install aptly"],
    )


def test_malformed_pyproject_names_file_and_line(example_project, hoist_home: Path) -> None:
    project = example_project()
    path = project / "pyproject.toml"
    path.write_text(path.read_text() + "\n[tool.broken\nkey = 1\n")
    git(project, "commit", "--quiet", "-am", "Break the TOML")
    lines = path.read_text().count("\n")
    output = assert_refused(project, hoist_home, "release", expect=["malformed", str(path), "line"])
    assert f"line {lines - 1}" in output


def test_unknown_key_suggests_the_nearest(example_project, hoist_home: Path) -> None:
    project = example_project()
    path = project / "pyproject.toml"
    path.write_text(path.read_text().replace('tag_prefix = "v"', 'tag_prefx = "v"'))
    git(project, "commit", "--quiet", "-am", "Typo")
    assert_refused(project, hoist_home, "release", expect=["unknown key tool.hoist.tag_prefx", "did you mean 'tag_prefix'?"])


def test_init_refuses_to_overwrite_and_names_the_files(example_project, hoist_home: Path) -> None:
    project = example_project()
    control = (project / "debian" / "control").read_text()
    output = assert_refused(project, hoist_home, "init", expect=["would overwrite", "debian/control", "tasks.py", "Jenkinsfile", "--force"])
    assert "pyproject.toml [tool.hoist]" in output
    assert (project / "debian" / "control").read_text() == control


def test_plan_changes_nothing(example_project, hoist_home: Path) -> None:
    project = example_project()
    before = repository_state(project)
    result = run_hoist(project, "plan")
    assert result.returncode == 0, result.output
    assert "release hoist-hello" in result.output and "tag v" in result.output
    assert "* Import the project" in result.output and "* Package with hoist" in result.output
    assert repository_state(project) == before
    assert not (project / "dist").exists()
    assert not hoist_home.exists() or not any(hoist_home.rglob("*.deb"))


@pytest.mark.parametrize(("key", "value", "says"), [
    ("tag_prefix", "v 1", "tool.hoist.tag_prefix 'v 1' cannot start a release tag"),
    ("tag_prefix", "rel/", "tool.hoist.tag_prefix 'rel/' cannot start a release tag"),
    ("tag_prefix", "-", "tool.hoist.tag_prefix '-' cannot start a release tag"),
    ("install_root", "/usr", "tool.hoist.install_root must be a directory of its own under /opt"),
    ("install_root", "/opt/../etc", "tool.hoist.install_root must be a directory of its own under /opt"),
])
def test_settings_are_checked_before_anything(example_project, hoist_home: Path, key: str, value: str, says: str) -> None:
    """A tag prefix git or the backend refuses, an install root outside /opt: exit 9 from plan and release alike."""
    project = example_project()
    path = project / "pyproject.toml"
    text = re.sub(rf"(?m)^{key} = .*\n", "", path.read_text())  # hoist init wrote tag_prefix
    path.write_text(text.replace("[tool.hoist]\n", f'[tool.hoist]\n{key} = "{value}"\n', 1))
    git(project, "commit", "--quiet", "-am", f"Set {key}")
    for command in ("plan", "release"):
        output = assert_refused(project, hoist_home, command, expect=[says, "hint: fix the keys named above"])
        assert run_hoist(project, command).returncode == 9, output
    assert not hoist_home.exists()
