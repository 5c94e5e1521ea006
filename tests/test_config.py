"""``hoist.config.load``: pyproject.toml files written into a temp dir, table-driven.

Assertions are on what a user reads: the error message, its hint and the
process exit code.
"""

from __future__ import annotations

import re
import textwrap
import tomllib
from pathlib import Path

import pytest

from hoist import config
from hoist import pyproject as hoist_pyproject
from hoist.errors import ConfigError
from hoist.targets import AptSettings as AptTarget
from hoist.targets import GitSettings as GitTarget
from hoist.targets import PyPISettings as PyPITarget
from hoist.targets import settings_tables


def load(root: Path) -> config.Config:
    """The configuration of the project at *root*, with every registered target kind's table."""
    return config.load(root, settings_tables())

SCM_PROJECT = """\
[build-system]
requires = ["setuptools>=64", "setuptools-scm>=8"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
dynamic = ["version"]
"""

APT_TABLE = """\
[tool.hoist.apt]
aptly_config = "/srv/aptly.conf"
repo = "main"
endpoint = "filesystem:public:."
url = "https://apt.example.org/"
gpg_key = "0xDEADBEEF"
public_key = "/srv/key.gpg"
"""


def write(root: Path, text: str) -> Path:
    path = root / "pyproject.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(root: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(root)
    return info.value


@pytest.fixture(autouse=True)
def fixed_codename(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default distribution is the host's codename; fix it so tests do not depend on the host."""
    monkeypatch.setattr(config, "host_codename", lambda: "trixie")


# ------------------------------------------------------------------ valid files


def test_minimal_project_defaults(tmp_path: Path) -> None:
    """A setuptools-scm project with no [tool.hoist] releases to local targets with the defaults."""
    write(tmp_path, SCM_PROJECT.format(name="My_App.two") + '\n[project.scripts]\nmy-app = "my_app:main"\n')
    cfg = load(tmp_path)
    assert cfg.root == tmp_path
    assert cfg.name == "My_App.two"
    assert cfg.package == "my-app-two"
    assert cfg.scripts == ("my-app",)
    assert cfg.version_backend == "setuptools-scm"
    assert cfg.branch == "master"
    assert cfg.tag_prefix == "v"
    assert cfg.install_root == "/opt/my-app-two"
    assert cfg.distribution == "trixie"
    assert cfg.component == "main"
    assert cfg.push_retries == 3
    assert cfg.lock is None
    assert (cfg.git, cfg.pypi, cfg.apt) == (None, None, None)
    assert cfg.local is True
    assert cfg.has_hoist_table is False


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("My_App.two", "my-app-two"),
        ("my-app", "my-app"),
        ("My__App--Two", "my-app-two"),
        ("ALLCAPS", "allcaps"),
        ("app.v2", "app-v2"),
    ],
)
def test_package_name_normalised(tmp_path: Path, name: str, package: str) -> None:
    """The Debian package name is the project name normalised as PEP 503 does."""
    write(tmp_path, SCM_PROJECT.format(name=name))
    cfg = load(tmp_path)
    assert cfg.package == package
    assert cfg.install_root == f"/opt/{package}"


def test_values_from_hoist_table(tmp_path: Path) -> None:
    """Every top-level key of [tool.hoist] overrides its default."""
    write(
        tmp_path,
        SCM_PROJECT.format(name="my-app")
        + """
[tool.hoist]
branch = "main"
tag_prefix = "release-"
install_root = "/opt/acme/app"
lock = "requirements.lock"
package = "acme-app"
distribution = "bookworm"
component = "contrib"
push_retries = 5
""",
    )
    cfg = load(tmp_path)
    assert (cfg.branch, cfg.tag_prefix) == ("main", "release-")
    assert (cfg.install_root, cfg.lock) == ("/opt/acme/app", "requirements.lock")
    assert (cfg.package, cfg.distribution, cfg.component, cfg.push_retries) == ("acme-app", "bookworm", "contrib", 5)
    assert cfg.has_hoist_table is True
    assert cfg.local is True


def test_empty_tag_prefix_allowed(tmp_path: Path) -> None:
    """``tag_prefix = ""`` tags releases as bare ``YY.MM.NN``."""
    write(tmp_path, SCM_PROJECT.format(name="my-app") + '\n[tool.hoist]\ntag_prefix = ""\n')
    assert load(tmp_path).tag_prefix == ""


