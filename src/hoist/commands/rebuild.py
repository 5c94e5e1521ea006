"""``hoist rebuild VERSION``: prove that a release is reproducible.

The tag is built again, from a clean export in a new directory, by the very
steps of a release (sdist and wheel, wheelhouse, .deb), and each artifact's
sha256 is compared with ``dist/release.json`` and with what every target
holds (each target's one reader, ``Target.state``).  With diffoscope
installed, the command line says how to see what differs.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from ..context import Context, ReleasePlan
from ..errors import PreflightError
from ..manifest import Manifest
from ..products import Products
from ..steps.build import Build
from ..steps.deb import Deb
from ..steps.wheelhouse import CollectWheelhouse
from ..targets import CONFLICT, PUBLISHED
from ..version import CalVer


@dataclass(frozen=True)
class Comparison:
    """One rebuilt artifact against one reference (the manifest, or a target).

    :ivar same: True when the reference holds the same sha256, False when it
        holds another, None when it does not hold the file.
    :ivar detail: what the reference holds, in a few words.
    """

    artifact: str
    reference: str
    same: bool | None
    detail: str


@dataclass(frozen=True)
class Rebuild:
    version: str
    directory: Path
    comparisons: tuple[Comparison, ...]

    @property
    def different(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if c.same is False)


def rebuild(ctx: Context, version: str) -> Rebuild:
    """Rebuild *version* in a new directory; compare it with every reference.

    :raises PreflightError: *version* is not a release of this repository.
    """
    parsed = CalVer.parse(version)
    if parsed is None:
        raise PreflightError(f"{version!r} is not a YY.MM.NN version", "give a released version, e.g. 26.11.0")
    tag = parsed.tag(ctx.config.tag_prefix)
    if tag not in ctx.git.local_tags():
        ctx.git("fetch", "--quiet", ctx.targets.git.remote, f"refs/tags/{tag}:refs/tags/{tag}", check=False)
    if tag not in ctx.git.local_tags():
        raise PreflightError(f"there is no tag {tag}", "hoist status lists the released versions")
    commit = ctx.git.out("rev-list", "-n", "1", tag)
    moment = datetime.fromtimestamp(ctx.git.commit_time(commit), timezone.utc)
    release = ReleasePlan(parsed, tag, True, commit, None, (), moment, "", ctx.config.distribution, ctx.config.component)
    out = Path(tempfile.mkdtemp(prefix=f"hoist-rebuild-{ctx.config.package}-{version}-"))
    work = Path(tempfile.mkdtemp(prefix=f"hoist-{ctx.config.package}-"))
    run = replace(ctx, dist=out, work=work)
    made = Products()
    try:
        for step in (Build(), CollectWheelhouse(), Deb()):
            with ctx.ui.step(step.name):
                made = step.run(run, release, step.plan(run, release), made)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Rebuild(version, out, tuple(compare(ctx, release, made)))


def compare(ctx: Context, release: ReleasePlan, made: Products) -> list[Comparison]:
    """The rebuilt artifacts against ``dist/release.json`` and every target."""
    results: list[Comparison] = []
    try:
        manifest = Manifest.read(ctx.dist / "release.json")
    except (OSError, ValueError):
        manifest = None
    ours = made.artifacts
    if manifest is not None and manifest.version == str(release.version):
        recorded = {a.kind: a for a in manifest.artifacts}
        for artifact in ours:
            if artifact.kind in recorded:
                theirs = recorded[artifact.kind].sha256
                results.append(Comparison(artifact.filename, "dist/release.json", theirs == artifact.sha256,
                                          f"sha256 {theirs[:16]}, ours {artifact.sha256[:16]}"))
    ref = release.ref(release.base)
    for target in ctx.targets.all:
        for artifact in ours:
            if artifact.kind in target.kinds:
                state = target.state(ref, [artifact])
                same = {PUBLISHED: True, CONFLICT: False}.get(state.state)
                results.append(Comparison(artifact.filename, target.name, same, state.detail))
    return results
