"""The ``hoist`` command line.

Thin: it parses arguments, opens the project, calls the library, and prints
the result on standard output (progress and logs go to standard error).  A
:class:`~hoist.errors.HoistError` becomes an ``error:``/``hint:`` pair and its
exit code (:data:`hoist.errors.EXIT_CODES`); a traceback only with ``-v``.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from dataclasses import asdict, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from . import __version__, pipeline
from .channels import RECORD_REF, ChannelReport, Channels, Move
from .commands.ci import should_release
from .commands.lock import DEFAULT_LOCK, write_lock
from .commands.rebuild import rebuild, rebuild_from
from .commands.serve import serve
from .commands.server_setup import server_setup
from .commands.status import status
from .context import Context, ReleasePlan
from .errors import (
    CANCELLED,
    EXIT_CODES,
    INTERNAL_ERROR,
    INTERRUPTED,
    REBUILD_DIFFERS,
    STATUS_INCOMPLETE,
    ConfigError,
    HoistError,
    NothingToDo,
)
from .products import Products
from .redaction import redact
from .secrets import GPG_PASSPHRASE_VARS, PYPI_PASSWORD_VARS, PYPI_USERNAME_VARS, Secrets
from .session import open_project
from .steps import Skip
from .steps.confirm import Confirmed
from .targets import WITHDRAWN
from .targets.apt.repository import apt_repository
from .targets.apt.source import keyring_name, setup_commands
from .targets.local import LocalTargets
from .ui import UI

ENVIRONMENT = {
    " or ".join(PYPI_USERNAME_VARS): "the index's username (__token__ for an API token)",
    " or ".join(PYPI_PASSWORD_VARS): "the index's password or API token",
    " or ".join(GPG_PASSPHRASE_VARS): "the apt signing key's passphrase",
    "HOIST_APT_API_USERNAME, HOIST_APT_API_PASSWORD": "the login of the web server in front of aptly's REST API",
    "HOIST_APT_API_CA": "a CA bundle for the aptly API's certificate",
    "HOIST_HOME": "the local targets' state directory (default $XDG_DATA_HOME/hoist)",
    "BRANCH_NAME, GIT_BRANCH": "the branch a CI job builds on a detached HEAD",
    "NO_COLOR": "no colour in the output",
}


def _epilog() -> str:
    env = "\n".join(f"  {name:<48} {what}" for name, what in ENVIRONMENT.items())
    codes = "\n".join(f"  {code:>3}  {what}" for code, what in EXIT_CODES.items())
    return f"environment variables (secrets are read from here only, and never shown):\n{env}\n\nexit codes:\n{codes}"


def _parser() -> argparse.ArgumentParser:
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="show every command and its output, and tracebacks")
    local = argparse.ArgumentParser(add_help=False)
    local.add_argument("--local", action="store_true", help="use local targets even if targets are configured")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print one JSON document on standard output")

    parser = argparse.ArgumentParser(
        prog="hoist",
        description="Release a Python application as YY.MM.NN: sdist, wheel and .deb, to a PyPI index, "
                    "an apt repository and git. Results go to standard output, progress to standard error.",
        epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hoist {__version__}")
    parser.add_argument("-C", "--directory", type=Path, default=Path.cwd(), help="the project (default: the current directory)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every command and its output, and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str, parents=()) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=description, parents=[verbose, *parents])

    init = command("init", "write debian/, tasks.py, a Jenkinsfile and [tool.hoist] for this project",
                   "Make the project in the current directory releasable with hoist: write debian/, tasks.py, "
                   "a Jenkinsfile with its ci/ scripts and a [tool.hoist] table. Files that exist are named "
                   "and nothing is written, unless --force.")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    init.add_argument("--update", action="store_true", help="show, as a diff, what today's hoist writes instead "
                      "of the files hoist init wrote, merged with the project's own edits")
    init.add_argument("--apply", action="store_true", help="with --update: write the updates (never a conflict)")
    init.add_argument("--package", metavar="NAME", help="the Debian package name (default: the project's, unless "
                      "Debian's archive has a package of that name)")
    command("plan", "print what a release would do, changing nothing",
            "Print the version, the changelog entry and every step's plan: the very values a release carries "
            "out. Changes nothing in the repository or the targets.", (local, as_json))
    release = command("release", "release HEAD of the release branch",
                      "Release HEAD: tag YY.MM.NN, build the sdist, wheel and .deb, push the tag (which claims "
                      "the version), publish to every target and write dist/release.json. A run that stopped "
                      "part-way is finished by running it again.", (local,))
    release.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    release.add_argument("--dry-run", action="store_true", help=argparse.SUPPRESS)
    lock = command("lock", "pin every dependency with hashes into a lock file (uv pip compile)",
                   "Resolve the project's dependencies for Debian's /usr/bin/python3 from this machine's "
                   "pip index settings and write them, pinned with hashes, to the lock file.")
    lock.add_argument("--upgrade", action="store_true", help="take the newest allowed versions")
    rebuilt = command("rebuild", "rebuild a released version and compare its sha256 with the targets'",
                      "Build the tag of VERSION again in a new directory and compare each artifact's sha256 "
                      "with dist/release.json and with every target.", (local,))
    rebuilt.add_argument("version", help="the released version, e.g. 26.11.0")
    rebuilt.add_argument("--from", dest="source_release", metavar="FILE", type=Path,
                         help="rebuild from the release's source release alone (<name>-<version>-source-release"
                              ".tar.gz): no network, no git repository; its SHA256SUMS and SHA256SUMS.asc beside it")
    rebuilt.add_argument("--keyring", type=Path, metavar="FILE",
                         help="with --from: the apt repository's public key, which signed SHA256SUMS")
    shown = command("status", "the state of each target for a version (default: the newest release)",
                    "Read every target back for VERSION: published, missing or conflict.", (local, as_json))
    shown.add_argument("version", nargs="?", help="a release version, e.g. 26.11.0")
    promote = command("promote", "make a channel publish a released version (the same .deb, not rebuilt)",
                      "Make CHANNEL publish VERSION: the very .deb the release published, from the apt "
                      "repository. The move is recorded in the git remote (refs/hoist/channels/CHANNEL) "
                      "before it is published; running the command again completes it.", (local,))
    promote.add_argument("version", help="a released version, e.g. 26.12.0")
    promote.add_argument("--to", required=True, metavar="CHANNEL", dest="channel", help="the channel, e.g. production")
    rollback = command("rollback", "make a channel publish an earlier release again",
                       "Make CHANNEL publish an earlier release again: --to VERSION, or the version it "
                       "published before. Recorded like a promotion.", (local,))
    rollback.add_argument("channel", help="the channel, e.g. production")
    rollback.add_argument("--to", metavar="VERSION", dest="version", help="the version (default: the one before)")
    setup = command("server-setup", "write the .deb that makes a server follow a channel",
                    "Build one small .deb that a server installs with `apt-get install ./FILE`: the repository's "
                    "key, the channel's source, a pin that allows a rollback to downgrade, and a systemd timer "
                    "that upgrades the application with a health check and puts the previous version back "
                    "when the check fails. Removing the package removes all of it.", (local,))
    setup.add_argument("--channel", required=True, help="the channel the server follows, e.g. production")
    setup.add_argument("-o", "--output", type=Path, help="the .deb to write (default: dist/<name>_<version>_all.deb)")
    setup.add_argument("--url", help="the repository's URL as servers reach it (default: tool.hoist.apt.url)")
    setup.add_argument("--unchecked", action="store_true",
                       help="build it without reading the channel at the URL first (a file:// URL, a channel not "
                            "published yet, a URL only the servers reach)")
    setup.add_argument("--every", type=int, default=30, metavar="MINUTES",
                       help="how often the timer upgrades (default: 30)")
    served = command("serve", "serve the local targets over HTTP, for a server to try a release",
                     "Serve the local targets' apt repository, its key and the index's files over HTTP on "
                     "ADDRESS:PORT until interrupted, and print the commands a server uses. For a trial: "
                     "in production, a web server serves the configured targets.")
    served.add_argument("--bind", default="127.0.0.1:8089", metavar="ADDRESS:PORT",
                        help="where to listen (default 127.0.0.1:8089, clear of the example application's 8080; "
                             "127.0.0.1:0 takes a free port)")
    command("resign", "sign the apt publications again, valid for another tool.hoist.valid_days",
            "Date each channel's Release file now, valid for tool.hoist.valid_days (Valid-Until), and sign "
            "it again. apt refuses a publication past its Valid-Until, so run this from a timer or a CI job "
            "more often than that.", (local,))
    ci = command("ci", "decisions for CI jobs", "Decisions a CI job asks hoist for.")
    ci_sub = ci.add_subparsers(dest="ci_command", required=True, metavar="CI_COMMAND")
    ci_sub.add_parser(
        "should-release", parents=[verbose],
        help="exit 0 if this build should release HEAD, 1 if not (release commits, other branches); prints why",
        description="Exit 0 if this CI build should release HEAD, 1 if not; print why on standard output.",
    )
    return parser


def _render(name: str, value: Any) -> list[str]:
    """Lines showing one field of a step's plan."""
    label = name.replace("_", " ")
    if isinstance(value, tuple) and name.endswith("command"):
        return [f"{label}: {shlex.join(value)}"]
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return [f"{label}:", *(f"    {k}={v}" for k, v in value)]
    if isinstance(value, tuple):
        return [f"{label}:", *(f"    {v}" for v in value)]
    if isinstance(value, str) and "\n" in value:
        return [f"{label}:", *(f"    {line}" for line in value.rstrip("\n").splitlines())]
    return [f"{label}: {value}"]