def test_pypi_table_implies_git_origin(tmp_path: Path) -> None:
    """Configuring an index also pushes the release tag to the remote ``origin``."""
    write(
        tmp_path,
        SCM_PROJECT.format(name="my-app")
        + """
[tool.hoist.pypi]
upload_url = "https://pypi.example.org/"
index_url = "https://pypi.example.org/simple/"
""",
    )
    cfg = load(tmp_path)
    assert cfg.pypi == PyPITarget("https://pypi.example.org/", "https://pypi.example.org/simple/")
    assert cfg.git == GitTarget(remote="origin")
    assert cfg.apt is None
    assert cfg.local is False


def test_apt_table_and_explicit_git_remote(tmp_path: Path) -> None:
    """An explicit [tool.hoist.git] remote is kept; [tool.hoist.apt] is read whole."""
    write(tmp_path, SCM_PROJECT.format(name="my-app") + '\n[tool.hoist.git]\nremote = "upstream"\n\n' + APT_TABLE)
    cfg = load(tmp_path)
    assert cfg.git == GitTarget(remote="upstream")
    assert cfg.apt == AptTarget(
        aptly_config="/srv/aptly.conf",
        repo="main",
        endpoint="filesystem:public:.",
        url="https://apt.example.org/",
        gpg_key="0xDEADBEEF",
        public_key="/srv/key.gpg",
        gnupghome="",
    )


# -------------------------------------------------------------- version backend


@pytest.mark.parametrize(
    ("pyproject", "backend"),
    [
        pytest.param(SCM_PROJECT.format(name="a-b"), "setuptools-scm", id="setuptools-scm"),
        pytest.param(
            """\
            [build-system]
            requires = ["setuptools>=45", "setuptools_scm[toml]>=6.2"]
            [project]
            name = "a-b"
            dynamic = ["version"]
            """,
            "setuptools-scm",
            id="setuptools_scm-underscore",
        ),
        pytest.param(
            """\
            [build-system]
            requires = ["hatchling", "hatch-vcs"]
            build-backend = "hatchling.build"
            [project]
            name = "a-b"
            dynamic = ["version"]
            """,
            "hatch-vcs",
            id="hatch-vcs",
        ),
        pytest.param(
            """\
            [build-system]
            requires = ["pdm-backend"]
            build-backend = "pdm.backend"
            [project]
            name = "a-b"
            dynamic = ["version"]
            [tool.pdm.version]
            source = "scm"
            """,
            "pdm-backend",
            id="pdm-backend-scm",
        ),
        pytest.param(
            """\
            [build-system]
            requires = ["pdm-backend"]
            [project]
            name = "a-b"
            dynamic = ["version"]
            [tool.pdm.version]
            source = "file"
            path = "src/a_b/__init__.py"
            """,
            None,
            id="pdm-backend-file-source",
        ),
        pytest.param(
            """\
            [build-system]
            requires = ["setuptools>=64", "setuptools-scm>=8"]
            [project]
            name = "a-b"
            version = "1.0"
            """,
            None,
            id="static-version",
        ),
        pytest.param(
            """\
            [build-system]
            requires = ["setuptools>=64"]
            [project]
            name = "a-b"
            dynamic = ["version"]
            """,
            None,
            id="dynamic-without-tag-plugin",
        ),
        pytest.param(
            """\
            [project]
            name = "a-b"
            dynamic = ["version"]
            """,
            None,
            id="no-build-system",
        ),
    ],
)
def test_version_backend(tmp_path: Path, pyproject: str, backend: str | None) -> None:
    """hoist knows whether the version comes from git tags, and through which plugin."""
    write(tmp_path, pyproject)
    assert load(tmp_path).version_backend == backend


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param('[project]\nname = "a-b"\n\n[tool.hoist\nbranch = "x"\n', 4, id="unclosed-table-header"),
        pytest.param('[project]\nname = "a-b"\nname = "c"\n', 3, id="duplicate-key"),
        pytest.param('[project]\nname = "a-b\n', 2, id="unterminated-string"),
        pytest.param('[project]\nname = "a-b"\n\n[tool.hoist]\npush_retries = \n', 5, id="missing-value"),
    ],
)
def test_malformed_toml(tmp_path: Path, text: str, line: int) -> None:
    """A TOML syntax error names the file and the line to fix, exit code 2."""
    path = write(tmp_path, text)
    error = load_error(tmp_path)
    assert error.message.startswith(f"malformed {path}: ")
    assert f"line {line}," in error.message
    assert error.hint == "fix the TOML syntax at that line, then run again"
    assert error.exit_code == 9


