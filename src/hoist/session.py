"""Opening a project: the runner, the repository, its configuration and targets.

Shared by the CLI and the Invoke tasks, so both behave the same.
"""

from __future__ import annotations

from pathlib import Path

from . import config as config_module
from .context import Context
from .git import Git
from .runner import Runner
from .targets import Secrets, Targets
from .ui import UI


def open_project(path: Path, ui: UI, *, local: bool = False, dry_run: bool = False) -> Context:
    """A :class:`Context` for the project whose working tree contains *path*.

    :raises PreflightError: *path* is not in a git repository.
    :raises ConfigError: ``pyproject.toml`` is missing, malformed or invalid.
    """
    secrets = Secrets.from_environment()
    runner = Runner(log=ui.command, debug=ui.debug, dry_run=dry_run, secrets=set(secrets.values()))
    git = Git.open(runner, path)
    config = config_module.load(git.root)
    targets = Targets.resolve(config, runner, local=local)
    return Context(config=config, git=git, runner=runner, ui=ui, targets=targets, secrets=secrets)