def plan_document(ctx: Context, release: ReleasePlan) -> dict[str, Any]:
    """The plan as JSON: the release and every step's plan."""
    steps = []
    for name, value in pipeline.describe(ctx, release):
        if isinstance(value, Skip):
            steps.append({"step": name, "skip": value.reason})
        else:
            steps.append({"step": name, "type": type(value).__name__, "plan": asdict(value)})
    return {
        "name": ctx.config.name, "package": ctx.config.package, "version": str(release.version), "tag": release.tag,
        "resume": release.resume, "commit": release.base, "previous_tag": release.previous_tag,
        "notes": list(release.notes),
        "targets": [t.name for t in ctx.targets.all], "steps": steps,
    }


def print_plan(ctx: Context, release: ReleasePlan, *, as_json: bool = False) -> None:
    ui = ctx.ui
    if as_json:
        ui.json(plan_document(ctx, release))
        return
    kind = "resume" if release.resume else "release"
    ui.result(f"{kind} {ctx.config.name} {release.version} (tag {release.tag}) from {release.base[:12]}", style="bold")
    for note in release.notes:
        ui.result(f"  note: {note}", style="yellow")
    for name, value in pipeline.describe(ctx, release):
        ui.result(f"  {name}:")
        if isinstance(value, Skip):
            ui.result(f"    skipped: {value.reason}")
            continue
        assert is_dataclass(value)
        for f in fields(value):
            for line in _render(f.name, getattr(value, f.name)):
                ui.result(f"    {line}")