def test_missing_pyproject(tmp_path: Path) -> None:
    """A directory without pyproject.toml is refused with the path it looked for."""
    error = load_error(tmp_path)
    assert error.message == f"{tmp_path / 'pyproject.toml'} not found"
    assert "PEP 621" in error.hint
    assert error.exit_code == 9


def test_missing_project_name(tmp_path: Path) -> None:
    """Without ``[project] name`` there is nothing to release."""
    path = write(tmp_path, '[build-system]\nrequires = ["setuptools"]\n')
    error = load_error(tmp_path)
    assert error.message == f"{path} has no [project] name"
    assert error.exit_code == 9


def test_hoist_not_a_table(tmp_path: Path) -> None:
    """``tool.hoist = 3`` is refused: it must be a table."""
    path = write(tmp_path, '[project]\nname = "a-b"\n\n[tool]\nhoist = 3\n')
    error = load_error(tmp_path)
    assert error.message == f"{path}: tool.hoist must be a table"
    assert error.hint == "write it as [tool.hoist]"


@pytest.mark.parametrize(
    ("hoist_toml", "expected"),
    [
        pytest.param(
            '[tool.hoist]\ntag_prefx = "v"\n',
            "unknown key tool.hoist.tag_prefx in {path}: did you mean 'tag_prefix'?",
            id="tag_prefx",
        ),
        pytest.param(
            '[tool.hoist]\nbrnach = "main"\n',
            "unknown key tool.hoist.brnach in {path}: did you mean 'branch'?",
            id="brnach",
        ),
        pytest.param(
            '[tool.hoist]\nzzz = 1\n',
            "unknown key tool.hoist.zzz in {path}: known keys: apt, branch, channels, component, compression, distribution, "
            "git, health_check, health_timeout, install_root, lock, metrics_directory, package, push_retries, pypi, "
            "tag_prefix, valid_days",
            id="no-close-match-lists-keys",
        ),
        pytest.param(
            APT_TABLE + 'gnupg_home = "/srv/gnupg"\n',
            "unknown key tool.hoist.apt.gnupg_home in {path}: did you mean 'gnupghome'?",
            id="apt-gnupg_home",
        ),
        pytest.param(
            APT_TABLE + 'publickey = "/srv/k.gpg"\n',
            "unknown key tool.hoist.apt.publickey in {path}: did you mean 'public_key'?",
            id="apt-publickey",
        ),
        pytest.param(
            '[tool.hoist.git]\nremot = "origin"\n',
            "unknown key tool.hoist.git.remot in {path}: did you mean 'remote'?",
            id="git-remot",
        ),
    ],
)
def test_unknown_key_did_you_mean(tmp_path: Path, hoist_toml: str, expected: str) -> None:
    """A misspelt key is named, with the nearest known key (or the list of keys) to use instead."""
    path = write(tmp_path, SCM_PROJECT.format(name="a-b") + "\n" + hoist_toml)
    error = load_error(tmp_path)
    assert error.message == "invalid configuration:\n  " + expected.format(path=path)
    assert error.hint == "fix the keys named above in [tool.hoist]"
    assert error.exit_code == 9


@pytest.mark.parametrize(
    ("hoist_toml", "expected"),
    [
        pytest.param("push_retries = \"3\"", r"tool\.hoist\.push_retries must be an integer, not str", id="retries-str"),
        pytest.param("push_retries = true", r"tool\.hoist\.push_retries must be an integer, not bool", id="retries-bool"),
        pytest.param("branch = 1", r"tool\.hoist\.branch must be a string, not int", id="branch-int"),
        pytest.param("pypi = \"https://x\"", r"tool\.hoist\.pypi must be a table, not str", id="pypi-not-table"),
    ],
)
def test_wrong_type(tmp_path: Path, hoist_toml: str, expected: str) -> None:
    """A value of the wrong type is named with the type expected and the type found."""
    write(tmp_path, SCM_PROJECT.format(name="a-b") + "\n[tool.hoist]\n" + hoist_toml + "\n")
    error = load_error(tmp_path)
    assert re.fullmatch(r"invalid configuration:\n  " + expected, error.message)
    assert error.exit_code == 9


def test_missing_required_pypi_key(tmp_path: Path) -> None:
    """[tool.hoist.pypi] without index_url says which key to add."""
    write(tmp_path, SCM_PROJECT.format(name="a-b") + '\n[tool.hoist.pypi]\nupload_url = "https://pypi.example.org/"\n')
    error = load_error(tmp_path)
    assert error.message == "invalid configuration:\n  tool.hoist.pypi needs the key 'index_url'"
    assert error.exit_code == 9


