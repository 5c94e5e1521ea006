"""Write the changelog entry, commit it as the release commit, tag it (locally).

The commit's message ends with the ``Hoist-Release`` trailer by which hoist and
CI recognise it; the tag is annotated (git-tag(1)).  Nothing leaves the
machine here: the push step claims the version.
"""

from __future__ import annotations

from .. import changelog
from ..context import Context, ReleasePlan
from ..git import RELEASE_TRAILER


class Tag:
    name = "changelog, commit and tag"

    def describe(self, ctx: Context, plan: ReleasePlan) -> list[str]:
        if plan.resume:
            return [f"HEAD is the release commit of {plan.tag}: no new commit or tag"]
        return [
            f"debian/changelog: new entry {ctx.config.package} ({plan.version}) {plan.distribution}",
            *("    " + line for line in plan.changelog_text.splitlines()),
            f"commit: Release {plan.version} (trailer {RELEASE_TRAILER}: {plan.version})",
            f"tag: {plan.tag} (annotated)",
        ]

    def skip(self, ctx: Context, plan: ReleasePlan) -> str | None:
        return f"HEAD is already the release commit of {plan.tag}" if plan.resume else None

    def run(self, ctx: Context, plan: ReleasePlan) -> None:
        path = ctx.root / "debian" / "changelog"
        text = changelog.render_entry(
            changelog.read(path),
            package=ctx.config.package,
            version=str(plan.version),
            distribution=plan.distribution,
            subjects=list(plan.subjects),
            author=plan.author,
            moment=plan.moment,
        )
        path.write_text(text, encoding="utf-8")
        date = plan.moment.isoformat()
        env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        message = f"Release {plan.version}\n\n{plan.changelog_text}\n\n{RELEASE_TRAILER}: {plan.version}\n"
        ctx.git("add", "debian/changelog", mutates=True)
        ctx.git("commit", "--quiet", "--no-verify", "-m", message, mutates=True, env=env)
        ctx.git("tag", "-a", plan.tag, "-m", f"Release {plan.version}", mutates=True, env=env)
