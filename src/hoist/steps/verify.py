"""Check the artifacts before anything is published.

The versions agree (sdist, wheel, .deb), ``twine check --strict`` passes on the
sdist and wheel, and lintian reports no error on the .deb (the project's
commented overrides in ``debian/<package>.lintian-overrides`` apply).
"""

from __future__ import annotations

import sys
from pathlib import Path

from debian.debfile import DebFile

from ..context import Context, ReleasePlan
from ..errors import BuildError


def build_path_leaks(deb: Path, build_dir: str) -> list[str]:
    """Members of *deb*'s data archive whose content holds *build_dir*."""
    needle = build_dir.encode()
    leaks = []
    with DebFile(str(deb)).data.tgz() as data:
        for member in data:
            if member.isfile():
                handle = data.extractfile(member)
                if handle is not None and needle in handle.read():
                    leaks.append(member.name)
            elif member.issym() and build_dir in member.linkname:
                leaks.append(member.name)
    return leaks


class Verify:
    name = "verify artifacts"

    def describe(self, ctx: Context, plan: ReleasePlan) -> list[str]:
        return [
            "twine check --strict on the sdist and wheel",
            "lintian on the .deb: no errors",
            "versions agree; no build path in the .deb",
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
        leaks = build_path_leaks(deb, str(ctx.build_dir))
        if leaks:
            raise BuildError(
                f"{deb.name} contains the build directory's path {ctx.build_dir} in: {', '.join(leaks[:10])}",
                "the package would differ when built elsewhere; debian/rules must run $(HOIST_FIXUP) "
                "after dh_virtualenv (run hoist init --force to get the current rules)",
            )
        ctx.runner.run(
            [sys.executable, "-m", "twine", "check", "--strict", str(ctx.artifacts["sdist"]), str(ctx.artifacts["wheel"])]
        )
        result = ctx.runner.run(["lintian", "--fail-on", "error", "--no-tag-display-limit", str(deb)], check=False)
        if not result.ok:
            errors = [line for line in result.stdout.splitlines() if line.startswith("E:")]
            raise BuildError(
                f"lintian found {len(errors)} error(s) in {deb.name}:\n  " + "\n  ".join(errors[:20]),
                f"fix them, or override the ones inherent to a virtualenv in debian/{ctx.config.package}.lintian-overrides, each with a comment",
            )
