"""Typed configuration: ``pyproject.toml``'s ``[project]`` and ``[tool.hoist]``.

The file is read with :mod:`tomllib`; ``[tool.hoist]`` is declared once, as
:class:`HoistTable`, and each target kind declares its own table in its own
module (:mod:`hoist.targets`); :func:`hoist.settings.from_table` checks both
from those declarations: every problem at once, an unknown key with a
did-you-mean (cibuildwheel's way).  Secrets never live here: they come from
the environment only (see :mod:`hoist.secrets`).
"""

from __future__ import annotations

import platform
import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from packaging.utils import canonicalize_name

from .errors import ConfigError
from .pyproject import read_pyproject, version_backend
from .redaction import userinfo, without_userinfo
from .settings import did_you_mean, from_table

#: The longest ``tool.hoist.valid_days``: about 27 years, far inside what a
#: ``Release`` file's date (and Python's datetime) can hold.
MAX_VALID_DAYS = 10_000

#: dpkg-deb's compressors (dpkg-deb(1) -Z); Debian 12's dpkg reads zstd.
COMPRESSORS = ("zstd", "xz", "gzip", "none")


@dataclass(frozen=True)
class HoistTable:
    """``[tool.hoist]`` as written (its target tables aside): the declaration
    its keys are checked against.  See :class:`Config` for what each means."""

    branch: str = "master"
    tag_prefix: str = "v"
    install_root: str = ""
    lock: str | None = None
    package: str = ""
    distribution: str = ""
    component: str = "main"
    push_retries: int = 3
    compression: Literal["zstd", "xz", "gzip", "none"] = "zstd"
    channels: tuple[str, ...] | None = None
    health_check: str | None = None
    health_timeout: int = 60
    metrics_directory: str = "/var/lib/prometheus/node-exporter"
    valid_days: int | None = None


@dataclass(frozen=True, kw_only=True)
class Config(HoistTable):
    """Everything hoist reads from ``pyproject.toml`` for one project: the
    settings of :class:`HoistTable`, as :func:`load` makes them ready to use.

    :ivar name: the Python distribution name (``[project] name``).
    :ivar package: the Debian source and binary package name (Debian Policy
        §5.6.1 / §5.6.7).
    :ivar scripts: the console scripts the project declares.
    :ivar version_backend: the backend plugin that reads the version from tags, or None.
    :ivar install_root: where the virtualenv is installed on servers.
    :ivar lock: a requirements file with pinned, hashed dependencies, or None
        to take them from the wheel's metadata.
    :ivar compression: the .deb's compressor (dpkg-deb -Z).
    :ivar channels: the apt distributions a release moves through, in order
        (``("staging", "production")``): a release is published to the first,
        ``hoist promote`` moves it on; empty for one distribution.
    :ivar health_check: the command a server runs after each upgrade (as a
        list of arguments, see :func:`shlex.split`), or ``()``.
    :ivar health_timeout: seconds the health check may take before it counts as failed.
    :ivar metrics_directory: where a server's upgrade service writes its
        textfile for node_exporter (Debian's prometheus-node-exporter reads
        ``/var/lib/prometheus/node-exporter``).
    :ivar valid_days: how long a publication signed on this machine stays
        valid for apt (``Valid-Until``), in days, or None for the default
        (:data:`hoist.targets.apt.signing.DEFAULT_VALID_DAYS`); ``hoist
        resign`` renews it.
    :ivar targets: the settings of each configured target, by table name
        (``git``, ``pypi``, ``apt``, or a kind registered with
        :func:`hoist.targets.register`); empty for local targets.
    """

    root: Path
    name: str
    package: str
    scripts: tuple[str, ...]
    version_backend: str | None
    channels: tuple[str, ...] = ()
    health_check: tuple[str, ...] = ()
    targets: Mapping[str, Any] = field(default_factory=dict)
    has_hoist_table: bool = False

    @property
    def local(self) -> bool:
        """No target is configured: the release goes to local targets."""
        return not self.targets

    @property
    def git(self) -> Any:
        """``[tool.hoist.git]``'s settings, or None."""
        return self.targets.get("git")

    @property
    def pypi(self) -> Any:
        """``[tool.hoist.pypi]``'s settings, or None."""
        return self.targets.get("pypi")

    @property
    def apt(self) -> Any:
        """``[tool.hoist.apt]``'s settings, or None."""
        return self.targets.get("apt")


#: The longest ``tool.hoist.valid_days``: about 27 years, far inside what a
#: ``Release`` file's date (and Python's datetime) can hold.
MAX_VALID_DAYS = 10_000

#: dpkg-deb's compressors (dpkg-deb(1) -Z); Debian 12's dpkg reads zstd.
COMPRESSORS = ("zstd", "xz", "gzip", "none")

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

#: The characters a shell reads as an operator (a list, a pipeline, a redirection, a subshell).
_SHELL_OPERATORS = set("();<>|&")


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
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)  # an operator outside quotes is a token
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        return (), f"tool.hoist.health_check {text!r} is not a command: {exc}"
    if not argv:
        return (), "tool.hoist.health_check is empty: give the command that tells whether the application works"
    if any(set(t) <= _SHELL_OPERATORS for t in tokens) or any(w.startswith(("$(", "`")) for w in argv):
        return (), (f"tool.hoist.health_check {text!r} is not a command: it is run without a shell, so write one "
                    "command with its arguments (put a pipeline or redirection in a script the package ships)")
    return argv, None


