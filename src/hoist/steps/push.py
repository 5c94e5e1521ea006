"""Push the release commit and tag to the git remote, atomically: this claims the version.

Only ``git push --atomic`` is a transaction among the targets, so it runs
before anything is published: a run whose push is rejected (the tag exists on
the remote, or the branch moved) has published nothing.
"""

from __future__ import annotations

from ..context import Context, ReleasePlan
from ..errors import CommandError, PushRejectedError
from ..planning import remote_state


class Push:
    name = "push to git"

    def describe(self, ctx: Context, plan: ReleasePlan) -> list[str]:
        return [f"git push --atomic {ctx.targets.git.remote} HEAD:refs/heads/{ctx.config.branch} {plan.tag}"]

    def skip(self, ctx: Context, plan: ReleasePlan) -> str | None:
        remote = remote_state(ctx)
        head = ctx.git.head()
        if remote.tags.get(plan.tag) == head and remote.branch_head is not None and ctx.git.is_ancestor(head, remote.branch_head):
            return f"the remote already has {plan.tag} at {head[:12]}"
        return None

    def run(self, ctx: Context, plan: ReleasePlan) -> None:
        result = ctx.git(
            "push", "--atomic", "--porcelain", ctx.targets.git.remote,
            f"HEAD:refs/heads/{ctx.config.branch}", f"refs/tags/{plan.tag}:refs/tags/{plan.tag}",
            mutates=True, check=False,
        )
        if result.ok:
            return
        rejected = [line for line in result.stdout.splitlines() if line.startswith("!")]
        if rejected:
            raise PushRejectedError(
                f"the remote refused the release push: {'; '.join(rejected)}",
                "another release claimed the version or the branch moved",
            )
        raise CommandError(
            f"git push to {ctx.targets.git.remote} failed: {result.stderr.strip()}",
            "check the remote and your access to it, then run again (the release resumes)",
        )
