"""``hoist init``: make a Python project releasable with hoist.

Writes ``debian/`` (control, rules, changelog, source/format, links for the
console scripts, lintian overrides, the postinst and prerm that compile and
remove the byte code), ``tasks.py``, a ``Jenkinsfile`` with its
``ci/`` scripts, and a ``[tool.hoist]`` table in ``pyproject.toml``, from the
templates in ``hoist.templates``.  It never overwrites: files that exist are
named and nothing is written, unless ``force``.
"""

from __future__ import annotations

import json
import re
import shlex
import stat
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path
from string import Template

from packaging.version import InvalidVersion, Version

from .. import __version__, changelog
from ..archive import Archive
from ..config import debian_package_name, host_codename, is_debian_package_name, tag_prefix_problem
from ..errors import ConfigError
from ..git import Git
from ..pyproject import project_directory, read_pyproject, tag_version_hint, tool_setting, version_backend
from ..runner import Runner
from .lock import DEFAULT_LOCK


class _Template(Template):
    delimiter = "@"  # debian/rules and shell scripts use $ themselves


#: Templates written for every project: (template, destination, executable).
TEMPLATES = [
    ("debian/control", "debian/control", False),
    ("debian/rules", "debian/rules", True),
    ("debian/source/format", "debian/source/format", False),
    ("debian/copyright", "debian/copyright", False),
    ("debian/lintian-overrides", "debian/@{package}.lintian-overrides", False),
    # dh_installdeb makes them the package's maintainer scripts, #DEBHELPER# expanded.
    ("debian/postinst", "debian/@{package}.postinst", False),
    ("debian/prerm", "debian/@{package}.prerm", False),
    ("tasks.py", "tasks.py", False),
    ("Jenkinsfile", "Jenkinsfile", False),
    ("ci/bootstrap", "ci/bootstrap", True),
    ("ci/test", "ci/test", True),
    ("ci/should-release", "ci/should-release", True),
    ("ci/release", "ci/release", True),
]


def _hoist_table(branch: str, lock: str | None, tag_prefix: str) -> str:
    return (
        "\n[tool.hoist]\n"
        "# Release settings; see hoist's README. With no [tool.hoist.git], [tool.hoist.pypi]\n"
        "# or [tool.hoist.apt] table, hoist publishes to local targets on this machine.\n"
        f'branch = "{branch}"\n'
        f'tag_prefix = "{tag_prefix}"\n'
        + (f'lock = "{lock}"  # pinned dependencies with hashes (hoist lock)\n' if lock else "")
    )


#: A release tag: a prefix, then a version (PEP 440's public part).
_RELEASE_TAG = re.compile(r"^(?P<prefix>.*?)(?P<version>\d+(?:\.\d+)*(?:(?:a|b|rc|\.post|\.dev)\d+)*)$")


def tag_prefix_of(tags: list[str]) -> str | None:
    """The prefix of the project's release tags (``v`` of ``v1.2.3``,
    ``mytool-v`` of ``mytool-v1.2.3``, ``""`` of ``1.2.3``): the most common
    one, the newest first on a tie; None without release tags.

    :param tags: the tags, newest first.
    """
    counts: dict[str, int] = {}
    for tag in tags:
        match = _RELEASE_TAG.match(tag)
        if match is None or tag_prefix_problem(match["prefix"]):
            continue
        try:
            Version(match["version"])
        except InvalidVersion:
            continue
        counts[match["prefix"]] = counts.get(match["prefix"], 0) + 1
    return max(counts, key=lambda p: counts[p]) if counts else None


#: The settings in which a version backend takes a regular expression whose
#: group ``version`` is the version in a tag (setuptools-scm ``tag_regex``,
#: hatch-vcs ``tag-pattern`` or ``raw-options.tag_regex``, pdm-backend ``tag_regex``).
TAG_REGEX_SETTINGS = (("setuptools_scm", "tag_regex"), ("hatch.version", "tag-pattern"),
                      ("hatch.version.raw-options", "tag_regex"), ("pdm.version", "tag_regex"))

#: A tag pattern that is a literal prefix, then the version group.
_LITERAL_PREFIX = re.compile(r"^\^?(?P<prefix>(?:[\w\-]|\\[.\-])*)\(\?P<version>")


