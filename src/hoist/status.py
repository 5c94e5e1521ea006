"""What the targets hold of one release, read from the targets themselves.

Used to decide that a resumed release has nothing left to do, and by
``hoist status``.  A target's state is ``published`` (it holds the release,
with the sha256 of ``dist/release.json`` when that is known), ``missing``, or
``conflict`` (it holds a file of that name with another sha256).  An apt
repository holds a release only as apt sees it: listed in a ``Packages`` index
that a verified ``InRelease`` vouches for.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from . import index
from .aptly import read_publication
from .context import Context
from .planning import remote_state


@dataclass(frozen=True)
class TargetState:
    """One target's state for a release, and a line saying what it holds."""

    target: str
    state: str
    detail: str = ""


def version_of(filename: str) -> Version | None:
    """The version in a wheel's, an sdist's (PEP 427, PEP 625) or a .deb's
    (``name_version_arch.deb``) file name, or None for any other file."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        if filename.endswith(".deb") and filename.count("_") == 2:
            return Version(filename.split("_")[1])
        return parse_sdist_filename(filename)[1]
    except (InvalidSdistFilename, InvalidWheelFilename, InvalidVersion):
        return None


def host_architecture(ctx: Context) -> str:
    """The Debian architecture packages are built for here (``dpkg --print-architecture``)."""
    return ctx.runner.run(["dpkg", "--print-architecture"]).stdout.strip()


def release_states(ctx: Context, version: str, tag: str, commit: str, expected: dict[str, str] | None = None) -> list[TargetState]:
    """The state of every configured target for *version*.

    :param expected: ``{filename: sha256}`` of the release's artifacts, when
        known (from ``dist/release.json``); without it, presence by name and
        version is all that is checked.
    """
    expected = expected or {}
    states = []
    remote = remote_state(ctx)
    at = remote.tags.get(tag)
    states.append(TargetState("git", "missing" if at is None else ("published" if at == commit else "conflict"),
                              f"{tag} at {at[:12]}" if at else f"no tag {tag}"))

    if ctx.targets.pypi is not None:
        held = index.project_files(ctx.targets.pypi.index_url, ctx.config.name)
        mine = {name: sha for name, sha in held.items() if version_of(name) == Version(version)}
        kinds = {"sdist": any(n.endswith(".tar.gz") for n in mine), "wheel": any(n.endswith(".whl") for n in mine)}
        bad = [n for n, sha in expected.items() if n in mine and mine[n] and mine[n] != sha]
        state = "conflict" if bad else ("published" if all(kinds.values()) else "missing")
        states.append(TargetState("pypi", state, ", ".join(sorted(mine)) or "no files"))

    apt = ctx.apt_target()
    if apt is not None:
        publication = read_publication(ctx.runner, apt.url, ctx.config.distribution, ctx.config.component,
                                       host_architecture(ctx), apt.public_key)
        entry = next((p for p in publication.packages.values()
                      if p["Package"] == ctx.config.package and p["Version"] == version), None)
        if entry is None:
            states.append(TargetState("apt", "missing", f"{ctx.config.package} {version} not in {ctx.config.distribution}"))
        elif not publication.signed:
            states.append(TargetState("apt", "missing", f"apt would refuse it: {publication.problem}"))
        else:
            name = entry["Filename"].rsplit("/", 1)[-1]
            bad = name in expected and expected[name] != entry["SHA256"]
            states.append(TargetState("apt", "conflict" if bad else "published", name))
    return states