def test_non_string_target_value(tmp_path: Path) -> None:
    """A target's value must be a string."""
    write(tmp_path, SCM_PROJECT.format(name="a-b") + '\n[tool.hoist.git]\nremote = 1\n')
    error = load_error(tmp_path)
    assert error.message == "invalid configuration:\n  tool.hoist.git.remote must be a string, not int"


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    """One run lists every problem, one per line, so the user fixes them all in one go."""
    path = write(
        tmp_path,
        SCM_PROJECT.format(name="a-b")
        + """
[tool.hoist]
tag_prefx = "v"
push_retries = "3"

[tool.hoist.pypi]
upload_url = "https://pypi.example.org/"

[tool.hoist.apt]
aptly_config = "/srv/aptly.conf"
repoo = "main"
endpoint = "filesystem:public:."
url = "https://apt.example.org/"
gpg_key = "0xDEADBEEF"
public_key = "/srv/key.gpg"
""",
    )
    error = load_error(tmp_path)
    lines = error.message.split("\n")
    assert lines[0] == "invalid configuration:"
    problems = [line.removeprefix("  ") for line in lines[1:]]
    assert all(line.startswith("  ") for line in lines[1:])
    assert problems[0] == f"unknown key tool.hoist.tag_prefx in {path}: did you mean 'tag_prefix'?"
    assert re.fullmatch(r"tool\.hoist\.push_retries must be an integer, not str", problems[1])
    assert set(problems[2:]) == {
        "tool.hoist.pypi needs the key 'index_url'",
        f"unknown key tool.hoist.apt.repoo in {path}: did you mean 'repo'?",
        "tool.hoist.apt needs the key 'repo'",
    }
    assert len(problems) == 5
    assert error.exit_code == 9


@pytest.mark.parametrize("package", ["Acme_App", "a", "-app", "app_name"])
def test_invalid_debian_package_name(tmp_path: Path, package: str) -> None:
    """An explicit package name that Debian Policy §5.6.1 forbids is refused."""
    write(tmp_path, SCM_PROJECT.format(name="a-b") + f'\n[tool.hoist]\npackage = "{package}"\n')
    error = load_error(tmp_path)
    assert error.message == (
        "invalid configuration:\n  "
        f"tool.hoist.package {package!r} is not a valid Debian package name (Debian Policy §5.6.1): "
        "use lower case letters, digits, '+', '-' and '.'"
    )
    assert error.exit_code == 9


@pytest.mark.parametrize("prefix", ["v 1", "-", "rel/", "a..b", "v.", ".v", "v~1", "v:"])
def test_a_tag_prefix_that_git_or_the_backend_refuses(tmp_path: Path, prefix: str) -> None:
    """A prefix that is no ref (git-check-ref-format(1)) or that a version backend cannot read back."""
    write(tmp_path, SCM_PROJECT.format(name="a-b") + f'\n[tool.hoist]\ntag_prefix = "{prefix}"\n')
    error = load_error(tmp_path)
    assert f"tool.hoist.tag_prefix {prefix!r} cannot start a release tag" in error.message
    assert error.exit_code == 9


@pytest.mark.parametrize("root", ["/.", "/usr", "/etc", "/opt/../etc", "/opt", "opt/app", "/opt/./app", "/srv/app"])
def test_an_install_root_outside_opt(tmp_path: Path, root: str) -> None:
    """The virtualenv goes in a directory of its own under /opt (Debian Policy §9.1.1, FHS §3.13)."""
    write(tmp_path, SCM_PROJECT.format(name="a-b") + f'\n[tool.hoist]\ninstall_root = "{root}"\n')
    error = load_error(tmp_path)
    assert "tool.hoist.install_root must be a directory of its own under /opt" in error.message
    assert repr(root) in error.message and 'install_root = "/opt/a-b"' in error.message


def test_channels_and_health_check(tmp_path: Path) -> None:
    """A release goes to the first channel; the health check is one command, split as a shell would."""
    write(tmp_path, SCM_PROJECT.format(name="a-b") + '\n[tool.hoist]\nchannels = ["staging", "production"]\n'
          "health_check = \"/opt/a-b/bin/a-b check --url 'http://127.0.0.1:8080/healthz'\"\nvalid_days = 7\n")
    loaded = load(tmp_path)
    assert loaded.channels == ("staging", "production") and loaded.distribution == "staging"
    assert loaded.health_check == ("/opt/a-b/bin/a-b", "check", "--url", "http://127.0.0.1:8080/healthz")
    assert loaded.valid_days == 7


