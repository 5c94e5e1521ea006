"""Typed configuration: ``pyproject.toml``'s ``[project]`` and ``[tool.hoist]``.

The file is read with :mod:`tomllib`; ``[tool.hoist]`` becomes frozen
dataclasses.  Every problem is collected and reported at once; an unknown key
gets a did-you-mean (cibuildwheel's way).  Secrets never live here: they come
from the environment only (see :mod:`hoist.secrets`).
"""

from __future__ import annotations

import difflib
import platform
import re
import tomllib
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .errors import ConfigError

#: Build backends (or their plugins) that take the version from git tags,
#: keyed by canonical distribution name as listed in ``[build-system] requires``.
TAG_VERSION_BACKENDS = {
    "setuptools-scm": "setuptools-scm",
    "hatch-vcs": "hatch-vcs",
    "versioningit": "versioningit",
    "setuptools-git-versioning": "setuptools-git-versioning",
    "poetry-dynamic-versioning": "poetry-dynamic-versioning",
    "dunamai": "dunamai",
}


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

    :ivar aptly_config: path of the aptly configuration file.
    :ivar repo: the aptly local repository name.
    :ivar endpoint: aptly's publish prefix, e.g. ``filesystem:public:.``
        (aptly docs, "publish snapshot").
    :ivar url: the repository's URL as apt clients see it.
    :ivar gpg_key: the key id or fingerprint that signs the Release files.
    :ivar public_key: path of the exported public key clients use as
        ``signed-by`` keyring.
    :ivar gnupghome: the GnuPG home holding the secret key ("" = gpg's default).
    """

    aptly_config: str
    repo: str
    endpoint: str
    url: str
    gpg_key: str
    public_key: str
    gnupghome: str = ""


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
    :ivar local: no target is configured: publish to local targets.
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
    git: GitTarget | None = None
    pypi: PyPITarget | None = None
    apt: AptTarget | None = None
    has_hoist_table: bool = False

    @property
    def local(self) -> bool:
        return self.git is None and self.pypi is None and self.apt is None


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
    "git": dict,
    "pypi": dict,
    "apt": dict,
}
#: dpkg-deb's compressors (dpkg-deb(1) -Z); Debian 12's dpkg reads zstd.
COMPRESSORS = ("zstd", "xz", "gzip", "none")

_TABLES: dict[str, type] = {"git": GitTarget, "pypi": PyPITarget, "apt": AptTarget}

# Debian Policy §5.6.1: package names are [a-z0-9][a-z0-9+.-]+
_DEBIAN_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


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


def load(root: Path) -> Config:
    """Read the configuration of the project at *root*.

    :raises ConfigError: with every problem found (unknown keys with the
        nearest known key, wrong types, missing required keys).
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

    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _TOP_KEYS:
            problems.append(f"unknown key tool.hoist.{key} in {path}: {_did_you_mean(key, list(_TOP_KEYS))}")
            continue
        expected = _TOP_KEYS[key]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            kinds = {str: "a string", int: "an integer", dict: "a table"}
            problems.append(f"tool.hoist.{key} must be {kinds[expected]}, not {type(value).__name__}")
            continue
        if expected is dict:
            target_cls = _TABLES[key]
            known = [f.name for f in fields(target_cls)]
            unknown = [k for k in value if k not in known]
            for k in unknown:
                problems.append(f"unknown key tool.hoist.{key}.{k} in {path}: {_did_you_mean(k, known)}")
            required = [f.name for f in fields(target_cls) if f.default is MISSING]
            missing = [k for k in required if k not in value]
            for k in missing:
                problems.append(f"tool.hoist.{key} needs the key {k!r}")
            bad = [k for k in value if k in known and not isinstance(value[k], str)]
            for k in bad:
                problems.append(f"tool.hoist.{key}.{k} must be a string")
            if not (unknown or missing or bad):
                values[key] = target_cls(**value)
        else:
            values[key] = value
    if problems:
        raise ConfigError(
            "invalid configuration:\n  " + "\n  ".join(problems),
            "fix the keys named above in [tool.hoist]",
        )
    if values.get("compression", "zstd") not in COMPRESSORS:
        raise ConfigError(
            f"tool.hoist.compression is {values['compression']!r}, not one of {', '.join(COMPRESSORS)}",
            "zstd builds fastest; xz makes .debs that Debian 11 and older can read",
        )
    package = values.pop("package", None) or debian_package_name(name)
    if not _DEBIAN_NAME.match(package):
        raise ConfigError(
            f"{package!r} is not a valid Debian package name (Debian Policy §5.6.1)",
            "set tool.hoist.package to a name of lower case letters, digits, '+', '-' and '.'",
        )
    if (values.get("git") or values.get("pypi") or values.get("apt")) and "git" not in values:
        values["git"] = GitTarget()
    install_root = values.setdefault("install_root", f"/opt/{package}")
    if not install_root.startswith("/") or install_root.rstrip("/") in ("", "/opt"):
        raise ConfigError(
            f"tool.hoist.install_root must be an absolute directory of its own, not {install_root!r}",
            f'use e.g. install_root = "/opt/{package}"',
        )
    values["install_root"] = install_root.rstrip("/")
    values.setdefault("distribution", host_codename())
    return Config(
        root=root,
        name=name,
        package=package,
        scripts=tuple(project.get("scripts", {})),
        version_backend=version_backend(data),
        has_hoist_table=has_table,
        **values,
    )