#: The settings in which a backend takes the ``git describe`` command that finds its tags
#: (setuptools-scm ``git_describe_command``, and hatch-vcs's ``raw-options`` of it).
DESCRIBE_SETTINGS = (("setuptools_scm", "git_describe_command"), ("hatch.version.raw-options", "git_describe_command"))


def _describe_match(command: object) -> str | None:
    """The literal start of the ``--match`` pattern of a ``git describe`` command (a string or a list), or None."""
    try:
        words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command or []]
    except (ValueError, TypeError):
        return None
    for i, word in enumerate(words):
        pattern = word.partition("=")[2] if word.startswith("--match=") else \
            words[i + 1] if word == "--match" and i + 1 < len(words) else None
        if pattern is not None:
            return re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    return None


def tag_prefix_of_settings(pyproject: dict) -> str | None:
    """The tag prefix that the version backend's own settings ask for: its
    ``git describe --match`` (``"mytool-v*"`` asks for ``mytool-v``), else its
    tag pattern (``^mytool-v(?P<version>.+)$``); None where the project sets
    none, or one that is not a literal prefix before the version (see
    :data:`DESCRIBE_SETTINGS`, :data:`TAG_REGEX_SETTINGS`)."""
    for table, key in DESCRIBE_SETTINGS:
        prefix = _describe_match(tool_setting(pyproject, table, key))
        if prefix and not tag_prefix_problem(prefix):
            return prefix
    for table, key in TAG_REGEX_SETTINGS:
        pattern = tool_setting(pyproject, table, key)
        match = _LITERAL_PREFIX.match(pattern) if isinstance(pattern, str) else None
        if match is not None:
            prefix = match["prefix"].replace("\\", "")
            if prefix and not tag_prefix_problem(prefix):
                return prefix
    return None


@dataclass(frozen=True)
class Adoption:
    """What ``hoist init`` writes for a project, and why where it chose.

    :ivar files: ``{relative path: (content, executable)}``.
    :ivar package: the Debian package name.
    :ivar notes: the choices made to stay clear of Debian's archive.
    :ivar values: what the templates were filled with (see :data:`TEMPLATES`).
    """

    files: dict[str, tuple[str, bool]]
    package: str
    notes: tuple[str, ...] = ()
    values: dict[str, str] = field(default_factory=dict)


