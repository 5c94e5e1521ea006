"""Terminal output: ``==> step`` headers with durations, command lines, results.

Progress and logs go to standard error, results (a plan, a status, a
summary, JSON) to standard output, as twine and build do: ``hoist plan >
plan.txt`` holds the plan alone.  Reads well in a Jenkins log (plain lines,
no colour when the output is not a terminal or ``NO_COLOR`` is set, per
no-color.org) and on a terminal (colour, a spinner while a long step runs).
The library reports through a :class:`UI`; only the CLI decides where it goes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback
from collections.abc import Iterable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .redaction import redact


class UI:
    """Where hoist's messages go.

    :param verbose: show the output of commands as they run, and tracebacks.
    :param stream: where progress and logs go (default: standard error).
    :param out: where results go (default: standard output).
    :param secrets: values replaced by ``***`` in everything shown.
    """

    def __init__(self, verbose: bool = False, stream=None, secrets: Iterable[str] = (), out=None) -> None:
        stream = stream or sys.stderr
        out = out or sys.stdout
        self.console = self._console(stream)
        self.results = self._console(out)
        self._out = out
        self.verbose = verbose
        self.interactive = stream.isatty()
        self.secrets = set(secrets)
        self._status = None

    @staticmethod
    def _console(stream) -> Console:
        no_color = bool(os.environ.get("NO_COLOR")) or not stream.isatty()
        return Console(file=stream, no_color=no_color, highlight=False, soft_wrap=True,
                       force_terminal=None if not no_color else False)

    def _show(self, text: str) -> str:
        """*text* ready to print: secrets redacted, rich markup escaped."""
        return escape(redact(text, self.secrets))

    def line(self, text: str, style: str = "") -> None:
        self.console.print(self._show(text), style=style or None)

    def command(self, text: str) -> None:
        """A command being run (``+ cmd``) or, when verbose, a line of its output."""
        if text.startswith("+ ") or self.verbose:
            self.console.print(self._show(text), style="dim")

    def debug(self, text: str) -> None:
        """Detail shown only with ``-v`` (read-only commands)."""
        if self.verbose:
            self.console.print(self._show(text), style="dim")

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Frame one pipeline step: ``==> name`` and, at the end, its duration."""
        self.console.print(f"==> {self._show(name)}", style="bold blue")
        start = time.monotonic()
        status = self.console.status(f"{name}…") if self.interactive and not self.verbose else contextlib.nullcontext()
        with status:
            yield
        self.console.print(f"    {name} done in {time.monotonic() - start:.1f} s", style="dim")

    def traceback(self, exc: BaseException) -> None:
        """*exc*'s traceback, redacted like every other line (its messages may
        quote what an ``error:`` line hides)."""
        text = "".join(traceback.format_exception(exc))
        self.console.print(self._show(text.rstrip("\n")), style="dim")

    def skip(self, name: str, reason: str) -> None:
        self.console.print(f"==> {self._show(name)}: skipped, {self._show(reason)}", style="yellow")

    def error(self, message: str, hint: str = "") -> None:
        self.console.print(f"error: {self._show(message)}", style="bold red")
        if hint:
            self.console.print(f"hint: {self._show(hint)}", style="cyan")

    def result(self, text: str, style: str = "") -> None:
        """A line of the command's result, on standard output."""
        self.results.print(self._show(text), style=style or None)

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        """A table of the command's result, on standard output."""
        table = Table(title=title, title_justify="left", show_edge=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(self._show(c) for c in row))
        self.results.print(table)

    def json(self, data: object) -> None:
        """*data* as one JSON document on standard output, secrets redacted."""
        text = json.dumps(data, indent=2, default=str)
        self._out.write(redact(text, self.secrets) + "\n")
        self._out.flush()
