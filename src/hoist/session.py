"""Opening a project: the runner, the repository, its configuration and targets.

Shared by the CLI and the Invoke tasks, so both behave the same.
"""

from __future__ import annotations

from pathlib import Path

from . import config as config_module
from . import targets
from .context import Context
from .git import Git
from .runner import Runner
from .secrets import Secrets
from .ui import UI


def open_project(path: Path, ui: UI, *, local: bool = False) -> Context:
    """A :class:`Context` for the project whose working tree contains *path*.

    :param local: use the local targets whatever is configured.
    :raises PreflightError: *path* is not in a git repository.
    :raises ConfigError: ``pyproject.toml`` is missing, malformed or invalid.
    """
    secrets = Secrets.from_environment()
    runner = Runner(log=ui.command, debug=ui.debug, secrets=set(secrets.values()))
    git = Git.open(runner, path)
    config = config_module.load(git.root, targets.settings_tables())
    env = targets.Env(config, runner, git, ui, secrets)
    return Context(config, git, runner, ui, targets.resolve(env, local=local), secrets, git.root / "dist")