def suite_problem(key: str, name: str) -> str | None:
    """Why *name* (``tool.hoist.<key>``) cannot be an apt distribution (suite) or component, or None.

    One path segment under ``dists/`` (Debian Repository Format), and a
    word aptly takes: letters, digits, ``.``, ``_`` and ``-``.
    """
    if _CHANNEL.match(name):
        return None
    return (f"tool.hoist.{key} {name!r} cannot be an apt {'component' if key == 'component' else 'distribution'} "
            "name: use letters, digits, '.', '_' and '-', starting with a letter or digit (e.g. \"bookworm\", \"main\")")


def lock_problem(lock: str) -> str | None:
    """Why *lock* cannot be ``tool.hoist.lock``, or None: a relative path inside the project."""
    normal = posixpath.normpath(lock)
    if lock and not lock.startswith("/") and normal != ".." and not normal.startswith("../") and "\0" not in lock:
        return None
    return (f"tool.hoist.lock {lock!r} must be a path inside the project, relative to pyproject.toml "
            "(e.g. \"requirements.lock\")")


def credential_problems(table: str, settings: Any) -> list[str]:
    """A password in a URL of the settings of ``[tool.hoist.<table>]``: pyproject.toml goes
    into every sdist and source release, to the index and to git."""
    found = []
    for name, value in vars(settings).items():
        login = userinfo(value) if isinstance(value, str) else None
        if login is not None and login[1]:
            found.append(f"tool.hoist.{table}.{name} holds a password in its URL ({without_userinfo(value)}): "
                         "pyproject.toml goes into every sdist and source release; take the password out and give "
                         "it through the environment (HOIST_PYPI_PASSWORD, HOIST_APT_API_PASSWORD), ~/.netrc or "
                         "the keyring")
    return found


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


def load(root: Path, tables: Mapping[str, type]) -> Config:
    """Read the configuration of the project at *root*.

    :param tables: the settings dataclass of every target table, by name
        (:func:`hoist.targets.settings_tables`); a table's ``problems()``
        reports what is wrong with it as a whole, and its ``conflicts(hoist)``
        what of ``[tool.hoist]`` its kind cannot honour.
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

    top = {k: v for k, v in table.items() if k not in tables}
    known = [*HoistTable.__dataclass_fields__, *tables]
    for key in top:
        if key not in HoistTable.__dataclass_fields__:
            problems.append(f"unknown key tool.hoist.{key} in {path}: {did_you_mean(key, known)}")
    declared = {k: v for k, v in top.items() if k in HoistTable.__dataclass_fields__}
    settings = from_table(HoistTable, declared, "tool.hoist", path, problems)
    targets: dict[str, Any] = {}
    for key, value in table.items():
        if key not in tables:
            continue
        if not isinstance(value, dict):
            problems.append(f"tool.hoist.{key} must be a table, not {type(value).__name__}")
            continue
        made = from_table(tables[key], value, f"tool.hoist.{key}", path, problems)
        if made is not None:
            targets[key] = made
            problems.extend(made.conflicts(table) if hasattr(made, "conflicts") else [])
            problems.extend(credential_problems(key, made))
    values: dict[str, Any] = {}
    if settings is not None:
        values = {k: getattr(settings, k) for k in declared}
    package = values.pop("package", None) or debian_package_name(name)
    if not _DEBIAN_NAME.match(package):
        problems.append(f"tool.hoist.package {package!r} is not a valid Debian package name (Debian Policy §5.6.1): "
                        "use lower case letters, digits, '+', '-' and '.'")
    install_root = values.setdefault("install_root", f"{ADD_ON_ROOT}/{package}")
    for problem in (install_root_problem(install_root, package), tag_prefix_problem(values.get("tag_prefix", "v"))):
        if problem:
            problems.append(problem)
    for key in ("distribution", "component"):
        problem = suite_problem(key, values[key]) if key in values else None
        problems.extend([problem] if problem else [])
    if values.get("lock") is not None:
        problem = lock_problem(values["lock"])
        problems.extend([problem] if problem else [])
    if "channels" in values:
        problems.extend(channels_problems(list(values["channels"] or ()), values.get("distribution")))
    if "health_check" in values:
        values["health_check"], problem = health_check_command(values["health_check"] or "")
        problems.extend([problem] if problem else [])
    if values.get("valid_days") is not None and not 1 <= values["valid_days"] <= MAX_VALID_DAYS:
        problems.append(f"tool.hoist.valid_days must be 1 to {MAX_VALID_DAYS} (days), not {values['valid_days']}")
    if not 1 <= values.get("health_timeout", 60) <= 3600:
        problems.append(f"tool.hoist.health_timeout must be 1 to 3600 (seconds), not {values['health_timeout']}")
    directory = values.get("metrics_directory", "/var/lib/prometheus/node-exporter")
    if not directory.startswith("/") or posixpath.normpath(directory) != directory.rstrip("/") or "\n" in directory:
        problems.append(f"tool.hoist.metrics_directory must be an absolute, normalised directory, not {directory!r} "
                        '(node_exporter\'s textfile directory, e.g. "/var/lib/prometheus/node-exporter")')
    if values.get("push_retries", 1) < 1:
        problems.append(f"tool.hoist.push_retries must be 1 or more, not {values['push_retries']}")
    if problems:
        raise ConfigError(
            "invalid configuration:\n  " + "\n  ".join(problems),
            "fix the keys named above in [tool.hoist]",
        )
    if targets and "git" not in targets:
        targets["git"] = tables["git"]()
    values["install_root"] = install_root.rstrip("/")
    if values.get("channels"):
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
