"""Cheap checks that run before anything is built or changed.

Every problem that can be found without building is found here: a release
fails in its first second, not after a ten-minute .deb build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from packaging.version import Version

from .archive import Archive
from .backend import CONFIGURATION_FILES, BackendEnv, tag_settings, version_of_tag, version_overrides
from .cache import cache_home, kept
from .config import Config
from .errors import ConfigError, PreflightError, ToolMissingError
from .git import Git, built_branch
from .manifest import sha256_file
from .pyproject import read_pyproject, tag_version_hint
from .runner import Runner

#: Commands a release runs, with the Debian package that provides each.
TOOLS = {
    "git": "git",
    "dpkg-buildpackage": "dpkg-dev",
    "dh": "debhelper",
    "dh_virtualenv": "dh-virtualenv",
    "lintian": "lintian",
    "gpg": "gnupg",
}

#: The interpreter every virtualenv is built with (Debian's, not a local one).
SYSTEM_PYTHON = "/usr/bin/python3"


def check_tool(tool: str, debian_package: str) -> None:
    """*tool* is on ``PATH``.

    :raises ToolMissingError: it is not; the error names *debian_package*.
    """
    if shutil.which(tool) is None:
        raise ToolMissingError(tool, debian_package)


def check_tools(runner: Runner) -> None:
    """Every tool of the build is installed; those missing are named all at
    once, with the Debian packages to install (each target checks its own
    tools, e.g. aptly).

    :raises ToolMissingError: commands are not on ``PATH``, or Debian's
        ``python3`` or its ``venv`` module (python3-venv) is missing.
    """
    missing = [(tool, package) for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if not Path(SYSTEM_PYTHON).exists():
        missing.append((SYSTEM_PYTHON, "python3"))
    elif not runner.run([SYSTEM_PYTHON, "-c", "import ensurepip, venv"], check=False).ok:
        missing.append((f"{SYSTEM_PYTHON} -m venv", "python3-venv"))
    if missing:
        raise ToolMissingError(*missing[0], *missing[1:])


def check_identity(git: Git) -> None:
    """git knows who commits: the release commit and tag need a name and an email.

    :raises PreflightError: it does not (``user.name``/``user.email``, or ``GIT_COMMITTER_*``).
    """
    if not git("var", "GIT_COMMITTER_IDENT", check=False).ok:
        raise PreflightError("git does not know who commits: the release commit and tag need a name and an email",
                             'git config user.name "Your Name" && git config user.email you@example.org '
                             "(or set GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL in the CI job)")


def check_project(config: Config) -> None:
    """The project is set up for hoist and takes its version from git tags.

    :raises ConfigError: no ``debian/`` (suggests ``hoist init``), or the
        version is static or computed from something other than tags.
    """
    debian = config.root / "debian"
    if not debian.is_dir():
        has = "has a [tool.hoist] table but " if config.has_hoist_table else ""
        raise ConfigError(
            f"{config.root} {has}has no debian/ directory",
            "run `hoist init` to write debian/, tasks.py, a Jenkinsfile and [tool.hoist]",
        )
    if config.version_backend is None:
        raise ConfigError(f"the version of {config.name} does not come from git tags",
                          tag_version_hint(read_pyproject(config.root)))


def check_archive(config: Config, runner: Runner) -> None:
    """The package's name, and every ``/usr/bin`` link of ``debian/<package>.links``,
    are not Debian's (see :mod:`hoist.archive`): a package of the same name
    would take Debian's over on servers, and a link over another package's
    file makes dpkg refuse to install it.

    :raises ConfigError: with every clash, before anything changes.
    """
    archive = Archive(runner, own=config.package)
    links = config.root / "debian" / f"{config.package}.links"
    linked = [f"/{words[1]}" for words in map(str.split, links.read_text().splitlines() if links.is_file() else [])
              if len(words) == 2 and words[1].startswith("usr/bin/")]
    # apt-cache's lists and apt-file's Contents are separate reads of seconds each when not kept
    with ThreadPoolExecutor(1) as pool:
        searched = pool.submit(archive.files, linked)
        taken = archive.package(config.package)
        files, _ = searched.result()
    problems = []
    if taken is not None:
        problems.append(f"{taken}: apt would replace one with the other on servers")
    problems.extend(f"debian/{config.package}.links links {clash}: dpkg would refuse to install both"
                    for clash in files)
    if problems:
        free = archive.free_name(config.package) if taken is not None else config.package
        raise ConfigError(
            "the package would clash with Debian's:\n  " + "\n  ".join(problems),
            (f"rename the package: hoist init --force --package {free} rewrites debian/ for it" if taken else
             f"remove those lines from debian/{config.package}.links (the programs stay in "
             f"{config.install_root}/bin)") + "; nothing was changed")


def check_repository(git: Git, config: Config) -> None:
    """On the release branch (checked out, or named by CI for a detached HEAD),
    with a clean working tree.

    :raises PreflightError: detached HEAD or another branch; changed or
        untracked files (named).
    """
    git.head()
    branch = built_branch(git)
    if branch != config.branch:
        where = f"on branch {branch!r}" if branch else "on a detached HEAD"
        raise PreflightError(
            f"releases are made from {config.branch!r}, but the repository is {where}",
            f"git checkout {config.branch} (or set tool.hoist.branch)",
        )
    changed = git.changed_files(git.path_of(config.root))
    if changed:
        shown = ", ".join(changed[:10]) + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
        raise PreflightError(f"working tree has changes: {shown}", "commit or stash them, then run again")


def check_tag_version(config: Config, runner: Runner, tag: str, version: str) -> None:
    """The build backend turns the planned *tag* on HEAD into exactly *version*
    (see :mod:`hoist.backend`), checked before anything is tagged.

    Once the backend has read a planned tag as its version, a later tag of the
    same form is not asked again while nothing that decides how it reads tags
    has changed (:func:`tag_reading`): the answer is kept in hoist's cache,
    where the version comes from the tags alone (:func:`keeps_tag_reading`).
    The Verify step checks the built sdist's, wheel's and .deb's versions in
    any case, before anything leaves the machine.

    :raises PreflightError: it gives another version; the message names the
        files and settings that decide it.
    """
    pyproject = read_pyproject(config.root)
    tracked = runner.run(["git", "ls-files", "--", "."], cwd=config.root).stdout.splitlines()  # relative to it
    git = Git.open(runner, config.root)
    place = git.path_of(config.root)
    reading = None
    if keeps_tag_reading(config, pyproject):
        reading = cache_home() / "tag-readings" / f"{tag_reading(config, runner, pyproject, tracked, place, tag, version)}.json"
        if reading.is_file():
            return
    built = version_of_tag(runner, git.root, place, tag, pyproject)
    if built == Version(version):
        if reading is not None:
            kept(reading, lambda: f"{tag} is {version}")
        return
    deciders = [*version_overrides(tracked), *tag_settings(pyproject), "tool.hoist.tag_prefix"]
    raise PreflightError(
        f"{config.version_backend} gives the planned tag {tag} the version {built}, not {version}",
        f"what decides it: {', '.join(deciders)}; a committed PKG-INFO or version file fixes the version "
        "whatever the tag says (remove it from git), and the backend's tag pattern must read "
        f"{tag} as {version}; nothing was tagged or published",
    )


def keeps_tag_reading(config: Config, pyproject: Mapping[str, Any]) -> bool:
    """Whether the backend's reading of a tag may be kept: the version comes
    from the tags, through a plugin that reads them (``config.version_backend``),
    and no code of the project's own runs in the backend (no ``setup.py``, no
    in-tree backend, ``backend-path``, PEP 517), which could read anything."""
    return (config.version_backend is not None and not (config.root / "setup.py").exists()
            and not pyproject.get("build-system", {}).get("backend-path"))


def tag_reading(config: Config, runner: Runner, pyproject: Mapping[str, Any], tracked: list[str], place: str,
                tag: str, version: str) -> str:
    """A key (sha256) of everything that decides how the build backend reads
    a tag like *tag* (*version* with the project's prefix): the project's
    place in its repository (*place*, ``.`` at its top), its configuration
    files, the tracked files that may fix the version
    (:func:`hoist.backend.version_overrides`), the distributions of the
    backend's virtualenv (made here if it is not yet), the environment's
    variables that backends read (``*VERSION*``, ``*SCM*``, e.g.
    ``SETUPTOOLS_SCM_PRETEND_VERSION``), and the tag's form.

    :raises PreflightError: the backend's virtualenv could not be made.
    """
    files = {name: sha256_file(config.root / name) for name in (*CONFIGURATION_FILES, *version_overrides(tracked))
             if (config.root / name).is_file()}
    backend = BackendEnv.of(runner, pyproject)
    backend.ensure()
    shaping = {
        "files": files,
        "backend": backend.installed(),
        "environment": {k: v for k, v in os.environ.items() if "VERSION" in k.upper() or "SCM" in k.upper()},
        "form": tag.replace(version, "{version}"),
        "place": place,
    }
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:32]