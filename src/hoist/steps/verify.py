"""Check the artifacts before anything is published.

The versions agree (sdist, wheel, .deb), ``twine check --strict`` passes on the
sdist and wheel, and lintian reports no error on the .deb (the project's
commented overrides in ``debian/<package>.lintian-overrides`` apply).
"""

from __future__ import annotations

import sys

from debian.debfile import DebFile

from ..context import Context, ReleasePlan
from ..errors import BuildError


class Verify:
    name = "verify artifacts"

    def describe(self, ctx: Context, plan: ReleasePlan) -> list[str]:
        return ["twine check --strict on the sdist and wheel", "lintian on the .deb: no errors", "versions agree"]

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