def print_summary(ctx: Context, release: ReleasePlan, made: Products) -> None:
    ui = ctx.ui
    confirmed = made.get(Confirmed)
    rows = [[a.kind, a.record(ctx.root)["path"], f"{a.size:,}", a.sha256[:16]] for a in made.artifacts]
    ui.table(f"released {ctx.config.name} {release.version}", ["artifact", "path", "bytes", "sha256"], rows)
    ui.table("targets", ["target", "state", "detail"], [[s.target, s.state, s.detail] for s in confirmed.states])
    ui.result(f"manifest: {ctx.dist / 'release.json'}")
    for target in ctx.targets.all:
        for line in target.usage(release.ref(confirmed.manifest.commit)):
            ui.result(line)


def show_status(ctx: Context, version: str | None, *, as_json: bool) -> int:
    """Print each target's state for *version*, and what each channel
    publishes; exit status 0 when every target holds it."""
    report = status(ctx, version)
    channels = Channels(ctx).report() if ctx.config.channels else []
    agree = all(c.agrees for c in channels)
    if as_json:
        ctx.ui.json({**report.record(), "channels": {c.name: c.record() for c in channels}})
        return 0 if report.complete and agree else STATUS_INCOMPLETE
    ctx.ui.table(f"{ctx.config.name} {report.version}", ["target", "state", "detail"],
                 [[s.target, s.state, s.detail] for s in report.states])
    withdrawn = [s for s in report.states if s.state == WITHDRAWN]
    ctx.ui.result(f"{report.version}: " + ("incomplete: hoist release on its tag finishes it" if not report.complete
                                           else f"published, and {withdrawn[0].detail}" if withdrawn
                                           else "published on every target"))
    if channels:
        ctx.ui.table("channels", ["channel", "publishes", "sha256", "recorded"], [_channel_row(c) for c in channels])
    for channel in channels:
        if not channel.agrees:
            move = channel.recorded
            verb = "promote" if move.action == "promote" else "rollback"
            command = (f"hoist promote {move.version} --to {channel.name}" if verb == "promote"
                       else f"hoist rollback {channel.name} --to {move.version}")
            ctx.ui.result(f"{channel.name}: its record says {move.version}, apt reads "
                          f"{channel.version or 'nothing'}: {command} reconciles them")
    return 0 if report.complete and agree else STATUS_INCOMPLETE