def planned_files(root: Path, package: str | None = None, known: dict[str, str] | None = None) -> Adoption:
    """What ``hoist init`` would write in *root*.

    The package name is the project's (PEP 503 normalised), unless Debian's
    archive has a package, or a virtual one, of that name: then the first
    free one of ``<name>-app``, ``<name>-venv``... (see :mod:`hoist.archive`).
    A console script whose ``/usr/bin`` path a package of the archive ships
    is not linked there.

    :param package: the Debian package name to use, whatever the archive has.
    :param known: template values to keep (those an earlier ``hoist init`` used,
        see :mod:`hoist.commands.update`) rather than take afresh.
    :raises ConfigError: ``pyproject.toml`` is missing or malformed, has no
        name, or the version does not come from git tags; *package* is not a
        Debian package name.
    """
    data = read_pyproject(root)
    project = data.get("project", {})
    name = project.get("name")
    if not name:
        raise ConfigError(f"{root / 'pyproject.toml'} has no [project] name", "add a PEP 621 [project] table")
    if version_backend(data) is None:
        raise ConfigError(f"the version of {name} does not come from git tags, so hoist cannot set it",
                          f"in pyproject.toml, {tag_version_hint(data)}")
    runner = Runner()
    archive = Archive(runner)
    notes = []
    if package is None:
        package = archive.free_name(debian_package_name(name))
        if package != debian_package_name(name):
            notes.append(f"the package is named {package}: {archive.package(debian_package_name(name))}, and a "
                         "package of the same name would replace it on servers (--package NAME chooses another)")
    elif not is_debian_package_name(package):
        raise ConfigError(f"--package {package!r} is not a valid Debian package name (Debian Policy §5.6.1)",
                          "use lower case letters, digits, '+', '-' and '.'")
    git = Git.open(runner, root)
    who, email = git.ident()
    subdir = git.path_of(root)
    if subdir != ".":
        notes.append(f"the project is {subdir}/ of its repository: Jenkins finds its pipeline with the job's "
                     f"Script Path {subdir}/Jenkinsfile, and the version backend must be told the repository's "
                     "top level (setuptools-scm: root = \"..\"; hatch-vcs: raw-options = { root = \"..\" })")
    values = {
        # a project in a subdirectory: Jenkins runs the steps at the repository's top level
        "here": "" if subdir == "." else f"{subdir}/",
        "jenkins_note": "" if subdir == "." else f"\n// The job's Script Path is {subdir}/Jenkinsfile.",
        "name": name,
        "package": package,
        "install_root": f"/opt/{package}",
        "maintainer": f"{who} <{email}>",
        # Debian Policy §3.4.1: the synopsis is one line, under 80 characters.
        "summary": synopsis(name, project.get("description") or ""),
        "branch": branch_of(root),
        "copyright": ", ".join(a.get("name", "") for a in project.get("authors", []) if a.get("name")) or who,
        "license": license_name(project),
        "year": str(datetime.now(timezone.utc).year),
    }
    values.update({k: v for k, v in (known or {}).items() if k in values and k != "package"})
    templates = files("hoist.templates")
    out: dict[str, tuple[str, bool]] = {}
    for source, destination, executable in TEMPLATES:
        text = templates.joinpath(source).read_text(encoding="utf-8")
        out[_Template(destination).substitute(values)] = (_Template(text).safe_substitute(values), executable)
    scripts = sorted(project.get("scripts", {}))
    taken, searched = archive.files([f"/usr/bin/{script}" for script in scripts])
    for clash in taken:
        notes.append(f"not linked: {clash}; the program stays at /opt/{package}/bin/{Path(clash.what).name}")
    if scripts and not searched:
        notes.append("the archive's files were not searched (install apt-file and run apt-file update): "
                     "only packages installed here were checked")
    linked = [s for s in scripts if f"the file /usr/bin/{s}" not in {t.what for t in taken}]
    # debhelper 13 expands ${env:VAR} in .links files (debhelper(7), "Substitution").
    links = "".join(f"${{env:HOIST_INSTALL_ROOT}}/bin/{script} usr/bin/{script}\n" for script in linked)
    out[f"debian/{package}.links"] = (links, False)
    entry = changelog.initial(package, host_codename(), values["maintainer"], datetime.now(timezone.utc).replace(microsecond=0))
    out["debian/changelog"] = (entry, False)
    for unit in sorted((root / "systemd").glob("*.service")):
        # dh_installsystemd installs debian/<package>.service (or <package>.<unit>.service).
        suffix = "" if unit.stem == package else f".{unit.stem}"
        out[f"debian/{package}{suffix}.service"] = (unit.read_text(encoding="utf-8"), False)
    return Adoption(out, package, tuple(notes), values)


#: Where ``hoist init`` records what it wrote (see :mod:`hoist.commands.update`).
ADOPTED = ".hoist/adopted.json"

#: Files that are the project's own once written: never updated.
OWN_AFTER_INIT = ("debian/changelog",)


def record_adoption(root: Path, adoption: Adoption) -> None:
    """Keep what ``hoist init`` wrote in *root*/:data:`ADOPTED` (JSON: the
    hoist version, the template values, the text of each file), the base
    against which ``hoist init --update`` merges today's templates with the
    project's own edits."""
    record = {
        "hoist": __version__,
        "values": adoption.values,
        "files": {path: text for path, (text, _) in sorted(adoption.files.items()) if path not in OWN_AFTER_INIT},
    }
    target = root / ADOPTED
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


#: What a release and its build leave in the project, which git must not count as changes.
BY_PRODUCTS = ("dist/", "build/", ".venv/", "*.egg-info/", "__pycache__/", ".pytest_cache/")


