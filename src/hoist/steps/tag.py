"""Write the changelog entry, commit it as the release commit, tag it (locally).

The commit's message ends with the ``Hoist-Release`` trailer by which hoist and
CI recognise it; the tag is annotated (git-tag(1)).  Nothing leaves the
machine here: the push claims the version.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import changelog
from ..context import Context, ReleasePlan
from ..git import RELEASE_TRAILER
from ..products import Products
from . import Skip


@dataclass(frozen=True)
class TagPlan:
    """A ``debian/changelog`` entry, the release commit and its annotated tag.

    :ivar date: the changelog's date and the commit's (ISO 8601, UTC).
    """

    changelog_entry: str
    changes: tuple[str, ...]
    author: str
    date: str
    commit_message: str
    tag: str


class Tag:
    name = "changelog, commit and tag"

    def plan(self, ctx: Context, release: ReleasePlan) -> TagPlan | Skip:
        if release.resume:
            return Skip(f"HEAD is already the release commit of {release.tag}")
        return TagPlan(
            changelog_entry=f"{ctx.config.package} ({release.version}) {release.distribution}",
            changes=tuple(line.strip() for line in release.changelog_text.splitlines()),
            author=release.author,
            date=release.moment.isoformat(),
            commit_message=f"Release {release.version}\n\n{release.changelog_text}\n\n{RELEASE_TRAILER}: {release.version}\n",
            tag=release.tag,
        )

    def run(self, ctx: Context, release: ReleasePlan, plan: TagPlan, made: Products) -> Products:
        path = ctx.root / "debian" / "changelog"
        text = changelog.render_entry(
            changelog.read(path),
            package=ctx.config.package,
            version=str(release.version),
            distribution=release.distribution,
            subjects=list(release.subjects),
            author=plan.author,
            moment=release.moment,
        )
        path.write_text(text, encoding="utf-8")
        env = {"GIT_AUTHOR_DATE": plan.date, "GIT_COMMITTER_DATE": plan.date}
        ctx.git("add", "--", str(path), mutates=True)
        ctx.git("commit", "--quiet", "--no-verify", "-m", plan.commit_message, mutates=True, env=env)
        ctx.git("tag", "-a", plan.tag, "-m", f"Release {release.version}", mutates=True, env=env)
        return made
