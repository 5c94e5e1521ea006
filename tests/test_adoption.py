"""Adopting a project with no hand edit: its own tag pattern, whatever build files it carries."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import CACHE, EXAMPLE, git, init_repository, repository_state, run_hoist
from debroot import debian_root, install_from_apt_repo, serve_directory
from hoist.commands.init import tag_prefix_of, tag_prefix_of_settings

C_PROJECT = {
    "pyproject.toml": """\
        [build-system]
        requires = ["setuptools>=64", "setuptools-scm>=8"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "zsum"
        dynamic = ["version"]
        description = "Checksums through zlib, in C."
        readme = "README.rst"
        requires-python = ">=3.11"

        [project.scripts]
        zsum = "zsum:main"

        [tool.setuptools_scm]
        """,
    "README.rst": "zsum\n====\n\nChecksums through zlib, in C.\n",
    # The extension is declared in setup.py, as projects with C code still do.
    "setup.py": """\
        from setuptools import Extension, setup

        setup(ext_modules=[Extension("zsum._zlib", ["src/zlib.c"], libraries=["z"])])
        """,
    "src/zsum/__init__.py": """\
        import sys

        from zsum._zlib import adler32


        def main() -> None:
            print(adler32(sys.argv[1].encode()))
        """,
    "src/zlib.c": """\
        #define PY_SSIZE_T_CLEAN
        #include <Python.h>
        #include <zlib.h>

        static PyObject *adler(PyObject *self, PyObject *args) {
            Py_buffer data;
            if (!PyArg_ParseTuple(args, "y*", &data)) return NULL;
            uLong sum = adler32(adler32(0L, Z_NULL, 0), data.buf, (uInt)data.len);
            PyBuffer_Release(&data);
            return PyLong_FromUnsignedLong(sum);
        }

        static PyMethodDef methods[] = {{"adler32", adler, METH_VARARGS, "zlib's adler32"}, {NULL, NULL, 0, NULL}};
        static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_zlib", NULL, -1, methods};
        PyMODINIT_FUNC PyInit__zlib(void) { return PyModule_Create(&module); }
        """,
}


@pytest.mark.parametrize(("tags", "prefix"), [
    (["zsum-v1.18.1", "zsum-v1.18.0", "v0.1"], "zsum-v"),
    (["1.2.3", "1.2.2"], ""),
    (["release-2024.1", "v1"], "release-"),  # a tie: the newest tag's
    (["latest", "nightly", "v.1"], None),
    ([], None),
])
def test_the_tag_prefix_comes_from_the_projects_tags(tags: list[str], prefix: str | None) -> None:
    assert tag_prefix_of(tags) == prefix


@pytest.mark.slow
def test_a_c_extension_with_setup_py(tmp_path: Path, hoist_home: Path) -> None:
    """debian/rules from hoist init builds it as a venv package: debhelper's own build
    systems do nothing (a setup.py made dh_auto_configure stop with "This feature was
    removed in compat 12"), and the .deb depends on the library the extension links against."""
    project = tmp_path / "zsum"
    for name, text in C_PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(textwrap.dedent(text))
    init_repository(project)
    for old in ("zsum-v0.9.0", "zsum-v1.0.0"):  # the project's own tag pattern
        git(project, "tag", "-a", old, "-m", old)
    initialised = run_hoist(project, "init")
    assert initialised.returncode == 0 and 'tag_prefix = "zsum-v", as the project\'s tags have it' in initialised.output
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "Package with hoist")
    done = run_hoist(project, "release", "--yes")
    assert done.returncode == 0, done.output
    manifest = json.loads((project / "dist" / "release.json").read_text())
    assert manifest["tag"] == f"zsum-v{manifest['version']}"  # setuptools-scm read the version back from it
    deb = project / next(a["path"] for a in manifest["artifacts"] if a["kind"] == "deb")
    depends = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True,
                             check=True).stdout
    assert "zlib1g" in depends and "python3.11" in depends, depends
    unpacked = tmp_path / "unpacked"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    extension = list((unpacked / "opt" / "zsum").rglob("_zlib*.so"))
    assert len(extension) == 1, extension
    python = unpacked / "opt" / "zsum" / "bin" / "python"
    checksum = subprocess.run([str(python), "-c", "import zsum._zlib as z; print(z.adler32(b'hoist'))"],
                              capture_output=True, text=True, check=True).stdout
    assert checksum.strip() == "106824232"  # zlib.adler32(b"hoist")


