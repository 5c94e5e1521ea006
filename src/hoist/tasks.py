"""Invoke tasks for a project released with hoist.

A project's ``tasks.py`` holds ``from hoist.tasks import ns``; then
``invoke release`` runs ``hoist release``, ``invoke plan`` runs ``hoist plan``,
``invoke status`` runs ``hoist status``.  The tasks are thin: they call the CLI,
so both behave exactly the same.
"""

from __future__ import annotations

from invoke import Collection, Exit, task

from .cli import main


def _run(*argv: str) -> None:
    code = main(list(argv))
    if code:
        raise Exit(code=code)


@task(help={"local": "use local targets", "yes": "do not ask for confirmation", "dry_run": "change nothing"})
def release(c, local=False, yes=False, dry_run=False):
    """Release HEAD of the release branch (hoist release)."""
    _run("release", *(["--local"] if local else []), *(["--yes"] if yes else []), *(["--dry-run"] if dry_run else []))


@task(help={"local": "use local targets"})
def plan(c, local=False):
    """Print what a release would do, changing nothing (hoist plan)."""
    _run("plan", *(["--local"] if local else []))


ns = Collection(release, plan)
