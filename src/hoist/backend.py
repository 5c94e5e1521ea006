"""Ask the project's build backend which version a release tag gives.

``hoist plan`` and ``hoist release`` check, before anything is tagged, that
the backend turns the planned tag into exactly the planned version: a
``tag_regex`` that wants another prefix, a committed ``PKG-INFO`` or a version
file would otherwise be found only once the release is tagged and built.

The check runs PEP 517's ``prepare_metadata_for_build_wheel`` (through
pypa/build, falling back to a wheel build where a backend lacks the hook) in a
throwaway clone of HEAD that carries the planned tag.  The backend's
requirements (``[build-system] requires``, then what the backend asks for)
are installed once into a virtualenv cached under
``$XDG_CACHE_HOME/hoist/backends/``, keyed by those requirements and the
Python version, so a warm check takes about a second.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import venv
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import PathDistribution
from pathlib import Path, PurePosixPath
from typing import Any

from build import BuildBackendException, ProjectBuilder
from packaging.version import InvalidVersion, Version

from .config import build_requires, cache_home, tool_setting
from .errors import CommandError, HoistError, PreflightError
from .flock import file_lock
from .runner import Runner

#: Settings of each backend that shape how a tag becomes a version (their
#: documentation: setuptools-scm "Configuration", hatch-vcs "Version source
#: options", pdm-backend "Dynamic version from SCM", versioningit "tag2version",
#: poetry-dynamic-versioning and uv-dynamic-versioning "pattern").
TAG_SETTINGS = (
    ("setuptools_scm", "tag_regex"), ("setuptools_scm", "git_describe_command"), ("setuptools_scm", "root"),
    ("vcs-versioning", "tag_regex"),
    ("hatch.version", "tag-pattern"), ("hatch.version", "raw-options"),
    ("pdm.version", "tag_regex"), ("pdm.version", "tag_filter"),
    ("versioningit", "tag2version"), ("versioningit", "vcs"),
    ("poetry-dynamic-versioning", "pattern"), ("uv-dynamic-versioning", "pattern"),
    ("setuptools-git-versioning", "template"),
)


#: Files that fix a version in the source tree, whatever the tag says: a
#: committed ``PKG-INFO`` (setuptools-scm and setuptools read it first, as in
#: an sdist), and the version files that backends write.
VERSION_FILE_NAMES = ("PKG-INFO", "VERSION", "version.txt", "_version.py", "version.py", "__version__.py")


def version_overrides(tracked: list[str]) -> list[str]:
    """Of the files git tracks (*tracked*, paths), those that may fix the version
    (see :data:`VERSION_FILE_NAMES`); ``debian/`` aside."""
    return [path for path in tracked
            if PurePosixPath(path).name in VERSION_FILE_NAMES and not path.startswith("debian/")]


def tag_settings(pyproject: Mapping[str, Any]) -> list[str]:
    """The settings in *pyproject* (a parsed ``pyproject.toml``) that decide
    how the backend reads a tag, as ``tool.X.key`` names; see :data:`TAG_SETTINGS`."""
    return [f"tool.{table}.{key}" for table, key in TAG_SETTINGS if tool_setting(pyproject, table, key) is not None]


class BackendEnv:
    """A virtualenv that holds a build backend's requirements, made once and
    shared by every check with the same requirements on this machine.

    :param runner: runs pip (its output is shown with ``-v``).
    :param requires: ``[build-system] requires`` (PEP 518).
    """

    def __init__(self, runner: Runner, requires: Sequence[str]) -> None:
        self.runner = runner
        key = json.dumps([sys.version_info[:3], sorted(requires)]).encode()
        self.path = cache_home() / "backends" / hashlib.sha256(key).hexdigest()[:16]
        self.requires = list(requires)

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def ensure(self) -> None:
        """Make the virtualenv unless it exists: built beside its place and
        renamed into it, so concurrent checks never see half of one.

        :raises PreflightError: pip could not install the requirements.
        """
        if self.python.exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{self.path.name}-", dir=self.path.parent))
        try:
            venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(building)
            self._install(building / "bin" / "python", self.requires)
            with contextlib.suppress(OSError):  # another check made it first: keep theirs
                building.rename(self.path)
        finally:
            shutil.rmtree(building, ignore_errors=True)

    def backend_requires(self, project: Path) -> set[str]:
        """What the backend asks for to build a wheel of *project*, beyond
        ``[build-system] requires`` (PEP 517 ``get_requires_for_build_wheel``).

        :raises PreflightError: the requirements could not be installed.
        """
        self.ensure()
        builder = ProjectBuilder(project, python_executable=str(self.python), runner=_quiet_hook_runner(self.runner))
        return set(builder.get_requires_for_build("wheel"))

    def install(self, requirements: Iterable[str]) -> None:
        """Add what the backend asks for (``get_requires_for_build_wheel``,
        PEP 517) unless an earlier check added it.

        :raises PreflightError: pip could not install them.
        """
        record = self.path / "hoist-backend-requires.json"
        wanted = sorted(set(requirements))
        if not wanted:
            return
        with file_lock(self.path / "hoist-install.lock"):  # one pip at a time in a shared virtualenv
            try:
                done = set(json.loads(record.read_text()))
            except (OSError, ValueError):
                done = set()
            if set(wanted) <= done:
                return
            self._install(self.python, wanted)
            written = record.with_suffix(".tmp")
            written.write_text(json.dumps(sorted(done | set(wanted))))
            os.replace(written, record)

    def _install(self, python: Path, requirements: list[str]) -> None:
        if not requirements:
            return
        try:
            self.runner.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                             "--disable-pip-version-check", *requirements], env={"COLUMNS": "1000"})
        except CommandError as exc:
            raise PreflightError(f"pip could not install the build backend's requirements: {exc.message}",
                                 exc.hint) from None


def _quiet_hook_runner(runner: Runner):  # noqa: ANN202 - pyproject_hooks' runner protocol
    """Run a PEP 517 hook through *runner*, so that ``-v`` shows its output
    and a failure carries it."""
    def run(cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None) -> None:
        runner.run(list(cmd), cwd=Path(cwd) if cwd else None, env=dict(extra_environ or {}))
    return run


def version_of_tag(runner: Runner, top: Path, project: str, tag: str, pyproject: Mapping[str, Any]) -> Version:
    """The version the build backend gives HEAD of the repository at *top*
    once it carries the annotated tag *tag*, found in a throwaway clone.

    :param project: the project's directory in the repository (``.``: its top level).

    :raises PreflightError: the backend could not be installed or failed; the
        message carries its cause.
    """
    requires = build_requires(pyproject)
    env = BackendEnv(runner, requires)
    env.ensure()
    with tempfile.TemporaryDirectory(prefix="hoist-tag-check-") as tmp:
        source = Path(tmp, "src")
        runner.run(["git", "clone", "--quiet", "--shared", str(top), str(source)])
        runner.run(["git", "-c", "user.name=hoist", "-c", "user.email=hoist@localhost",
                    "tag", "-a", tag, "-m", f"planned release {tag}"], cwd=source)
        builder = ProjectBuilder(source / project, python_executable=str(env.python), runner=_quiet_hook_runner(runner))
        try:
            env.install(builder.get_requires_for_build("wheel"))
            metadata = builder.metadata_path(Path(tmp, "metadata"))
        except BuildBackendException as exc:
            cause = exc.exception
            if isinstance(cause, HoistError):  # the hook's command failed: its error quotes the cause
                raise PreflightError(f"the build backend failed on the planned tag {tag}: {cause.message}",
                                     cause.hint) from None
            raise PreflightError(f"the build backend failed on the planned tag {tag}: {cause}",
                                 "run `python -m build` in the project to see the backend's own error") from None
        raw = PathDistribution(Path(metadata)).version
    try:
        return Version(raw)
    except InvalidVersion:
        raise PreflightError(f"the build backend gives the planned tag {tag} the version {raw!r}, not a PEP 440 version",
                             "check its tag settings") from None
