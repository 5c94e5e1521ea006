"""The one place hoist runs external commands.

Every command is an argument list (never a shell string), is logged as
``+ cmd`` with secrets redacted, has a timeout, and on failure raises
:class:`~hoist.errors.CommandError` with the tail of its output.  There is no
dry run here: ``hoist plan`` is the preview, printing the values the steps
carry out.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import CommandError
from .redaction import redact
from .secrets import SECRET_VARIABLES

#: Lines of output quoted in a :class:`CommandError`, after the lines that say what failed.
TAIL_LINES = 40
TAIL_LINES_AFTER_CAUSE = 12

#: Lines of a command's output that say what failed: pip's and most tools'
#: ``ERROR:``/``error:``, apt's ``E:``, make's ``***``, debhelper's and
#: compilers' ``<tool>: error:``, git's ``fatal:``.  Tools that wrap another's
#: output prefix it (``build`` with ``< ``), which is ignored.
_CAUSE = re.compile(r"^(?:ERROR\b|error:|E: |fatal: |make(?:\[\d+\])?: \*\*\*|\S+: error: |\S+:\d+:(?:\d+:)? error: )")
_WRAPPED = re.compile(r"^(?:< |\| )+")
#: What only says that a wrapped command failed, not why.
_WRAPPER = re.compile(r"returned non-zero exit status|subprocess-exited-with-error|exited with status \d+$")

#: Default timeout of one command, in seconds.
DEFAULT_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Result:
    """What a finished command returned.

    :ivar argv: the command as run.
    :ivar returncode: its exit status.
    :ivar stdout: its standard output, decoded as UTF-8 (replacement on error).
    :ivar stderr: its standard error, likewise.
    """

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


#: What to do when the disk is full (a command's output or hoist's own write).
DISK_FULL_HINT = "free space where it ran out (the build directory is in $TMPDIR), then run again"


@dataclass
class Runner:
    """Runs commands for hoist.

    :param log: called with each line to show: ``+ cmd`` for commands that
        change something or run long, and the output of ``stream=True`` ones.
    :param debug: called with ``+ cmd`` for quick read-only commands.
    :param secrets: strings that must never be shown; they are replaced with
        ``***`` in logged commands and in outputs quoted in errors.  A
        :class:`Result` holds the real output, for hoist to read.
    """

    log: Callable[[str], None] = lambda line: None
    debug: Callable[[str], None] = lambda line: None
    secrets: set[str] = field(default_factory=set)

    def redact(self, text: str) -> str:
        """Return *text* with every registered secret replaced by ``***``."""
        return redact(text, self.secrets)

    def run(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        mutates: bool = False,
        check: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        stream: bool = False,
        input: str | None = None,
    ) -> Result:
        """Run *argv* and return its :class:`Result`.

        :param cwd: working directory (default: the current one).
        :param env: variables added to (and overriding) ``os.environ``, from
            which the secrets of :data:`hoist.secrets.SECRET_VARIABLES` are removed.
        :param mutates: the command changes something outside hoist's build
            directory (a commit, a tag, an upload): it is always shown.
        :param check: raise :class:`CommandError` when the exit status is not 0.
        :param timeout: seconds before the command is killed and an error raised.
        :param stream: show the output line by line as it comes (long builds).
        :param input: text for the command's standard input.
        :raises CommandError: the command is missing, timed out, or failed
            and *check* is true.
        """
        args = tuple(os.fspath(a) for a in argv)
        shown = self.redact(shlex.join(args))
        (self.log if mutates or stream else self.debug)(f"+ {shown}")
        # Secrets reach only the command that is given them (twine its
        # credentials): builds and their backends inherit none.
        inherited = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
        full_env = {**inherited, **(env or {})}
        try:
            if stream:
                return self._run_streaming(args, cwd, full_env, check, timeout, shown)
            proc = subprocess.run(
                args,
                cwd=cwd,
                env=full_env,
                input=input,
                capture_output=True,
                timeout=timeout,
                check=False,
                text=True,
                errors="replace",
            )
        except FileNotFoundError as exc:
            raise CommandError(
                f"cannot run {args[0]!r}: not found", "install it, then run again"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise CommandError(
                f"{shown} did not finish within {timeout:.0f} s",
                "look for a process waiting on input or the network",
            ) from exc
        # The result keeps the real output (hoist reads it); only what is shown is redacted.
        result = Result(args, proc.returncode, proc.stdout, proc.stderr)
        if check and not result.ok:
            raise self.failure(shown, result.returncode, self.redact(result.stdout + result.stderr))
        return result

    def _run_streaming(
        self,
        args: tuple[str, ...],
        cwd: Path | None,
        env: dict[str, str],
        check: bool,
        timeout: float,
        shown: str,
    ) -> Result:
        # Output goes to a temporary file so that a long build costs no memory,
        # and is shown line by line for a Jenkins log.
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
            proc = subprocess.Popen(
                args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, errors="replace",
            )
            assert proc.stdout is not None
            try:
                for line in proc.stdout:
                    out.write(line)
                    self.log("  " + self.redact(line.rstrip("\n")))
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                proc.kill()
                raise CommandError(f"{shown} did not finish within {timeout:.0f} s") from exc
            out.seek(0)
            output = out.read()
        if check and returncode != 0:
            raise self.failure(shown, returncode, self.redact(output))
        return Result(args, returncode, output, "")

    @staticmethod
    def failure(shown: str, returncode: int, output: str) -> CommandError:
        """The error for a command that exited with *returncode*: the lines
        of *output* that say what failed (:func:`cause_lines`), then its tail."""
        lines = output.rstrip().splitlines()
        causes = cause_lines(output)
        message = f"command failed with exit status {returncode}: {shown}"
        hint = "the lines quoted above are the command's own output (-v shows all of it); fix the cause and run again"
        if "No space left on device" in output:
            message = f"out of disk space: {shown}"
            hint = DISK_FULL_HINT
        if causes:
            message += "\n  what failed:\n" + "\n".join("  | " + line for line in causes)
        tail = lines[-(TAIL_LINES_AFTER_CAUSE if causes else TAIL_LINES):]
        if tail:
            message += ("\n  its last lines:\n" if causes else "\n") + "\n".join("  | " + line for line in tail)
        return CommandError(message, hint)


def cause_lines(output: str, limit: int = 8) -> list[str]:
    """The lines of a failed command's *output* that say what failed, in order, once each.

    Marked lines (see :data:`_CAUSE`), and the exception line that ends a
    Python traceback; lines that only say that a command inside failed are
    left out while another line says why.
    """
    found: list[str] = []
    in_traceback = False
    for raw in output.splitlines():
        line = _WRAPPED.sub("", raw).rstrip()
        if line.startswith("Traceback (most recent call last):"):
            in_traceback = True
            continue
        if in_traceback and line and not line[0].isspace():
            in_traceback = False
            if line not in found:
                found.append(line)
            continue
        if _CAUSE.match(line) and line not in found:
            found.append(line)
    specific = [line for line in found if not _WRAPPER.search(line)]
    return (specific or found)[:limit]
