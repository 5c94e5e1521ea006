"""``hoist rebuild VERSION``: prove that a release is reproducible.

The tag is built again, from a clean export in a new directory, with the same
steps as a release (sdist and wheel, wheelhouse, .deb), and the sha256 of each
artifact is compared with ``dist/release.json`` and with what the index and
the apt repository hold.  Differences are reported; with diffoscope
installed, its summary says what differs inside.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from . import index
from .aptly import read_publication
from .context import Context, ReleasePlan
from .errors import PreflightError
from .manifest import Manifest, sha256_file
from .status import host_architecture
from .steps.build import Build
from .steps.deb import Deb
from .steps.wheelhouse import Wheelhouse
from .version import CalVer


@dataclass(frozen=True)
class Comparison:
    """One artifact of the rebuild against one reference."""

    artifact: str
    reference: str
    theirs: str | None
    ours: str

    @property
    def same(self) -> bool | None:
        return None if self.theirs is None else self.theirs == self.ours


def rebuild(ctx: Context, version: str) -> tuple[list[Comparison], Path]:
    """Rebuild *version* in a new directory; compare it with every reference.

    :returns: the comparisons and the directory that holds the rebuilt files.
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
    plan = ReleasePlan(parsed, tag, True, commit, None, (), moment, "", ctx.config.distribution, ctx.config.component)
    out = Path(tempfile.mkdtemp(prefix=f"hoist-rebuild-{ctx.config.package}-{version}-"))
    ctx = replace(ctx, dist_dir=out, artifacts={}, build_dir=None)
    try:
        for step in (Build(), Wheelhouse(), Deb()):
            with ctx.ui.step(step.name):
                step.run(ctx, plan)
    finally:
        if ctx.build_dir is not None:
            shutil.rmtree(ctx.build_dir, ignore_errors=True)
    return compare(ctx, plan, out), out


def compare(ctx: Context, plan: ReleasePlan, out: Path) -> list[Comparison]:
    ours = {kind: path for kind, path in ctx.artifacts.items()}
    results: list[Comparison] = []
    manifest_path = ctx.root / "dist" / "release.json"
    if manifest_path.exists():
        manifest = Manifest.read(manifest_path)
        if manifest.version == str(plan.version):
            for a in manifest.artifacts:
                if a.kind in ours:
                    results.append(Comparison(a.filename, "dist/release.json", a.sha256, sha256_file(ours[a.kind])))
    if ctx.targets.pypi is not None:
        held = index.project_files(ctx.targets.pypi.index_url, ctx.config.name)
        for kind in ("sdist", "wheel"):
            name = ours[kind].name
            results.append(Comparison(name, "index", held.get(name), sha256_file(ours[kind])))
    apt = ctx.apt_target()
    if apt is not None:
        publication = read_publication(ctx.runner, apt.url, ctx.config.distribution, ctx.config.component,
                                       host_architecture(ctx), apt.public_key)
        entry = publication.packages.get(ours["deb"].name) if publication.signed else None
        results.append(Comparison(ours["deb"].name, "apt", entry["SHA256"] if entry else None, sha256_file(ours["deb"])))
    return results
