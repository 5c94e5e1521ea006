"""What hoist reads of ``pyproject.toml`` beyond ``[tool.hoist]``: the
file itself, the build backend and whether its version comes from git tags
(PEP 517, PEP 518, PEP 621), and other tools' tables."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
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
