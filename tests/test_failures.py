"""A failed command's error says what failed: the lines of its output that name the cause.

Outputs as the tools print them (pip inside ``python -m build``, make and
debhelper inside dpkg-buildpackage, a Python traceback, apt, git), and one
real failing build.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import git, repository_state, run_hoist
from hoist.errors import BuildError
from hoist.runner import Runner, cause_lines
from hoist.steps.build import check_built

BUILD_WITHOUT_A_DEPENDENCY = """\
* Creating isolated environment: venv+pip...
* Installing packages in isolated environment:
  - no-such-dist==1
< Looking in links: /opt/wheels
< ERROR: Could not find a version that satisfies the requirement no-such-dist==1 (from versions: none)
< ERROR: No matching distribution found for no-such-dist==1

Traceback (most recent call last):
  File "build/__main__.py", line 289, in _handle_build_error
    yield
subprocess.CalledProcessError: Command '['python', '-m', 'pip', 'install']' returned non-zero exit status 1.

ERROR Command '['python', '-m', 'pip', 'install']' returned non-zero exit status 1.
"""

DEB_BUILD = """\
   dh_auto_configure
dh_auto_configure: error: This feature was removed in compat 12.
make: *** [debian/rules:8: binary] Error 25
dpkg-buildpackage: error: debian/rules binary subprocess returned exit status 2
"""

C_EXTENSION = """\
gcc -c src/fast.c -o build/fast.o
src/fast.c:3:10: fatal error: Python.h: No such file or directory
src/fast.c:7:1: error: expected ';' before '}' token
error: command '/usr/bin/gcc' failed with exit code 1
"""

BACKEND_TRACEBACK = """\
Traceback (most recent call last):
  File "setup.py", line 3, in <module>
    raise LookupError("setuptools-scm was unable to detect version for /src")
LookupError: setuptools-scm was unable to detect version for /src
"""


@pytest.mark.parametrize(("output", "expected"), [
    (BUILD_WITHOUT_A_DEPENDENCY, [
        "ERROR: Could not find a version that satisfies the requirement no-such-dist==1 (from versions: none)",
        "ERROR: No matching distribution found for no-such-dist==1"]),
    (DEB_BUILD, ["dh_auto_configure: error: This feature was removed in compat 12.",
                 "make: *** [debian/rules:8: binary] Error 25",
                 "dpkg-buildpackage: error: debian/rules binary subprocess returned exit status 2"]),
    (C_EXTENSION, ["src/fast.c:7:1: error: expected ';' before '}' token",
                   "error: command '/usr/bin/gcc' failed with exit code 1"]),
    (BACKEND_TRACEBACK, ["LookupError: setuptools-scm was unable to detect version for /src"]),
    ("E: Unable to locate package nope\n", ["E: Unable to locate package nope"]),
    ("fatal: 'origin' does not appear to be a git repository\n",
     ["fatal: 'origin' does not appear to be a git repository"]),
    ("something went wrong\n", []),
], ids=["pip-in-build", "debhelper", "c-extension", "traceback", "apt", "git", "none"])
def test_the_lines_that_say_what_failed(output: str, expected: list[str]) -> None:
    assert cause_lines(output) == expected


def test_the_cause_comes_before_the_tail_even_far_above_it() -> None:
    output = "ERROR: No matching distribution found for x==1\n" + "".join(f"line {n}\n" for n in range(100))
    message = Runner.failure("python -m build", 1, output).message
    assert message.splitlines()[:3] == ["command failed with exit status 1: python -m build", "  what failed:",
                                        "  | ERROR: No matching distribution found for x==1"]
    assert message.splitlines()[-1] == "  | line 99" and "line 80" not in message


def test_a_release_whose_build_lacks_a_dependency_says_which(example_project, hoist_home: Path) -> None:
    """The cause (pip's error) is in the error, though pip's output was not shown;
    nothing changed."""
    project = example_project()
    path = project / "pyproject.toml"
    text = path.read_text()
    requires = next(line for line in text.splitlines() if line.startswith("requires = "))
    # No index is read (PIP_NO_INDEX): the missing distribution must be the only one pip
    # looks for, and setuptools-scm stays listed (a marker that is false) for hoist's check.
    path.write_text(text.replace(requires, 'requires = ["no-such-dist-for-hoist==1", '
                                           '"setuptools-scm>=8; python_version < \'3\'"]', 1))
    git(project, "commit", "--quiet", "-am", "Build with a distribution that does not exist")
    before = repository_state(project)
    failed = run_hoist(project, "release", env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": "/dev/null"})
    assert failed.returncode != 0
    # Found before anything is tagged: hoist installs the backend's requirements to ask it the version.
    assert re.search(r"error: pip could not install the build backend's requirements: command failed with exit "
                     r"status 1: .* -m pip wheel .*no-such-dist-for-hoist==1.*\n  what failed:\n"
                     r"  \| ERROR: Could not find a version that satisfies the requirement no-such-dist-for-hoist==1 "
                     r"\(from versions: none\)\n  \| ERROR: No matching distribution found for no-such-dist-for-hoist==1\n",
                     failed.output), failed.output
    assert "hint: the lines quoted above are the command's own output (-v shows all of it)" in failed.output
    assert repository_state(project) == before



def test_a_wrong_built_version_names_the_committed_files_that_may_set_it() -> None:
    tracked = ["PKG-INFO", "src/app/_version.py", "src/app/cli.py", "debian/VERSION", "README.rst"]
    with pytest.raises(BuildError) as info:
        check_built("app-1.0.tar.gz", "app", "26.12.0", tracked)
    assert info.value.message == "built app-1.0.tar.gz has version 1.0, but the release is 26.12.0"
    assert info.value.hint.startswith("committed in the repository, PKG-INFO, src/app/_version.py may set the "
                                      "version: remove it from git")