FLAKE8_PROJECT = """\
[build-system]
requires = ["setuptools>=64", "setuptools-scm>=8"]
build-backend = "setuptools.build_meta"

[project]
name = "flake8"
dynamic = ["version"]
description = "The company's own flake8, with its plugins."

[project.scripts]
flake8 = "company_flake8:main"
company-flake8-report = "company_flake8:report"

[tool.setuptools_scm]
"""


def debian_has(name: str) -> bool:
    """Whether this machine's apt knows Debian's package *name* (its lists are the test's archive)."""
    return subprocess.run(["apt-cache", "show", "--no-all-versions", name], capture_output=True).returncode == 0


def test_init_names_the_package_and_its_links_clear_of_debians(tmp_path: Path, hoist_home: Path) -> None:
    """flake8 is Debian's package and /usr/bin/flake8 its file: init picks another name, says
    why, and links only the script Debian does not have."""
    assert debian_has("flake8"), "apt's lists on this machine have Debian's flake8 (ci/bootstrap updates them)"
    project = tmp_path / "flake8"
    project.mkdir()
    (project / "pyproject.toml").write_text(FLAKE8_PROJECT)
    init_repository(project)
    done = run_hoist(project, "init")
    assert done.returncode == 0, done.output
    assert "note: the package is named flake8-app: the package name flake8 is Debian's (flake8)" in done.output
    assert "note: not linked: the file /usr/bin/flake8 is Debian's (flake8); the program stays at " \
           "/opt/flake8-app/bin/flake8" in done.output
    assert (project / "debian" / "flake8-app.links").read_text() == \
        "${env:HOIST_INSTALL_ROOT}/bin/company-flake8-report usr/bin/company-flake8-report\n"
    assert 'package = "flake8-app"' in (project / "pyproject.toml").read_text()
    assert "Package: flake8-app" in (project / "debian" / "control").read_text()


def test_a_release_refuses_a_name_or_link_of_debians_before_anything(example_project, hoist_home: Path) -> None:
    """A project adopted before this check: its package name, or a link over a file of
    Debian's, is refused before anything is tagged."""
    project = example_project()
    links = project / "debian" / "hoist-hello.links"
    links.write_text(links.read_text() + "${env:HOIST_INSTALL_ROOT}/bin/hoist-hello usr/bin/git\n")
    git(project, "commit", "--quiet", "-am", "Link over git")
    before = repository_state(project)
    refused = run_hoist(project, "release", "--yes")
    assert refused.returncode == 9, refused.output
    assert "error: the package would clash with Debian's:\n  debian/hoist-hello.links links the file /usr/bin/git " \
           "is Debian's (git): dpkg would refuse to install both" in refused.output
    assert "hint: remove those lines from debian/hoist-hello.links" in refused.output
    assert repository_state(project) == before and not (hoist_home / "hoist-hello").exists()

    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text().replace(
        "[tool.hoist]\n", '[tool.hoist]\npackage = "flake8"\n', 1))
    git(project, "commit", "--quiet", "-am", "Name it like Debian's flake8")
    renamed = run_hoist(project, "plan")
    assert renamed.returncode == 9
    assert "the package name flake8 is Debian's (flake8): apt would replace one with the other on servers" \
           in renamed.output
    assert "hint: rename the package: hoist init --force --package flake8-app rewrites debian/ for it" in renamed.output


