"""Typed configuration: ``pyproject.toml``'s ``[project]`` and ``[tool.hoist]``.

The file is read with :mod:`tomllib`; ``[tool.hoist]`` becomes frozen
dataclasses.  Every problem is collected and reported at once; an unknown key
gets a did-you-mean (cibuildwheel's way).  Secrets never live here: they come
from the environment only (see :mod:`hoist.secrets`).  Target tables other
than the three built in are validated against the settings class their kind
registers (:mod:`hoist.targets`).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import platform
import posixpath
import re
import shlex
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .errors import ConfigError

T = TypeVar("T")

#: Build backends (or their plugins) that take the version from git tags,
#: keyed by canonical distribution name as listed in ``[build-system] requires``.
TAG_VERSION_BACKENDS = {
    "setuptools-scm": "setuptools-scm",
    "hatch-vcs": "hatch-vcs",
    "versioningit": "versioningit",
    "setuptools-git-versioning": "setuptools-git-versioning",
    "poetry-dynamic-versioning": "poetry-dynamic-versioning",
    "dunamai": "dunamai",
    "vcs-versioning": "vcs-versioning",
    "flit-scm": "flit-scm",
    "uv-dynamic-versioning": "uv-dynamic-versioning",
}

#: For each build backend (its module in ``build-backend``, PEP 517): its
#: distribution and the one change that makes it take the version from git tags.
TAG_VERSION_WAYS = {
    "setuptools": ("setuptools", 'add "setuptools-scm>=8" to [build-system] requires and an empty '
                                 "[tool.setuptools_scm] table"),
    "hatchling": ("hatchling", 'add "hatch-vcs" to [build-system] requires and set [tool.hatch.version] '
                               'source = "vcs"'),
    "flit_core": ("flit-core", 'use flit-scm: requires = ["flit-scm"] and build-backend = "flit_scm:buildapi"'),
    "pdm": ("pdm-backend", 'set [tool.pdm.version] source = "scm"'),
    "poetry": ("poetry-core", 'add "poetry-dynamic-versioning" to [build-system] requires and set '
                              "[tool.poetry-dynamic-versioning] enable = true"),
}


def tag_version_hint(pyproject: dict[str, Any]) -> str:
    """What to change so that the version comes from git tags, for the
    backend the project already uses (``[build-system] build-backend``)."""
    project = pyproject.get("project", {})
    module = str(pyproject.get("build-system", {}).get("build-backend") or "setuptools.build_meta")
    backend, way = TAG_VERSION_WAYS.get(module.split(".")[0].split(":")[0], TAG_VERSION_WAYS["setuptools"])
    static = project.get("version")
    first = (f'remove the static version = "{static}" from [project] and add "version" to [project] dynamic'
             if static else ('add "version" to [project] dynamic'
                             if "version" not in project.get("dynamic", []) else ""))
    return f"{backend} builds it: " + "; ".join(part for part in (first, way) if part)


@dataclass(frozen=True)
class GitTarget:
    """``[tool.hoist.git]``: the remote that receives the release commit and tag.

    :ivar remote: a remote name of the repository, or a URL or path.
    """

    remote: str = "origin"


@dataclass(frozen=True)
class PyPITarget:
    """``[tool.hoist.pypi]``: a PyPI-compatible index.

    :ivar upload_url: where twine uploads (the legacy upload API).
    :ivar index_url: the index's simple page (PEP 503/691) used to read it back.
    """

    upload_url: str
    index_url: str


@dataclass(frozen=True)
class AptTarget:
    """``[tool.hoist.apt]``: an aptly repository and where it is published.

    Either an aptly root on this machine (*aptly_config*, *endpoint*), or
    aptly's REST API on a server (*api_url*), where the server signs.

    :ivar repo: the aptly local repository name.
    :ivar url: the repository's URL as apt clients see it.
    :ivar public_key: the keyring clients use as ``signed-by``: a path (in
        the project, or absolute) or a URL.
    :ivar aptly_config: path of the aptly configuration file (a local root).
    :ivar endpoint: aptly's publish prefix, e.g. ``filesystem:public:.``
        (aptly docs, "publish snapshot"; a local root).
    :ivar gpg_key: the key id or fingerprint that signs the Release files
        ("" = the GnuPG home's default key).
    :ivar gnupghome: the GnuPG home holding the secret key ("" = gpg's
        default; a local root).
    :ivar api_url: aptly's REST API (``aptly api serve``), usually behind a
        web server that adds authentication.
    :ivar prefix: the publish prefix on the API's server (default ``.``).
    :ivar keep: how many versions of the package the repository keeps
        (0: all); older ones leave the repository and the publication.
    :ivar origin: the ``Origin`` of the publication's ``Release`` file, which
        servers pin on ("" = the repository's name; Debian Repository Format).
    :ivar label: its ``Label`` ("" = the same as the origin).
    :ivar stop_agent: stop the GnuPG home's gpg-agent after each signing, so
        that no daemon outlives a run (a GnuPG home of hoist's own, as the
        local targets have; the last of the signing sessions open at once
        stops it, see :func:`hoist.targets.aptly.gpg_session`).
    """

    repo: str
    url: str
    public_key: str
    aptly_config: str = ""
    endpoint: str = ""
    gpg_key: str = ""
    gnupghome: str = ""
    api_url: str = ""
    prefix: str = "."
    keep: int = 0
    origin: str = ""
    label: str = ""
    stop_agent: bool = False

    @property
    def release_origin(self) -> str:
        """The ``Origin`` the publication carries."""
        return self.origin or self.repo

    @property
    def release_label(self) -> str:
        """The ``Label`` the publication carries."""
        return self.label or self.release_origin

    def problems(self) -> list[str]:
        """What is wrong with this table as a whole (each key has its type already)."""
        found = []
        if bool(self.api_url) == bool(self.aptly_config):
            found.append("tool.hoist.apt needs either api_url (aptly's REST API on a server) or aptly_config "
                         "(an aptly root on this machine), not both")
        if self.aptly_config and not self.endpoint:
            found.append("tool.hoist.apt needs the key 'endpoint' with aptly_config (e.g. \"filesystem:public:.\")")
        if self.api_url and (self.endpoint or self.gnupghome):
            found.append("tool.hoist.apt.endpoint and gnupghome are for an aptly root on this machine: with api_url, "
                         "the server publishes at prefix and signs with its own key")
        if self.keep < 0:
            found.append(f"tool.hoist.apt.keep must be 0 (keep all) or more, not {self.keep}")
        return found


@dataclass(frozen=True)
class Config:
    """Everything hoist reads from ``pyproject.toml`` for one project.

    :ivar name: the Python distribution name (``[project] name``).
    :ivar package: the Debian source and binary package name (Debian Policy
        §5.6.1 / §5.6.7).
    :ivar scripts: the console scripts the project declares.
    :ivar install_root: where the virtualenv is installed on servers.
    :ivar lock: a requirements file with pinned, hashed dependencies, or None
        to take them from the wheel's metadata.
    :ivar compression: the .deb's compressor (dpkg-deb -Z).
    :ivar channels: the apt distributions a release moves through, in order
        (``("staging", "production")``): a release is published to the first,
        ``hoist promote`` moves it on; empty for one distribution.
    :ivar health_check: the command a server runs after each upgrade (as a
        list of arguments, see :func:`shlex.split`), or ``()``.
    :ivar valid_days: how long a signed publication stays valid for apt
        (``Valid-Until``), in days; ``hoist resign`` renews it.
    :ivar targets: the settings of each configured target, by table name
        (``git``, ``pypi``, ``apt``, or a kind registered with
        :func:`hoist.targets.register`); empty for local targets.
    """

    root: Path
    name: str
    package: str
    scripts: tuple[str, ...]
    version_backend: str | None
    branch: str = "master"
    tag_prefix: str = "v"
    install_root: str = ""
    lock: str | None = None
    distribution: str = ""
    component: str = "main"
    push_retries: int = 3
    compression: str = "zstd"
    channels: tuple[str, ...] = ()
    health_check: tuple[str, ...] = ()
    valid_days: int = 14
    targets: Mapping[str, Any] = field(default_factory=dict)
    has_hoist_table: bool = False

    @property
    def local(self) -> bool:
        """No target is configured: the release goes to local targets."""
        return not self.targets

    @property
    def git(self) -> GitTarget | None:
        return self.targets.get("git")

    @property
    def pypi(self) -> PyPITarget | None:
        return self.targets.get("pypi")

    @property
    def apt(self) -> AptTarget | None:
        return self.targets.get("apt")


_TOP_KEYS = {
    "branch": str,
    "tag_prefix": str,
    "install_root": str,
    "lock": str,
    "package": str,
    "distribution": str,
    "component": str,
    "push_retries": int,
    "compression": str,
    "channels": list,
    "health_check": str,
    "valid_days": int,
}
#: dpkg-deb's compressors (dpkg-deb(1) -Z); Debian 12's dpkg reads zstd.
COMPRESSORS = ("zstd", "xz", "gzip", "none")

_TABLES: dict[str, type] = {"git": GitTarget, "pypi": PyPITarget, "apt": AptTarget}

# Debian Policy §5.6.1: package names are [a-z0-9][a-z0-9+.-]+
_DEBIAN_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


def is_debian_package_name(name: str) -> bool:
    """Whether *name* is a valid Debian package name (Debian Policy §5.6.1)."""
    return bool(_DEBIAN_NAME.match(name))

#: A tag prefix: empty, or letters, digits, '.', '_' and '-' starting with a
#: letter.  Within git-check-ref-format(1)'s rules (no space, no ~^:?*[\, no
#: "..", no component starting with "." or ending with ".lock"), narrowed to
#: what version backends read back (a "/" or a leading "-" is a valid ref for
#: git, but setuptools-scm's default tag pattern and ``git tag`` refuse them).
_TAG_PREFIX = re.compile(r"^(?:[A-Za-z](?:[A-Za-z0-9_-]|\.(?!\.))*)?$")

#: Where Debian Policy (§9.1.1, the FHS §3.13) lets a package put add-on
#: software of its own: ``/opt/<package>``.
ADD_ON_ROOT = "/opt"


#: A channel is an apt distribution (suite): a name that is one path
#: segment of ``dists/`` (Debian Repository Format).
_CHANNEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

#: What a shell would read as more than one command or a redirection.
_SHELL_WORDS = {"|", "||", "&", "&&", ";", ">", ">>", "<", "<<", "2>", "2>&1", "$(", "`"}


def channels_problems(channels: list[Any], distribution: str | None) -> list[str]:
    """What is wrong with ``tool.hoist.channels`` (and ``distribution`` beside it)."""
    if not channels or not all(isinstance(c, str) for c in channels):
        return ['tool.hoist.channels must be a non-empty list of names, e.g. ["staging", "production"]']
    found = [f"tool.hoist.channels: {c!r} cannot be an apt distribution name: use letters, digits, '.', '_' and '-'"
             for c in channels if not _CHANNEL.match(c)]
    if len(set(channels)) != len(channels):
        found.append(f"tool.hoist.channels names a channel twice: {channels}")
    if distribution is not None and distribution != channels[0]:
        found.append(f"tool.hoist.distribution is {distribution!r} but the first channel is {channels[0]!r}: "
                     "a release is published to the first channel; remove distribution")
    return found


def health_check_command(text: str) -> tuple[tuple[str, ...], str | None]:
    """``tool.hoist.health_check`` as arguments, and why it is not one command (or None).

    It is run on servers without a shell (systemd's ``ExecStart`` rules), so
    it must be one command with its arguments.
    """
    try:
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        return (), f"tool.hoist.health_check {text!r} is not a command: {exc}"
    if not argv:
        return (), "tool.hoist.health_check is empty: give the command that tells whether the application works"
    if any(word in _SHELL_WORDS or word.startswith(("$(", "`")) for word in argv):
        return (), (f"tool.hoist.health_check {text!r} is not a command: it is run without a shell, so write one "
                    "command with its arguments (put a pipeline or redirection in a script the package ships)")
    return argv, None


def tag_prefix_problem(prefix: str) -> str | None:
    """Why *prefix* cannot start a release tag, or None."""
    if _TAG_PREFIX.match(prefix) and not prefix.endswith("."):
        return None
    return (f"tool.hoist.tag_prefix {prefix!r} cannot start a release tag: use letters, digits, '.', '_' and "
            "'-', starting with a letter (e.g. \"v\", \"release-\"), or \"\" (git-check-ref-format(1); "
            "the version backend must read the version back from the tag)")


def install_root_problem(root: str, package: str) -> str | None:
    """Why *root* cannot be the virtualenv's install root, or None.

    The install root is an absolute, normalised directory of the package's
    own under :data:`ADD_ON_ROOT`: ``/opt/<package>``, or ``/opt/<provider>/...``
    (Debian Policy §9.1.1, FHS §3.13).
    """
    normal = posixpath.normpath(root) if root.startswith("/") else ""
    if normal == root.rstrip("/") and normal.startswith(ADD_ON_ROOT + "/"):
        return None
    return (f"tool.hoist.install_root must be a directory of its own under {ADD_ON_ROOT}, written as an absolute, "
            f"normalised path, not {root!r} (Debian Policy §9.1.1, FHS §3.13: add-on software goes "
            f'in {ADD_ON_ROOT}/<package>; e.g. install_root = "{ADD_ON_ROOT}/{package}")')


def debian_package_name(project_name: str) -> str:
    """The Debian package name for a Python project name.

    The name is normalised as PEP 503 does (runs of ``-_.`` become ``-``,
    lower case), which also satisfies Debian Policy §5.6.1.
    """
    return canonicalize_name(project_name)


def host_codename() -> str:
    """The codename of this machine's Debian or Ubuntu release (``os-release``)."""
    try:
        info = platform.freedesktop_os_release()
    except OSError:
        return "stable"
    return info.get("VERSION_CODENAME") or "stable"


def cache_home() -> Path:
    """hoist's cache directory, ``$XDG_CACHE_HOME/hoist`` (XDG Base Directory Specification)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hoist"


def kept(path: Path, answer: Callable[[], T]) -> T:
    """*answer()*, kept as JSON at *path*: read from there when it is there,
    else computed and written there whole (a new file renamed into place), so
    that concurrent runs and threads never read half of one; a cache that cannot be
    written is left unwritten."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))["answer"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    value = answer()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
        partial.write_text(json.dumps({"answer": value}), encoding="utf-8")
        os.replace(partial, path)
    return value


def tool_setting(pyproject: Mapping[str, Any], table: str, key: str) -> Any:
    """``tool.<table>.<key>`` of a parsed ``pyproject.toml`` (*table* dotted,
    e.g. ``hatch.version``), or None where it is not set."""
    value: Any = pyproject.get("tool", {})
    for part in table.split("."):
        value = value.get(part, {}) if isinstance(value, dict) else {}
    return value.get(key) if isinstance(value, dict) else None


def build_requires(pyproject: Mapping[str, Any]) -> list[str]:
    """``[build-system] requires``, or PEP 518's default for a project without it."""
    return list(pyproject.get("build-system", {}).get("requires", ["setuptools>=40.8.0"]))


def project_directory(start: Path, top: Path) -> Path:
    """The project's directory: the nearest one from *start* up to *top* (the
    git repository's top level) that holds a ``pyproject.toml``, so that a
    project in a subdirectory of its repository is found from anywhere in it;
    *top* when none does.
    """
    start, top = Path(start).resolve(), Path(top).resolve()
    for directory in (start, *start.parents):
        if (directory / "pyproject.toml").is_file():
            return directory
        if directory == top or top not in directory.parents:
            break
    return top


def read_pyproject(root: Path) -> dict[str, Any]:
    """Parse ``root/pyproject.toml``.

    :raises ConfigError: the file is missing or is not valid TOML (the message
        gives the file, line and column).
    """
    path = root / "pyproject.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path} not found", "hoist releases Python projects described by pyproject.toml (PEP 621)"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"malformed {path}: {exc}", "fix the TOML syntax at that line, then run again"
        ) from None


def version_backend(pyproject: dict[str, Any]) -> str | None:
    """The build backend plugin that takes the version from git tags, or None.

    The version comes from tags when ``version`` is listed in
    ``[project] dynamic`` (PEP 621) and ``[build-system] requires`` holds a
    plugin that reads tags (setuptools-scm, hatch-vcs, ...), or pdm-backend
    with ``[tool.pdm.version] source = "scm"``.
    """
    if "version" not in pyproject.get("project", {}).get("dynamic", []):
        return None
    for spec in pyproject.get("build-system", {}).get("requires", []):
        try:
            name = canonicalize_name(Requirement(spec).name)
        except InvalidRequirement:
            continue
        if name in TAG_VERSION_BACKENDS:
            return TAG_VERSION_BACKENDS[name]
        if name == "pdm-backend" and pyproject.get("tool", {}).get("pdm", {}).get("version", {}).get("source") == "scm":
            return "pdm-backend"
    return None


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(known))}"


