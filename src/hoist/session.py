"""Opening a project: the runner, the repository, its configuration and targets.

Shared by the CLI and the Invoke tasks, so both behave the same.
"""

from __future__ import annotations

from pathlib import Path

from . import config as config_module
from . import targets
from .context import Context
from .git import Git
from .pyproject import project_directory
from .redaction import userinfo
from .runner import Runner
from .secrets import Secrets
from .ui import UI


def url_passwords(config: config_module.Config, git: Git) -> set[str]:
    """The passwords in the URLs of the configured targets (and of the git
    remote a remote name stands for)."""
    urls = [value for settings in config.targets.values() for value in vars(settings).values() if isinstance(value, str)]
    if config.git is not None and "://" not in config.git.remote:
        for push in ((), ("--push",)):
            result = git("remote", "get-url", *push, config.git.remote, check=False)
            urls.append(result.stdout.strip() if result.ok else "")
    return {login[1] for url in urls if (login := userinfo(url)) and login[1]}


def open_project(path: Path, ui: UI, *, local: bool = False) -> Context:
    """A :class:`Context` for the project whose working tree contains *path*.

    :param local: use the local targets whatever is configured.
    :raises PreflightError: *path* is not in a git repository.
    :raises ConfigError: ``pyproject.toml`` is missing, malformed or invalid.
    """
    secrets = Secrets.from_environment()
    runner = Runner(log=ui.command, debug=ui.debug, secrets=set(secrets.values()))
    git = Git.open(runner, path)
    config = config_module.load(project_directory(path, git.root), targets.settings_tables())
    # Passwords that URLs carry are secrets too, wherever else they show up
    # (an index that quotes the credentials it refused).
    hidden = url_passwords(config, git)
    runner.secrets.update(hidden)
    ui.secrets.update(hidden)
    env = targets.Env(config, runner, git, ui, secrets)
    return Context(config, git, runner, ui, targets.resolve(env, local=local), secrets, config.root / "dist")
