"""``hoist rebuild VERSION``: prove that a release is reproducible.

The tag is built again, from a clean export in a new directory, by the very
steps of a release (sdist and wheel, wheelhouse, .deb), and each artifact's
sha256 is compared with ``dist/release.json`` and with what every target
holds (each target's one reader, ``Target.state``).  With diffoscope
installed, the command line says how to see what differs.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from .. import targets
from ..config import load
from ..context import Context, ReleasePlan
from ..errors import BuildError, PreflightError
from ..git import Git
from ..manifest import CHECKSUMS, Artifact, Manifest, read_checksums, sha256_file
from ..products import Export, Products, Wheelhouse
from ..reproducible import extract
from ..runner import Runner
from ..secrets import Secrets
from ..steps.build import Build, set_mtimes
from ..steps.deb import Deb
from ..steps.source_release import unpack
from ..steps.wheelhouse import CollectWheelhouse, pinned_requirements
from ..targets import CONFLICT, PUBLISHED, Targets
from ..targets.apt.publication import verify_detached
from ..ui import UI
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


def signed_checksums(runner: Runner, source_release: Path, keyring: Path | None) -> dict[str, str]:
    """The release's ``SHA256SUMS`` beside *source_release* (as the release put
    them beside the repository, ``hoist/<package>/<version>/``, and in
    ``dist/``), its signature ``SHA256SUMS.asc`` verified with *keyring* (the
    repository's public key): ``{file name: sha256}``; the source release
    must be listed with its own sha256.

    :raises PreflightError: the list or its signature is not beside it, no
        keyring was given, or the signature does not verify.
    :raises BuildError: the source release is not the one the list records.
    """
    sums, signature = source_release.parent / CHECKSUMS, source_release.parent / f"{CHECKSUMS}.asc"
    fetch_them = (f"put {CHECKSUMS} and {CHECKSUMS}.asc of the release (from beside the apt repository, "
                  f"hoist/<package>/<version>/) next to {source_release.name}, and give the repository's public key "
                  "with --keyring")
    if not sums.is_file() or not signature.is_file():
        raise PreflightError(f"{CHECKSUMS} and its signature are not beside {source_release}: a rebuild trusts only "
                             "what the release signed", fetch_them)
    if keyring is None:
        raise PreflightError(f"{CHECKSUMS} beside {source_release.name} is checked with the repository's public key, "
                             "and none was given", fetch_them)
    if not verify_detached(runner, sums.read_bytes(), signature.read_bytes(), str(keyring)):
        raise PreflightError(f"{CHECKSUMS}.asc beside {source_release.name} does not verify with {keyring}",
                             "give the keyring of the repository the release was published to; do not build from "
                             "files whose list is not signed by it")
    listed = read_checksums(sums.read_text(encoding="utf-8", errors="replace"))
    ours = sha256_file(source_release)
    if listed.get(source_release.name) != ours:
        raise BuildError(f"{source_release.name} has sha256 {ours}, but the signed {CHECKSUMS} lists "
                         f"{listed.get(source_release.name) or 'no such file'}",
                         "the file was changed after the release: do not build from it")
    return listed


def rebuild_from(ui: UI, version: str, source_release: Path, keyring: Path | None = None) -> Rebuild:
    """Rebuild *version* from its source release alone (see
    :mod:`hoist.steps.source_release`), needing no network and no git
    repository; compare each artifact with the sha256 the release recorded.

    The wheel is built from the sdist (``python -m build --wheel``, its build
    requirements from the source release's ``build/``, no index), the .deb by
    the release's own step from the wheel and ``wheels/``.

    Only what the release signed is trusted: the source release and every
    rebuilt artifact are compared with the signed ``SHA256SUMS`` (see
    :func:`signed_checksums`), never with the description inside the file.

    :raises PreflightError: *version* is not the source release's version, or
        the signed list is not there.
    :raises BuildError: the source release is incomplete or was changed (see
        :func:`hoist.steps.source_release.unpack`), or a build failed.
    """
    secrets = Secrets.from_environment()
    runner = Runner(log=ui.command, debug=ui.debug, secrets=set(secrets.values()))
    listed = signed_checksums(runner, source_release, keyring)
    work = Path(tempfile.mkdtemp(prefix="hoist-rebuild-from-"))
    out: Path | None = None
    try:
        top, description = unpack(source_release, work / "unpacked")
        if description["version"] != version:
            raise PreflightError(f"{source_release.name} is the source release of {description['version']}, "
                                 f"not {version}", f"hoist rebuild {description['version']} --from {source_release}")
        parsed = CalVer.parse(version)
        if parsed is None:
            raise PreflightError(f"{version!r} is not a YY.MM.NN version", "give a released version, e.g. 26.11.0")
        epoch = int(description["source_date_epoch"])
        recorded = description["artifacts"]
        out = Path(tempfile.mkdtemp(prefix=f"hoist-rebuild-{description['package']}-{version}-"))
        sdist = out / recorded["sdist"]["file"]
        shutil.copyfile(top / recorded["sdist"]["file"], sdist)
        extract(sdist, work / "src")
        unpacked = [p for p in (work / "src").iterdir() if p.is_dir()]
        if len(unpacked) != 1:
            raise BuildError(f"the sdist {sdist.name} holds {len(unpacked)} top directories, not one",
                             "give the source release a release made")
        project = unpacked[0]
        shutil.copytree(top / "debian", project / "debian", dirs_exist_ok=True)  # the tag's, over any in the sdist
        set_mtimes(project, epoch)
        with ui.step("build the wheel from the sdist"):
            runner.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "python"), str(project)],
                       env={"SOURCE_DATE_EPOCH": str(epoch), "PIP_NO_INDEX": "1", "COLUMNS": "1000",
                            "PIP_FIND_LINKS": str(top / "build")}, stream=True)
        (built,) = (work / "python").glob("*.whl")
        wheel = out / built.name
        shutil.copyfile(built, wheel)
        config = load(project, targets.settings_tables())
        ctx = Context(config, Git(runner, project), runner, ui, Targets(git=None), secrets, out, work)
        release = ReleasePlan(parsed, description["tag"], True, "", None, (),
                              datetime.fromtimestamp(epoch, timezone.utc), "", config.distribution, config.component)
        hashes = {w.name: sha256_file(w) for w in sorted((top / "wheels").glob("*.whl"))}
        requirements = work / "requirements.txt"
        requirements.write_text(pinned_requirements(hashes, wheel), encoding="utf-8")
        made = Products().add(Export(project, epoch), Wheelhouse(top / "wheels", requirements),
                              Artifact.of("sdist", sdist), Artifact.of("wheel", wheel))
        step = Deb()
        with ui.step(step.name):
            made = step.run(ctx, release, step.plan(ctx, release), made)
    except BaseException:
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    comparisons = []
    for artifact in made.artifacts:
        theirs = listed.get(artifact.filename)
        comparisons.append(Comparison(artifact.filename, CHECKSUMS, None if theirs is None else theirs == artifact.sha256,
                                      f"sha256 {theirs[:16]}, ours {artifact.sha256[:16]}" if theirs
                                      else "not in the signed list"))
    return Rebuild(version, out, tuple(comparisons))
