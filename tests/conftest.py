"""Fixtures: real git repositories with a bare remote, and the hoist CLI run as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hoist.runner import Runner
from hoist.targets.local import LocalTargets

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "hello"
#: Where the tests keep what they build once: the Debian root's tarball (see debroot.py).
CACHE = Path(os.environ.get("HOIST_TEST_CACHE", Path.home() / ".cache" / "hoist-tests"))


def git(cwd: Path, *args: str) -> str:
    """Run git in *cwd*; return its stripped standard output (fails the test on error)."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"git {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout.strip()


@dataclass
class Run:
    """A finished ``hoist`` command: what a user saw."""

    returncode: int
    output: str


def run_hoist(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 1800) -> Run:
    """Run the real CLI (``python -m hoist``) in *cwd*, standard input closed, like CI does."""
    proc = subprocess.run(
        [sys.executable, "-m", "hoist", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout)


@pytest.fixture(autouse=True)
def no_ci_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as a developer would, even inside a CI job that names its branch."""
    for name in ("BRANCH_NAME", "GIT_BRANCH"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def hoist_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private ``$HOIST_HOME`` for the local targets of one test; the gpg-agents
    its signing keys started are stopped afterwards."""
    home = tmp_path / "hoist-home"
    monkeypatch.setenv("HOIST_HOME", str(home))
    yield home
    for project in home.iterdir() if home.is_dir() else []:
        gnupghome = LocalTargets(Runner(), project.name).gnupghome
        if gnupghome.exists():
            subprocess.run(["gpgconf", "--homedir", str(gnupghome), "--kill", "gpg-agent"], check=False, capture_output=True)
        if gnupghome.is_symlink():
            gnupghome.unlink()


def init_repository(path: Path) -> None:
    """Make *path* a git repository on master with everything committed."""
    git(path, "init", "--quiet", "--initial-branch=master")
    git(path, "config", "user.name", "Hoist Test")
    git(path, "config", "user.email", "test@hoist.invalid")
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", "Import the project")


@pytest.fixture
def example_project(tmp_path: Path, hoist_home: Path) -> Callable[..., Path]:
    """Factory: a copy of examples/hello as a git repository, after ``hoist init``."""

    def make(name: str = "hello", *, init: bool = True) -> Path:
        path = tmp_path / name
        shutil.copytree(EXAMPLE, path, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "_version.py"))
        init_repository(path)
        if init:
            result = run_hoist(path, "init")
            assert result.returncode == 0, result.output
            git(path, "add", "-A")
            git(path, "commit", "--quiet", "-m", "Package with hoist")
        return path

    return make


def repository_state(path: Path) -> tuple[str, str, str]:
    """(HEAD, tags, status) of a repository: equal before and after means unchanged."""
    head = git(path, "rev-parse", "HEAD") if git(path, "rev-list", "--all", "--max-count=1") else ""
    return head, git(path, "tag", "--list"), git(path, "status", "--porcelain", "--untracked-files=all")
