"""``hoist lock``: pin every dependency of the project, with hashes.

The lock is a requirements file (pip's format, as pip-compile writes it): each
distribution ``name==version`` with the sha256 of every file the index has
for it.  uv resolves it (``uv pip compile --generate-hashes``) for the
interpreter the .deb is built for, Debian's ``/usr/bin/python3``, from the
index this machine's pip is configured with (:mod:`hoist.pipconfig`).
``[tool.hoist] lock`` names the file; releases then install exactly that set,
from a wheelhouse cached by the lock's sha256.
"""

from __future__ import annotations

from pathlib import Path

from uv import find_uv_bin

from .. import pipconfig
from ..preflight import SYSTEM_PYTHON
from ..runner import Runner

#: The lock file's name when ``[tool.hoist] lock`` names none.
DEFAULT_LOCK = "requirements.lock"


def write_lock(runner: Runner, root: Path, output: str = DEFAULT_LOCK, upgrade: bool = False) -> Path:
    """Resolve the dependencies of the project at *root* into *output*.

    :param upgrade: take the newest versions allowed instead of keeping the
        pins of an existing lock.
    :returns: the lock's path.
    :raises CommandError: uv could not resolve them (its message says why).
    """
    target = root / output
    argv = [
        find_uv_bin(), "pip", "compile", "--quiet", "--generate-hashes", "--no-header",
        "--python", SYSTEM_PYTHON, "--output-file", str(target),
        *pipconfig.read(runner).uv_options(), str(root / "pyproject.toml"),
    ]
    if upgrade:
        argv.insert(3, "--upgrade")
    runner.run(argv, cwd=root, mutates=True, env={"UV_NO_PROGRESS": "1"})
    return target