#: Each version backend that reads git tags, as a small project uses it:
#: ``[build-system]`` (requirements pinned) and the backend's own table.
BACKENDS = {
    "setuptools-scm": ('requires = ["setuptools==84.2.1", "setuptools-scm==10.3.4"]\n'
                       'build-backend = "setuptools.build_meta"', "[tool.setuptools_scm]\n"),
    "hatch-vcs": ('requires = ["hatchling==1.33.0", "hatch-vcs==0.5.0"]\nbuild-backend = "hatchling.build"',
                  '[tool.hatch.version]\nsource = "vcs"\n'),
    "pdm-backend": ('requires = ["pdm-backend==2.5.0"]\nbuild-backend = "pdm.backend"',
                    '[tool.pdm.version]\nsource = "scm"\n'),
    "flit-scm": ('requires = ["flit-scm==1.7.0"]\nbuild-backend = "flit_scm:buildapi"',
                 '[tool.setuptools_scm]\nwrite_to = "src/tally/_version.py"\n'),
    "versioningit": ('requires = ["setuptools==84.2.1", "versioningit==3.3.0"]\n'
                     'build-backend = "setuptools.build_meta"', "[tool.versioningit]\n"),
    # dunamai reads the tags for these two
    "uv-dynamic-versioning": ('requires = ["hatchling==1.33.0", "uv-dynamic-versioning==0.14.1"]\n'
                              'build-backend = "hatchling.build"',
                              '[tool.hatch.version]\nsource = "uv-dynamic-versioning"\n'),
    "poetry-dynamic-versioning": ('requires = ["poetry-core==2.5.0", "poetry-dynamic-versioning==1.10.1"]\n'
                                  'build-backend = "poetry_dynamic_versioning.backend"',
                                  '[tool.poetry]\nversion = "0.0.0"\n\n[tool.poetry-dynamic-versioning]\n'
                                  'enable = true\n'),
}


def tally_project(root: Path, backend: str, extra: str = "", *, new_repository: bool = True) -> Path:
    """A small application whose version *backend* takes from git tags, adopted with hoist init;
    in a git repository of its own, or committed to the one *root* is in."""
    build_system, table = BACKENDS[backend]
    (root / "src" / "tally").mkdir(parents=True)
    (root / "src" / "tally" / "__init__.py").write_text('"""Counts."""\n\n\ndef main() -> None:\n    print("tally")\n')
    (root / "pyproject.toml").write_text(
        f'[build-system]\n{build_system}\n\n[project]\nname = "tally"\ndynamic = ["version"]\n'
        f'description = "Counts."\nrequires-python = ">=3.11"\n\n[project.scripts]\ntally = "tally:main"\n\n'
        f"{table}{extra}")
    if new_repository:
        init_repository(root)
    else:
        git(root, "add", "-A")
        git(root, "commit", "--quiet", "-m", "Import the project")
    adopted = run_hoist(root, "init")
    assert adopted.returncode == 0, adopted.output
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "Package with hoist")
    return root


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_each_version_backend_gives_the_planned_tag_its_version(backend: str, tmp_path: Path,
                                                                 hoist_home: Path) -> None:
    """hoist plan asks the backend itself (PEP 517 metadata of HEAD carrying the planned tag)."""
    project = tally_project(tmp_path / "tally", backend)
    planned = run_hoist(project, "plan", "--json")
    assert planned.returncode == 0, planned.output
    plan = json.loads(planned.output[planned.output.index("{"):])  # stdout: the plan; stderr: nothing
    assert plan["tag"] == f"v{plan['version']}"
    assert git(project, "tag", "--list") == ""  # the tag was made in a throwaway clone only


def test_a_tag_pattern_that_disagrees_is_refused_before_anything(tmp_path: Path, hoist_home: Path) -> None:
    """setuptools-scm reads only ``tally-v`` tags: hoist init takes that prefix from its tag_regex;
    with ``v`` (a project adopted before), hoist plan and hoist release refuse before a tag,
    naming the settings that decide the version."""
    project = tally_project(tmp_path / "tally", "setuptools-scm",
                            'tag_regex = "^tally-v(?P<version>.+)$"\n'
                            'git_describe_command = "git describe --dirty --tags --long --match tally-v*"\n')
    pyproject = project / "pyproject.toml"
    assert 'tag_prefix = "tally-v"' in pyproject.read_text()
    planned = run_hoist(project, "plan")
    assert planned.returncode == 0 and "(tag tally-v26." in planned.output, planned.output
    pyproject.write_text(pyproject.read_text().replace('tag_prefix = "tally-v"', 'tag_prefix = "v"'))
    git(project, "commit", "--quiet", "-am", "The tag prefix of an earlier hoist init")
    before = repository_state(project)
    for command in ("plan", "release"):
        refused = run_hoist(project, command, "--yes") if command == "release" else run_hoist(project, command)
        assert refused.returncode == 3, refused.output
        assert "error: setuptools-scm gives the planned tag v26." in refused.output
        assert "hint: what decides it: tool.setuptools_scm.tag_regex, tool.setuptools_scm.git_describe_command, " \
               "tool.hoist.tag_prefix;" in refused.output
    assert repository_state(project) == before and git(project, "tag", "--list") == ""


