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
``$XDG_CACHE_HOME/hoist/backends/``, keyed by those requirements, the
project's name and the Python version, so a warm check takes about a
second.  The release's sdist and wheel are built in the same virtualenv
(:func:`build_distributions`).
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

from build import BuildBackendException, BuildException, ProjectBuilder
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version
from uv import find_uv_bin

from .buildtime import venv_distributions
from .cache import cache_home, kept
from .errors import BuildError, CommandError, HoistError, PreflightError
from .flock import file_lock
from .pyproject import build_requires, read_pyproject, tool_setting
from .reproducible import extract
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


#: Where, in a backend's virtualenv, the wheels it was installed from are kept.
STASH = "hoist-stash"

#: Build backends whose answer to ``get_requires_for_build_*`` comes from the
#: project's configuration files alone (their documentation: setuptools from
#: ``pyproject.toml`` and ``setup.cfg`` when there is no ``setup.py``, hatchling
#: from its build hooks' settings, the others ask for nothing); see
#: :meth:`BackendEnv.requires_for`.
CONFIGURATION_BACKENDS = ("setuptools.build_meta", "hatchling.build", "flit_core.buildapi", "flit_scm:buildapi",
                          "poetry.core.masonry.api", "pdm.backend")

#: The files those backends read it from.
CONFIGURATION_FILES = ("pyproject.toml", "hatch.toml", "setup.cfg")


class BackendEnv:
    """A virtualenv that holds a build backend's requirements, made once
    for each project and set of requirements on this machine, and used by the
    plan's tag check and by the build.

    :param runner: runs pip (its output is shown with ``-v``).
    :param requires: ``[build-system] requires`` (PEP 518).
    """

    def __init__(self, runner: Runner, requires: Sequence[str], project: str = "") -> None:
        self.runner = runner
        # One per project: what one project's backend asks for never reaches another's builds.
        key = json.dumps([sys.version_info[:3], sorted(requires), project]).encode()
        self.path = cache_home() / "backends" / hashlib.sha256(key).hexdigest()[:16]
        self.requires = list(requires)

    @classmethod
    def of(cls, runner: Runner, pyproject: Mapping[str, Any]) -> BackendEnv:
        """The virtualenv of the project described by *pyproject* (a parsed ``pyproject.toml``)."""
        return cls(runner, build_requires(pyproject), str(pyproject.get("project", {}).get("name", "")))

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
            self._install(building, self.requires)
            with contextlib.suppress(OSError):  # another check made it first: keep theirs
                building.rename(self.path)
        finally:
            shutil.rmtree(building, ignore_errors=True)

    def requires_for(self, builder: ProjectBuilder, distribution: str) -> set[str]:
        """What the backend asks for to build *distribution* (``sdist`` or
        ``wheel``) of *builder*'s project (PEP 517
        ``get_requires_for_build_*``, a hook run in a process of its own).

        The answer is kept beside the virtualenv, by the content of
        :data:`CONFIGURATION_FILES`, for the backends of
        :data:`CONFIGURATION_BACKENDS`, which answer from those files alone;
        others (a ``setup.py`` that can read anything, backends that look
        for cmake or cargo on the machine, in-tree backends) are asked each time.

        :raises BuildBackendException: the hook failed.
        """
        project = Path(builder.source_dir)
        system = read_pyproject(project).get("build-system", {})
        keep = (system.get("build-backend") in CONFIGURATION_BACKENDS and "backend-path" not in system
                and not (project / "setup.py").exists())
        if not keep:
            return set(builder.get_requires_for_build(distribution))
        digest = hashlib.sha256(f"{distribution}\0{system.get('build-backend')}".encode())
        for name in CONFIGURATION_FILES:
            path = project / name
            digest.update(f"\0{name}\0".encode() + (path.read_bytes() if path.is_file() else b"-"))
        record = self.path / "hoist-requires" / f"{digest.hexdigest()[:32]}.json"
        return set(kept(record, lambda: sorted(builder.get_requires_for_build(distribution))))

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
            self._install(self.path, wanted)
            written = record.with_suffix(".tmp")
            written.write_text(json.dumps(sorted(done | set(wanted))))
            os.replace(written, record)

    def _install(self, env: Path, requirements: list[str]) -> None:
        """Collect the wheels of *requirements* and what they need with pip
        (the machine's index settings and credentials, as for any pip) into
        the virtualenv *env*'s stash, then install them from there alone with
        uv: the source release takes its ``build/`` from that stash."""
        if not requirements:
            return
        stash = env / STASH
        try:
            self.runner.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                             "--wheel-dir", str(stash), *requirements], env={"COLUMNS": "1000"})
            self.runner.run([find_uv_bin(), "pip", "install", "--quiet", "--python", str(env / "bin" / "python"),
                             "--no-index", "--find-links", str(stash), *requirements], env={"UV_NO_PROGRESS": "1"})
        except CommandError as exc:
            raise PreflightError(f"pip could not install the build backend's requirements: {exc.message}",
                                 exc.hint) from None

    def installed(self) -> list[str]:
        """Every distribution in the virtualenv, as ``name==version`` pins sorted by name."""
        return [f"{name}=={version}" for name, version in venv_distributions(self.path)]

    def wheels(self, pins: Sequence[str]) -> Path:
        """A directory holding the wheel of exactly each of *pins*
        (``name==version``, what :meth:`installed` gave when the build ran),
        taken from the stash the virtualenv was installed from (``pip wheel
        --no-deps`` for any the stash lacks, in a virtualenv an earlier hoist
        made), once per set.

        :raises PreflightError: pip could not get one of them.
        """
        target = self.path / "hoist-wheels" / hashlib.sha256("\n".join(pins).encode()).hexdigest()[:16]
        if target.is_dir():
            return target
        target.parent.mkdir(exist_ok=True)
        with file_lock(self.path / "hoist-install.lock"):
            if target.is_dir():
                return target
            partial = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
            try:
                stashed = {}
                for wheel in sorted((self.path / STASH).glob("*.whl")):
                    name, version, _, _ = parse_wheel_filename(wheel.name)
                    stashed[(name, str(version))] = wheel
                missing = []
                for pin in pins:
                    name, _, version = pin.partition("==")
                    wheel = stashed.get((canonicalize_name(name), str(Version(version))))
                    if wheel is None:
                        missing.append(pin)
                    else:
                        shutil.copyfile(wheel, partial / wheel.name)
                if missing:
                    self.runner.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                                     "--no-deps", "--wheel-dir", str(partial), *missing], env={"COLUMNS": "1000"})
                partial.rename(target)
            except CommandError as exc:
                raise PreflightError(f"pip could not collect the build backend's wheels: {exc.message}",
                                     exc.hint) from None
            finally:
                shutil.rmtree(partial, ignore_errors=True)
        return target


