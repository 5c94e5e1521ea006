"""One error hierarchy: every failure hoist reports is a :class:`HoistError`.

Each error carries a one-line message saying what happened, a hint saying what
to do next, and a process exit code, in the manner of pypa/build's ``ERROR`` /
``TIP`` lines and cibuildwheel's numbered exit codes.  The CLI prints them as::

    error: working tree has changes: src/a.py
    hint: commit or stash them, then run again
"""

from __future__ import annotations

#: Exit codes of ``hoist``, one table (README, ``hoist --help``).  2 is
#: argparse's usage error and no error of hoist's shares it.
EXIT_CODES = {
    0: "success, or nothing to do (the release exists and every target holds it)",
    1: "an error not listed below; for `hoist ci should-release`: no release",
    2: "usage error: unknown command or option",
    3: "preflight: the repository or the machine is not ready (nothing changed)",
    4: "a command hoist ran failed",
    5: "build: an artifact could not be built or is not what the release promised",
    6: "publish: a target refused or could not be read",
    7: "conflict: a target holds another file under the same name",
    8: "push rejected: other releases kept claiming the version",
    9: "configuration: pyproject.toml or [tool.hoist] is invalid (nothing changed)",
    10: "cancelled at the confirmation prompt (nothing changed)",
    11: "status incomplete: a target does not hold the release",
    12: "rebuild differs: a rebuilt artifact is not byte-identical",
    70: "a bug in hoist (run again with -v for the traceback)",
    130: "interrupted (run the same command again: the release resumes)",
}
CANCELLED, STATUS_INCOMPLETE, REBUILD_DIFFERS, INTERNAL_ERROR, INTERRUPTED = 10, 11, 12, 70, 130


class HoistError(Exception):
    """Base class of every error hoist reports to a user.

    :param message: what happened, one line, no trailing period.
    :param hint: what the user should do next, or ``""``.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(HoistError):
    """``pyproject.toml`` or ``[tool.hoist]`` is missing, malformed or invalid (exit 9)."""

    exit_code = 9


class PreflightError(HoistError):
    """The repository or the machine is not ready for a release (exit 3)."""

    exit_code = 3


class ToolMissingError(PreflightError):
    """Required external commands are not installed (every one missing, at once)."""

    def __init__(self, tool: str, debian_package: str, *more: tuple[str, str]) -> None:
        missing = [(tool, debian_package), *more]
        tools = ", ".join(repr(t) for t, _ in missing)
        packages = " ".join(dict.fromkeys(p for _, p in missing))
        super().__init__(
            f"required tool{'s' if len(missing) > 1 else ''} {tools} {'were' if len(missing) > 1 else 'was'} "
            "not found on PATH",
            f"install {'them' if len(missing) > 1 else 'it'} with: apt-get install {packages}",
        )
        self.tool = tool
        self.debian_package = debian_package
        self.missing = tuple(missing)


class CommandError(HoistError):
    """An external command failed; the message holds the tail of its output."""

    exit_code = 4


class BuildError(HoistError):
    """An artifact could not be built, or is not what the release promised."""

    exit_code = 5


class PublishError(HoistError):
    """A target refused, or holds something that conflicts with, the release."""

    exit_code = 6


class ConflictError(PublishError):
    """A target already holds a different file under the same name."""

    exit_code = 7


class PushRejectedError(PublishError):
    """``git push --atomic`` was rejected: another run claimed the version first."""

    exit_code = 8


class NothingToDo(HoistError):
    """Not a failure: the release asked for exists already (exit status 0)."""

    exit_code = 0