def _channel_row(channel: ChannelReport) -> list[str]:
    current = channel.state.current
    recorded = channel.recorded
    verb = {"promote": "promoted", "rollback": "rolled back to"}.get(recorded.action, recorded.action) if recorded else ""
    noted = "" if recorded is None else f"{verb} {recorded.version} by {recorded.who}, {recorded.when}"
    if not channel.agrees:
        noted += f" (not published yet: hoist {recorded.action} again completes it)"
    shown = current.version if current else (f"apt would refuse it: {channel.state.problem}"
                                             if channel.state.problem else "nothing")
    return [channel.name, shown, current.sha256[:16] if current else "", noted]


def show_serve(ctx: Context, bind: str) -> int:
    """Serve the local targets; print where, and what a server runs."""
    if not ctx.config.local:
        raise ConfigError("hoist serve serves the local targets, and this project's targets are configured",
                          "servers read the configured targets at their own URLs (tool.hoist.apt.url); "
                          "hoist serve --local serves the local ones")
    package, suite = ctx.config.package, ctx.config.distribution

    def announce(url: str) -> None:
        ctx.ui.result(f"serving the local targets of {package} at {url} (Ctrl-C stops)")
        ctx.ui.result("on a Debian server, as root:")
        for line in setup_commands(package, f"{url}apt/", suite, ctx.config.component, f"{url}{keyring_name(package)}"):
            ctx.ui.result(f"  {line}")
        if ctx.config.channels:
            ctx.ui.result(f"or let it follow a channel: hoist server-setup --channel CHANNEL --url {url}apt/")
        ctx.ui.result(f"pip: pip install --find-links {url}index/ {ctx.config.name}")
        sys.stdout.flush()

    serve(LocalTargets(ctx.runner, package).root, package, bind, announce, ctx.ui.line)
    return 0


def show_resign(ctx: Context) -> int:
    """Sign every suite the repository publishes again (each channel, or the
    distribution, and any suite no channel names any more); print each one's new Valid-Until."""
    apt = apt_repository(ctx.targets.all, "hoist resign")
    names = ctx.config.channels or (ctx.config.distribution,)
    renewed = apt.resign()
    for name in [*names, *(n for n in sorted(renewed) if n not in names)]:
        unnamed = "" if name in names else " (no channel names it any more: its servers still follow it)"
        ctx.ui.result(f"{name}: valid until {renewed[name]}{unnamed}" if name in renewed else f"{name}: not published")
    return 0


def show_move(ctx: Context, move: Move) -> int:
    """Print a channel's move."""
    ctx.ui.result(f"{move.channel} publishes {ctx.config.package} {move.version} "
                  f"(sha256 {move.sha256[:16]}; before: {move.previous or 'nothing'})")
    ctx.ui.result(f"recorded as {move.commit[:12]} on {RECORD_REF.format(move.channel)} in the git remote")
    return 0


def show_rebuild(ctx: Context | None, version: str, source_release: Path | None = None, ui: UI | None = None,
                 keyring: Path | None = None) -> int:
    """Rebuild *version* (from *source_release*, without a project), print the
    comparisons; exit status 0 when all agree."""
    if source_release is not None:
        assert ui is not None
        result = rebuild_from(ui, version, source_release, keyring)
    else:
        assert ctx is not None
        ui = ctx.ui
        result = rebuild(ctx, version)
    rows = [[c.artifact, c.reference, {True: "same", False: "DIFFERENT", None: "not there"}[c.same], c.detail]
            for c in result.comparisons]
    ui.table(f"rebuild of {version} in {result.directory}", ["artifact", "against", "result", "detail"], rows)
    different = result.different
    if different and shutil.which("diffoscope"):
        ui.result("diffoscope can show what differs, e.g.: diffoscope <published file> "
                      + str(result.directory / different[0].artifact))
    ui.result(f"{version}: " + ("reproducible: every artifact is byte-identical" if not different
                                    else f"{len(different)} difference(s)"))
    return REBUILD_DIFFERS if different else 0