def _quiet_hook_runner(runner: Runner, env: Mapping[str, str] | None = None, stream: bool = False):  # noqa: ANN202
    """Run a PEP 517 hook (pyproject_hooks' runner protocol) through
    *runner*, with *env* added, so that ``-v`` shows its output and a failure
    carries it; *stream* shows the output as it comes."""
    def run(cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None) -> None:
        runner.run(list(cmd), cwd=Path(cwd) if cwd else None, env={**(env or {}), **(extra_environ or {})},
                   stream=stream)
    return run


def build_distributions(runner: Runner, project: Path, out: Path, epoch: int) -> tuple[Path, Path, tuple[str, ...]]:
    """Build the sdist of *project*, then the wheel from the unpacked sdist,
    into *out*, as ``python -m build`` does (pypa/build's
    :class:`~build.ProjectBuilder`, PEP 517), but in the backend's cached
    virtualenv (:class:`BackendEnv`) instead of two new isolated ones.

    :param epoch: ``SOURCE_DATE_EPOCH`` for the backend (seconds).
    :returns: the sdist, the wheel, and what the virtualenv held (``name==version``).
    :raises BuildError: the backend failed, or the project's build settings
        are wrong; the message quotes the cause.
    :raises PreflightError: its requirements could not be installed.
    """
    env = BackendEnv.of(runner, read_pyproject(project))
    env.ensure()
    hooks = _quiet_hook_runner(runner, {"SOURCE_DATE_EPOCH": str(epoch), "COLUMNS": "1000"}, stream=True)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hoist-sdist-") as tmp:
        try:
            builder = ProjectBuilder(project, python_executable=str(env.python), runner=hooks)
            env.install(env.requires_for(builder, "sdist"))
            sdist = Path(builder.build("sdist", out))
            extract(sdist, Path(tmp))  # as build does, the wheel is built from the sdist
            tops = [p for p in Path(tmp).iterdir() if p.is_dir()]
            if len(tops) != 1:
                raise BuildError(f"the sdist {sdist.name} holds {len(tops)} top directories, not one",
                                 "check the build backend's sdist settings")
            builder = ProjectBuilder(tops[0], python_executable=str(env.python), runner=hooks)
            env.install(env.requires_for(builder, "wheel"))
            wheel = Path(builder.build("wheel", out))
        except BuildBackendException as exc:
            cause = exc.exception
            if isinstance(cause, HoistError):
                raise BuildError(f"the build backend failed: {cause.message}", cause.hint) from None
            raise BuildError(f"the build backend failed: {cause}", "-v shows all of its output") from None
        except BuildException as exc:  # pypa/build's own: a bad [build-system] table, a missing backend-path
            raise BuildError(f"cannot build the project: {exc}", "check [build-system] in pyproject.toml") from None
    return sdist, wheel, tuple(env.installed())


def version_of_tag(runner: Runner, top: Path, project: str, tag: str, pyproject: Mapping[str, Any]) -> Version:
    """The version the build backend gives HEAD of the repository at *top*
    once it carries the annotated tag *tag*, found in a throwaway clone.

    :param project: the project's directory in the repository (``.``: its top level).

    :raises PreflightError: the backend could not be installed or failed; the
        message carries its cause.
    """
    env = BackendEnv.of(runner, pyproject)
    env.ensure()
    with tempfile.TemporaryDirectory(prefix="hoist-tag-check-") as tmp:
        source = Path(tmp, "src")
        runner.run(["git", "clone", "--quiet", "--shared", str(top), str(source)])
        runner.run(["git", "-c", "user.name=hoist", "-c", "user.email=hoist@localhost",
                    "tag", "-a", tag, "-m", f"planned release {tag}"], cwd=source)
        builder = ProjectBuilder(source / project, python_executable=str(env.python), runner=_quiet_hook_runner(runner))
        try:
            env.install(env.requires_for(builder, "wheel"))
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
