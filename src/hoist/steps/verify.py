"""Check the artifacts before anything is published.

The versions agree (sdist, wheel, .deb), no file of the .deb holds the build
path, ``twine check`` passes on the sdist and wheel (what the index would
refuse: a description that does not render; its warnings, such as a missing
``long_description``, which the index accepts, are shown), and lintian
reports no error on the .deb (the project's commented overrides in
``debian/<package>.lintian-overrides`` apply; the slow checks that cannot fail
a virtualenv package are left out, see :data:`LINTIAN_SKIPPED_CHECKS`).
lintian sees the package in parts, the dependencies' files checked once per
content and side by side (:mod:`hoist.lint`); twine and lintian run at the
same time.
"""

from __future__ import annotations

import os
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from debian.debfile import DebFile

from .. import lint
from ..context import Context, ReleasePlan
from ..decisions import lost_race
from ..errors import BuildError, ConflictError, PushRejectedError
from ..manifest import Artifact
from ..products import Export, Products
from ..runner import Runner
from ..targets import CONFLICT

#: lintian checks left out (``-X``): they cost seconds on a large virtualenv and
#: can only report warnings or less for a package like hoist's (tag severities
#: from ``lintian-explain-tags``, Debian 12's lintian 2.116).  Measured on the
#: benchmark's large app (60 locked packages): lintian 27.8 s, without these 16.5 s.
LINTIAN_SKIPPED_CHECKS = (
    # embedded-javascript-library (warning): copies of jQuery and the like in
    # the documentation of dependencies; a virtualenv embeds by design (the
    # overrides already accept embedded-library).  About 5 s.
    "languages/javascript/embedded",
    # broken-gz, package-contains-timestamped-gzip (warnings) look into .gz
    # files that wheels ship as data, and gzip-file-is-not-multi-arch-same-safe
    # (error) applies to Multi-Arch: same packages only, which a virtualenv
    # package is not.  hoist checks the .deb's reproducibility itself.  About 5 s.
    "files/compressed/gz",
    # spelling-error-in-binary (info): spelling in the strings of the wheels'
    # shared objects, which the package's maintainer cannot fix.  About 1.6 s.
    "binaries/spelling",
    # embedded-php-library (warning): no PHP in a Python virtualenv.
    "languages/php/embedded",
)


#: The installed size (KiB, the control file's ``Installed-Size``, Debian
#: Policy 5.6.20) that gives lintian about as much work as its own start,
#: which is about 2.5 s whatever the package (Debian 12's lintian 2.116: the
#: part of the example app with 52 files takes 2.4 s; the dependencies of the
#: benchmark's large app, 119 MiB, 0.19 s per MiB more).  The dependencies
#: are split in one chunk per this much, up to one per core: a chunk that
#: saves less than that costs a whole start (measured on 2 cores: the example
#: app, 3 MiB, checked in 3.7 s as the own part and one chunk, 4.7 s with two;
#: the large app, 119 MiB, in 19.8 s with two, 25.5 s with one).
LINTIAN_CHUNK_KIB = 16 * 1024