def _check_table(key: str, value: dict, settings: type, path: Path, problems: list[str]) -> Any:
    """The settings of the target table *key*, or None after adding its problems to *problems*."""
    known = [f.name for f in fields(settings)]
    before = len(problems)
    for k in value:
        if k not in known:
            problems.append(f"unknown key tool.hoist.{key}.{k} in {path}: {_did_you_mean(k, known)}")
    for f in fields(settings):
        if f.default is MISSING and f.default_factory is MISSING and f.name not in value:
            problems.append(f"tool.hoist.{key} needs the key {f.name!r}")
    types = {"int": int, int: int, "bool": bool, bool: bool}
    kinds = {f.name: types.get(f.type, str) for f in fields(settings)}
    names = {int: "an integer", bool: "true or false", str: "a string"}
    for k in value:
        wanted = kinds.get(k)
        if wanted is not None and (not isinstance(value[k], wanted) or (wanted is not bool and isinstance(value[k], bool))):
            problems.append(f"tool.hoist.{key}.{k} must be {names[wanted]}")
    if len(problems) > before:
        return None
    made = settings(**value)
    problems.extend(made.problems() if hasattr(made, "problems") else [])
    return made if len(problems) == before else None


def load(root: Path, extra_tables: Mapping[str, type] | None = None) -> Config:
    """Read the configuration of the project at *root*.

    :param extra_tables: target tables beyond ``git``, ``pypi`` and ``apt``,
        each with the frozen dataclass of its keys (strings or integers, as
        annotated); a ``problems()`` method of it reports what is wrong with
        the table as a whole.
    :raises ConfigError: with every problem found at once (unknown keys with
        the nearest known key, wrong types, missing required keys, values out
        of range).
    """
    data = read_pyproject(root)
    path = root / "pyproject.toml"
    project = data.get("project", {})
    name = project.get("name")
    problems: list[str] = []
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path} has no [project] name", "add a PEP 621 [project] table with a name")
    table = data.get("tool", {}).get("hoist")
    has_table = table is not None
    table = table or {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: tool.hoist must be a table", "write it as [tool.hoist]")

    tables = {**_TABLES, **(extra_tables or {})}
    values: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    for key, value in table.items():
        expected = _TOP_KEYS.get(key, dict if key in tables else None)
        if expected is None:
            problems.append(f"unknown key tool.hoist.{key} in {path}: {_did_you_mean(key, [*_TOP_KEYS, *tables])}")
            continue
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            kinds = {str: "a string", int: "an integer", dict: "a table", list: "a list of strings"}
            problems.append(f"tool.hoist.{key} must be {kinds[expected]}, not {type(value).__name__}")
            continue
        if expected is dict:
            settings = _check_table(key, value, tables[key], path, problems)
            if settings is not None:
                targets[key] = settings
        else:
            values[key] = value
    if values.get("compression", "zstd") not in COMPRESSORS:
        problems.append(f"tool.hoist.compression is {values['compression']!r}, not one of {', '.join(COMPRESSORS)} "
                        "(zstd builds fastest; xz makes .debs that Debian 11 and older can read)")
    package = values.pop("package", None) or debian_package_name(name)
    if not _DEBIAN_NAME.match(package):
        problems.append(f"tool.hoist.package {package!r} is not a valid Debian package name (Debian Policy §5.6.1): "
                        "use lower case letters, digits, '+', '-' and '.'")
    install_root = values.setdefault("install_root", f"{ADD_ON_ROOT}/{package}")
    for problem in (install_root_problem(install_root, package), tag_prefix_problem(values.get("tag_prefix", "v"))):
        if problem:
            problems.append(problem)
    if "channels" in values:
        problems.extend(channels_problems(values["channels"], values.get("distribution")))
    if "health_check" in values:
        values["health_check"], problem = health_check_command(values["health_check"])
        problems.extend([problem] if problem else [])
    if values.get("valid_days", 1) < 1:
        problems.append(f"tool.hoist.valid_days must be 1 or more, not {values['valid_days']}")
    if values.get("push_retries", 1) < 1:
        problems.append(f"tool.hoist.push_retries must be 1 or more, not {values['push_retries']}")
    if problems:
        raise ConfigError(
            "invalid configuration:\n  " + "\n  ".join(problems),
            "fix the keys named above in [tool.hoist]",
        )
    if targets and "git" not in targets:
        targets["git"] = GitTarget()
    values["install_root"] = install_root.rstrip("/")
    if values.get("channels"):
        values["channels"] = tuple(values["channels"])
        values["distribution"] = values["channels"][0]
    values.setdefault("distribution", host_codename())
    return Config(
        root=root,
        name=name,
        package=package,
        scripts=tuple(project.get("scripts", {})),
        version_backend=version_backend(data),
        has_hoist_table=has_table,
        targets=targets,
        **values,
    )
