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


@task(help={"local": "use local targets", "yes": "do not ask for confirmation"})
def release(c, local=False, yes=False):
    """Release HEAD of the release branch (hoist release)."""
    _run("release", *(["--local"] if local else []), *(["--yes"] if yes else []))


@task(help={"local": "use local targets"})
def plan(c, local=False):
    """Print what a release would do, changing nothing (hoist plan)."""
    _run("plan", *(["--local"] if local else []))


@task(help={"version": "a released version (default: the newest)", "local": "use local targets"})
def status(c, version=None, local=False):
    """Show what each target holds of a release (hoist status)."""
    _run("status", *([version] if version else []), *(["--local"] if local else []))


ns = Collection(release, plan, status)