def lintian_chunks(installed_kib: int, cores: int) -> int:
    """How many chunks the dependencies' files are checked in (see
    :data:`LINTIAN_CHUNK_KIB`): at least one, at most *cores*."""
    return max(1, min(cores, installed_kib // LINTIAN_CHUNK_KIB))


@dataclass(frozen=True)
class VerifyPlan:
    """The checks on the built artifacts, before the push (each command is
    given the artifacts' paths by the run).

    :ivar targets: the targets whose state is read for a file of the same
        name with another sha256.
    """

    package: str
    version: str
    twine_check_command: tuple[str, ...]
    lintian_command: tuple[str, ...]
    lintian_jobs: int
    targets: tuple[str, ...]


class Verify:
    name = "verify artifacts"

    def plan(self, ctx: Context, release: ReleasePlan) -> VerifyPlan:
        return VerifyPlan(
            package=ctx.config.package,
            version=str(release.version),
            twine_check_command=(sys.executable, "-m", "twine", "--no-color", "check"),
            lintian_command=("lintian", "--fail-on", "error", "--tag-display-limit", "0", "-X", ",".join(LINTIAN_SKIPPED_CHECKS)),
            # lintian checks one package on one core: the dependencies' files in up to as many parts as there are cores
            lintian_jobs=max(1, len(os.sched_getaffinity(0))),
            targets=tuple(t.name for t in ctx.targets.all if t.kinds),
        )

    def run(self, ctx: Context, release: ReleasePlan, plan: VerifyPlan, made: Products) -> Products:
        deb = made.artifact("deb").path
        control = DebFile(str(deb)).debcontrol()
        if control["Version"] != plan.version or control["Package"] != plan.package:
            raise BuildError(
                f"{deb.name} is {control['Package']} {control['Version']}, expected {plan.package} {plan.version}",
                "the top entry of debian/changelog must be the release's",
            )
        package = plan.package
        if not any((ctx.root / "debian" / name).exists() for name in (f"{package}.postinst", "postinst")):
            ctx.ui.line(
                f"    warning: debian/{package}.postinst is missing: servers will run the virtualenv without byte "
                f"code (hoist ships none); `hoist init --force` writes it and its prerm", style="yellow")
        build_dir = made.get(Export).path.parent
        assert ctx.work is not None
        wheel = made.artifact("wheel").path
        with zipfile.ZipFile(wheel) as archive:
            # The wheel's own RECORD (PEP 427: <name>-<version>.dist-info/ at the top), not a vendored one.
            records = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/RECORD")]
            if len(records) != 1:
                raise BuildError(f"{wheel.name} has {len(records)} .dist-info/RECORD at its top, not one",
                                 "the wheel is malformed: check the build backend")
            own = lint.own_top_levels(archive.read(records[0]).decode())
        passed = lint.PassedCache(" ".join([lintian_setting(ctx.runner), *plan.lintian_command]))
        parts = lint.split(deb, package, lint.shared_rule(ctx.config.install_root, own),
                           [str(build_dir), str(ctx.root)], ctx.work / "lintian", passed.__contains__,
                           chunks=lintian_chunks(int(control.get("Installed-Size", "0")), plan.lintian_jobs))
        if parts.leaks:
            raise BuildError(
                f"{deb.name} contains the build directory's path ({build_dir} or {ctx.root}) "
                f"in: {', '.join(parts.leaks[:10])}",
                "the package would differ when built elsewhere; debian/rules must run $(HOIST_FIXUP) "
                "after dh_virtualenv (run hoist init --force to get the current rules)",
            )
        checked = parts.packages
        with ThreadPoolExecutor(len(checked) + 1) as pool:
            twine = pool.submit(ctx.runner.run, [*plan.twine_check_command, str(made.artifact("sdist").path),
                                                 str(wheel)])
            lintian = [pool.submit(ctx.runner.run, [*plan.lintian_command, str(p)], check=False) for p in checked]
            checked_by_twine = twine.result()
            results = [future.result() for future in lintian]
        for line in checked_by_twine.stdout.splitlines():  # its warnings, for people: the exit status decides
            if line.strip().startswith("WARNING"):
                ctx.ui.line(f"    twine: {line.strip()}")
        errors = [line for result in results if not result.ok
                  for line in result.stdout.splitlines() if line.startswith("E:")]
        failed = [(part, result) for part, result in zip(checked, results) if not result.ok]
        if failed and not errors:  # lintian itself failed: say where, with what it said
            part, result = failed[0]
            raise BuildError(f"lintian failed on {part.name} (a part of {deb.name}), exit status {result.returncode}:"
                             "\n  " + "\n  ".join((result.stdout + result.stderr).strip().splitlines()[-10:]),
                             "run it again with -v to see the whole output")
        if failed:
            raise BuildError(
                f"lintian found {len(errors)} error(s) in {deb.name}:\n  " + "\n  ".join(errors[:20]),
                f"fix them, or override the ones inherent to a virtualenv in debian/{package}.lintian-overrides, each with a comment",
            )
        fresh = [c for c in parts.chunks if c.package is not None]
        for chunk in fresh:
            passed.add(chunk.key, f"{deb.name}: {chunk.files} files\n")
        if parts.chunks:
            checked_now = sum(c.files for c in fresh)
            ctx.ui.line(f"    lintian: {parts.files - parts.shared_files} files of the package's own, and "
                        f"{parts.shared_files} of its dependencies: {checked_now} checked, "
                        f"{parts.shared_files - checked_now} passed before with the same content")
        check_targets(ctx, release, made.artifacts, plan.targets)
        return made


def lintian_setting(runner: Runner) -> str:
    """What a lintian result depends on besides the package, for
    :class:`hoist.lint.PassedCache`: the versions of lintian and of the tools
    it runs on each file (``file``, binutils' ``readelf`` and ``strings``),
    and the vendor whose profile it uses (``dpkg-vendor``).

    :raises BuildError: dpkg cannot tell.
    """
    versions = runner.run(["dpkg-query", "--showformat=${Package} ${Version}\n", "--show", "lintian", "file",
                           "binutils"], check=False)
    vendor = runner.run(["dpkg-vendor", "--query", "Vendor"], check=False)
    if not (versions.ok and vendor.ok):
        raise BuildError("dpkg cannot tell the versions of lintian, file and binutils, or the vendor: "
                         f"{(versions.stderr + vendor.stderr).strip()}", "install lintian (ci/bootstrap does)")
    return f"{versions.stdout.strip()} vendor {vendor.stdout.strip()}"


def check_targets(ctx: Context, release: ReleasePlan, artifacts: tuple[Artifact, ...], names: tuple[str, ...]) -> None:
    """The targets hold no other file under the names of this release's artifacts.

    Checked before the push, so that such a conflict claims no version; the
    publish steps check again, since another run may upload in between.

    :raises PreflightError: a target would refuse an artifact (its size).
    :raises PushRejectedError: the files are another run's, which claimed the
        version on the remote first (a lost race: the release plans again).
    :raises ConflictError: a target holds a file of the same name with another
        sha256 (both hashes are named).
    """
    head = ctx.git.head()
    for target in ctx.targets.all:
        if target.name not in names:
            continue
        target.accepts(artifacts)
        state = target.state(release.ref(head), artifacts)
        if state.state != CONFLICT:
            continue
        if lost_race(ctx.targets.git.refs().tags.get(release.tag), head):
            raise PushRejectedError(f"another run claimed {release.tag} and published it", state.detail)
        raise ConflictError(state.detail, "a published file is never overwritten: release a new version")
