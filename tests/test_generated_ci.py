"""The CI scripts ``hoist init`` writes, run as a CI job runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def venv_python(project: Path) -> None:
    """The .venv/bin/python that ci/bootstrap makes, with pytest: here, the tests' own Python."""
    python = project / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)


def test_ci_test_passes_on_a_project_without_tests(example_project) -> None:
    project = example_project()
    for tests in project.rglob("test*"):
        if tests.is_dir():
            shutil.rmtree(tests)
        elif tests.suffix == ".py":
            tests.unlink()
    venv_python(project)
    run = subprocess.run([str(project / "ci" / "test")], cwd=project, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ci/test: hoist-hello has no tests (pytest collected none): nothing to run" in run.stderr
    assert (project / "dist" / "junit.xml").is_file()


def test_ci_test_fails_on_a_failing_test(example_project) -> None:
    project = example_project()
    (project / "test_fails.py").write_text("def test_it():\n    assert False\n")
    venv_python(project)
    run = subprocess.run([str(project / "ci" / "test"), "test_fails.py"], cwd=project, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