def test_a_kept_tag_reading_gives_way_to_what_decides_it(tmp_path: Path, hoist_home: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend's reading of a planned tag is kept for the next plan, and asked again
    when anything that decides it changes: here a variable of the environment."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = tally_project(tmp_path / "tally", "setuptools-scm")
    readings = tmp_path / "cache" / "hoist" / "tag-readings"
    for _ in range(2):
        assert run_hoist(project, "plan").returncode == 0
        assert len(list(readings.glob("*.json"))) == 1
    refused = run_hoist(project, "plan", env={"SETUPTOOLS_SCM_PRETEND_VERSION": "1.0"})
    assert refused.returncode == 3, refused.output
    assert "error: setuptools-scm gives the planned tag v26." in refused.output and "the version 1.0," in refused.output
    assert len(list(readings.glob("*.json"))) == 1  # a refusal is not kept


@pytest.mark.slow
def test_a_project_in_a_subdirectory_of_its_repository(tmp_path: Path, hoist_home: Path) -> None:
    """app/ of a repository that holds more: hoist runs from anywhere in it, builds app/ from
    the tag, lists only app/'s commits in the changelog, and rebuilds it byte for byte."""
    repository = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repository / "app", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "_version.py"))
    (repository / "docs").mkdir()
    (repository / "docs" / "index.rst").write_text("The company's services\n")
    pyproject = repository / "app" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.setuptools_scm]\n", '[tool.setuptools_scm]\nroot = ".."\n'))
    init_repository(repository)
    adopted = run_hoist(repository / "app", "init")
    assert adopted.returncode == 0, adopted.output
    assert "note: the project is app/ of its repository" in adopted.output
    assert "sh 'app/ci/test'" in (repository / "app" / "Jenkinsfile").read_text()
    git(repository, "add", "-A")
    git(repository, "commit", "--quiet", "-m", "Package app with hoist")
    (repository / "docs" / "index.rst").write_text("The company's services, documented\n")
    git(repository, "commit", "--quiet", "-am", "Document the services")

    done = run_hoist(repository / "app" / "src", "release", "--yes")  # from inside the project
    assert done.returncode == 0, done.output
    manifest = json.loads((repository / "app" / "dist" / "release.json").read_text())
    assert manifest["tag"] == f"v{manifest['version']}"
    entry = (repository / "app" / "debian" / "changelog").read_text().split("\n\n")[1]
    assert "Package app with hoist" in entry and "Document the services" not in entry, entry
    assert git(repository, "status", "--porcelain") == ""  # the release commit holds app/debian/changelog
    deb = repository / "app" / next(a["path"] for a in manifest["artifacts"] if a["kind"] == "deb")
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "./opt/hoist-hello/bin/hoist-hello" in listing

    rebuilt = run_hoist(repository / "app", "rebuild", manifest["version"])
    assert rebuilt.returncode == 0 and "every artifact is byte-identical" in rebuilt.output, rebuilt.output


def test_a_subdirectory_project_that_does_not_tell_its_backend_is_refused(tmp_path: Path, hoist_home: Path) -> None:
    """hatch-vcs in app/ without raw-options root: hoist plan says what the backend said."""
    repository = tmp_path / "repo"
    (repository / "app").mkdir(parents=True)
    (repository / "README").write_text("Several projects\n")
    init_repository(repository)
    tally_project(repository / "app", "hatch-vcs", new_repository=False)
    refused = run_hoist(repository / "app", "plan")
    assert refused.returncode == 3, refused.output
    assert "error: the build backend failed on the planned tag v26." in refused.output
    told = repository / "app" / "pyproject.toml"
    told.write_text(told.read_text().replace('source = "vcs"\n', 'source = "vcs"\nraw-options = { root = ".." }\n'))
    git(repository, "commit", "--quiet", "-am", "Tell hatch-vcs where the repository is")
    planned = run_hoist(repository / "app", "plan")
    assert planned.returncode == 0, planned.output