def ignore_by_products(root: Path) -> list[str]:
    """Add to ``<root>/.gitignore`` (made if need be) each of :data:`BY_PRODUCTS`
    that git does not ignore there yet (``git check-ignore``); the patterns added."""
    git = Git.open(Runner(), root)
    probes = {pattern: pattern.rstrip("/").replace("*", "probe") + ("/x" if pattern.endswith("/") else "")
              for pattern in BY_PRODUCTS}
    ignored = set(git("-C", str(root), "check-ignore", "--no-index", *probes.values(), check=False).stdout.split())
    missing = [pattern for pattern, probe in probes.items() if probe not in ignored]
    if missing:
        path = root / ".gitignore"
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        path.write_text(text + ("" if not text or text.endswith("\n") else "\n")
                        + "# what a release and its build leave here (hoist init)\n" + "".join(f"{p}\n" for p in missing),
                        encoding="utf-8")
    return missing


def init(path: Path, force: bool = False, package: str | None = None) -> list[str]:
    """Write hoist's files into the project at *path*; return lines to show.

    :param package: the Debian package name (default: see :func:`planned_files`).
    :raises PreflightError: *path* is not in a git repository.
    :raises ConfigError: see :func:`planned_files`; or files exist (all are
        named) and *force* is false.
    """
    root = project_directory(path, Git.open(Runner(), path).root)
    adoption = planned_files(root, package)
    planned = adoption.files
    pyproject = root / "pyproject.toml"
    has_table = "hoist" in read_pyproject(root).get("tool", {})
    existing = [p for p in planned if (root / p).exists()]
    if has_table:
        existing.append("pyproject.toml [tool.hoist]")
    if existing and not force:
        raise ConfigError(
            f"hoist init would overwrite: {', '.join(existing)}",
            "move them aside, or run hoist init --force to replace them",
        )
    lines = []
    for relative, (content, executable) in planned.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        if executable:
            target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        lines.append(f"wrote {relative}")
    if not has_table:
        text = pyproject.read_text(encoding="utf-8")
        lock = DEFAULT_LOCK if (root / DEFAULT_LOCK).is_file() else None
        tags = Git.open(Runner(), root).out("tag", "--list", "--sort=-creatordate").splitlines()
        # The backend's own settings first: in a repository of several projects, the newest tags may be another's.
        from_settings = tag_prefix_of_settings(read_pyproject(root))
        prefix = from_settings if from_settings is not None else tag_prefix_of(tags)
        own_name = adoption.package != debian_package_name(read_pyproject(root)["project"]["name"])
        pyproject.write_text(text.rstrip("\n") + "\n" + _hoist_table(branch_of(root), lock, prefix or "v")
                             + (f'package = "{adoption.package}"\n' if own_name else ""), encoding="utf-8")
        lines.append("added [tool.hoist] to pyproject.toml"
                     + (f' (tag_prefix = "{prefix}", as the project\'s '
                        f'{"version backend reads tags" if from_settings is not None else "tags have it"})'
                        if prefix is not None else ""))
    ignored = ignore_by_products(root)
    if ignored:
        lines.append(f"added {', '.join(ignored)} to .gitignore")
    record_adoption(root, adoption)
    lines.append(f"wrote {ADOPTED}")
    lines.extend(f"note: {note}" for note in adoption.notes)
    lines.append("next: review and commit these files, then run `hoist plan` and `hoist release`")
    return lines


def synopsis(name: str, description: str) -> str:
    """The binary package's one-line synopsis: under 80 characters and not
    starting with the package name (Debian Policy §3.4.1, lintian's
    description-starts-with-package-name)."""
    text = " ".join(description.split()) or f"the {name} application with its virtualenv"
    if text.lower().startswith(name.lower()):
        text = f"Python application: {text}"
    return textwrap.shorten(text, 79, placeholder="...")


def license_name(project: dict) -> str:
    """The project's license for debian/copyright: the SPDX expression of PEP 639,
    the file named by the older table form, or the classifier."""
    license = project.get("license")
    if isinstance(license, str):
        return license
    if isinstance(license, dict) and license.get("file"):
        return f"see {license['file']}"
    for classifier in project.get("classifiers", []):
        if classifier.startswith("License :: OSI Approved :: "):
            return classifier.rsplit(" :: ", 1)[1]
    return "see the project's license file"


def branch_of(root: Path) -> str:
    """The release branch for a new project: the checked-out one, else master."""
    return Git.open(Runner(), root).branch() or "master"