@pytest.mark.parametrize(("hoist_toml", "expected"), [
    ('health_check = "curl -f http://127.0.0.1/ | grep ok"', "tool.hoist.health_check 'curl -f http://127.0.0.1/ "
     "| grep ok' is not a command: it is run without a shell"),
    ('health_check = "a-b check && true"', "is not a command: it is run without a shell"),
    ('health_check = "a-b \'check"', "tool.hoist.health_check \"a-b 'check\" is not a command: No closing quotation"),
    ('health_check = "  "', "tool.hoist.health_check is empty"),
    ("channels = []", "tool.hoist.channels must be a non-empty list of names"),
    ('channels = ["staging", 1]', "tool.hoist.channels must be a list of strings, not a list of int, str"),
    ('channels = ["staging", "pro/duction"]', "tool.hoist.channels: 'pro/duction' cannot be an apt distribution"),
    ('channels = ["staging", "staging"]', "tool.hoist.channels names a channel twice"),
    ('channels = ["staging"]\ndistribution = "bookworm"', "tool.hoist.distribution is 'bookworm' but the first "
     "channel is 'staging'"),
    ('channels = "staging"', "tool.hoist.channels must be a list of strings, not str"),
    ("valid_days = 0", "tool.hoist.valid_days must be 1 to 10000 (days), not 0"),
    ("valid_days = 9223372036854775807", "tool.hoist.valid_days must be 1 to 10000 (days)"),
])
def test_bad_channels_or_health_check(tmp_path: Path, hoist_toml: str, expected: str) -> None:
    write(tmp_path, SCM_PROJECT.format(name="a-b") + f"\n[tool.hoist]\n{hoist_toml}\n")
    error = load_error(tmp_path)
    assert expected in error.message and error.exit_code == 9


@pytest.mark.parametrize(("build_system", "tool", "backend"), [
    ('requires = ["vcs-versioning"]\nbuild-backend = "setuptools.build_meta"', "", "vcs-versioning"),
    ('requires = ["flit-scm"]\nbuild-backend = "flit_scm:buildapi"', "", "flit-scm"),
    ('requires = ["hatchling", "hatch-vcs"]\nbuild-backend = "hatchling.build"', '[tool.hatch.version]\nsource = "vcs"',
     "hatch-vcs"),
    ('requires = ["pdm-backend"]\nbuild-backend = "pdm.backend"', '[tool.pdm.version]\nsource = "scm"', "pdm-backend"),
    ('requires = ["poetry-core", "poetry-dynamic-versioning"]\nbuild-backend = "poetry_dynamic_versioning.backend"',
     "", "poetry-dynamic-versioning"),
])
def test_each_backend_that_reads_tags(tmp_path: Path, build_system: str, tool: str, backend: str) -> None:
    write(tmp_path, f'[build-system]\n{build_system}\n\n[project]\nname = "a-b"\ndynamic = ["version"]\n\n{tool}\n')
    assert load(tmp_path).version_backend == backend


@pytest.mark.parametrize(("pyproject", "hint"), [
    ('[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n[project]\nname = "a"\n'
     'version = "1.2"\n',
     'hatchling builds it: remove the static version = "1.2" from [project] and add "version" to [project] dynamic; '
     'add "hatch-vcs" to [build-system] requires and set [tool.hatch.version] source = "vcs"'),
    ('[build-system]\nrequires = ["pdm-backend"]\nbuild-backend = "pdm.backend"\n[project]\nname = "a"\n'
     'dynamic = ["version"]\n',
     'pdm-backend builds it: set [tool.pdm.version] source = "scm"'),
    ('[build-system]\nrequires = ["flit_core"]\nbuild-backend = "flit_core.buildapi"\n[project]\nname = "a"\n'
     'version = "0.1"\n',
     'flit-core builds it: remove the static version = "0.1" from [project] and add "version" to [project] dynamic; '
     'use flit-scm: requires = ["flit-scm"] and build-backend = "flit_scm:buildapi"'),
    ('[project]\nname = "a"\nversion = "3"\n',
     'setuptools builds it: remove the static version = "3" from [project] and add "version" to [project] dynamic; '
     'add "setuptools-scm>=8" to [build-system] requires and an empty [tool.setuptools_scm] table'),
])
def test_a_static_version_names_the_backend_and_the_setting(pyproject: str, hint: str) -> None:
    assert hoist_pyproject.tag_version_hint(tomllib.loads(pyproject)) == hint