def test_init_update_brings_an_adopted_project_to_todays_templates(example_project, hoist_home: Path) -> None:
    """A project adopted with an older hoist, edited since: hoist plan says so; init --update shows the diff,
    merges today's debian/rules with the project's own edit, names the conflict in debian/control, and
    writes only with --apply."""
    project = example_project()
    assert "hoist init --update" not in run_hoist(project, "plan").output  # adopted with this hoist
    record_path = project / ".hoist" / "adopted.json"
    record = json.loads(record_path.read_text())
    # What an older hoist wrote: no override_dh_auto_configure, and Section: python.
    rules, control = record["files"]["debian/rules"], record["files"]["debian/control"]
    old_rules = rules.replace("override_dh_auto_configure:\n", "")
    old_control = control.replace("Section: misc\n", "Section: python\n")
    assert old_rules != rules and old_control != control
    record["files"].update({"debian/rules": old_rules, "debian/control": old_control})
    record_path.write_text(json.dumps(record))
    # The project's own edits since: a line of its own in debian/rules, another Section in debian/control.
    (project / "debian" / "rules").write_text(old_rules.replace("HOIST_COMPRESSION ?= xz\n", "HOIST_COMPRESSION ?= zstd\n"))
    (project / "debian" / "control").write_text(old_control.replace("Section: python\n", "Section: web\n"))
    git(project, "commit", "--quiet", "-am", "Adopted with an older hoist, edited since")

    planned = run_hoist(project, "plan")
    assert "note: this hoist writes debian/control, debian/rules differently than when the project was adopted: " \
           "hoist init --update shows the change" in planned.output, planned.output
    before = repository_state(project)
    shown = run_hoist(project, "init", "--update")
    assert shown.returncode == 1, shown.output  # a conflict is left
    assert "+override_dh_auto_configure:" in shown.output and "would update debian/rules (merge)" in shown.output
    assert "conflict: debian/control: the project and today's hoist changed the same lines" in shown.output
    assert "-Section: web\n+Section: misc" in shown.output
    assert repository_state(project) == before

    applied = run_hoist(project, "init", "--update", "--apply")
    assert applied.returncode == 1 and "updated debian/rules (merge)" in applied.output, applied.output
    rules_now = (project / "debian" / "rules").read_text()
    assert "override_dh_auto_configure:\n" in rules_now and "HOIST_COMPRESSION ?= zstd\n" in rules_now
    assert "Section: web\n" in (project / "debian" / "control").read_text()  # the conflict is left as it was
    assert json.loads(record_path.read_text())["files"]["debian/rules"] == rules  # today's is the new base
    git(project, "commit", "--quiet", "-am", "Update what hoist init wrote")
    again = run_hoist(project, "init", "--update")
    assert again.returncode == 0 and "nothing to update" in again.output, again.output  # Section: web is the project's
    assert "hoist init --update" not in run_hoist(project, "plan").output


def test_init_update_on_a_project_adopted_before_records(example_project, hoist_home: Path) -> None:
    """No .hoist/adopted.json: hoist plan says so, and --apply records today's files as the base."""
    project = example_project()
    git(project, "rm", "--quiet", "-r", ".hoist")
    git(project, "commit", "--quiet", "-m", "Adopted before hoist kept a record")
    assert "note: the files hoist init wrote are not recorded (.hoist/adopted.json)" in run_hoist(project, "plan").output
    shown = run_hoist(project, "init", "--update")
    assert shown.returncode == 0 and "nothing to update" in shown.output, shown.output
    applied = run_hoist(project, "init", "--update", "--apply")
    assert applied.returncode == 0 and "wrote .hoist/adopted.json" in applied.output, applied.output
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "Record what hoist init wrote")
    assert "hoist init --update" not in run_hoist(project, "plan").output


