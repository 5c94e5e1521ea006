"""The command line: results on stdout, progress on stderr, JSON that parses, help that tells."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import repository_state, run_hoist


def split_run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI with its standard output and standard error apart."""
    return subprocess.run([sys.executable, "-m", "hoist", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"}, stdin=subprocess.DEVNULL)


def test_plan_goes_to_stdout_and_json_parses(example_project, hoist_home: Path) -> None:
    project = example_project()
    plan = split_run(project, "plan")
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith("release hoist-hello ") and "push to git:" in plan.stdout
    assert "release hoist-hello" not in plan.stderr
    as_json = split_run(project, "plan", "--json")
    document = json.loads(as_json.stdout)  # the whole of stdout is one document
    assert document["name"] == "hoist-hello" and document["tag"] == f"v{document['version']}"
    assert [s["step"] for s in document["steps"]][:2] == ["changelog, commit and tag", "build sdist and wheel"]
    assert document["targets"] == ["git", "pypi", "apt"]
    push = next(s for s in document["steps"] if s["step"] == "push to git")
    assert push["plan"]["refspecs"][-1] == f"refs/tags/{document['tag']}:refs/tags/{document['tag']}"


def test_verbose_after_the_command(example_project, hoist_home: Path) -> None:
    project = example_project()
    run = split_run(project, "plan", "-v")
    assert run.returncode == 0, run.stderr
    assert "+ git " in run.stderr  # -v shows the read-only commands too


def test_help_names_the_environment_and_the_exit_codes() -> None:
    shown = split_run(Path.cwd(), "--help").stdout
    for name in ("HOIST_PYPI_PASSWORD", "TWINE_PASSWORD", "HOIST_GPG_PASSPHRASE", "HOIST_HOME"):
        assert name in shown
    for code, words in ((2, "usage error"), (9, "configuration"), (10, "cancelled"), (11, "status incomplete"),
                        (12, "rebuild differs")):
        assert f"{code:>3}  {words}" in shown
    for command in ("init", "plan", "release", "lock", "rebuild", "status", "ci"):
        assert split_run(Path.cwd(), command, "--help").returncode == 0


def test_dry_run_is_refused_for_plan(example_project, hoist_home: Path) -> None:
    """hoist plan is the preview: --dry-run is a usage error that says so, and changes nothing."""
    project = example_project()
    before = repository_state(project)
    run = run_hoist(project, "release", "--dry-run")
    assert run.returncode == 2, run.output
    assert "hoist release has no --dry-run: `hoist plan` prints every step's plan and changes nothing" in run.output
    assert repository_state(project) == before and not hoist_home.exists()


def test_status_of_a_project_with_no_release(example_project, hoist_home: Path) -> None:
    project = example_project()
    run = split_run(project, "status", "--json")
    assert run.returncode == 3 and "there is no release yet" in run.stderr and run.stdout == ""
    assert not hoist_home.exists()  # reading the local targets set nothing up


def test_the_readme_renders_as_pypi_shows_it() -> None:
    """README.rst is the sdist's long description: twine check --strict renders it (readme_renderer)."""
    import io

    import readme_renderer.rst

    errors = io.StringIO()
    readme = (Path(__file__).resolve().parent.parent / "README.rst").read_text()
    assert readme_renderer.rst.render(readme, stream=errors) is not None, errors.getvalue()