def _ask(ctx: Context, release: ReleasePlan) -> bool:
    print_plan(ctx, release)
    answer = input(f"Release {release.version}? [y/N] ").strip().lower()
    return answer in ("y", "yes")


def _run(args: argparse.Namespace, ui: UI) -> int:
    if args.command == "init":
        if args.update:
            from .commands.update import update

            lines, conflicts = update(args.directory, apply=args.apply)
            for line in lines:
                ui.result(line)
            return 1 if conflicts else 0
        if args.apply:
            raise ConfigError("--apply goes with --update", "hoist init --update --apply")
        from .commands.init import init

        for line in init(args.directory, force=args.force, package=args.package):
            ui.result(line)
        return 0
    if args.command == "rebuild" and args.source_release is not None:
        return show_rebuild(None, args.version, args.source_release, ui, args.keyring)
    ctx = open_project(args.directory, ui, local=getattr(args, "local", False))
    if args.command == "ci":
        decision = should_release(ctx)
        ui.result(("release: " if decision.release else "no release: ") + decision.reason)
        return 0 if decision.release else 1
    if args.command == "lock":
        path = write_lock(ctx.runner, ctx.root, ctx.config.lock or DEFAULT_LOCK, upgrade=args.upgrade)
        ui.result(f"wrote {path.relative_to(ctx.root)}")
        if not ctx.config.lock:
            ui.line(f'hint: add  lock = "{DEFAULT_LOCK}"  to [tool.hoist], then commit both')
        return 0
    if args.command == "rebuild":
        return show_rebuild(ctx, args.version)
    if args.command == "promote":
        return show_move(ctx, Channels(ctx).promote(args.version, args.channel))
    if args.command == "rollback":
        return show_move(ctx, Channels(ctx).rollback(args.channel, args.version))
    if args.command == "server-setup":
        made = server_setup(ctx, args.channel, args.output, args.url, args.every, args.unchecked)
        for note in made.notes:
            ui.line(f"note: {note}")
        ui.result(f"wrote {made.path}")
        ui.result(f"on a server of the {args.channel} channel, as root:  apt-get install ./{made.path.name}")
        return 0
    if args.command == "serve":
        return show_serve(ctx, args.bind)
    if args.command == "resign":
        return show_resign(ctx)
    if args.command == "status":
        return show_status(ctx, args.version, as_json=args.json)
    if args.command == "plan":
        from .commands.update import outdated

        planned = pipeline.prepare(ctx, fetch=False)
        note = outdated(ctx.config)
        print_plan(ctx, replace(planned, notes=(*planned.notes, note)) if note else planned, as_json=args.json)
        return 0
    interactive = sys.stdin.isatty() and not args.yes
    done = pipeline.release(ctx, confirm=(lambda p: _ask(ctx, p)) if interactive else None)
    if done is None:
        ui.error("cancelled: nothing was changed")
        return CANCELLED
    print_summary(ctx, *done)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "dry_run", False):
        parser.error("hoist release has no --dry-run: `hoist plan` prints every step's plan and changes nothing")
    secrets = Secrets.from_environment().values()
    ui = UI(verbose=args.verbose, secrets=secrets)
    try:
        return _run(args, ui)
    except NothingToDo as exc:
        ui.result(f"nothing to do: {exc.message}")
        if exc.hint:
            ui.line(f"hint: {exc.hint}")
        return 0
    except HoistError as exc:
        if args.verbose:
            ui.traceback(exc)
        ui.error(exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        ui.error("interrupted", "run the same command again: the release resumes where it stopped")
        return INTERRUPTED
    except Exception as exc:  # a bug: say so plainly, traceback with -v
        if args.verbose:
            ui.traceback(exc)
        ui.error(redact(f"unexpected {type(exc).__name__}: {exc}", secrets),
                 "this is a bug in hoist: run again with -v and report the traceback")
        return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