@pytest.mark.slow
def test_the_package_installs_beside_debians_own(tmp_path: Path, hoist_home: Path) -> None:
    """A server with Debian's flake8: the company's flake8 (named flake8-app by hoist init)
    installs beside it, both programs run, and Debian's package is untouched."""
    project = tmp_path / "flake8"
    (project / "src" / "company_flake8").mkdir(parents=True)
    (project / "pyproject.toml").write_text(FLAKE8_PROJECT.replace('description =', 'readme = "README.rst"\ndescription ='))
    (project / "README.rst").write_text("The company's flake8\n====================\n\nWith its plugins.\n")
    (project / "src" / "company_flake8" / "__init__.py").write_text(
        'def main() -> None:\n    print("the company\'s flake8")\n\n\n'
        'def report() -> None:\n    print("the company\'s flake8 report")\n')
    init_repository(project)
    assert run_hoist(project, "init").returncode == 0
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "Package with hoist")
    done = run_hoist(project, "release", "--yes")
    assert done.returncode == 0, done.output
    manifest = json.loads((project / "dist" / "release.json").read_text())
    apt = manifest["targets"]["apt"]
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    with debian_root(CACHE, tmp_path / "debroot") as root, \
            serve_directory(Path(apt["url"].removeprefix("file://"))) as url:
        root.run(["apt-get", "update"], env=env)
        root.run(["apt-get", "install", "-y", "--no-install-recommends", "flake8"], env=env)
        debians = root.run(["dpkg-query", "-W", "-f=${Version}", "flake8"]).stdout
        debian_says = root.run(["/usr/bin/flake8", "--version"]).stdout
        install_from_apt_repo(root, url, apt["distribution"], apt["component"], Path(apt["public_key"]),
                              "flake8-app")
        assert root.run(["dpkg-query", "-W", "-f=${Version}", "flake8"]).stdout == debians
        assert root.run(["dpkg-query", "-S", "/usr/bin/flake8"]).stdout.strip() == "flake8: /usr/bin/flake8"
        assert root.run(["dpkg", "--verify", "flake8"]).stdout == ""  # no file of Debian's package changed
        assert root.run(["/usr/bin/flake8", "--version"]).stdout == debian_says
        assert root.run(["/opt/flake8-app/bin/flake8"]).stdout == "the company's flake8\n"
        assert root.run(["company-flake8-report"]).stdout == "the company's flake8 report\n"


@pytest.mark.parametrize(("settings", "prefix"), [
    ({"setuptools_scm": {"tag_regex": "^tally-v(?P<version>.+)$"}}, "tally-v"),
    ({"setuptools_scm": {"tag_regex": r"^my\-tool\.v(?P<version>[0-9.]+)$"}}, "my-tool.v"),
    ({"hatch": {"version": {"tag-pattern": "^release-(?P<version>.*)$"}}}, "release-"),
    ({"hatch": {"version": {"raw-options": {"tag_regex": "app-(?P<version>.*)"}}}}, "app-"),
    ({"pdm": {"version": {"tag_regex": "^(?:[\\w-]+-)?(?P<version>[vV]?\\d+)$"}}}, None),  # not a literal prefix
    ({"setuptools_scm": {"tag_regex": "^(?P<version>.*)$"}}, None),
    ({}, None),
    # The backend's git describe --match names the family, before any tag pattern.
    ({"setuptools_scm": {"git_describe_command": "git describe --dirty --tags --long --match 'tally-v*'",
                         "tag_regex": "^(?:[\\w-]+-)?v(?P<version>.+)$"}}, "tally-v"),
    ({"setuptools_scm": {"git_describe_command": ["git", "describe", "--tags", "--match=core-v[0-9]*"]}}, "core-v"),
    ({"hatch": {"version": {"raw-options": {"git_describe_command": "git describe --tags --match app-*"}}}}, "app-"),
    ({"setuptools_scm": {"git_describe_command": "git describe --tags --match '*'"}}, None),
])
def test_the_tag_prefix_comes_from_the_backends_tag_pattern(settings: dict, prefix: str | None) -> None:
    assert tag_prefix_of_settings({"tool": settings}) == prefix


def test_init_takes_the_family_the_backend_describes(example_project) -> None:
    """A repository of two projects: the newest tag is the other's, the backend's
    ``git describe --match`` names this one's family, and init takes that."""
    project = example_project(init=False)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        "[tool.setuptools_scm]\n", "[tool.setuptools_scm]\ngit_describe_command = \"git describe --dirty --tags "
                                   "--long --match 'hello-v*'\"\n", 1))
    git(project, "commit", "--quiet", "-am", "Describe this project's tags only")
    git(project, "tag", "-a", "hello-v1.18.0", "-m", "hello 1.18.0")
    git(project, "commit", "--quiet", "--allow-empty", "-m", "The other project's release")
    for other in ("other-v1.31.0", "other-v1.32.0"):
        git(project, "tag", "-a", other, "-m", other)
    initialised = run_hoist(project, "init")
    assert initialised.returncode == 0, initialised.output
    assert 'tag_prefix = "hello-v", as the project\'s version backend reads tags' in initialised.output
    assert 'tag_prefix = "hello-v"' in pyproject.read_text()
