"""Check the artifacts before anything is published.

The versions agree (sdist, wheel, .deb), ``twine check --strict`` passes on the
sdist and wheel, and lintian reports no error on the .deb (the project's
commented overrides in ``debian/<package>.lintian-overrides`` apply; the slow
checks that cannot fail a virtualenv package are left out, see
:data:`LINTIAN_SKIPPED_CHECKS`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from debian.debfile import DebFile

from ..context import Context, ReleasePlan
from ..errors import BuildError, ConflictError, PushRejectedError
from ..planning import remote_state
from .publish_apt import published_entry
from .publish_index import missing_files


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


def build_path_leaks(deb: Path, paths: list[str]) -> list[str]:
    """Members of *deb*'s data archive whose content or link target holds one of *paths*."""
    needles = [p.encode() for p in paths]
    leaks = []
    with DebFile(str(deb)).data.tgz() as data:
        for member in data:
            if member.isfile():
                handle = data.extractfile(member)
                content = handle.read() if handle is not None else b""
                if any(n in content for n in needles):
                    leaks.append(member.name)
            elif member.issym() and any(p in member.linkname for p in paths):
                leaks.append(member.name)
    return leaks


class Verify:
    name = "verify artifacts"

    def describe(self, ctx: Context, plan: ReleasePlan) -> list[str]:
        return [
            "twine check --strict on the sdist and wheel",
            "lintian on the .deb: no errors",
            "versions agree; no build path in the .deb",
            "the index and the apt repository hold no other file under these names",
        ]

    def skip(self, ctx: Context, plan: ReleasePlan) -> str | None:
        return None

    def run(self, ctx: Context, plan: ReleasePlan) -> None:
        deb = ctx.artifacts["deb"]
        control = DebFile(str(deb)).debcontrol()
        if control["Version"] != str(plan.version) or control["Package"] != ctx.config.package:
            raise BuildError(
                f"{deb.name} is {control['Package']} {control['Version']}, expected {ctx.config.package} {plan.version}",
                "the top entry of debian/changelog must be the release's",
            )
        package = ctx.config.package
        if not any((ctx.root / "debian" / name).exists() for name in (f"{package}.postinst", "postinst")):
            ctx.ui.line(
                f"    warning: debian/{package}.postinst is missing: servers will run the virtualenv without byte "
                f"code (hoist ships none); `hoist init --force` writes it and its prerm", style="yellow")
        leaks = build_path_leaks(deb, [str(ctx.build_dir), str(ctx.root)])
        if leaks:
            raise BuildError(
                f"{deb.name} contains the build directory's path ({ctx.build_dir} or {ctx.root}) "
                f"in: {', '.join(leaks[:10])}",
                "the package would differ when built elsewhere; debian/rules must run $(HOIST_FIXUP) "
                "after dh_virtualenv (run hoist init --force to get the current rules)",
            )
        ctx.runner.run(
            [sys.executable, "-m", "twine", "check", "--strict", str(ctx.artifacts["sdist"]), str(ctx.artifacts["wheel"])]
        )
        result = ctx.runner.run(
            ["lintian", "--fail-on", "error", "--tag-display-limit", "0",
             "-X", ",".join(LINTIAN_SKIPPED_CHECKS), str(deb)],
            check=False,
        )
        if not result.ok:
            errors = [line for line in result.stdout.splitlines() if line.startswith("E:")]
            raise BuildError(
                f"lintian found {len(errors)} error(s) in {deb.name}:\n  " + "\n  ".join(errors[:20]),
                f"fix them, or override the ones inherent to a virtualenv in debian/{ctx.config.package}.lintian-overrides, each with a comment",
            )
        check_targets(ctx, plan)


def check_targets(ctx: Context, plan: ReleasePlan) -> None:
    """The targets hold no other file under the names of this release's artifacts.

    Checked before the push, so that such a conflict claims no version; the
    publish steps check again, since another run may upload in between.

    :raises PushRejectedError: the files are another run's, which claimed the
        version on the remote first (a lost race: the release plans again).
    :raises ConflictError: a target holds a file of the same name with another
        sha256 (both hashes are named).
    """
    try:
        _check_targets(ctx, plan)
    except ConflictError as exc:
        claimed = remote_state(ctx).tags.get(plan.tag)
        if claimed is not None and claimed != ctx.git.head():
            raise PushRejectedError(f"another run claimed {plan.tag} and published it", exc.message) from None
        raise


def _check_targets(ctx: Context, plan: ReleasePlan) -> None:
    if ctx.targets.pypi is not None:
        missing_files(ctx.targets.pypi.index_url, ctx.config.name, [ctx.artifacts["sdist"], ctx.artifacts["wheel"]])
    apt = ctx.apt_target()
    if apt is not None:
        published_entry(ctx, apt, plan, ctx.artifacts["deb"])
